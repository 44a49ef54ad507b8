"""`proto-rules run` streams its fact file (issue 10): a patient is decided and written before the
file is read on, the file is hashed once while it is read, and the trail's summary records that
hash, which `verify --facts`, `replay`, `explain` and `report` read there (or, in a trail written
before, in the run header). Peak memory does not grow with the number of patients.
"""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
from pathlib import Path

import cli
from bench.generate import generate, to_json
from engine import pipeline
from engine.factfile import FactStream, read_records
from engine.audit.replay import replay
from engine.audit.explain import render
from engine.audit.trail import Chain, read
from engine.audit.trailfile import Frames, created
from engine.audit.verify import verify
from tests.conftest import PATIENTS, ROOT, SEED

EXE = Path(sys.executable).with_name("proto-rules")


def generated(path: Path, n: int) -> Path:
    """`bench/generate.py N` written to `path`: n seeded patients of the seed protocol."""
    with path.open("w", encoding="utf-8") as out:
        out.writelines(to_json(data) + "\n" for data in generate(n, 1))
    return path


#: Runs argv and prints its peak resident set in KiB. A small process of its own starts the
#: reader: the kernel counts in a child's peak the memory of the process it was forked from
#: (the test's, 100 MiB and more), which would hide the reader's.
LAUNCHER = """
import os, subprocess, sys
child = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
_, status, usage = os.wait4(child.pid, 0)
print(os.waitstatus_to_exitcode(status), usage.ru_maxrss)
"""


def peak_rss_kib(argv: list[str]) -> int:
    """The peak resident set of one child process (the real CLI), in KiB, read from the kernel
    when the child is reaped (`wait4`): the test's own memory does not count."""
    done = subprocess.run([sys.executable, "-c", LAUNCHER, *argv], cwd=ROOT, check=True,
                          capture_output=True, text=True)
    code, peak = map(int, done.stdout.split())
    assert code == 0, argv
    return peak  # KiB on Linux


def test_peak_memory_does_not_grow_with_the_patients(tmp_path):
    """N and 10 x N generated patients, trail on: the peak grows by less than 10% plus 6 MiB,
    for `run` and for `verify` of its trail.

    Why N = 200: 2,000 patients are an 8 MB fact file, so a reader holding the whole file (the
    bytes, their lines and the decoded text: 3.2 x the file, as the reader before streaming did)
    would add about 23 MB, well past the allowance (the interpreter, the compiled network and
    durable_rules make a base of about 75 MB), while generating and running both take about 15 s
    on one core."""
    small = peak_rss_kib([str(EXE), "run", str(SEED), str(generated(tmp_path / "n.jsonl", 200)),
                          "--trail", str(tmp_path / "n-trail.jsonl")])
    large = peak_rss_kib([str(EXE), "run", str(SEED),
                          str(generated(tmp_path / "10n.jsonl", 2000)),
                          "--trail", str(tmp_path / "10n-trail.jsonl")])
    assert large < small * 1.10 + 6 * 1024, (small, large)
    assert verify(str(tmp_path / "10n-trail.jsonl"), facts=str(tmp_path / "10n.jsonl")).ok
    # `verify` reads a trail line by line too: the 10 x N trail (about 38 MB) adds nothing
    small, large = (peak_rss_kib([str(EXE), "verify", str(tmp_path / name)])
                    for name in ("n-trail.jsonl", "10n-trail.jsonl"))
    assert large < small * 1.10 + 6 * 1024, (small, large)


def multiplied(trail: Path, times: int, out: Path) -> Path:
    """The trail with its patients `times` over, each copy under other ids and lines, chained and
    sealed anew (`Chain` writes plain or compressed): a large trail without deciding its
    patients again."""
    records = [json.loads(line) for line in trail.read_text(encoding="utf-8").splitlines()]
    decided = [r for r in records if r["type"] == "decided"]
    summary = next(r for r in records if r["type"] == "summary")
    with created(str(out)) as sink:
        chain = Chain(sink)
        for record in records[:2]:
            chain.write({**record})
        for copy in range(times):
            for record in decided:
                patient = f"{record['patient']}-{copy}"
                if isinstance(sink, Frames):
                    sink.holds(patient)
                chain.write({**record, "patient": patient,
                             "record": copy * len(decided) + record["record"]})
        counts = {k: v * times for k, v in summary["decisions"].items()}
        chain.write({**summary, "patients": summary["patients"] * times, "decisions": counts})
        chain.seal()
    return out


def test_the_readers_memory_does_not_grow_with_the_patients(tmp_path):
    """`verify`, `explain` (every patient, or one: read through), `explain --patient` of a
    compressed trail, `attrition` and `report` (a directory of pages: one page takes at most
    1,000 patients, here 25 so that 10 x N makes many pages) of a trail of N and of 10 x N
    patients: the peak grows by less than 10% plus 6 MiB. Held as records, a patient takes about
    63 KiB: a reader holding them would add some 55 MiB at N = 100, four times the margin (the
    base is about 80 MiB), so N = 100 is plenty, and keeps the test short (a reader checks each
    record against the schema, a millisecond a patient; the report writes a page in 6)."""
    run = tmp_path / "run.jsonl"
    assert cli.main(["run", str(SEED), str(generated(tmp_path / "g.jsonl", 100)), "--trail",
                     str(run), "--quiet"]) == 0
    for name in ("n.jsonl", "n.jsonl.zst"):
        multiplied(run, 1, tmp_path / name)
    for name in ("10n.jsonl", "10n.jsonl.zst"):
        multiplied(run, 10, tmp_path / name)
    patient = "S1-000042-0"
    for argv in (["verify", "{}.jsonl"], ["explain", "{}.jsonl"], ["attrition", "{}.jsonl"],
                 ["explain", "{}.jsonl", "--patient", patient],
                 ["explain", "{}.jsonl.zst", "--patient", patient],
                 ["report", "{}.jsonl.zst", "-o", str(tmp_path / "pages/"),
                  "--page-size", "25"]):
        small, large = (peak_rss_kib([str(EXE), argv[0], str(tmp_path / argv[1].format(n)),
                                      *argv[2:]]) for n in ("n", "10n"))
        assert large < small * 1.10 + 6 * 1024, (argv, small, large)


class Watched(io.BytesIO):
    """A fact file that counts the lines read from it."""

    lines_read = 0

    def __next__(self) -> bytes:
        line = super().__next__()
        self.lines_read += 1
        return line


def test_a_patient_is_decided_before_the_file_is_read_on():
    """The first patient's decision comes when its own line (and the one after it, which tells a
    file of one patient from JSON Lines) has been read, not the 23 lines of the file."""
    data = PATIENTS.read_bytes()
    watched = Watched(data)
    facts = FactStream(str(PATIENTS), watched)
    outcomes = pipeline.screen(pipeline.compile(pipeline.load(str(SEED))[0]), facts.records(),
                               str(PATIENTS))
    first = next(outcomes)
    assert first.patient.id == "P01-eligible" and watched.lines_read == 2
    assert len(list(outcomes)) == 22 and watched.lines_read == 23
    assert facts.sha256() == hashlib.sha256(data).hexdigest()


def test_the_hash_of_a_file_read_in_part_is_of_the_whole_file():
    """A run cut short records the hash of the whole file: the rest is read for it, not decided."""
    data = PATIENTS.read_bytes()
    facts = FactStream(str(PATIENTS), io.BytesIO(data))
    next(facts.records())
    assert facts.sha256() == hashlib.sha256(data).hexdigest()


def test_one_patient_after_blank_lines_is_line_1(tmp_path):
    """A file of one JSON object is one patient at line 1, blank lines before it or not (as the
    whole-file reader said); a second record makes it JSON Lines, each at its own line."""
    one = PATIENTS.read_bytes().split(b"\n")[0]
    path = tmp_path / "one.json"
    path.write_bytes(b"\n \n" + one + b"\n\n")
    ((number, data),) = read_records(str(path))
    assert number == 1 and data["patient"] == "P01-eligible"
    path.write_bytes(b"\n \n" + one + b"\n\n" + one.replace(b"P01", b"P99") + b"\n")
    assert [number for number, _ in read_records(str(path))] == [3, 5]


def test_a_pretty_printed_patient_is_one_record(tmp_path):
    """A JSON file spread over lines (its first line is not JSON on its own) is read whole."""
    one = json.loads(PATIENTS.read_text(encoding="utf-8").split("\n")[0])
    path = tmp_path / "pretty.json"
    path.write_text(json.dumps(one, indent=2), encoding="utf-8")
    ((number, data),) = read_records(str(path))
    assert number == 1 and data["patient"] == "P01-eligible"


def test_a_broken_first_line_is_refused_and_the_rest_streamed(tmp_path):
    """A first line broken before its end cannot begin one JSON value: the file is JSON Lines."""
    path = tmp_path / "broken.jsonl"
    path.write_bytes(b'{"patient": x}\n' + PATIENTS.read_bytes())
    records = list(read_records(str(path)))
    assert records[0][0] == 1 and "not valid JSON" in records[0][1].message
    assert [n for n, _ in records[1:]] == list(range(2, 25))


def test_stdin_is_streamed_and_hashed(tmp_path, capsys, monkeypatch):
    """`-` reads stdin's bytes as a stream; the summary records their hash."""
    data = PATIENTS.read_bytes()
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(data), encoding="utf-8"))
    trail = tmp_path / "trail.jsonl"
    assert cli.main(["run", str(SEED), "-", "--trail", str(trail)]) == 0
    assert read(str(trail))[-2]["facts_sha256"] == hashlib.sha256(data).hexdigest()


def test_an_unreadable_fact_file_is_one_line(tmp_path, capsys):
    """A fact file that cannot be opened: one line, exit 2, no trail begun."""
    trail = tmp_path / "trail.jsonl"
    assert cli.main(["run", str(SEED), str(tmp_path / "none.jsonl"), "--trail", str(trail)]) == 2
    assert "cannot read fact file" in capsys.readouterr().err and not trail.exists()


def as_written_before(trail: Path, old: Path) -> None:
    """The trail as a run before streaming wrote it: the fact file's hash in the run header, none
    in the summary; chained and sealed again."""
    records = [json.loads(line) for line in trail.read_text(encoding="utf-8").splitlines()][:-1]
    summary = next(r for r in records if r["type"] == "summary")
    records[0]["facts"]["sha256"] = summary.pop("facts_sha256")
    with old.open("w", encoding="utf-8") as out:
        chain = Chain(out)
        for record in records:
            record.pop("prev")
            chain.write(record)
        chain.seal()


def test_a_trail_written_before_streaming_still_reads(tmp_path, capsys):
    """Old trails keep the fact file's hash in their run header: verify, replay and explain read
    it there."""
    trail, old = tmp_path / "trail.jsonl", tmp_path / "old.jsonl"
    assert cli.main(["run", str(SEED), str(PATIENTS), "--trail", str(trail)]) == 0
    as_written_before(trail, old)
    assert verify(str(old), facts=str(PATIENTS)).ok
    assert not verify(str(old), facts=str(SEED)).ok
    records = read(str(old))
    digest = hashlib.sha256(PATIENTS.read_bytes()).hexdigest()
    assert f"(sha256 {digest})" in render(records)
    network = pipeline.compile(pipeline.load(str(SEED))[0])
    result = replay(records, network, str(PATIENTS))
    assert result.identical and not result.notes


def test_a_trail_without_its_summary_says_the_hash_is_not_recorded(tmp_path, capsys):
    """A trail cut off before its summary (the disk filled) still explains; the fact file's hash
    it never got to is said to be missing, not made up."""
    trail = tmp_path / "trail.jsonl"
    assert cli.main(["run", str(SEED), str(PATIENTS), "--trail", str(trail)]) == 0
    cut = tmp_path / "cut.jsonl"
    cut.write_bytes(b"".join(trail.read_bytes().splitlines(keepends=True)[:-2]))
    assert "facts " + str(PATIENTS) + " (sha256 not recorded: the trail stops before its summary)" \
        in render(read(str(cut)))
