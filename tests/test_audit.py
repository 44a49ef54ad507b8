"""Tamper evidence and replay: `proto-rules verify` and `proto-rules replay` on real runs.

Each kind of tampering an auditor must catch is made on a copy of the demo trail: one byte of a
value edited, a record deleted, two swapped, one inserted, the file truncated, the seal forged, a
record appended after the seal. Replay re-decides the same facts and must say "identical", or list
exactly what changed when the protocol changed.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import cli
from engine.audit.verify import verify

ROOT = Path(__file__).resolve().parents[1]
SEED = "examples/cd19-ucart-sle.proto-rules"
AMENDED = "examples/cd19-ucart-sle-v1.1.proto-rules"
PATIENTS = "examples/patients.jsonl"


@pytest.fixture(scope="module")
def trail(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("audit") / "trail.jsonl"
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(ROOT)
        assert cli.main(["run", SEED, PATIENTS, "--trail", str(path)]) == 0
    return path


def tampered(trail: Path, tmp_path: Path, change) -> str:
    lines = trail.read_text(encoding="utf-8").splitlines(keepends=True)
    copy = tmp_path / "tampered.jsonl"
    copy.write_text("".join(change(lines)), encoding="utf-8")
    return str(copy)


def test_intact(trail):
    result = verify(str(trail), str(ROOT / SEED), str(ROOT / PATIENTS))
    assert result.ok and result.records == len(trail.read_text().splitlines()) - 1
    assert str(result).splitlines() == [
        f"intact: {result.records} records, sealed",
        f"protocol file {ROOT / SEED} matches the run header",
        f"facts file {ROOT / PATIENTS} matches the run header",
    ]


def _edit_value(lines):
    at = next(i for i, line in enumerate(lines) if '"verdict":"NOT_MET"' in line)
    lines[at] = lines[at].replace('"verdict":"NOT_MET"', '"verdict":"NOT_MAT"', 1)
    return lines


TAMPERING = {
    "one byte of a value edited": (_edit_value, "does not follow line"),
    "a record deleted": (lambda ls: ls[:10] + ls[11:], "does not follow line 10"),
    "two records swapped": (lambda ls: ls[:10] + [ls[11], ls[10]] + ls[12:],
                            "does not follow line 10"),
    "a record inserted": (lambda ls: ls[:10] + [ls[5]] + ls[10:], "does not follow line 10"),
    "truncated": (lambda ls: ls[:-4], "no seal: the trail is truncated"),
    "seal forged": (lambda ls: ls[:-1] + [ls[-1].replace('"records":', '"records":9')],
                    "the seal does not match the records"),
    "a record after the seal": (lambda ls: ls + [ls[3]], "records follow the seal"),
    "the first records deleted": (lambda ls: ls[2:], "the first record is not the start"),
    "a record re-serialised": (lambda ls: ls[:3] + [json.dumps(json.loads(ls[3]), indent=1)
                                                    .replace("\n", " ") + "\n"] + ls[4:],
                               "not in canonical form"),
    "not JSON": (lambda ls: ls[:3] + ["{oops\n"] + ls[4:], "not a JSON record"),
}


@pytest.mark.parametrize("kind", TAMPERING)
def test_tampering_is_caught_and_named(trail, tmp_path, kind, capsys):
    change, words = TAMPERING[kind]
    path = tampered(trail, tmp_path, change)
    result = verify(path)
    assert not result.ok
    assert words in result.problem
    assert cli.main(["verify", path]) == 1
    assert capsys.readouterr().out.startswith(f"TAMPERED: line {result.line}")


def test_edit_is_named_at_the_next_record(trail, tmp_path):
    lines = trail.read_text(encoding="utf-8").splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if '"verdict":"NOT_MET"' in line)
    result = verify(tampered(trail, tmp_path, _edit_value))
    assert result.line == at + 2  # 1-based: the record after the edited one breaks the chain
    edited, after = (json.loads(lines[i])["patient"] for i in (at, at + 1))
    assert result.problem.startswith(f"does not follow line {at + 1} (patient {edited}): "
                                     f"line {at + 1} was edited")
    assert str(result).startswith(f"TAMPERED: line {at + 2} (patient {after}): ")


def test_protocol_and_facts_must_be_the_files_read(trail, tmp_path, capsys):
    other = tmp_path / "other.proto-rules"
    shutil.copy(ROOT / AMENDED, other)
    result = verify(str(trail), str(other))
    assert not result.ok and "the protocol file" in result.problem
    assert cli.main(["verify", str(trail), "--facts", str(ROOT / SEED)]) == 1
    assert "the facts file" in capsys.readouterr().out


def test_unreadable_trail_exit_2(tmp_path, capsys):
    assert cli.main(["verify", str(tmp_path / "missing.jsonl")]) == 2
    assert "cannot read trail" in capsys.readouterr().err


def test_empty_trail(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    result = verify(str(empty))
    assert (result.ok, result.problem) == (False, "the trail is empty")


def test_replay_identical(trail, capsys):
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(ROOT)
        code = cli.main(["replay", str(trail), "--protocol", SEED, "--facts", PATIENTS])
    out = capsys.readouterr().out
    assert code == 0
    assert out == "identical: 23 records, 529 verdicts and every decision as recorded\n"


def test_replay_lists_differences(trail, capsys):
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(ROOT)
        code = cli.main(["replay", str(trail), "--protocol", AMENDED, "--facts", PATIENTS])
    lines = capsys.readouterr().out.splitlines()
    assert code == 1
    assert lines[0] == "note: the protocol is not the file the run read (sha256 differs)"
    assert lines[1] == "25 differences (recorded -> replayed):"
    assert "  line 7 (P07-male-not-applicable): decision ELIGIBLE -> INELIGIBLE" in lines
    assert "  line 17 (P17-neurolupus-45d-live-vaccine): E9 MET -> NOT_MET" in lines
    assert "  line 7 (P07-male-not-applicable): E14 absent -> MET" in lines


def test_replay_of_a_non_trail(tmp_path, capsys):
    bogus = tmp_path / "bogus.jsonl"
    bogus.write_text('{"type": "summary", "decisions": {}}\n')
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(ROOT)
        assert cli.main(["replay", str(bogus), "--protocol", SEED, "--facts", PATIENTS]) == 2
    assert "not the decision trail of `proto-rules run --trail`" in capsys.readouterr().err
