"""Every reader of a trail (explain, replay, report, verify) on files that are not what they should
be: a fact file, a JSON array, records with fields missing, null or nested without end, a trail
cut inside a patient, an escalation trail, an empty file, a patient it does not hold, a tampered
or truncated trail. Each gets a clear message naming the line and an exit code: 2 unreadable,
1 tampered (said on the first line, before what the file says), never a traceback or a silent 0.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import cli
from engine.audit import report
from engine.audit.trail import read

ROOT = Path(__file__).resolve().parents[1]
SEED = "examples/cd19-ucart-sle.proto-rules"
PATIENTS = "examples/patients.jsonl"
COHORT = "examples/cohort.json"
#: The demo trail as written before a decided patient was one record: one record per definition,
#: criterion and decision, which the readers read still.
OLD_DEMO = ROOT / "tests" / "data" / "trails" / "v1-demo.jsonl"
OLD_KINDS = ("patient", "definition", "criterion", "decision")


pytestmark = pytest.mark.usefixtures("at_root")


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    trail = tmp_path_factory.mktemp("readers") / "trail.jsonl"
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(ROOT)
        assert cli.main(["run", SEED, PATIENTS, "--trail", str(trail)]) == 0
    return trail


def lines_of(trail: Path) -> list[str]:
    return trail.read_text(encoding="utf-8").splitlines(keepends=True)


def written(tmp_path: Path, lines: list[str] | str) -> str:
    path = tmp_path / "trail.jsonl"
    path.write_text(lines if isinstance(lines, str) else "".join(lines), encoding="utf-8")
    return str(path)


def explain(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(["explain", *argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def edited(trail: Path, kind: str, change) -> tuple[list[str], int]:
    """The trail's lines with the first record of `kind` changed by `change(record)`; and its
    line number. The kinds of record a trail has no longer are edited in the old demo trail."""
    lines = lines_of(OLD_DEMO if kind in OLD_KINDS else trail)
    at = next(i for i, line in enumerate(lines) if f'"type":"{kind}"' in line)
    record = json.loads(lines[at])
    change(record)
    lines[at] = json.dumps(record) + "\n"
    return lines, at + 1


# -- files that are not decision trails: exit 2, naming the line -----------------------------------

@pytest.mark.parametrize("text, message", [
    ((ROOT / PATIENTS).read_text(encoding="utf-8"),
     "line 1: not a trail record (a JSON object with a type)"),
    ("[1,2,3]\n", "line 1: not a trail record (a JSON object with a type)"),
    ("[" * 100_000 + "]" * 100_000 + "\n", "line 1: not JSON (depth limit exceeded"),
    ('{"type": "run", "deep": ' + "[" * 5000 + "]" * 5000 + "}\n",
     "line 1: not JSON (depth limit exceeded"),
    ("", "the file is empty"),
])
def test_not_a_trail(capsys, tmp_path, text, message):
    path = written(tmp_path, text)
    code, out, err = explain(capsys, path)
    assert (code, out) == (2, "")
    assert err.startswith(f"proto-rules: cannot read trail {path}: {message}")


@pytest.mark.parametrize("kind, change, field, why", [
    ("criterion", lambda r: r.pop("verdict"), "verdict", "missing"),
    ("criterion", lambda r: r.update(verdict=None), "verdict", "not string"),
    ("criterion", lambda r: r["evidence"][0].update(status=None), "evidence[1].status",
     "not one of true, false, unknown"),
    ("run", lambda r: r["protocol"].pop("sha256"), "protocol.sha256", "missing"),
    ("run", lambda r: r.update(screening_date="someday"), "screening_date",
     "not a date (YYYY-MM-DD)"),
    ("protocol", lambda r: r["criteria"][0].update(conditions=None), "criteria[1].conditions",
     "not array"),
    ("decision", lambda r: r.update(reasons=[None]), "reasons[1]", "not object"),
    ("definition", lambda r: r.update(value="maybe"), "value", "not one of T, F, U, R"),
    ("summary", lambda r: r.update(decisions={"ELIGIBLE": "many"}), "decisions.ELIGIBLE",
     "not integer"),
    ("decided", lambda r: r["criteria"][2].pop("verdict"), "criteria[3].verdict", "missing"),
    ("decided", lambda r: r["criteria"][0]["evidence"].insert(0, "holds"),
     "criteria[1].evidence[1]", "not marked + (holds), - (does not hold) or ? (cannot be judged)"),
    ("decided", lambda r: r["definitions"][0].update(value="maybe"), "definitions[1].value",
     "not one of T, F, U, R"),
    ("decided", lambda r: r.update(reasons=[None]), "reasons[1]", "not string"),
    ("decided", lambda r: r["facts"][0].pop("concept"), "facts[1].concept", "missing"),
])
def test_a_record_with_a_field_missing_or_wrong(capsys, tmp_path, demo, kind, change, field, why):
    lines, number = edited(demo, kind, change)
    path = written(tmp_path, lines)
    code, out, err = explain(capsys, path)
    assert code == 2
    assert err == (f"proto-rules: cannot read trail {path}: line {number}: the {kind} record has "
                   f"no valid '{field}' ({why})\n")


@pytest.mark.parametrize("kind, change, field", [
    ("patient", lambda r: r["facts"][0].update(index=[]), "facts[1].index"),
    ("criterion", lambda r: r.update(facts=[[0]]), "facts[1]"),
    ("decided", lambda r: r["facts"][0].update(index=[]), "facts[1].index"),
    ("decided", lambda r: r["criteria"][0].update(facts=[[0]]), "criteria[1].facts[1]"),
])
def test_report_of_fact_indexes_that_are_not_numbers(capsys, tmp_path, demo, kind, change, field):
    """Found by tests/test_fuzz_trails.py: the report keyed the facts by an index that was a
    list (an internal error, exit 70)."""
    lines, number = edited(demo, kind, change)
    path = written(tmp_path, lines)
    assert cli.main(["report", path, "-o", str(tmp_path / "r.html")]) == 2
    assert capsys.readouterr().err == (f"proto-rules: cannot read trail {path}: line {number}: "
                                       f"the {kind} record has no valid '{field}' (not integer)\n")


def test_report_of_fired_rules_that_are_not_a_list(capsys, tmp_path, demo):
    """Found by tests/test_fuzz_trails.py (`"fired": true`: an internal error, exit 70)."""
    lines, number = edited(demo, "criterion", lambda r: r.update(fired=True))
    path = written(tmp_path, lines)
    assert cli.main(["report", path, "-o", str(tmp_path / "r.html")]) == 2
    assert capsys.readouterr().err.endswith(f"line {number}: the criterion record has no valid "
                                            "'fired' (not array)\n")


def test_report_of_a_rule_place_no_file_can_have(tmp_path, demo):
    """A rule's `file:line` with a NUL in the name, or a line number of 5000 digits: the page
    shows the recorded conditions and says the file was not found."""
    records = read(str(demo))
    protocol = next(r for r in records if r["type"] == "protocol")
    protocol["criteria"][0]["rule"] = "a\u0000b:12"
    protocol["criteria"][1]["rule"] = f"{SEED}:{'9' * 5000}"
    assert "not found from the current directory" in report.render(records)


def test_a_criterion_the_protocol_record_does_not_have(capsys, tmp_path, demo):
    lines, number = edited(demo, "criterion", lambda r: r.update(criterion="I99"))
    code, _, err = explain(capsys, written(tmp_path, lines))
    assert code == 2 and err.endswith(f"line {number}: criterion I99 is not in the trail's "
                                      "protocol record\n")


@pytest.mark.parametrize("change, message", [
    (lambda r: r["criteria"].pop(),
     "patient P01-eligible has 22 criteria, the trail's protocol record 23"),
    (lambda r: r["definitions"].append(r["definitions"][0]),
     "patient P01-eligible has 2 definitions, the trail's protocol record 1"),
    (lambda r: r.update(reasons=["I99"]), ("patient P01-eligible's decision names criterion I99, "
                                           "which is not in the trail's protocol record")),
])
def test_a_decided_record_that_does_not_fit_the_protocol_record(capsys, tmp_path, demo, change,
                                                                message):
    """A decided record says its criteria by position in the protocol record: too few or too
    many, or a reason no criterion has, cannot be read against it."""
    lines, number = edited(demo, "decided", change)
    code, _, err = explain(capsys, written(tmp_path, lines))
    assert code == 2 and err.endswith(f"line {number}: {message}\n")


def test_records_out_of_their_patient(capsys, tmp_path):
    lines = lines_of(OLD_DEMO)
    first = next(i for i, line in enumerate(lines) if '"type":"patient"' in line)
    del lines[first]
    code, _, err = explain(capsys, written(tmp_path, lines))
    assert code == 2
    assert err.endswith(f"line {first + 1}: the definition record of patient P01-eligible does "
                        "not follow that patient's record (records missing or out of order)\n")


def test_an_escalation_trail(capsys, tmp_path):
    trail = tmp_path / "escalation.jsonl"
    assert cli.main(["escalate", SEED, COHORT, "--trail", str(trail)]) == 0
    capsys.readouterr()
    for argv in (["explain", str(trail)], ["report", str(trail), "-o", str(tmp_path / "r.html")],
                 ["replay", str(trail), "--protocol", SEED, "--facts", PATIENTS]):
        assert cli.main(argv) == 2
        assert capsys.readouterr().err == (
            f"proto-rules: cannot read trail {trail}: it is the trail of `proto-rules escalate`, "
            "not of `proto-rules run`; `proto-rules verify` checks it\n")


@pytest.mark.parametrize("option, value, message", [
    ("--patient", "NOPE", "no patient 'NOPE' in the trail {trail}"),
    ("--patient", "P04-liver-at-treshold", "no patient 'P04-liver-at-treshold' in the trail "
     "{trail}; did you mean 'P04-liver-at-threshold'?"),
    ("--criterion", "I4.livre", "no criterion 'I4.livre' in the trail {trail}; did you mean "
     "'I4.liver'?"),
])
def test_a_patient_or_criterion_the_trail_does_not_hold(capsys, demo, option, value, message):
    code, out, err = explain(capsys, str(demo), option, value)
    assert (code, out) == (2, "")
    assert err == f"proto-rules: {message.format(trail=demo)}\n"


def test_a_criterion_of_parts_by_its_own_id(capsys, demo):
    """`--criterion I4` shows I4's parts, I4.cardiac to I4.lung, and of what the patient needs
    to be eligible only I4's (a helper asked for E6 and was offered E16)."""
    code, out, _ = explain(capsys, str(demo), "--criterion", "I4")
    assert code == 0
    shown = {line.split()[0] for line in out.splitlines() if line.startswith("  I") or
             line.startswith("  E")}
    assert shown == {"I4.cardiac", "I4.renal", "I4.liver", "I4.lung"}, shown
    needs = [line for line in out.splitlines() if "to be eligible," in line]
    assert needs and all(" I4." in line for line in needs), needs


# -- tampered and truncated trails: said first, exit 1 ---------------------------------------------

def test_explain_a_tampered_trail_says_so_first(capsys, tmp_path, demo):
    lines = lines_of(demo)
    at = next(i for i, line in enumerate(lines) if '"verdict":"NOT_MET"' in line)
    lines[at] = lines[at].replace('"verdict":"NOT_MET"', '"verdict":"MET"', 1)
    code, out, _ = explain(capsys, written(tmp_path, lines))
    assert code == 1
    edited, after = (json.loads(lines[i])["patient"] for i in (at, at + 1))
    assert out.splitlines()[0] == (
        f"TAMPERED: line {at + 2} (patient {after}): does not follow line {at + 1} (patient "
        f"{edited}): line {at + 1} was edited, or records were inserted, deleted or reordered "
        "there; what follows is what the file says now, and cannot be relied on")
    assert out.splitlines()[1].startswith("protocol cd19-ucart-sle version 1.0")


def test_a_trail_cut_off_mid_record_still_reads(capsys, tmp_path, demo):
    """What a full disk leaves: whole records, then part of one. Every reader shows what was
    written and says first that the trail is truncated."""
    text = demo.read_text(encoding="utf-8")
    path = written(tmp_path, text[: text.index('"type":"decided"', len(text) // 2) + 5])
    lines = Path(path).read_text(encoding="utf-8").count("\n")
    head = f"TAMPERED: line {lines + 1}: the last record is cut off: the trail is truncated"
    code, out, _ = explain(capsys, path)
    assert code == 1 and out.startswith(head + "; what follows is what the file says now")
    assert "patient P01-eligible" in out
    assert cli.main(["verify", path]) == 1
    assert capsys.readouterr().out == head + "\n"
    assert cli.main(["report", path, "-o", str(tmp_path / "r.html")]) == 1
    assert capsys.readouterr().out.startswith(
        f"trail TAMPERED: the last record is cut off: the trail is truncated at line {lines + 1}")


def test_replay_a_trail_cut_inside_a_patient(capsys, tmp_path):
    """The patient whose decision the trail lost is a difference, named with its line; the other
    patients the trail never reached are listed as not in the trail (a patient is cut into
    records only in an old trail: a decided record is one line)."""
    lines = lines_of(OLD_DEMO)
    third = [i for i, line in enumerate(lines) if '"type":"patient"' in line][2]
    path = written(tmp_path, lines[: third + 5])
    assert cli.main(["replay", path, "--protocol", SEED, "--facts", PATIENTS]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"TAMPERED: line {third + 5}: no seal: the trail is truncated")
    assert ("  line 3 (P03-age-4-under-minimum): decision absent (the trail stops inside this "
            "patient) -> INELIGIBLE") in out
    assert "  line 4 (P04-liver-at-threshold): not in the trail" in out


def test_report_of_a_tampered_trail_exits_1(capsys, tmp_path, demo):
    lines = lines_of(demo)
    path = written(tmp_path, lines[:5] + lines[6:])
    assert cli.main(["report", path, "-o", str(tmp_path / "r.html")]) == 1
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith("trail TAMPERED: does not follow line 5")


# -- the escalation trail carries the same chain ---------------------------------------------------

def test_the_escalation_trail_verifies(capsys, tmp_path):
    trail = tmp_path / "escalation.jsonl"
    assert cli.main(["escalate", SEED, COHORT, "--trail", str(trail)]) == 0
    capsys.readouterr()
    assert cli.main(["verify", str(trail), "--protocol", SEED, "--facts", COHORT]) == 0
    assert capsys.readouterr().out == (f"intact: 2 records, sealed\nprotocol file {SEED} matches "
                                       f"the run header\nfacts file {COHORT} matches the run "
                                       "header\n")
    lines = lines_of(trail)
    lines[1] = lines[1].replace('"decision":"ESCALATE"', '"decision":"STOP"')
    trail.write_text("".join(lines), encoding="utf-8")
    assert cli.main(["verify", str(trail)]) == 1
    assert capsys.readouterr().out == ("TAMPERED: line 3: does not follow line 2: line 2 was "
                                       "edited, or records were inserted, deleted or reordered "
                                       "there\n")


def test_a_patient_not_in_what_a_cut_trail_holds_says_the_trail_is_cut(capsys, tmp_path, demo):
    """The patient asked for may be in the part cut off: the trail is said to be truncated and
    the exit is 1 (tampered), not 2 (no such patient)."""
    text = demo.read_text(encoding="utf-8")
    path = written(tmp_path, text[: text.index('"type":"decided"', len(text) // 2) + 5])
    last = json.loads(Path(PATIENTS).read_text(encoding="utf-8").splitlines()[-1])["patient"]
    code, out, err = explain(capsys, path, "--patient", last)
    assert code == 1 and out.startswith("TAMPERED: line ")
    assert err == f"proto-rules: no patient {last!r} in what can be read of the trail {path}\n"
