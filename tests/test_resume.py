"""`run ... --resume`: a run killed at any point (a real SIGKILL to a real process, at seeded
random points), or stopped by Ctrl-C, is finished into the trail an uninterrupted run writes,
byte for byte, with its table and warnings; what cannot be resumed is refused in one line.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import zstandard

from engine.audit import trailfile
from engine.audit.trailfile import ZSTD_MAGIC, frame_lines, seek_table
from engine.audit.verify import verify
from tests.conftest import run_cli

ROOT = Path(__file__).resolve().parents[1]
SEED = "examples/cd19-ucart-sle.proto-rules"
PATIENTS = "examples/patients.jsonl"
EXE = Path(sys.executable).with_name("proto-rules")
needs_exe = pytest.mark.skipif(not EXE.exists(),
                               reason="the console script is installed by `make test`")

pytestmark = pytest.mark.usefixtures("at_root")


def many(tmp_path: Path, copies: int) -> Path:
    """The example patients `copies` times over (each copy's ids its own), with a rejected
    record and a patient with a warning among them."""
    source = (ROOT / "examples/patients.jsonl").read_text(encoding="utf-8").splitlines()
    lines = [line.replace('{"patient": "', f'{{"patient": "copy{n}-', 1)
             for n in range(copies) for line in source]
    lines.insert(5, '["not-an-object"]')
    facts = tmp_path / "many.jsonl"
    facts.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return facts


def argv(facts: Path, out: Path, trail: str = "trail.jsonl") -> list[str]:
    return ["run", SEED, str(facts), "--trail", str(out / trail), "--table",
            str(out / "table.csv"), "--warnings", str(out / "warnings.txt"), "--quiet"]


def files(out: Path, trail: str = "trail.jsonl") -> dict[str, bytes]:
    return {name: (out / name).read_bytes() for name in (trail, "table.csv", "warnings.txt")}


@pytest.fixture
def clean(capsys, tmp_path) -> tuple[Path, dict[str, bytes]]:
    """A fact file and what an uninterrupted run of it writes."""
    facts = many(tmp_path, 8)
    out = tmp_path / "clean"
    assert run_cli(capsys, *argv(facts, out))[0] == 2  # a record is rejected
    return facts, files(out)


def killed(args: list[str], trail: Path, at: int, sig: int = signal.SIGKILL,
           later: float = 0) -> int:
    """Start a real run and send it `sig` once its trail has reached `at` bytes (and `later`
    seconds more); its exit code."""
    process = subprocess.Popen([str(EXE), *args], cwd=ROOT, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if trail.exists() and trail.stat().st_size >= at:
            break
        time.sleep(0.005)
    time.sleep(later)
    process.send_signal(sig)
    return process.wait(timeout=120)


@needs_exe
@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_killed_anywhere_then_resumed_is_the_uninterrupted_run(capsys, tmp_path, clean, seed):
    """SIGKILL at a seeded random size of the trail (mid-line, mid-patient, mid-header), with
    one or two workers; resumed (with the other count), the trail, the table and the warnings
    are the uninterrupted run's, and the trail verifies."""
    facts, expected = clean
    rng = random.Random(seed)
    out = tmp_path / "killed"
    at = rng.randrange(200, len(expected["trail.jsonl"]) * 9 // 10)
    workers = rng.choice(["1", "2"])
    code = killed([*argv(facts, out), "--workers", workers], out / "trail.jsonl", at)
    assert code == -signal.SIGKILL
    assert (out / "trail.jsonl").read_bytes() != expected["trail.jsonl"]
    other = "2" if workers == "1" else "1"
    code, stdout, err = run_cli(capsys, *argv(facts, out), "--resume", "--workers", other)
    assert code == 2, err  # the rejected record, decided before or after the kill
    assert files(out) == expected
    assert verify(str(out / "trail.jsonl"), facts=str(facts)).ok


@needs_exe
def test_ctrl_c_then_resumed_is_the_uninterrupted_run(capsys, tmp_path, clean):
    facts, expected = clean
    out = tmp_path / "stopped"
    code = killed([*argv(facts, out), "--workers", "2"], out / "trail.jsonl",
                  len(expected["trail.jsonl"]) // 3, signal.SIGINT)
    assert code == 130
    assert verify(str(out / "trail.jsonl")).cut
    code, _, err = run_cli(capsys, *argv(facts, out), "--resume")
    assert "proto-rules: resuming the trail " in err
    assert files(out) == expected


def test_resumed_prints_only_the_patients_decided_now(capsys, tmp_path, clean):
    facts, expected = clean
    out = tmp_path / "cut"
    out.mkdir()
    lines = expected["trail.jsonl"].splitlines(keepends=True)
    at = [n for n, line in enumerate(lines) if b'"type":"decided"' in line][9] + 1
    (out / "trail.jsonl").write_bytes(b"".join(lines[:at]) + lines[at][:50])  # torn mid-line
    code, stdout, err = run_cli(capsys, *[a for a in argv(facts, out) if a != "--quiet"],
                                "--resume")
    assert files(out) == expected
    assert "after 11 records (fact file line 11)" in err  # ten patients and the rejected record
    printed = [line.split(":")[0] for line in stdout.splitlines()]
    assert printed[0] == "copy0-P11-stale-lvef" and len(printed) == 8 * 23 - 10


def test_a_finished_trail_has_nothing_to_do(capsys, tmp_path, clean):
    facts, expected = clean
    out = tmp_path / "clean"  # the fixture's own outputs
    code, stdout, err = run_cli(capsys, *argv(facts, out), "--resume")
    assert (code, stdout) == (0, "")
    assert err.strip() == (f"proto-rules: the trail {out / 'trail.jsonl'} is finished (summed "
                           f"up and sealed after {8 * 23 + 1} patients): nothing to do")
    assert files(out) == expected


def test_a_missing_trail_is_a_run_from_the_start(capsys, tmp_path, clean):
    facts, expected = clean
    out = tmp_path / "fresh"
    assert run_cli(capsys, *argv(facts, out), "--resume")[0] == 2
    assert files(out) == expected


# -- refusals: one line, exit 2, the trail left as it is ------------------------------------------

def stopped_trail(tmp_path: Path, expected: dict[str, bytes]) -> Path:
    out = tmp_path / "stopped"
    out.mkdir(exist_ok=True)
    (out / "trail.jsonl").write_bytes(expected["trail.jsonl"][:100_000])
    return out


def refused(capsys, args: list[str], out: Path, trail: str = "trail.jsonl") -> str:
    before = (out / trail).read_bytes()
    code, _, err = run_cli(capsys, *args)
    lines = [line for line in err.splitlines() if ": warning: " not in line]
    assert code == 2 and len(lines) == 1, err
    assert (out / trail).read_bytes() == before
    return lines[0]


def test_another_protocol_is_refused(capsys, tmp_path, clean):
    facts, expected = clean
    out = stopped_trail(tmp_path, expected)
    other = tmp_path / "seed.proto-rules"
    other.write_text((ROOT / SEED).read_text(encoding="utf-8") + "\n", encoding="utf-8")
    args = argv(facts, out)
    args[1] = str(other)
    line = refused(capsys, [*args, "--resume"], out)
    assert line.startswith(f"proto-rules: cannot resume: trail {out / 'trail.jsonl'} was "
                           "written with another protocol file (examples/cd19-ucart-sle")


def test_another_protocol_text_under_the_same_name_is_refused(capsys, tmp_path, clean,
                                                              monkeypatch):
    """The same file name, edited since (a criterion changed mid-run would mix two protocols
    in one trail)."""
    facts, expected = clean
    out = stopped_trail(tmp_path, expected)
    (tmp_path / "examples").mkdir()
    (tmp_path / SEED).write_text((ROOT / SEED).read_text(encoding="utf-8") + "\n",
                                 encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    line = refused(capsys, [*argv(facts, out), "--resume"], out)
    assert "was written with another protocol (sha256)" in line


def test_another_fact_file_is_refused(capsys, tmp_path, clean):
    facts, expected = clean
    out = stopped_trail(tmp_path, expected)
    renamed = tmp_path / "renamed.jsonl"
    renamed.write_bytes(facts.read_bytes())
    line = refused(capsys, [*argv(renamed, out), "--resume"], out)
    assert "was written with another fact file (" in line


def test_other_facts_under_the_same_name_are_refused(capsys, tmp_path, clean):
    facts, expected = clean
    out = stopped_trail(tmp_path, expected)
    lines = facts.read_text(encoding="utf-8").splitlines()
    facts.write_text("\n".join([lines[1], lines[0], *lines[2:]]) + "\n", encoding="utf-8")
    line = refused(capsys, [*argv(facts, out), "--resume"], out)
    assert line == (f"proto-rules: cannot resume: the fact file {facts} holds patient "
                    f"copy0-P02-eligible-postmenopausal at line 1 where the trail "
                    f"{out / 'trail.jsonl'} has patient copy0-P01-eligible (line 1): not the "
                    "file the trail was written from")


def test_an_emptied_fact_file_says_it_holds_no_patient(capsys, tmp_path, clean):
    """It said 'holds patient None at line 0'."""
    facts, expected = clean
    out = stopped_trail(tmp_path, expected)
    facts.write_bytes(b"")
    line = refused(capsys, [*argv(facts, out), "--resume"], out)
    assert f"the fact file {facts} holds no patient (the fact file is empty) where the trail " \
        in line


def test_another_screening_date_is_refused(capsys, tmp_path, clean):
    facts, expected = clean
    out = stopped_trail(tmp_path, expected)
    line = refused(capsys, [*argv(facts, out), "--resume", "--screening-date", "2026-06-01"],
                   out)
    assert "was written with another screening date (None; this run: 2026-06-01)" in line


def test_a_tampered_trail_is_refused_naming_the_record(capsys, tmp_path, clean):
    facts, expected = clean
    out = stopped_trail(tmp_path, expected)
    lines = (out / "trail.jsonl").read_bytes().splitlines(keepends=True)
    lines[4] = lines[4].replace(b'"verdict":"MET"', b'"verdict":"NOT_MET"', 1)
    assert b"NOT_MET" in lines[4]
    (out / "trail.jsonl").write_bytes(b"".join(lines))
    line = refused(capsys, [*argv(facts, out), "--resume"], out)
    assert line == (f"proto-rules: cannot resume: trail {out / 'trail.jsonl'}: line 6: does not "
                    "follow line 5: line 5 was edited, or records were inserted, deleted or "
                    "reordered there (the trail is left as it is; `proto-rules verify` checks it)")


def test_a_file_that_is_not_a_trail_is_refused(capsys, tmp_path, clean):
    facts, _ = clean
    out = tmp_path / "wrong"
    out.mkdir()
    (out / "trail.jsonl").write_bytes(facts.read_bytes()[:300])  # the facts, by mistake
    line = refused(capsys, [*argv(facts, out), "--resume"], out)
    assert line == (f"proto-rules: cannot resume: {out / 'trail.jsonl'} is not a decision trail "
                    "(its line 1 is not the header this run writes)")


def test_resume_needs_a_trail(capsys, tmp_path, clean):
    facts, _ = clean
    code, _, err = run_cli(capsys, "run", SEED, str(facts), "--resume")
    assert code == 2
    assert err.strip() == ("proto-rules: run --resume needs --trail: the trail is what says "
                           "how far the stopped run got")


def test_cut_at_every_kind_of_place(capsys, tmp_path):
    """The trail of a small run cut at each kind of place a kill can leave it: nothing, mid-way
    through the header's lines, after the header, mid-patient, after the last patient, in the
    summary, before the seal. Resumed, each is the uninterrupted run's trail and table."""
    facts = tmp_path / "facts.jsonl"
    facts.write_bytes((ROOT / "examples/patients.jsonl").read_bytes())
    whole = tmp_path / "whole"
    run_cli(capsys, *argv(facts, whole))
    expected = files(whole)
    trail = expected["trail.jsonl"]
    ends = [n + 1 for n, byte in enumerate(trail) if byte == ord("\n")]
    places = {0, 100, ends[0], ends[0] + 7, ends[1], ends[1] + 20, ends[3] + 5, ends[-3],
              ends[-2] - 1, ends[-2]}
    for place in sorted(places):
        out = tmp_path / f"cut{place}"
        out.mkdir()
        (out / "trail.jsonl").write_bytes(trail[:place])
        code, _, err = run_cli(capsys, *argv(facts, out), "--resume")
        assert (code, files(out)) == (0, expected), (place, err)


# -- a compressed trail (.zst): its frames taken back, the same file again -------------------------

ZST = "trail.jsonl.zst"


@pytest.fixture(scope="module")
def registry_zst(tmp_path_factory) -> tuple[Path, dict[str, bytes], list[int]]:
    """A fact file of several frames (24 copies of the examples, about 5 MiB of lines, frames of
    1 MiB), what an uninterrupted run writes with a compressed trail, and its frames' offsets."""
    folder = tmp_path_factory.mktemp("registry")
    facts = many(folder, 24)
    out = folder / "clean"
    import cli  # noqa: PLC0415 -- the command as a user types it, in-process

    assert cli.main(argv(facts, out, ZST)) == 2  # a record is rejected
    table = seek_table(str(out / ZST))
    assert table is not None
    offsets = [frame.offset for frame in table.frames()]
    assert len(offsets) >= 4
    return facts, files(out, ZST), offsets


@needs_exe
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_compressed_trail_killed_anywhere_then_resumed(capsys, tmp_path, registry_zst, seed):
    """SIGKILL a seeded moment after the run wrote a seeded number of frames (the patients since
    are in its writer's memory, and there is no seek table), with one or two workers; resumed
    (with the other count), the trail is the uninterrupted run's file, frames and seek table
    byte for byte, the table and warnings too, and it verifies."""
    facts, expected, offsets = registry_zst
    rng = random.Random(seed)
    out = tmp_path / "killed"
    workers = rng.choice(["1", "2"])
    code = killed([*argv(facts, out, ZST), "--workers", workers], out / ZST,
                  offsets[rng.randrange(1, len(offsets) - 1)], later=rng.uniform(0, 0.1))
    assert code == -signal.SIGKILL
    assert seek_table(str(out / ZST)) is None
    other = "2" if workers == "1" else "1"
    code, _, err = run_cli(capsys, *argv(facts, out, ZST), "--resume", "--workers", other)
    assert code == 2 and "proto-rules: resuming the trail " in err, err
    assert files(out, ZST) == expected
    assert verify(str(out / ZST), facts=str(facts)).ok


@needs_exe
def test_a_compressed_trail_stopped_by_ctrl_c_then_resumed(capsys, tmp_path, registry_zst):
    """Ctrl-C closes the last frame early, with the cut, summary and seal in it, and writes the
    seek table: resumed, that frame is written again as the uninterrupted run writes it."""
    facts, expected, offsets = registry_zst
    out = tmp_path / "stopped"
    code = killed([*argv(facts, out, ZST), "--workers", "2"], out / ZST, offsets[1],
                  signal.SIGINT, later=0.05)
    assert code == 130
    assert verify(str(out / ZST)).cut and seek_table(str(out / ZST)) is not None
    code, _, err = run_cli(capsys, *argv(facts, out, ZST), "--resume")
    assert code == 2 and "proto-rules: resuming the trail " in err, err
    assert files(out, ZST) == expected


def test_a_compressed_trail_cut_at_every_kind_of_place(capsys, tmp_path, monkeypatch):
    """The compressed trail of a small run in frames of about 20 KB, cut where a stopped run can
    leave it: between frames, inside one (a kill during its write), after the last frame,
    inside the seek table and its footer (killed while closing); and ending in a frame closed
    short (what a run stopped by an error writes). Resumed, each is the uninterrupted run's file,
    byte for byte, with its table and warnings."""
    monkeypatch.setattr(trailfile, "BLOCK", 20_000)
    facts = tmp_path / "facts.jsonl"
    facts.write_bytes((ROOT / PATIENTS).read_bytes())
    whole = tmp_path / "whole"
    assert run_cli(capsys, *argv(facts, whole, ZST))[0] == 0
    expected = files(whole, ZST)
    trail = expected[ZST]
    table = seek_table(str(whole / ZST))
    assert table is not None
    frames = list(table.frames())
    assert len(frames) >= 6
    places = {frames[-1].end, frames[-1].end + 4, table.start + 5, len(trail) - 1}
    for frame in frames[1:]:
        places |= {frame.offset, (frame.offset + frame.end) // 2}
    cuts = {place: trail[:place] for place in places}
    lines = frame_lines(str(whole / ZST), frames[3])
    short = zstandard.ZstdCompressor(level=trailfile.LEVEL).compress(b"".join(lines[:1]))
    cuts["short"] = trail[:frames[3].offset] + short
    for place, cut in sorted(cuts.items(), key=str):
        out = tmp_path / f"cut{place}"
        out.mkdir()
        (out / ZST).write_bytes(cut)
        code, _, err = run_cli(capsys, *argv(facts, out, ZST), "--resume")
        assert (code, files(out, ZST)) == (0, expected), (place, err)


def test_a_broken_or_foreign_compressed_trail_is_refused(capsys, tmp_path, registry_zst):
    """What no stopped run leaves is refused in one line, exit 2, the file left as it is: not
    zstd at all, zstd frames that do not decompress, a first frame cut before the header's
    lines, a compressed file that is not a trail, and a trail whose name says the other kind."""
    facts, expected, offsets = registry_zst
    out = tmp_path / "broken"
    out.mkdir()
    packed = zstandard.ZstdCompressor().compress(facts.read_bytes())
    plain = zstandard.ZstdDecompressor().decompressobj().decompress(expected[ZST][:offsets[1]])
    path = out / ZST
    for content, says in [
            (b"garbage, not a trail\n" * 4, f"{path} is not a compressed trail (it does not "
             "start with a zstd frame), though its name ends in .zst"),
            (plain, f"{path} is not a compressed trail"),
            (ZSTD_MAGIC + b"\x7f" * 40, f"cannot read trail {path}: not a whole zstd stream"),
            (expected[ZST][:12], f"{path} holds no whole header of a trail (a compressed file "
             "cut inside its first frame, or not a trail): remove it to run afresh"),
            (packed, f"trail {path}: line 1: ")]:
        path.write_bytes(content)
        line = refused(capsys, [*argv(facts, out, ZST), "--resume"], out, ZST)
        assert line.startswith("proto-rules: cannot ") and says in line, line
    (out / "trail.jsonl").write_bytes(expected[ZST][:offsets[2]])
    line = refused(capsys, [*argv(facts, out), "--resume"], out)
    assert line == (f"proto-rules: cannot resume: {out / 'trail.jsonl'} holds zstd frames, but "
                    "its name does not end in .zst")
