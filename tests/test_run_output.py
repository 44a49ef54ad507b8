"""What `run` tells a data team on a large run: the summary, warnings counted by kind, `--quiet`,
`--warnings FILE`, `--table OUT.csv` and the progress line; and that none of it changes the trail.

In-process through `cli.main`, on the real example files (and copies of their patients).
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter
from pathlib import Path

import pytest

import cli
from engine.factfile import count_records
from engine.summary import SHOWN
from engine.audit.trail import read
from tests.conftest import run_cli as run

ROOT = Path(__file__).resolve().parents[1]
SEED = "examples/cd19-ucart-sle.proto-rules"
PATIENTS = "examples/patients.jsonl"
BAD_FACTS = "examples/bad/facts.jsonl"
P07_WARNING = (f"{PATIENTS}:7, patient P07-male-not-applicable, fact #47, field 'date': "
               "warning: dated 2026-06-03, after the screening date 2026-06-01: set aside")
SUMMARY = re.compile(r"^(?P<patients>[\d,]+) patients? in \d+\.\d s \(([\d,]+|-) patients/s\): "
                     r"(?P<ELIGIBLE>[\d,]+) ELIGIBLE, (?P<INELIGIBLE>[\d,]+) INELIGIBLE, "
                     r"(?P<NEEDS_REVIEW>[\d,]+) NEEDS_REVIEW; (?P<REJECTED>[\d,]+) records? "
                     r"rejected$", re.MULTILINE)
EXAMPLES = [(SEED, PATIENTS)] + [
    (str(p.relative_to(ROOT)), str(p.with_name(p.name.replace(".proto-rules", ".patients.jsonl"))
                                   .relative_to(ROOT)))
    for p in sorted((ROOT / "examples").glob("*.proto-rules"))
    if p.with_name(p.name.replace(".proto-rules", ".patients.jsonl")).exists()]


pytestmark = pytest.mark.usefixtures("at_root")




def summary(err: str) -> dict[str, int]:
    found = SUMMARY.search(err)
    assert found, err
    return {k: int(v.replace(",", "")) for k, v in found.groupdict().items()}


def trail_records(path: Path) -> list[dict]:
    """The trail's records as its readers read them."""
    return read(str(path))


def late_patients(tmp_path: Path, copies: int) -> str:
    """`copies` patients, each P07 of the seed example under another id: one warning each."""
    p07 = json.loads((ROOT / PATIENTS).read_text(encoding="utf-8").splitlines()[6])
    path = tmp_path / "late.jsonl"
    path.write_text("".join(json.dumps({**p07, "patient": f"P07-{n}"}) + "\n"
                            for n in range(1, copies + 1)), encoding="utf-8")
    return str(path)


# -- the summary -----------------------------------------------------------------------------------

@pytest.mark.parametrize("protocol, facts", EXAMPLES, ids=[f for _, f in EXAMPLES])
def test_the_summary_counts_what_the_trail_records(capsys, tmp_path, protocol, facts):
    trail = tmp_path / "trail.jsonl"
    code, out, err = run(capsys, "run", protocol, facts, "--trail", str(trail))
    assert code == 0
    counts = summary(err)
    recorded = next(r for r in trail_records(trail) if r["type"] == "summary")
    assert counts["patients"] == recorded["patients"] == len(out.splitlines())
    for decision in ("ELIGIBLE", "INELIGIBLE", "NEEDS_REVIEW", "REJECTED"):
        assert counts[decision] == recorded["decisions"].get(decision, 0), decision


def test_the_seed_example_summary(capsys):
    code, _, err = run(capsys, "run", SEED, PATIENTS)
    assert code == 0
    assert summary(err) == {"patients": 23, "ELIGIBLE": 4, "INELIGIBLE": 15, "NEEDS_REVIEW": 4,
                            "REJECTED": 0}
    assert err.endswith("1 warning in 1 kind:\n  1 x dated after the screening date: set aside: "
                        "P07-male-not-applicable (line 7)\n")


def test_rejected_records_are_printed_one_by_one_and_counted(capsys):
    code, out, err = run(capsys, "run", SEED, BAD_FACTS)
    assert code == 2
    assert summary(err)["REJECTED"] == 24
    assert err.count(": error: ") == 25  # B29 has two problems: its record is rejected once
    assert len(out.splitlines()) == 6


def test_rejected_records_are_counted_by_kind_at_the_end(capsys, tmp_path):
    """What to fix in the export, first: 30 records with a unit written K/uL are one kind, with
    the first three and how many more (a helper's registry had 192 such lines of platelets)."""
    record = json.loads(Path(PATIENTS).read_text(encoding="utf-8").splitlines()[0])
    facts = tmp_path / "k.jsonl"
    lines = []
    for n in range(30):
        changed = [{**f, "unit": "K/uL"} if f["concept"] == "egfr" else f
                   for f in record["facts"]]
        lines.append(json.dumps({**record, "patient": f"K{n:02}", "facts": changed}))
    facts.write_text("\n".join(lines) + "\n", encoding="utf-8")
    code, _, err = run(capsys, "run", SEED, str(facts))
    assert code == 2 and err.count(": error: ") == 30
    tail = err.splitlines()[-2:]
    assert tail[0] == "30 records rejected for 30 problems in 1 kind:"
    assert tail[1].startswith("  30 x egfr: unit 'K/uL' is ambiguous: pint reads K as "
                              "kelvin; write 10^3/uL (or the protocol says what it means: "
                              "'unit \"K/uL\" means 10^3/uL') (field 'unit'): K00 (line 1), "
                              "K01 (line 2), K02 (line 3) and 27 more"), tail[1]


# -- warnings --------------------------------------------------------------------------------------

def test_the_p07_warning_is_shown_and_counted_by_kind(capsys):
    _, _, err = run(capsys, "run", SEED, PATIENTS)
    lines = err.splitlines()
    assert lines[0] == P07_WARNING
    assert lines[-1] == ("  1 x dated after the screening date: set aside: "
                         "P07-male-not-applicable (line 7)")


def test_beyond_20_warnings_they_are_counted_not_printed(capsys, tmp_path):
    facts = late_patients(tmp_path, SHOWN + 5)
    code, out, err = run(capsys, "run", SEED, facts)
    assert code == 0 and len(out.splitlines()) == SHOWN + 5
    lines = err.splitlines()
    assert sum(": warning: dated 2026-06-03" in line for line in lines) == SHOWN
    assert lines[SHOWN] == (f"proto-rules: more than {SHOWN} warnings: the others are counted by "
                            "kind at the end")
    assert lines[-2:] == [f"{SHOWN + 5} warnings in 1 kind:",
                          f"  {SHOWN + 5} x dated after the screening date: set aside: "
                          "P07-1 (line 1), P07-2 (line 2), P07-3 (line 3) and 22 more"]


def test_a_kind_of_warning_names_its_first_patients_each_once(capsys, tmp_path):
    """Three patients with two facts dated after screening each: six warnings of one kind, in
    three patients, each named once (not the first patient twice)."""
    facts = Path(late_patients(tmp_path, 3))
    twice = []
    for line in facts.read_text(encoding="utf-8").splitlines():
        patient = json.loads(line)
        late = next(f for f in patient["facts"] if f.get("date", "") > patient["screening_date"])
        patient["facts"].append({**late, "date": "2026-06-04"})
        twice.append(json.dumps(patient) + "\n")
    facts.write_text("".join(twice), encoding="utf-8")
    code, _, err = run(capsys, "run", SEED, str(facts))
    assert code == 0
    assert err.splitlines()[-1] == ("  6 x dated after the screening date: set aside, in 3 "
                                    "patients: P07-1 (line 1), P07-2 (line 2), P07-3 (line 3)")


def test_warnings_file_lists_every_warning_as_run_printed_them(capsys, tmp_path):
    facts = late_patients(tmp_path, SHOWN + 5)
    listed = tmp_path / "out" / "warnings.txt"
    code, _, err = run(capsys, "run", SEED, facts, "--warnings", str(listed))
    assert code == 0
    assert f"and all are in {listed}" in err
    assert err.endswith(f"every warning: {listed}\n")
    assert listed.read_text(encoding="utf-8").splitlines() == [
        f"{facts}:{n}, patient P07-{n}, fact #47, field 'date': warning: dated 2026-06-03, after "
        "the screening date 2026-06-01: set aside" for n in range(1, SHOWN + 6)]


def test_warnings_file_of_the_seed_example(capsys, tmp_path):
    listed = tmp_path / "warnings.txt"
    run(capsys, "run", SEED, PATIENTS, "--warnings", str(listed), "--quiet")
    assert listed.read_text(encoding="utf-8") == P07_WARNING + "\n"


# -- --quiet ---------------------------------------------------------------------------------------

def test_quiet_keeps_only_the_summary(capsys):
    code, out, err = run(capsys, "run", SEED, PATIENTS, "--quiet")
    assert code == 0 and out == ""
    assert P07_WARNING not in err
    assert summary(err)["patients"] == 23
    assert "1 x dated after the screening date: set aside" in err


def test_quiet_keeps_the_errors(capsys):
    _, out, err = run(capsys, "run", SEED, BAD_FACTS, "--quiet", "--format", "json")
    assert out == ""
    assert err.count(": error: ") == 25
    assert summary(err)["REJECTED"] == 24


# -- the decisions table ---------------------------------------------------------------------------

def test_table_rows_agree_with_the_trail(capsys, tmp_path):
    trail, table = tmp_path / "trail.jsonl", tmp_path / "table.csv"
    code, _, _ = run(capsys, "run", SEED, BAD_FACTS, "--trail", str(trail), "--table", str(table))
    assert code == 2
    with open(table, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    records = trail_records(trail)
    criteria = [r for r in records if r["type"] == "criterion"]
    decisions = [r for r in records if r["type"] == "decision"]
    rejected = [r for r in records if r["type"] == "rejected"]
    assert [(r["patient"], r["criterion"], r["role"], r["verdict"])
            for r in rows if r["criterion"]] == [
        (r["patient"], r["criterion"], r["role"], r["verdict"]) for r in criteria]
    decided = [r for r in rows if not r["criterion"] and r["verdict"] != "REJECTED"]
    assert [(r["patient"], r["verdict"]) for r in decided] == [
        (r["patient"], r["decision"]) for r in decisions]
    assert [r["reason"] for r in rows if r["verdict"] == "REJECTED"] == [
        "; ".join(r["problems"]) for r in rejected]
    deciding = Counter(r["patient"] for r in rows if r["reason"].startswith("decides "))
    assert deciding == Counter(r["patient"] for r in decisions for _ in r["reasons"])


def test_table_of_the_seed_example(capsys, tmp_path):
    table = tmp_path / "table.csv"
    run(capsys, "run", SEED, PATIENTS, "--table", str(table))
    lines = table.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "patient,criterion,role,verdict,reason"
    assert len(lines) == 1 + 23 * (23 + 1)  # 23 patients, 23 verdicts and a decision each
    assert lines[24] == "P01-eligible,,,ELIGIBLE,"
    assert "P06-not-refractory-sledai-6,I2,inclusion,NOT_MET,decides INELIGIBLE" in lines
    assert ("P06-not-refractory-sledai-6,,,INELIGIBLE,inclusion I2 NOT_MET; inclusion I3 NOT_MET"
            in lines)


def test_outputs_that_cannot_be_written_are_one_line(capsys, tmp_path):
    for option in ("--table", "--warnings"):
        code, _, err = run(capsys, "run", SEED, PATIENTS, option, str(tmp_path))
        assert code == 2
        what = "table" if option == "--table" else "warnings"
        assert err == f"proto-rules: cannot write {what} {tmp_path}: Is a directory\n"


# -- the trail is the same -------------------------------------------------------------------------

def test_the_new_options_change_neither_trail_nor_table(capsys, tmp_path):
    plain, busy = tmp_path / "plain.jsonl", tmp_path / "busy.jsonl"
    run(capsys, "run", SEED, PATIENTS, "--trail", str(plain))
    tables = []
    for n in (1, 2):
        tables.append(tmp_path / f"table{n}.csv")
        run(capsys, "run", SEED, PATIENTS, "--trail", str(busy), "--quiet", "--format", "json",
            "--table", str(tables[-1]), "--warnings", str(tmp_path / "warnings.txt"))
        assert busy.read_bytes() == plain.read_bytes()
    assert tables[0].read_bytes() == tables[1].read_bytes()


# -- the progress line -----------------------------------------------------------------------------

class Terminal(io.StringIO):
    """stderr as a terminal would be: the progress line is drawn only there."""

    def isatty(self) -> bool:
        return True


def test_progress_line_on_a_terminal_with_the_total(monkeypatch, capsys):
    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    assert cli.main(["run", SEED, PATIENTS, "--quiet"]) == 0
    shown = terminal.getvalue()
    assert "/23 [" in shown and "patients/s" in shown
    assert summary(shown.rpartition("\r")[2])["patients"] == 23  # the line is cleared first


def test_progress_line_without_a_total_for_stdin(monkeypatch, capsys):
    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    monkeypatch.setattr("sys.stdin", io.StringIO((ROOT / PATIENTS).read_text(encoding="utf-8")))
    assert cli.main(["run", SEED, "-", "--quiet"]) == 0
    shown = terminal.getvalue()
    assert "patients/s" in shown and "/23" not in shown


def test_no_progress_line_off_a_terminal(capsys):
    _, _, err = run(capsys, "run", SEED, PATIENTS)
    assert "\r" not in err


def test_count_records_as_the_reader_splits_them():
    def lines(data: bytes) -> list[bytes]:
        return data.splitlines(keepends=True)

    assert count_records(lines(b'{"patient": "a"}\n\n{"patient": "b"}\n')) == 2
    assert count_records(lines(b'{\n  "patient": "a",\n  "facts": []\n}\n')) == 1
    assert count_records(lines(b"not json\n{}\n")) == 2


def test_a_folders_problem_is_said_at_its_files_line(capsys, tmp_path):
    """A folder of fact files numbers its records in order across them (the trail's numbers);
    a problem is said at its own file's line, and so is the first record of a patient given
    twice (a helper found a line number counted across files, with the folder's name)."""
    good = json.loads(Path(PATIENTS).read_text(encoding="utf-8").splitlines()[0])
    bad = {**good, "patient": "B", "facts": [{**f, "unit": "mg"} if f["concept"] == "egfr" else f
                                               for f in good["facts"]]}
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "a.jsonl").write_text(json.dumps(good) + "\n", encoding="utf-8")
    (folder / "b.jsonl").write_text(json.dumps({**good, "patient": "C"}) + "\n" +
                                    json.dumps(bad) + "\n" + json.dumps(good) + "\n",
                                    encoding="utf-8")
    code, _, err = run(capsys, "run", SEED, str(folder))
    assert code == 2
    lines = [line for line in err.splitlines() if ": error: " in line]
    assert lines[0].startswith(f"{folder / 'b.jsonl'}:2, patient B, fact #")
    assert lines[1] == (f"{folder / 'b.jsonl'}:3, patient {good['patient']}, field 'patient': "
                        f"error: patient {good['patient']} is already the record at line 1 of "
                        f"{folder / 'a.jsonl'}: one record per patient")
    assert f"B (line 2 of {folder / 'b.jsonl'})" in err
