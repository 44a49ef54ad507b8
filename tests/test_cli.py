"""The command line, in-process through `cli.main` (exit codes, stdout, stderr), and once installed.

Every test runs from the repository root (paths in messages are as typed) on the real example files.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import cli
from engine.audit.trail import read
from tests.conftest import run_cli as run

ROOT = Path(__file__).resolve().parents[1]
SEED = "examples/cd19-ucart-sle.proto-rules"
PATIENTS = "examples/patients.jsonl"
BAD_FACTS = "examples/bad/facts.jsonl"


pytestmark = pytest.mark.usefixtures("at_root")




def trail_records(path: Path) -> list[dict]:
    """The trail's records as its readers read them."""
    return read(str(path))


# -- check -----------------------------------------------------------------------------------------

def test_check_seed(capsys):
    code, out, err = run(capsys, "check", SEED)
    assert code == 0
    assert out == (f"{SEED}: ok: 7 inclusion and 13 exclusion criteria (23 with verdicts), "
                   "1 definition, 52 concepts; 0 warnings\n")
    assert err == ""


def test_check_seed_strict(capsys):
    assert run(capsys, "check", "--strict", SEED)[0] == 0


def test_check_syntax_error_points_at_it(capsys):
    code, out, err = run(capsys, "check", "examples/bad/syntax-error.proto-rules")
    assert code == 2
    assert out == ""
    head, source, caret = err.splitlines()
    assert head.startswith("examples/bad/syntax-error.proto-rules:8:33: error: the file ends too "
                           "early; expected ")
    assert source == "    " + "    egfr >= 30 mL/min/1.73m2 and"
    assert caret == " " * (4 + 32) + "^"
    assert "Traceback" not in err


def test_a_protocol_file_that_cannot_be_read_is_said_of_the_file(capsys, tmp_path):
    """No line of a missing file or a folder to point at: the file alone, and why."""
    missing = tmp_path / "nope.proto-rules"
    assert run(capsys, "check", str(missing)) == (
        2, "", f"{missing}: error: cannot read the protocol file: No such file or directory\n")
    assert run(capsys, "check", str(tmp_path)) == (
        2, "", f"{tmp_path}: error: cannot read the protocol file: a folder, not a file\n")


def test_a_byte_that_is_not_utf8_is_pointed_at_on_its_line(capsys, tmp_path):
    path = tmp_path / "latin1.proto-rules"
    path.write_bytes(b'protocol "t" version "1"\nconcepts:\n  ecog: scale 0 to 5\n'
                     b'inclusion I1 "\xff ECOG": ecog <= 2\n')
    code, out, err = run(capsys, "check", str(path))
    assert code == 2 and out == ""
    assert err.splitlines() == [
        f"{path}:4:15: error: not UTF-8 text: byte 0xff (invalid start byte); save the file as "
        "UTF-8", '    inclusion I1 "\ufffd ECOG": ecog <= 2', "                  ^"]


def test_a_no_break_space_is_named(capsys, tmp_path):
    """Pasted from a word processor: it shows as a space, so the message says what it is."""
    path = tmp_path / "nbsp.proto-rules"
    path.write_text('protocol "t" version "1"\nconcepts:\n  ecog: scale 0 to 5\n'
                    'inclusion I1 "ECOG":\u00a0ecog <= 2\n', encoding="utf-8")
    code, _, err = run(capsys, "check", str(path))
    assert code == 2
    assert err.startswith(f"{path}:4:21: error: unexpected '\u00a0' (U+00A0, a no-break space: "
                          "write a plain space)")


def test_a_lookalike_letter_is_named(capsys, tmp_path):
    """A Cyrillic е in a name reads as an e: the message gives its code point (a helper's
    hostile protocol read "unexpected 'е'" and nothing more)."""
    path = tmp_path / "cyrillic.proto-rules"
    path.write_text('protocol "t" version "1"\nconcepts:\n  \u0435cog: scale 0 to 5\n',
                    encoding="utf-8")
    code, _, err = run(capsys, "check", str(path))
    assert code == 2
    assert err.startswith(f"{path}:3:3: error: unexpected '\u0435' (U+0435, not an ASCII "
                          "character: names and keywords are written in ASCII)")


def test_check_undefined_name_points_at_it(capsys):
    code, out, err = run(capsys, "check", "examples/bad/undefined-name.proto-rules")
    assert code == 2
    lines = err.splitlines()
    at = lines.index("examples/bad/undefined-name.proto-rules:8:5: error: unknown name 'egrf'; "
                     "did you mean 'egfr'?")
    assert lines[at + 1:at + 3] == ["        egrf >= 30 mL/min/1.73m2", "        ^^^^"]


def test_check_warning_is_exit_1_under_strict(capsys):
    path = "examples/bad/unused-concept.proto-rules"
    code, out, err = run(capsys, "check", path)
    assert code == 0
    assert out.endswith("; 1 warning\n")
    assert err.startswith(f"{path}:6:5: warning: concept 'spo2' is never used\n")
    code, out, err = run(capsys, "check", "--strict", path)
    assert code == 1
    assert "warning: concept 'spo2' is never used" in err


def test_check_dump_ast(capsys):
    code, out, err = run(capsys, "check", "--dump-ast", SEED)
    assert code == 0
    assert out.startswith(f"Protocol @6:1 path='{SEED}' id='cd19-ucart-sle'")
    assert "Concept @12:5 name='age'" in out
    assert out.rstrip().endswith("23 with verdicts), 1 definition, 52 concepts; 0 warnings")


def test_check_missing_protocol_file(capsys):
    code, out, err = run(capsys, "check", "examples/nope.proto-rules")
    assert code == 2
    assert err.startswith("examples/nope.proto-rules: error: cannot read the protocol file: ")
    assert "No such file" in err and "Traceback" not in err


# -- run -------------------------------------------------------------------------------------------

def test_run_text(capsys):
    code, out, err = run(capsys, "run", SEED, PATIENTS)
    assert code == 0
    lines = out.splitlines()
    assert len(lines) == 23
    assert lines[0] == "P01-eligible: ELIGIBLE"
    assert lines[5] == ("P06-not-refractory-sledai-6: INELIGIBLE "
                        "(inclusion I2 NOT_MET; inclusion I3 NOT_MET)")
    assert lines[8] == "P09-judgment-pending: NEEDS_REVIEW (exclusion E13 NEEDS_REVIEW)"
    # the warning of P07 (a weight dated after screening) goes to stderr, then the summary
    # (tests/test_run_output.py)
    assert err.startswith(f"{PATIENTS}:7, patient P07-male-not-applicable, fact #47, field "
                          "'date': warning: dated 2026-06-03, after the screening date "
                          "2026-06-01: set aside\n23 patients in ")


def test_run_json(capsys):
    code, out, err = run(capsys, "run", SEED, PATIENTS, "--format", "json")
    assert code == 0
    records = [json.loads(line) for line in out.splitlines()]
    assert len(records) == 23
    first = records[0]
    assert set(first) == {"patient", "record", "decision", "reasons", "verdicts"}
    assert (first["patient"], first["record"], first["decision"]) == ("P01-eligible", 1, "ELIGIBLE")
    assert len(first["verdicts"]) == 23
    pregnant = next(r for r in records if r["patient"] == "P15-pregnant")
    assert pregnant["reasons"] == [{"criterion": "I6", "verdict": "NOT_MET"},
                                   {"criterion": "E10", "verdict": "MET"}]


def test_run_screening_date_option(capsys):
    facts = "examples/bad/no-screening-date.jsonl"
    code, out, err = run(capsys, "run", SEED, facts)
    assert code == 2
    assert out == ""
    assert "field 'screening_date': error: no screening date" in err
    code, out, err = run(capsys, "run", SEED, facts, "--screening-date", "2026-06-01",
                         "--format", "json")
    assert code == 0
    (record,) = map(json.loads, out.splitlines())
    assert record["patient"] == "N01-no-screening-date"
    assert record["verdicts"]["I4.renal"] == "MET"


def test_run_bad_screening_date_option(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["run", SEED, PATIENTS, "--screening-date", "1/6/2026"])
    assert exit_.value.code == 2
    assert "not a date (YYYY-MM-DD): '1/6/2026'" in capsys.readouterr().err


def test_run_rejected_record_exit_2_others_printed_and_in_trail(capsys, tmp_path):
    trail = tmp_path / "bad-trail.jsonl"
    code, out, err = run(capsys, "run", SEED, BAD_FACTS, "--trail", str(trail), "--format", "json")
    assert code == 2
    printed = [json.loads(line) for line in out.splitlines()]
    decided = [r["patient"] for r in printed if r["decision"]]
    assert decided[0] == "B01-good-before" and decided[-1] == "B30-good-after"
    assert "B13-unknown-concept" in decided and "B22-fact-after-screening" in decided
    rejected = [r for r in printed if r["decision"] is None]
    assert {r["record"] for r in rejected} >= {2, 3, 4, 5, 7, 28, 29}
    assert f"{BAD_FACTS}:7, patient B07-egfr-in-mg, fact #2, field 'unit': error: egfr: cannot " \
           "convert mg (mass) to mL/min/1.73m2" in err
    records = trail_records(trail)
    assert [r["patient"] for r in records if r["type"] == "decision"] == decided
    in_trail = [r["record"] for r in records if r["type"] == "rejected"]
    assert in_trail == [r["record"] for r in rejected]
    summary, seal = records[-2:]
    assert (summary["type"], seal["type"]) == ("summary", "seal")
    assert summary["patients"] == len(printed)
    assert summary["decisions"]["REJECTED"] == len(rejected)


def test_run_text_format_shows_rejections_on_stderr_only(capsys):
    code, out, err = run(capsys, "run", SEED, BAD_FACTS)
    assert code == 2
    assert "B03" not in out and "a JSON array of 1 value" not in out
    assert f"{BAD_FACTS}:3: error: a JSON array of 1 value, not a patient" in err
    assert out.splitlines()[0].split(":")[0] == "B01-good-before"


def test_run_missing_fact_file(capsys, tmp_path):
    trail = tmp_path / "t.jsonl"
    code, out, err = run(capsys, "run", SEED, "examples/nope.jsonl", "--trail", str(trail))
    assert code == 2
    assert out == ""
    assert err == ("proto-rules: cannot read fact file examples/nope.jsonl: "
                   "No such file or directory\n")
    assert not trail.exists()


def test_run_broken_protocol(capsys):
    code, out, err = run(capsys, "run", "examples/bad/undefined-name.proto-rules", PATIENTS)
    assert code == 2
    assert out == ""
    assert "8:5: error: unknown name 'egrf'" in err


def test_run_empty_fact_file(capsys):
    code, out, err = run(capsys, "run", SEED, "examples/bad/empty.jsonl")
    assert code == 2
    assert err.startswith("examples/bad/empty.jsonl:0: error: the fact file is empty\n"
                          "0 patients in ")
    assert err.endswith("0 records rejected; 1 fact file not read as records (above)\n")


# -- explain ---------------------------------------------------------------------------------------

LEGEND = "legend: + holds   - does not hold   ? cannot be judged (data missing, stale or unusable)"
LIVER_TEXT = ("Liver function: Asparagus cochinchinensis transase (AST) and Alanine Aminotransferase "
              "(ALT)≤3.0 ULN, Total Bilirubin (TBIL) in serum ≤2.0×ULN;")


def seed_line(start: str) -> int:
    """The number of the one seed line that starts (after indentation) with `start`; the rendered
    trail's places are checked against the protocol file, not against numbers that move with it."""
    source = (ROOT / SEED).read_text(encoding="utf-8").splitlines()
    (number,) = [n for n, line in enumerate(source, start=1) if line.lstrip().startswith(start)]
    return number


def sha256_of(path: str) -> str:
    return hashlib.sha256((ROOT / path).read_bytes()).hexdigest()


@pytest.fixture
def demo_trail(capsys, tmp_path) -> Path:
    trail = tmp_path / "trail.jsonl"
    assert run(capsys, "run", SEED, PATIENTS, "--trail", str(trail))[0] == 0
    return trail


def test_explain_header(capsys, demo_trail):
    code, out, err = run(capsys, "explain", str(demo_trail))
    assert (code, err) == (0, "")
    network = trail_records(demo_trail)[0]["network"]["sha256"]
    assert out.splitlines()[:5] == [
        f"protocol cd19-ucart-sle version 1.0 ({SEED}, sha256 {sha256_of(SEED)})",
        f"facts {PATIENTS} (sha256 {sha256_of(PATIENTS)}); screening date from each record",
        f"proto-rules 0.1.0, durable_rules 2.0.28, network {network[:16]}",
        LEGEND,
        ""]


def test_explain_header_screening_date_option(capsys, tmp_path):
    trail = tmp_path / "t.jsonl"
    facts = "examples/bad/no-screening-date.jsonl"
    assert run(capsys, "run", SEED, facts, "--screening-date", "2026-06-01", "--trail",
               str(trail))[0] == 0
    code, out, err = run(capsys, "explain", str(trail))
    lines = out.splitlines()
    assert lines[1] == f"facts {facts} (sha256 {sha256_of(facts)}); screening date 2026-06-01 " \
        "for records without their own"
    assert lines[5] == "patient N01-no-screening-date (fact file line 1, screening date 2026-06-01)"


def test_explain_patient(capsys, demo_trail):
    code, out, err = run(capsys, "explain", str(demo_trail), "--patient", "P04-liver-at-threshold")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith(f"protocol cd19-ucart-sle version 1.0 ({SEED}, sha256 ")
    assert lines[3] == LEGEND
    assert lines[5:7] == ["patient P04-liver-at-threshold (fact file line 4, screening date 2026-06-01)",
                          "  decision: ELIGIBLE"]
    assert sum(line.startswith("patient ") for line in lines) == 1
    define = seed_line("define refractory_sle")
    assert lines[7] == f"  definition refractory_sle = true  ({SEED}:{define})"
    heads = [line.split()[0] for line in lines if re.match(r"  [IE]\d", line)]
    assert heads == ["I1", "I2", "I3", "I4.cardiac", "I4.renal", "I4.liver", "I4.lung", "I5", "I6",
                     "I7", *(f"E{n}" for n in range(1, 14))]
    liver = seed_line('part liver "')
    at = lines.index(f"  I4.liver MET  (inclusion, {SEED}:{liver})")
    assert lines[at + 1:at + 5] == [
        f'      "{LIVER_TEXT}"',
        f"      + ast <= 3.0 x ULN (line {liver + 1}): ast 105 U/L (2026-05-26; lower reference 13, "
        "upper reference 35 U/L) = 3 x ULN; needs <= 3.0 x ULN",
        f"      + alt <= 3.0 x ULN (line {liver + 1}): alt 96 U/L (2026-05-26; lower reference 7, "
        "upper reference 40 U/L) = 2.4 x ULN; needs <= 3.0 x ULN",
        f"      + tbil <= 2.0 x ULN (line {liver + 1}): tbil 11.2 umol/L (2026-05-20; lower reference "
        "3.4, upper reference 20.5 umol/L) = 0.546341 x ULN; needs <= 2.0 x ULN"]
    # flags read yes/no, lists given as none 'recorded as none', a fact not given 'no fact given'
    i2 = seed_line("inclusion I2 ") + 2
    # parts not all needed are drawn under their connective, which holds by Kleene logic
    at = lines.index(f"      + sle_classification_2019 (line {i2}): sle_classification_2019 yes "
                     "(2023-04-11)")
    assert lines[at + 1:at + 4] == [
        "      + any of:",
        f"        + refractory_sle (line {i2}): definition refractory_sle is true",
        f"        - intolerant_to_standard_treatment (line {i2}): intolerant_to_standard_treatment "
        "no (2026-05-20)"]
    assert f"      - car_t_therapy ever (line {seed_line('exclusion E1 ') + 1}): car_t_therapy: " \
           "recorded as none" in lines
    assert f"          ? hbv_dna > upper reference (line {seed_line('exclusion E8 ') + 1}): hbv_dna: " \
           "no fact given" in lines
    assert "summary:" not in out and "missing:" not in out and "rejected" not in out


def test_explain_criterion(capsys, demo_trail):
    code, out, err = run(capsys, "explain", str(demo_trail), "--criterion", "I4.renal")
    assert code == 0
    lines = out.splitlines()
    renal = seed_line('part renal "')
    verdicts = [line for line in lines if re.match(r"  [IE]\d", line)]
    assert len(verdicts) == 23 and all(line.startswith("  I4.renal ") for line in verdicts)
    assert sum(line.startswith("  decision: ") for line in lines) == 23
    assert "definition refractory_sle" not in out
    assert f"  I4.renal NOT_MET  (inclusion, {SEED}:{renal})" in lines  # P08, eGFR 25
    assert (f"      + egfr >= 30 mL/min/1.73m2 (line {renal + 1}): egfr 0.75 mL/s/1.73m2 = 45 "
            "mL/min/1.73m2 (2026-05-21); needs >= 30 mL/min/1.73m2") in lines
    assert lines[-1] == ("summary: 23 patients decided (ELIGIBLE 4, INELIGIBLE 15, NEEDS_REVIEW 4); "
                         "0 records rejected")


def test_explain_patient_and_criterion(capsys, demo_trail):
    code, out, err = run(capsys, "explain", str(demo_trail), "--patient", "P11-stale-lvef",
                         "--criterion", "I4.cardiac")
    assert code == 0
    cardiac = seed_line('part cardiac "')
    assert out.splitlines()[5:] == [
        "patient P11-stale-lvef (fact file line 11, screening date 2026-06-01)",
        "  decision: NEEDS_REVIEW: inclusion I4.cardiac UNKNOWN",
        f"    to be eligible, I4.cardiac needs lvef >= 55 % (line {cardiac + 1})",
        f"  I4.cardiac UNKNOWN  (inclusion, {SEED}:{cardiac})",
        '      "Cardiac function: Left ventricular ejection fraction (LVEF) ≥55% with no obvious '
        'abnormality in electrocardiogram;"',
        f"      ? lvef >= 55 % (line {cardiac + 1}): lvef: stale: latest lvef is from 2026-04-20, "
        "before 2026-05-04 (valid for 28 days)",
        f'      + ecg is "no obvious abnormality" (line {cardiac + 1}): ecg no obvious abnormality '
        "(2026-05-18)",
        "      missing: lvef (stale: latest lvef is from 2026-04-20, before 2026-05-04 "
        "(valid for 28 days))",
        f"      would be MET with: lvef >= 55 % (line {cardiac + 1})"]


def test_explain_pending_judgment_and_attestation(capsys, demo_trail):
    e13 = seed_line("exclusion E13 ")
    code, out, err = run(capsys, "explain", str(demo_trail), "--patient", "P09-judgment-pending",
                         "--criterion", "E13")
    assert out.splitlines()[6:] == [
        "  decision: NEEDS_REVIEW: exclusion E13 NEEDS_REVIEW",
        f"    to be eligible, E13 needs not (investigator_deems_unsuitable) (line {e13 + 1})",
        f"  E13 NEEDS_REVIEW  (exclusion, {SEED}:{e13})",
        '      "Any other conditions that the investigators deem it unsuitable for the study."',
        f"      ? investigator_deems_unsuitable (line {e13 + 1}): investigator_deems_unsuitable: "
        "not yet attested by an investigator",
        "      awaiting investigator judgment: investigator_deems_unsuitable",
        f"      would be NOT_MET with: not (investigator_deems_unsuitable) (line {e13 + 1})"]
    code, out, err = run(capsys, "explain", str(demo_trail), "--patient",
                         "P22-investigator-unsuitable", "--criterion", "E13")
    assert (f"      + investigator_deems_unsuitable (line {e13 + 1}): investigator_deems_unsuitable "
            "yes (2026-05-29; attested by Dr. X. He: lives 900 km away and cannot attend weekly "
            "follow-up in the first 3 months)") in out.splitlines()


def test_explain_warnings_and_not_applicable(capsys, demo_trail):
    code, out, err = run(capsys, "explain", str(demo_trail), "--patient", "P07-male-not-applicable",
                         "--criterion", "I6")
    assert out.splitlines()[6:10] == [
        "  decision: ELIGIBLE",
        f"  {PATIENTS}:7, patient P07-male-not-applicable, fact #47, field 'date': warning: dated "
        "2026-06-03, after the screening date 2026-06-01: set aside",
        f"  I6 NOT_APPLICABLE  (inclusion, {SEED}:{seed_line('inclusion I6 ')})",
        '      "Negative pregnancy test for female Subjects of childbearing age, agree to take '
        'effective contraceptive measures the first year after CAR-T infusion;"']
    assert f"      - sex is female (line {seed_line('inclusion I6 ') + 1}): sex male" in out


def test_explain_rejected_records(capsys, tmp_path):
    trail = tmp_path / "bad-trail.jsonl"
    assert run(capsys, "run", SEED, BAD_FACTS, "--trail", str(trail))[0] == 2
    records = trail_records(trail)
    code, out, err = run(capsys, "explain", str(trail))
    assert code == 0
    lines = out.splitlines()
    at = lines.index("fact file line 2 rejected (no patient id):")
    assert lines[at + 1] == f"  {BAD_FACTS}:2: error: not valid JSON: Expecting value at column 75"
    several = next(r for r in records if r.get("patient") == "B29-several-problems")
    at = lines.index(f"fact file line {several['record']} rejected (B29-several-problems):")
    assert lines[at + 1:at + 3] == [f"  {p}" for p in several["problems"]]
    rejected = sum(r["type"] == "rejected" for r in records)
    assert sum(" rejected (" in line for line in lines) == rejected
    assert records[-2]["decisions"] == {"NEEDS_REVIEW": 6, "REJECTED": rejected}
    assert lines[-1] == f"summary: 6 patients decided (NEEDS_REVIEW 6); {rejected} records rejected"


def test_explain_missing_trail(capsys, tmp_path):
    code, out, err = run(capsys, "explain", str(tmp_path / "none.jsonl"))
    assert code == 2
    assert err.startswith(f"proto-rules: cannot read trail {tmp_path / 'none.jsonl'}: ")
    assert "Traceback" not in err


def test_explain_not_a_trail(capsys):
    code, out, err = run(capsys, "explain", SEED)
    assert code == 2
    assert err.startswith(f"proto-rules: cannot read trail {SEED}: ")


# -- installed -------------------------------------------------------------------------------------

def test_installed_command_reads_stdin(tmp_path):
    """The console script the package installs, facts on stdin, a trail written."""
    exe = Path(sys.executable).with_name("proto-rules")
    assert exe.exists(), f"{exe}: run `make test` (it installs the package)"
    trail = tmp_path / "t.jsonl"
    first = (ROOT / PATIENTS).read_text(encoding="utf-8").splitlines()[0]
    done = subprocess.run([str(exe), "run", SEED, "-", "--format", "json", "--trail", str(trail)],
                          input=first + "\n", capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0
    final = hashlib.sha256(trail.read_bytes().splitlines()[-1]).hexdigest()  # of the seal line
    assert done.stderr.startswith(f"trail {trail} sealed, final sha256 {final}\n1 patient in ")
    assert json.loads(done.stdout)["decision"] == "ELIGIBLE"
    assert trail_records(trail)[0]["facts"]["file"] == "-"


def test_check_format_json_for_ci_and_editors(tmp_path, capsys):
    """One JSON document on stdout: every diagnostic with its range, the counts when the protocol
    passes; the exit codes of the text form; the same bytes twice."""
    good = tmp_path / "w.proto-rules"
    good.write_text('protocol "w" version "1"\nconcepts:\n  bilirubin: lab in mg/dL\n'
                    '  gilbert: flag\ninclusion I1 "x": bilirubin <= 1.5 mg/dL unless gilbert\n',
                    encoding="utf-8")
    code, out, err = run(capsys, "check", str(good), "--format", "json")
    assert (code, err) == (0, "")
    found = json.loads(out)
    assert {k: found[k] for k in ("ok", "errors", "warnings", "inclusion", "exclusion",
                                  "verdicts")} == {"ok": True, "errors": 0, "warnings": 1,
                                                   "inclusion": 1, "exclusion": 0, "verdicts": 1}
    (warning,) = found["diagnostics"]
    assert (warning["code"], warning["severity"], warning["line"], warning["column"],
            warning["end_line"]) == ("unless-in-inclusion", "warning", 5, 49, 5)
    assert run(capsys, "check", str(good), "--format", "json")[1] == out
    assert run(capsys, "check", str(good), "--format", "json", "--strict")[0] == 1
    code, out, err = run(capsys, "check", "examples/bad/syntax-error.proto-rules", "--format",
                         "json")
    assert code == 2 and err == ""
    bad = json.loads(out)
    assert bad["ok"] is False and bad["errors"] == 1 and "inclusion" not in bad
    assert bad["diagnostics"][0]["code"] == "syntax" and bad["diagnostics"][0]["line"] == 8


@pytest.mark.parametrize("argv, said", [
    (["run", SEED, "{facts}", "--trail", "{facts}"],
     "--trail {facts} is also the fact file"),
    (["run", SEED, "{facts}", "--table", "{facts}"], "--table {facts} is also the fact file"),
    (["run", SEED, "{facts}", "--warnings", "{protocol}"],
     "--warnings {protocol} is also the protocol file"),
    (["run", SEED, "{facts}", "--trail", "{out}", "--table", "{out}"],
     "--table {out} is also --trail {out}"),
    (["edge-cases", SEED, "--base", "{facts}", "-o", "{facts}"],
     "--output {facts} is also --base"),
    (["escalate", SEED, "examples/cohort.json", "--trail", "{cohort}"],
     "--trail {cohort} is also the cohort file"),
])
def test_an_output_is_never_an_input_or_another_output(tmp_path, capsys, argv, said):
    """Refused before anything is written: `run P F --trail F` wrote the trail over the fact
    file it was reading. A file is the same however it is named (here `./`, a symlink)."""
    facts, protocol = tmp_path / "facts.jsonl", tmp_path / "seed.proto-rules"
    facts.write_bytes((ROOT / PATIENTS).read_bytes())
    protocol.write_bytes((ROOT / SEED).read_bytes())
    (tmp_path / "cohort.json").symlink_to(ROOT / "examples" / "cohort.json")
    names = {"facts": str(facts), "protocol": str(protocol), "out": str(tmp_path / "out"),
             "cohort": str(tmp_path / "cohort.json")}
    argv = [a.format(**names) for a in argv]
    if "{protocol}" in said:
        argv[1] = str(tmp_path / "." / "seed.proto-rules")
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert said.format(**names) in err
    assert facts.read_bytes() == (ROOT / PATIENTS).read_bytes()
    assert protocol.read_bytes() == (ROOT / SEED).read_bytes()
    assert not (tmp_path / "out").exists()


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
@pytest.mark.parametrize("argv", [
    ["run", SEED, PATIENTS, "--quiet", "--table", "/dev/full"],
    ["edge-cases", SEED, "--base", PATIENTS, "-o", "/dev/full"],
    ["test", SEED, "examples/cd19-ucart-sle.scenarios.yaml", "--coverage-html", "/dev/full"],
])
def test_a_full_disk_is_an_output_that_cannot_be_written(capsys, argv):
    code, _, err = run(capsys, *argv)
    assert (code, err.splitlines()[-1]) == (2, "proto-rules: cannot write: No space left on "
                                                "device")
