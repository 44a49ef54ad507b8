"""SDTM out: the TI dataset of every example protocol and the IE dataset of the seed example's
run, written as XPT, CSV and a define-style JSON, read back with the library that wrote them and
checked against the IG's rules (`engine.sdtm.ig.conformance`); the same bytes twice; and every
input that cannot give a dataset refused in one line (exit 2).
"""

from __future__ import annotations

import csv
import json
from datetime import datetime
from pathlib import Path

import pyreadstat
import pytest

import cli
from engine import pipeline
from engine.sdtm.domains import ascii_text, short_names, ietest
from engine.sdtm.files import read_xpt
from engine.sdtm.ig import IE, TI, Dataset, conformance
from engine.audit.trail import read
from tests.conftest import cut_trail

ROOT = Path(__file__).resolve().parents[1]
SEED = "examples/cd19-ucart-sle.proto-rules"
PATIENTS = "examples/patients.jsonl"
EXAMPLES = sorted(p.name for p in (ROOT / "examples").glob("*.proto-rules")
                  if pipeline.load(str(p))[0].leaves())

pytestmark = pytest.mark.usefixtures("at_root")


def sdtm(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="ascii") as handle:
        return list(csv.DictReader(handle))


def as_text(rows: list[dict]) -> list[dict[str, str]]:
    return [{k: str(v) for k, v in row.items()} for row in rows]


@pytest.fixture(scope="module")
def seed_trail(tmp_path_factory) -> Path:
    trail = tmp_path_factory.mktemp("sdtm") / "trail.jsonl"
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(ROOT)
        assert cli.main(["run", SEED, PATIENTS, "--trail", str(trail), "--quiet"]) == 0
    return trail


# -- TI --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("example", EXAMPLES)
def test_the_ti_of_every_example_reads_back_and_conforms(capsys, tmp_path, example):
    path = f"examples/{example}"
    code, out, _ = sdtm(capsys, "sdtm", path, "-o", str(tmp_path))
    assert code == 0 and out.startswith("TI: ")
    protocol = pipeline.load(path)[0]
    back = read_xpt(str(tmp_path / "ti.xpt"))
    assert back.domain is TI and conformance(back) == []
    assert as_text(back.rows) == read_csv(tmp_path / "ti.csv")
    leaves = protocol.leaves()
    assert [r["IECAT"] for r in back.rows] == [leaf.role.value.upper() for leaf in leaves]
    assert {r["STUDYID"] for r in back.rows} == {protocol.id}
    assert {r["TIVERS"] for r in back.rows} == {protocol.version}
    described = json.loads((tmp_path / "ti.define.json").read_text(encoding="utf-8"))
    assert [c["text"] for c in described["criteria"]] == [leaf.text for leaf in leaves]
    assert [c["IETESTCD"] for c in described["criteria"]] == [r["IETESTCD"] for r in back.rows]
    assert described["dataset"]["records"] == len(leaves)
    _, meta = pyreadstat.read_xport(str(tmp_path / "ti.xpt"), metadataonly=True)
    assert {v["name"]: v["length"] for v in described["variables"]} == \
        meta.variable_storage_width


def test_the_seed_ti_row_by_row(capsys, tmp_path):
    code, _, err = sdtm(capsys, "sdtm", SEED, "-o", str(tmp_path))
    assert code == 0
    rows = read_xpt(str(tmp_path / "ti.xpt")).rows
    codes = [r["IETESTCD"] for r in rows]
    assert codes[:8] == ["I1", "I2", "I3", "I4CARDIA", "I4RENAL", "I4LIVER", "I4LUNG", "I5"]
    assert rows[4] == {"STUDYID": "cd19-ucart-sle", "DOMAIN": "TI", "IETESTCD": "I4RENAL",
                       "IETEST": "Renal function: eGFR>=30ML/min/1.73m2;",
                       "IECAT": "INCLUSION", "TIVERS": "1.0"}
    long = {r["IETESTCD"]: r["IETEST"] for r in rows if r["IETEST"].endswith("...")}
    assert sorted(long) == ["E4", "E8", "I2", "I7"]
    assert all(len(text) <= 200 for text in long.values())
    assert long["E4"].startswith("Have a history of congenital heart disease")
    assert err.count("warning: criterion") == 4 and "the define-style description" in err


def test_the_files_are_the_same_bytes_every_time(capsys, tmp_path, seed_trail):
    for run in ("a", "b"):
        assert sdtm(capsys, "sdtm", SEED, "-o", str(tmp_path / run))[0] == 0
        assert sdtm(capsys, "sdtm-ie", str(seed_trail), "-o", str(tmp_path / run))[0] == 0
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert names == ["ie-open.csv", "ie.csv", "ie.define.json", "ie.xpt",
                     "ti.csv", "ti.define.json", "ti.xpt"]
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    _, meta = pyreadstat.read_xport(str(tmp_path / "a" / "ti.xpt"), metadataonly=True)
    assert meta.creation_time == meta.modification_time == datetime(1970, 1, 1)
    assert meta.table_name == "TI" and meta.file_label == "Trial Inclusion/Exclusion Criteria"
    assert b"01JAN70:00:00:00" in (tmp_path / "a" / "ie.xpt").read_bytes()[:600]


def test_ids_that_collide_are_renamed_and_said(capsys, tmp_path):
    protocol = tmp_path / "p.proto-rules"
    protocol.write_text(
        'protocol "collide"\nversion "2"\nconcepts:\n    lvef: quantity in %\n'
        '    ecg_ok: flag\n    cardiac_arrest: flag\n'
        'inclusion I4 "Organs":\n'
        '    part cardiac_a "LVEF >= 55%": lvef >= 55 %\n'
        '    part cardiac_b "ECG normal": ecg_ok\n'
        'exclusion I4CARDI2 "Cardiac arrest": cardiac_arrest\n', encoding="utf-8")
    code, _, err = sdtm(capsys, "sdtm", str(protocol), "-o", str(tmp_path / "out"))
    assert code == 0
    rows = read_xpt(str(tmp_path / "out" / "ti.xpt")).rows
    assert [r["IETESTCD"] for r in rows] == ["I4CARDIA", "I4CARDI3", "I4CARDI2"]
    assert ("warning: criteria I4.cardiac_a and I4.cardiac_b both shorten to IETESTCD I4CARDIA: "
            "I4.cardiac_b is I4CARDI3") in err


def test_short_names_keep_to_the_ig():
    ids = ["I1", "Inc12abc", "I4.renal", "I4.very_long_part", "I1a", "I1A", "E10"]
    codes, said = short_names(ids)
    assert codes == {"I1": "I1", "Inc12abc": "INC12ABC", "I4.renal": "I4RENAL",
                     "I4.very_long_part": "I4VERY_L", "I1a": "I1A", "I1A": "I1A2", "E10": "E10"}
    assert said == ["criteria I1a and I1A both shorten to IETESTCD I1A: I1A is I1A2"]


def test_texts_in_ascii_and_cut_where_the_ig_says():
    assert ascii_text("Hb ≥ 9 g/dL, 1.5×10⁹/L, T ≤ 38 °C, “café”")[0] == \
        'Hb >= 9 g/dL, 1.5x10^9/L, T <= 38 degC, "cafe"'
    assert ascii_text("患者 aged ≥ 18") == ("?? aged >= 18", True)
    written, said = ietest("E2", "word " * 80)
    assert len(written) <= 200 and written.endswith("word...")
    assert said == ["criterion E2: the sentence has 400 characters; IETEST holds its first 194 "
                    "and '...', the define-style description the whole sentence"]
    assert ietest("I9", None) == ("I9", ["criterion I9 has no sentence: IETEST holds its id"])


# -- IE --------------------------------------------------------------------------------------------

def test_the_ie_of_the_seed_run_reads_back_and_conforms(capsys, tmp_path, seed_trail):
    code, out, _ = sdtm(capsys, "sdtm-ie", str(seed_trail), "-o", str(tmp_path))
    assert code == 0
    assert out.startswith("IE: 23 criteria not met by 15 of 23 subjects: ")
    back = read_xpt(str(tmp_path / "ie.xpt"))
    assert back.domain is IE and conformance(back) == []
    assert as_text(back.rows) == read_csv(tmp_path / "ie.csv")
    assert back.rows[0] == {
        "STUDYID": "cd19-ucart-sle", "DOMAIN": "IE",
        "USUBJID": "cd19-ucart-sle-P03-age-4-under-minimum", "IESEQ": 1, "IETESTCD": "I1",
        "IETEST": "Age:>=5 years old;", "IECAT": "INCLUSION", "IEORRES": "N", "IESTRESC": "N",
        "IEDTC": "2026-06-01"}
    # Exactly the trail's verdicts not met: inclusions NOT_MET, exclusions MET; and IESEQ counts
    # each subject's from 1, in protocol order.
    codes, _ = short_names([c["id"] for c in _protocol(seed_trail)["criteria"]])
    records = read(str(seed_trail))
    expected = [(f"cd19-ucart-sle-{r['patient']}", codes[r["criterion"]])
                for r in records if r["type"] == "criterion"
                and r["verdict"] == {"inclusion": "NOT_MET", "exclusion": "MET"}[r["role"]]]
    assert [(r["USUBJID"], r["IETESTCD"]) for r in back.rows] == expected
    for row in back.rows:
        assert row["IEORRES"] == {"INCLUSION": "N", "EXCLUSION": "Y"}[row["IECAT"]]
    eligible = {r["patient"] for r in records if r.get("decision") == "ELIGIBLE"}
    assert eligible and not {r["USUBJID"].removeprefix("cd19-ucart-sle-")
                             for r in back.rows} & eligible


def test_open_verdicts_are_not_in_ie_but_beside_it(capsys, tmp_path, seed_trail):
    assert sdtm(capsys, "sdtm-ie", str(seed_trail), "-o", str(tmp_path))[0] == 0
    left = read_csv(tmp_path / "ie-open.csv")
    records = read(str(seed_trail))
    open_verdicts = [(r["patient"], r["criterion"], r["verdict"]) for r in records
                     if r["type"] == "criterion" and r["verdict"] in ("UNKNOWN", "NEEDS_REVIEW")]
    assert [(r["USUBJID"].removeprefix("cd19-ucart-sle-"), r["CRITERION"], r["VERDICT"])
            for r in left] == open_verdicts
    assert left[0]["REASON"] == "investigator_deems_unsuitable (awaiting judgment)"
    ie = {(r["USUBJID"], r["IETESTCD"]) for r in read_csv(tmp_path / "ie.csv")}
    assert not ie & {(r["USUBJID"], r["IETESTCD"]) for r in left}


def test_rejected_records_are_listed_beside_ie(capsys, tmp_path):
    facts = tmp_path / "facts.jsonl"
    good = (ROOT / PATIENTS).read_text(encoding="utf-8").splitlines()[0]
    facts.write_text(good + '\n{"patient": "bad", "facts": 3}\n', encoding="utf-8")
    trail = tmp_path / "trail.jsonl"
    assert cli.main(["run", SEED, str(facts), "--trail", str(trail), "--quiet"]) == 2
    capsys.readouterr()
    assert sdtm(capsys, "sdtm-ie", str(trail), "-o", str(tmp_path / "out"))[0] == 0
    (rejected,) = [r for r in read_csv(tmp_path / "out" / "ie-open.csv")
                   if r["VERDICT"] == "REJECTED"]
    assert rejected["USUBJID"] == "cd19-ucart-sle-bad"
    assert rejected["REASON"].startswith("fact file line 2: ")


def test_a_study_id_from_the_command_line(capsys, tmp_path, seed_trail):
    assert sdtm(capsys, "sdtm-ie", str(seed_trail), "-o", str(tmp_path),
                "--study-id", "NCT05030779")[0] == 0
    rows = read_csv(tmp_path / "ie.csv")
    assert {r["STUDYID"] for r in rows} == {"NCT05030779"}
    assert rows[0]["USUBJID"] == "NCT05030779-P03-age-4-under-minimum"


def _protocol(trail: Path) -> dict:
    return next(r for r in read(str(trail)) if r["type"] == "protocol")


# -- what cannot give a dataset: one line, exit 2 --------------------------------------------------

def _lines(trail: Path) -> list[str]:
    return trail.read_text(encoding="utf-8").splitlines(keepends=True)


def _refused(capsys, tmp_path, *argv: str, warned: bool = False) -> str:
    """The one line that refuses (after the protocol's warnings, when it has some)."""
    code, out, err = sdtm(capsys, *argv)
    assert code == 2 and not out, (out, err)
    lines = err.splitlines()
    assert len(lines) == 1 or warned and ": warning: " in err, err
    return lines[-1]


def test_a_file_that_is_not_a_trail(capsys, tmp_path):
    err = _refused(capsys, tmp_path, "sdtm-ie", PATIENTS, "-o", str(tmp_path))
    assert err.startswith(f"proto-rules: cannot read trail {PATIENTS}: line 1: not a trail")
    empty = tmp_path / "empty.jsonl"
    empty.write_text("", encoding="utf-8")
    assert "the file is empty" in _refused(capsys, tmp_path, "sdtm-ie", str(empty), "-o", "x")
    assert "No such file" in _refused(capsys, tmp_path, "sdtm-ie", "nowhere.jsonl", "-o", "x")


def test_a_truncated_trail(capsys, tmp_path, seed_trail):
    cut = tmp_path / "cut.jsonl"
    cut.write_text("".join(_lines(seed_trail)[:10]), encoding="utf-8")
    err = _refused(capsys, tmp_path, "sdtm-ie", str(cut), "-o", str(tmp_path / "out"))
    assert err.startswith(f"proto-rules: cannot make IE from {cut}: the trail is TAMPERED: ")
    assert not (tmp_path / "out").exists()


def test_a_run_cut_before_its_last_patient(capsys, tmp_path, seed_network):
    path = cut_trail(seed_network, tmp_path / "trail.jsonl")
    err = _refused(capsys, tmp_path, "sdtm-ie", str(path), "-o", str(tmp_path / "out"))
    assert err == (f"proto-rules: cannot make IE from {path}: the run was cut (interrupted) "
                   "after 2 patients, fact file line 2: the patients after it were not decided; "
                   "IE would leave them out: run the protocol over all the patients")


def test_a_tampered_trail(capsys, tmp_path, seed_trail):
    lines = _lines(seed_trail)
    at = next(i for i, line in enumerate(lines) if '"verdict":"NOT_MET"' in line)
    lines[at] = lines[at].replace('"verdict":"NOT_MET"', '"verdict":"MET"')
    tampered = tmp_path / "tampered.jsonl"
    tampered.write_text("".join(lines), encoding="utf-8")
    err = _refused(capsys, tmp_path, "sdtm-ie", str(tampered), "-o", str(tmp_path / "out"))
    assert f"the trail is TAMPERED: line {at + 2} (patient " in err
    assert f": does not follow line {at + 1} (patient " in err


def test_a_study_id_that_cannot_be_one(capsys, tmp_path):
    nameless = tmp_path / "p.proto-rules"
    nameless.write_text('concepts:\n    x: flag\ninclusion I1 "X": x\n', encoding="utf-8")
    err = _refused(capsys, tmp_path, "sdtm", str(nameless), "-o", str(tmp_path / "out"),
                   warned=True)
    assert err == (f"proto-rules: {nameless}: the protocol has no id (protocol \"...\") to be "
                   "the STUDYID; give one with --study-id")
    err = _refused(capsys, tmp_path, "sdtm", SEED, "-o", str(tmp_path), "--study-id", "étude")
    assert "STUDYID 'étude' is not ASCII text on one line" in err


def test_an_output_that_cannot_be_written(capsys, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("", encoding="utf-8")
    err = _refused(capsys, tmp_path, "sdtm", SEED, "-o", str(blocker / "out"))
    assert err.startswith(f"proto-rules: cannot write into {blocker / 'out'}: ")


def test_a_protocol_with_errors(capsys, tmp_path):
    bad = tmp_path / "bad.proto-rules"
    bad.write_text('protocol "b"\nconcepts:\n    x: flag\ninclusion I1 "X": y\n', encoding="utf-8")
    code, _, err = sdtm(capsys, "sdtm", str(bad), "-o", str(tmp_path / "out"))
    assert code == 2 and f"{bad}:4:" in err


# -- the IG's rules, one case each -----------------------------------------------------------------

TI_ROW = {"STUDYID": "S", "DOMAIN": "TI", "IETESTCD": "I1", "IETEST": "Adult", "IECAT":
          "INCLUSION", "TIVERS": "1"}
IE_ROW = {"STUDYID": "S", "DOMAIN": "IE", "USUBJID": "S-1", "IESEQ": 1, "IETESTCD": "I1",
          "IETEST": "Adult", "IECAT": "INCLUSION", "IEORRES": "N", "IESTRESC": "N",
          "IEDTC": "2026-01-31"}


@pytest.mark.parametrize("domain, change, problem", [
    (TI, {"IETESTCD": "I4RENAL_X"}, "TI row 1: IETESTCD has 9 characters, more than 8"),
    (TI, {"IETESTCD": "4A"}, "TI row 1: IETESTCD '4A' is not letters, digits and underscores "
                             "starting with a letter"),
    (TI, {"IETEST": "x" * 201}, "TI row 1: IETEST has 201 characters, more than 200"),
    (TI, {"IETEST": ""}, "TI row 1: IETEST is empty (required)"),
    (TI, {"IETEST": "≥ 18"}, "TI row 1: IETEST '≥ 18' is not ASCII"),
    (TI, {"IECAT": "Inclusion"}, "TI row 1: IECAT 'Inclusion' is not in the controlled "
                                 "terminology (INCLUSION, EXCLUSION)"),
    (TI, {"DOMAIN": "IE"}, "TI row 1: DOMAIN 'IE' is not in the controlled terminology (TI)"),
    (IE, {"IEORRES": "Y"}, "IE row 1: IEORRES is 'Y': an inclusion criterion not met is 'N'"),
    (IE, {"IESTRESC": "NO"}, "IE row 1: IESTRESC 'NO' is not in the controlled terminology "
                             "(Y, N)"),
    (IE, {"IESEQ": "1"}, "IE row 1: IESEQ '1' is not a whole number"),
    (IE, {"IEDTC": "31/01/2026"}, "IE row 1: IEDTC '31/01/2026' is not an ISO 8601 date"),
    (IE, {"USUBJID": None}, "IE row 1: USUBJID is empty (required)"),
])
def test_each_rule_of_the_ig_is_checked(domain, change, problem):
    row = {**(TI_ROW if domain is TI else IE_ROW), **change}
    assert problem in conformance(Dataset(domain, [row]))


def test_rules_across_rows_and_labels():
    twice = Dataset(TI, [TI_ROW, {**TI_ROW, "STUDYID": "T", "IETESTCD": "I2"}])
    assert conformance(twice) == ["TI: more than one STUDYID (S, T)"]
    assert conformance(Dataset(TI, [TI_ROW, TI_ROW])) == ["TI: IETESTCD/TIVERS I1/1 is not unique"]
    assert conformance(Dataset(IE, [IE_ROW, {**IE_ROW, "IETESTCD": "I2"}])) == [
        "IE: USUBJID/IESEQ S-1/1 is not unique"]
    labels = {v.name: v.label for v in IE.variables if v.name != "IEORRES"}
    assert conformance(Dataset(IE, [], labels={**labels, "IEDTC": "Date", "IEX": "x"})) == [
        "IE: required variable IEORRES is missing",
        "IE: IEDTC is labelled 'Date', not 'Date/Time of Collection'",
        "IE: IEX is not a variable of IE"]
