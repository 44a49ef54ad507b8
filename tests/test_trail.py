"""The decision trail: deterministic canonical JSON Lines, with everything an auditor needs.

The demo run (`proto-rules run` on examples/patients.jsonl, from the repository root) is made once
per module; `proto-rules explain` of it is compared with tests/data/golden/demo-trail.txt. After a
deliberate change, regenerate the golden file with `UPDATE_GOLDEN=1 make test` and read the diff.

The trail says what does not change per patient once, in the `protocol` record (each criterion's and
definition's sentence, rule place and condition parts), and each fact a patient's decision used once,
in the `patient` record; `criterion` records point into both (evidence aligned with the protocol
record's conditions, facts by index). The tests join them back, as an auditor's tool would.
Protocol line numbers are looked up in the seed file, so edits elsewhere in it do not break them.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import rfc8785

import cli
from engine.audit import trail as trail_

ROOT = Path(__file__).resolve().parents[1]
SEED = "examples/cd19-ucart-sle.proto-rules"
PATIENTS = "examples/patients.jsonl"
BAD_FACTS = "examples/bad/facts.jsonl"
GOLDEN = ROOT / "tests" / "data" / "golden" / "demo-trail.txt"
#: The demo trail as the tool wrote it before a decided patient was one record (one record per
#: definition, criterion and decision): every reader must still read it.
OLD_DEMO = ROOT / "tests" / "data" / "trails" / "v1-demo.jsonl"

#: The seed's leaf criteria, in protocol order: one `criterion` record each, per patient.
LEAVES = ["I1", "I2", "I3", "I4.cardiac", "I4.renal", "I4.liver", "I4.lung", "I5", "I6", "I7",
          *(f"E{n}" for n in range(1, 14))]
STATUSES = {"true", "false", "unknown"}
FACT_KEYS = {"index", "concept", "value", "unit", "date", "converted", "note"}
LIVER_TEXT = ("Liver function: Asparagus cochinchinensis transase (AST) and Alanine Aminotransferase "
              "(ALT)≤3.0 ULN, Total Bilirubin (TBIL) in serum ≤2.0×ULN;")


def run_cli(tmp: Path, name: str, *argv: str) -> Path:
    """`proto-rules run ... --trail tmp/name` from the repository root; returns the trail path."""
    trail = tmp / name
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(ROOT)
        code = cli.main(["run", *argv, "--trail", str(trail)])
    assert code in (0, 2)
    return trail


def lines_of(trail: Path) -> list[str]:
    return trail.read_text(encoding="utf-8").splitlines()


def seed_line(start: str) -> int:
    """The number of the one seed line that starts (after indentation) with `start`."""
    source = (ROOT / SEED).read_text(encoding="utf-8").splitlines()
    (number,) = [n for n, line in enumerate(source, start=1) if line.lstrip().startswith(start)]
    return number


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    return run_cli(tmp_path_factory.mktemp("demo"), "trail.jsonl", SEED, PATIENTS)


@pytest.fixture(scope="module")
def stored(demo) -> list[dict]:
    """The demo trail's records as stored, without the hash chain (`prev`), which
    tests/test_audit.py checks."""
    return [content(json.loads(line)) for line in lines_of(demo)]


@pytest.fixture(scope="module")
def records(demo) -> list[dict]:
    """The demo trail's records as every reader reads them (`engine.audit.trail.read`): a decided
    patient opened up into its patient, definition, criterion and decision records."""
    return read(demo)


def read(trail: Path) -> list[dict]:
    return [content(record) for record in trail_.read(str(trail))]


def content(record: dict) -> dict:
    return {key: value for key, value in record.items() if key != "prev"}


def of(records: list[dict], kind: str, patient: str | None = None, **match) -> list[dict]:
    return [r for r in records if r["type"] == kind
            and (patient is None or r.get("patient") == patient)
            and all(r.get(k) == v for k, v in match.items())]


def one(records: list[dict], kind: str, patient: str | None = None, **match) -> dict:
    (record,) = of(records, kind, patient, **match)
    return record


def static(records: list[dict], key: str) -> dict:
    """The protocol record's entry for a criterion or definition."""
    protocol = one(records, "protocol")
    (entry,) = [e for e in protocol["criteria"] + protocol["definitions"] if e["id"] == key]
    return entry


def facts_of(records: list[dict], record: dict) -> list[dict]:
    """The facts a criterion record read, looked up by index in its patient's record, in order."""
    by_index = {f["index"]: f for f in one(records, "patient", record["patient"])["facts"]}
    return [by_index[i] for i in record["facts"]]


def evidence_of(records: list[dict], record: dict) -> list[dict]:
    """A criterion's or definition's evidence joined with the protocol's condition parts:
    `{"line", "text", "status", "detail"}` per part."""
    entry = static(records, record.get("criterion") or record["definition"])
    assert len(record["evidence"]) == len(entry["conditions"])
    return [{**condition, **evidence}
            for condition, evidence in zip(entry["conditions"], record["evidence"])]


# -- determinism and form --------------------------------------------------------------------------

def test_byte_identical_across_runs(demo, tmp_path, capsys):
    again = run_cli(tmp_path, "again.jsonl", SEED, PATIENTS)
    assert again.read_bytes() == demo.read_bytes()


def test_every_line_is_canonical_json(demo):
    for number, line in enumerate(lines_of(demo), start=1):
        assert line.encode("utf-8") == rfc8785.dumps(json.loads(line)), f"line {number}"


def test_a_patients_own_words_are_written_canonically(tmp_path):
    """Whatever a patient's facts say (quotes, a backslash, a tab, a percent sign, other scripts),
    its decided line is the canonical form of its record: engine/audit/decided.py writes each object
    with its keys in sorted order, and orjson escapes the strings. (An id holds no tab: an id
    is printable, see tests/test_hostile_facts.py.)"""
    odd = 'Dr. "Q" \\ Ünïcode\t50 % – 医师'
    pid = "P-" + odd.replace("\t", " ")
    patient = {"patient": pid, "screening_date": "2026-06-01", "facts": [
        {"concept": "investigator_deems_unsuitable", "value": True, "date": "2026-05-29",
         "recorded_by": odd, "reason": odd},
        {"concept": "sex", "value": "female"},
        {"concept": "lvef", "value": 62.5, "unit": "%", "date": "2026-05-20"}]}
    facts = tmp_path / "odd.jsonl"
    facts.write_text(json.dumps(patient) + "\n", encoding="utf-8")
    lines = lines_of(run_cli(tmp_path, "odd-trail.jsonl", SEED, str(facts)))
    assert all(line.encode() == rfc8785.dumps(json.loads(line)) for line in lines)
    decided = json.loads(lines[2])
    assert decided["type"] == "decided" and decided["patient"] == pid
    assert any(odd in (fact.get("note") or "") for fact in decided["facts"])
    assert any(odd in evidence for c in decided["criteria"] for evidence in c["evidence"])


def test_no_floats_in_the_trail(records):
    """Numbers a fact carried are exact decimal text; the only numbers are counts, lines, indexes."""

    def walk(value, where):
        assert not isinstance(value, float), where
        if isinstance(value, dict):
            for key, item in value.items():
                walk(item, f"{where}.{key}")
        elif isinstance(value, list):
            for i, item in enumerate(value):
                walk(item, f"{where}[{i}]")

    for i, record in enumerate(records):
        walk(record, f"record {i + 1}")


def test_record_order(stored, records):
    assert [r["type"] for r in stored] == ["run", "protocol", *["decided"] * 23, "summary", "seal"]
    kinds = [r["type"] for r in records]
    assert kinds[:2] == ["run", "protocol"] and kinds[-2:] == ["summary", "seal"]
    per_patient = ["patient", "definition"] + ["criterion"] * 23 + ["decision"]
    assert kinds[2:-2] == per_patient * 23
    for patient in of(records, "patient"):
        assert [r["criterion"] for r in of(records, "criterion", patient["patient"])] == LEAVES


def test_decided_record_fields(stored):
    """A decided patient is one record: the facts used, each once with its empty fields left
    out; per definition and criterion (in the protocol record's order, whose ids, roles, sentences
    and condition parts are not repeated) what was concluded, each part's evidence marked; the
    decision's reasons by criterion id."""
    protocol = one(stored, "protocol")
    for record in of(stored, "decided"):
        assert set(record) == {"type", "patient", "record", "screening_date", "warnings", "facts",
                               "definitions", "criteria", "decision", "reasons"}
        for fact in record["facts"]:
            assert {"index", "concept"} <= set(fact) <= FACT_KEYS and None not in fact.values()
        assert len(record["definitions"]) == len(protocol["definitions"])
        assert len(record["criteria"]) == len(LEAVES)
        for definition in record["definitions"]:
            assert set(definition) == {"value", "fired", "evidence"}
        for criterion in record["criteria"]:
            open_ = criterion["verdict"] in ("UNKNOWN", "NEEDS_REVIEW")
            assert set(criterion) == {"verdict", "fired", "evidence", "facts"} | (
                {"missing", "pending", "to_pass"} if open_ else set())
        for part in (e for entry in record["definitions"] + record["criteria"]
                     for e in entry["evidence"]):
            assert part[0] in "+-?" and part[1:]
        assert set(record["reasons"]) <= set(LEAVES)


def test_an_old_trail_reads_as_a_new_one(records):
    """A trail written before a decided patient was one record reads, record for record, as the
    same run written now: the seal aside (it counts the records stored), and the network's
    identity and the names of the rules that decided the definitions, which changed since (a
    count of drugs decided in the network, 2026-12-03), not what they decide or why; and an open
    criterion's missing facts, which since name only those that could change its verdict
    (2026-12-03: P13's E8 no longer lists HCV RNA, its HCV antibody being negative); and how
    the parts of a criterion join, recorded since 2026-12-04 (`shape`) where not all are needed;
    and a definition left unknown, whose data since 2026-12-06 "is missing or does not decide
    it" (a date known to the month leaves it open with nothing missing)."""
    def besides_the_network(trail: list[dict]) -> list[dict]:
        return [{key: None if key == "fired" and "definition" in record or key == "missing"
                 else unshaped(value) for key, value in record.items() if key != "network"}
                for record in trail[:-1]]

    def missing(trail: list[dict]) -> list[list[dict]]:
        return [record["missing"] for record in trail if "missing" in record]

    old = read(OLD_DEMO)
    now = json.loads(as_worded_before(json.dumps(records)))
    assert besides_the_network(old) == besides_the_network(now)
    changed = [(before, now) for before, now in zip(missing(old), missing(records))
               if before != now]
    assert changed == [([{"concept": "hcv_rna", "reason": "no fact given"},
                         {"concept": "hiv_antibody", "reason": "no fact given"}],
                        [{"concept": "hiv_antibody", "reason": "no fact given"}])]


def unshaped(value: Any) -> Any:
    """A protocol record's lists of entries without their `shape`, which older trails lack."""
    if isinstance(value, list) and value and isinstance(value[0], dict) and "conditions" in \
            value[0]:
        return [{k: v for k, v in entry.items() if k != "shape"} for entry in value]
    return value


#: A connective's line in the explanation, which an older trail (no `shape`) cannot draw.
CONNECTIVE = re.compile(r"^ +[-+?] (any of|all of|not|at least \d+ of|applies when):\n", re.M)


def flat(text: str) -> str:
    """The explanation as a trail without `shape` gives it: every part listed one under another."""
    return re.sub(r"^ {8,}([-+?] )", r"      \1", CONNECTIVE.sub("", text), flags=re.M)


#: What the old demo trail says of P13's E8 and a trail written now does not: HCV RNA cannot
#: change E8 when the HCV antibody is negative.
HCV_RNA = "      missing: hcv_rna (no fact given)\n"


def test_an_old_trail_explains_as_before(capsys):
    """As the run written now explains (the network's identity aside, which changed since, the
    missing fact the old trail lists that could not change P13's E8, and the connectives, which
    it does not record: its parts are listed one under another)."""
    assert cli.main(["explain", str(OLD_DEMO)]) == 0
    unnamed = partial(re.sub, r"network [0-9a-f]{16}", "network")
    old = unnamed(capsys.readouterr().out)
    assert old.count(HCV_RNA) == 1
    assert old.replace(HCV_RNA, "") == as_worded_before(flat(unnamed(GOLDEN.read_text(
        encoding="utf-8"))))


def as_worded_before(text: str) -> str:
    """How a definition left unknown read in a part's evidence before 2026-12-06."""
    return text.replace("is unknown: data it reads is missing or does not decide it",
                        "is unknown: data it reads is missing")


def test_every_reader_reads_an_old_trail_as_the_new_one(demo, capsys, tmp_path):
    """verify, attrition, replay, explain --patient and report give for the old demo trail what
    they give for the same run written now (the record counts aside: verify's, the report's; the
    network's identity, which changed since, and the missing fact that could not change P13's E8,
    which the old trail lists: see `test_an_old_trail_reads_as_a_new_one`)."""
    def said(*argv: str) -> tuple[int, str]:
        with pytest.MonkeyPatch.context() as patch:
            patch.chdir(ROOT)
            code = cli.main(list(argv))
        return code, re.sub(r"network [0-9a-f]{16}", "network", capsys.readouterr().out)

    for argv in (["attrition", "{}"], ["explain", "{}", "--patient", "P13-hiv-result-missing"],
                 ["replay", "{}", "--protocol", SEED, "--facts", PATIENTS]):
        old, new = (said(*(a.format(trail) for a in argv)) for trail in (OLD_DEMO, demo))
        old, new = (old[0], old[1].replace(HCV_RNA, "")), (new[0], flat(new[1]))
        assert old == new and old[0] == 0, argv
    assert said("verify", str(OLD_DEMO)) == (0, "intact: 601 records, sealed\n")
    code, out = said("report", str(OLD_DEMO), "-o", str(tmp_path / "old.html"))
    assert code == 0 and "23 patients; trail intact (601 records)" in out


def test_record_fields(records):
    """As read, each kind of record has exactly its fields: what lives in the protocol record
    (sentence, rule place, condition texts and lines) is not repeated per patient."""
    expected = {
        "run": {"type", "tool", "engine", "protocol", "facts", "network", "screening_date"},
        "protocol": {"type", "criteria", "definitions"},
        "patient": {"type", "patient", "record", "screening_date", "warnings", "facts"},
        "definition": {"type", "patient", "definition", "value", "fired", "evidence"},
        "decision": {"type", "patient", "decision", "reasons"},
        "summary": {"type", "patients", "decisions", "facts_sha256"},
        "seal": {"type", "records", "last"},
    }
    decided = {"type", "patient", "criterion", "role", "verdict", "fired", "evidence", "facts"}
    for record in records:
        if record["type"] == "criterion":
            open_ = record["verdict"] in ("UNKNOWN", "NEEDS_REVIEW")
            assert set(record) == decided | ({"missing", "pending", "to_pass"} if open_ else set()), \
                record
        elif record["type"] == "decision" and record["decision"] == "NEEDS_REVIEW":
            assert set(record) == expected["decision"] | {"to_settle"}, record
        else:
            assert set(record) == expected[record["type"]], record
        for evidence in record.get("evidence", []):
            assert set(evidence) == {"status", "detail"} and evidence["status"] in STATUSES
        for fact in record.get("facts", []) if record["type"] == "patient" else []:
            assert set(fact) == FACT_KEYS, fact
        for reason in record.get("reasons", []):
            assert set(reason) == {"criterion", "role", "verdict"}


# -- header ----------------------------------------------------------------------------------------

def test_header(records):
    run = records[0]
    assert run["tool"] == "proto-rules 0.1.0"
    assert run["engine"] == "durable_rules 2.0.28"
    assert run["protocol"] == {
        "file": SEED, "id": "cd19-ucart-sle", "version": "1.0",
        "sha256": hashlib.sha256((ROOT / SEED).read_bytes()).hexdigest()}
    assert run["facts"] == {"file": PATIENTS}  # its hash, known at the end, is in the summary
    assert run["network"]["name"].startswith("cd19-ucart-sle@1.0#")
    assert run["network"]["name"].endswith(run["network"]["sha256"][:12])
    assert run["network"]["rules"] > 23 * 3
    assert run["screening_date"] is None  # each record carries its own


def test_header_screening_date_option(tmp_path):
    trail = run_cli(tmp_path, "t.jsonl", SEED, "examples/bad/no-screening-date.jsonl",
                    "--screening-date", "2026-06-01")
    run, protocol, patient = read(trail)[:3]
    assert (run["type"], protocol["type"], patient["type"]) == ("run", "protocol", "patient")
    assert run["screening_date"] == "2026-06-01"
    assert patient["screening_date"] == "2026-06-01"


def test_header_protocol_sha256_is_of_the_file_bytes(tmp_path):
    """What `sha256sum` says, CRLF line ends included (was the hash of newline-normalised text)."""
    crlf = tmp_path / "crlf.proto-rules"
    crlf.write_bytes((ROOT / SEED).read_bytes().replace(b"\n", b"\r\n"))
    trail = run_cli(tmp_path, "t.jsonl", str(crlf), PATIENTS)
    run = json.loads(lines_of(trail)[0])
    assert run["protocol"]["sha256"] == hashlib.sha256(crlf.read_bytes()).hexdigest()


# -- the protocol record ---------------------------------------------------------------------------

def test_protocol_record_once(records):
    protocol = one(records, "protocol")
    assert [e["id"] for e in protocol["criteria"]] == LEAVES
    assert [e["id"] for e in protocol["definitions"]] == ["refractory_sle"]
    for entry in protocol["criteria"] + protocol["definitions"]:
        assert set(entry) - {"shape"} == {"id", "role", "text", "rule", "conditions"}, entry["id"]
        assert entry["conditions"], entry["id"]
        for condition in entry["conditions"]:
            assert set(condition) == {"line", "text"}
    for entry in protocol["criteria"]:
        assert entry["role"] == ("inclusion" if entry["id"].startswith("I") else "exclusion")
    assert protocol["definitions"][0]["role"] is None
    # how parts join, where not all are needed: I2's `a and (b or c)`, I6's `applies when`
    shapes = {e["id"]: e["shape"] for e in protocol["criteria"] if "shape" in e}
    assert shapes["I2"] == ["all", 0, ["any", 1, 2]]
    assert shapes["I6"] == ["when", ["all", 0, 1], ["all", 2, 3]]
    assert "I4.liver" not in shapes and "I1" not in shapes


def test_protocol_record_criterion(records):
    line = seed_line('part liver "')
    assert static(records, "I4.liver") == {
        "id": "I4.liver", "role": "inclusion", "text": LIVER_TEXT, "rule": f"{SEED}:{line}",
        "conditions": [{"line": line + 1, "text": "ast <= 3.0 x ULN"},
                       {"line": line + 1, "text": "alt <= 3.0 x ULN"},
                       {"line": line + 1, "text": "tbil <= 2.0 x ULN"}]}
    applies = seed_line("inclusion I6 ") + 1  # its applies-when: those parts come first
    assert static(records, "I6")["conditions"][:2] == [
        {"line": applies, "text": "sex is female"},
        {"line": applies, "text": "childbearing_potential"}]


def test_protocol_record_definition(records):
    line = seed_line("define refractory_sle")
    source = (ROOT / SEED).read_text(encoding="utf-8").splitlines()
    entry = static(records, "refractory_sle")
    assert entry["rule"] == f"{SEED}:{line}"
    assert entry["text"] == re.fullmatch(r'\s*"(.*)":', source[line]).group(1)
    assert entry["conditions"] == [
        {"line": line + 2, "text": "disease_activity is one of {moderate, severe}"},
        {"line": line + 3, "text": "glucocorticoid dose >= 1 mg/kg/d for at least 3 months"},
        {"line": line + 4, "text": "antimalarial includes hydroxychloroquine"},
        # a counted list is one part, its drugs on one line
        {"line": line + 5, "text": "immunosuppressant includes at least 2 of { cyclophosphamide, MMF, "
                                   "azathioprine, methotrexate, cyclosporin, tacrolimus, sirolimus, "
                                   "leflunomide, telitacicept, belimumab, rituximab }"}]


def test_protocol_texts_are_verbatim(records):
    """Each sentence is the quoted protocol text (joined when written in several strings), and each
    condition part is the protocol text at its line."""
    source = (ROOT / SEED).read_text(encoding="utf-8").splitlines()
    protocol = one(records, "protocol")
    for entry in protocol["criteria"] + protocol["definitions"]:
        start = int(entry["rule"].rsplit(":", 1)[1])
        end = next(n for n in range(start, len(source) + 1) if source[n - 1].rstrip().endswith(":"))
        quoted = re.findall(r'"([^"]*)"', "\n".join(source[start - 1:end]))
        assert "".join(quoted) == entry["text"], entry["id"]
        for condition in entry["conditions"]:
            first = condition["text"].split()[0]
            assert first in source[condition["line"] - 1], (entry["id"], condition)
            following = " ".join(" ".join(source[condition["line"] - 1:condition["line"] + 5]).split())
            assert " ".join(condition["text"].split()) in following, (entry["id"], condition)


def test_rule_lines_point_at_the_criteria(records):
    source = (ROOT / SEED).read_text(encoding="utf-8").splitlines()
    protocol = one(records, "protocol")
    starts = []
    for entry in protocol["criteria"]:
        file, line = entry["rule"].rsplit(":", 1)
        assert file == SEED
        own = entry["id"].split(".")[-1]
        pattern = rf"\s*(inclusion|exclusion|part) {re.escape(own)} "
        assert re.match(pattern, source[int(line) - 1]), entry
        starts.append(int(line))
    assert starts == sorted(starts)
    # every condition part lies in its own criterion: after its head, before the next one's
    for entry, start, end in zip(protocol["criteria"], starts, starts[1:] + [len(source) + 1]):
        for condition in entry["conditions"]:
            assert start <= condition["line"] < end, (entry["id"], condition)
    (definition,) = protocol["definitions"]
    assert re.match(r"define refractory_sle\b", source[int(definition["rule"].rsplit(":", 1)[1]) - 1])


# -- per patient and criterion ---------------------------------------------------------------------

def test_patient_record(records):
    patient = one(records, "patient", "P07-male-not-applicable")
    assert {k: v for k, v in patient.items() if k != "facts"} == {
        "type": "patient", "patient": "P07-male-not-applicable", "record": 7,
        "screening_date": "2026-06-01",
        "warnings": [f"{PATIENTS}:7, patient P07-male-not-applicable, fact #47, field 'date': "
                     "warning: dated 2026-06-03, after the screening date 2026-06-01: set aside"]}
    facts = patient["facts"]
    assert facts[:3] == [
        {"index": -1, "concept": "age", "value": "25", "unit": "years", "date": None,
         "converted": "25 years", "note": "completed years at screening, born 2001-05-30"},
        {"index": 0, "concept": "sex", "value": "male", "unit": None, "date": None,
         "converted": "male", "note": None},
        {"index": 1, "concept": "weight", "value": "72", "unit": "kg", "date": "2026-05-20",
         "converted": "72 kg", "note": None}]
    assert 46 not in [f["index"] for f in facts]  # the weight dated after screening, set aside


def test_patient_facts_are_each_used_once(records):
    """Sorted by index, each once per concept it is a fact of (a blood pregnancy test is also a
    pregnancy test: `counts as`); every fact a criterion read is there, and every fact there was
    read by some criterion (directly or through a definition)."""
    for patient in of(records, "patient"):
        pid = patient["patient"]
        used = [(f["index"], f["concept"]) for f in patient["facts"]]
        assert used == sorted(set(used)), pid
        indexes = [index for index, _ in used]
        read = set()
        for record in of(records, "criterion", pid):
            assert len(record["facts"]) == len(set(record["facts"])), (pid, record["criterion"])
            read.update(record["facts"])
        assert read == set(indexes), pid


def test_criterion_record_fields(records):
    liver = one(records, "criterion", "P04-liver-at-threshold", criterion="I4.liver")
    assert liver == {
        "type": "criterion", "patient": "P04-liver-at-threshold", "criterion": "I4.liver",
        "role": "inclusion", "verdict": "MET", "fired": ["v:I4.liver:MET#0"],
        "evidence": [
            {"status": "true", "detail": "ast 105 U/L (2026-05-26; lower reference 13, upper reference "
                                         "35 U/L) = 3 x ULN; needs <= 3.0 x ULN"},
            {"status": "true", "detail": "alt 96 U/L (2026-05-26; lower reference 7, upper reference "
                                         "40 U/L) = 2.4 x ULN; needs <= 3.0 x ULN"},
            {"status": "true", "detail": "tbil 11.2 umol/L (2026-05-20; lower reference 3.4, upper "
                                         "reference 20.5 umol/L) = 0.546341 x ULN; needs <= 2.0 x ULN"}],
        "facts": [14, 15, 16]}
    assert evidence_of(records, liver)[0] == {
        "line": seed_line('part liver "') + 1, "text": "ast <= 3.0 x ULN", "status": "true",
        "detail": "ast 105 U/L (2026-05-26; lower reference 13, upper reference 35 U/L) = 3 x ULN; "
                  "needs <= 3.0 x ULN"}
    assert static(records, "I4.liver")["text"] == LIVER_TEXT
    assert facts_of(records, liver)[0] == {
        "index": 14, "concept": "ast", "value": "105", "unit": "U/L", "date": "2026-05-26",
        "converted": "105 U/L", "note": "lower reference 13, upper reference 35 U/L"}


def test_evidence_is_aligned_with_the_protocol_conditions(records):
    """One evidence item per condition part of the protocol record, in its order: each names what
    its part reads (a definition's evidence too)."""
    for record in of(records, "criterion") + of(records, "definition"):
        for part in evidence_of(records, record):
            name = re.match(r"(?:not )?(\w+)", part["text"]).group(1)
            assert name in part["detail"], (record["patient"], part)


def test_criterion_role_is_the_protocols(records):
    for record in of(records, "criterion"):
        assert record["role"] == static(records, record["criterion"])["role"]


def test_fired_rules_conclude_the_verdict(records):
    for record in of(records, "criterion"):
        assert record["fired"], record["criterion"]
        for rule in record["fired"]:
            assert rule.startswith(f"v:{record['criterion']}:{record['verdict']}#")
    for record in of(records, "definition"):
        assert record["fired"], record["patient"]
        for rule in record["fired"]:
            assert rule.startswith(f"d:{record['definition']}:{record['value']}#")


def test_converted_facts(records):
    egfr = one(records, "criterion", "P02-eligible-postmenopausal", criterion="I4.renal")
    assert egfr["facts"] == [14]
    assert facts_of(records, egfr) == [{"index": 14, "concept": "egfr", "value": "0.75",
                                        "unit": "mL/s/1.73m2", "date": "2026-05-21",
                                        "converted": "45 mL/min/1.73m2", "note": None}]
    assert egfr["evidence"] == [{"status": "true", "detail": "egfr 0.75 mL/s/1.73m2 = 45 mL/min/1.73m2 "
                                 "(2026-05-21); needs >= 30 mL/min/1.73m2"}]
    tbil = one(records, "criterion", "P05-tbil-mg-dL", criterion="I4.liver")
    assert tbil["verdict"] == "NOT_MET"
    (fact,) = [f for f in facts_of(records, tbil) if f["concept"] == "tbil"]
    assert (fact["value"], fact["unit"], fact["converted"]) == ("2.6", "mg/dL", "44.46 umol/L")
    assert fact["note"] == "lower reference 0.2, upper reference 1.2 mg/dL"
    assert evidence_of(records, tbil)[2] == {
        "line": seed_line('part liver "') + 1, "text": "tbil <= 2.0 x ULN", "status": "false",
        "detail": "tbil 2.6 mg/dL = 44.46 umol/L (2026-05-22; lower reference 0.2, upper reference "
                  "1.2 mg/dL) = 2.166667 x ULN; needs <= 2.0 x ULN"}
    age = one(records, "criterion", "P03-age-4-under-minimum", criterion="I1")
    assert age["verdict"] == "NOT_MET"
    assert age["facts"] == [-1]
    assert facts_of(records, age) == [{"index": -1, "concept": "age", "value": "4", "unit": "years",
                                       "date": None, "converted": "4 years",
                                       "note": "completed years at screening, born 2022-01-10"}]
    assert evidence_of(records, age) == [{
        "line": seed_line("inclusion I1 ") + 1, "text": "age >= 5 years", "status": "false",
        "detail": "age 4 years (completed years at screening, born 2022-01-10); needs >= 5 years"}]


def test_medication_facts(records):
    i2 = one(records, "criterion", "P01-eligible", criterion="I2")
    # what I2 read, through refractory_sle too (the weight a dose per kg is divided by), in the
    # order the protocol first reads each concept
    concepts = [f["concept"] for f in facts_of(records, i2)]
    assert concepts == ["sle_classification_2019", "intolerant_to_standard_treatment",
                        "disease_activity", "glucocorticoid", "weight", "antimalarial",
                        "immunosuppressant", "immunosuppressant"]
    steroid = next(f for f in facts_of(records, i2) if f["concept"] == "glucocorticoid")
    assert steroid == {"index": 7, "concept": "glucocorticoid", "value": "prednisone 60 mg/d",
                       "unit": "mg/d", "date": "2025-11-03",
                       "converted": "1.034483 mg/kg/d",
                       "note": "ongoing, 6 completed months; as prednisone_equivalent, "
                               "divided by weight 58 kg"}
    weight = next(f for f in facts_of(records, i2) if f["concept"] == "weight")
    assert (weight["index"], weight["value"], weight["unit"]) == (2, "58", "kg")
    drugs = [(f["value"], f["date"], f["note"]) for f in facts_of(records, i2)
             if f["concept"] == "immunosuppressant"]
    assert drugs == [("MMF 2000 mg/d", "2024-01-15", "to 2025-06-30, 17 completed months"),
                     ("tacrolimus 3 mg/d", "2025-07-01", "ongoing, 11 completed months")]


def test_definition_record(records):
    definition = one(records, "definition", "P06-not-refractory-sledai-6")
    assert (definition["definition"], definition["value"]) == ("refractory_sle", "F")
    assert definition["fired"]
    assert all(rule.startswith("d:refractory_sle:F#") for rule in definition["fired"])
    parts = evidence_of(records, definition)
    course = next(p for p in parts if p["text"].startswith("glucocorticoid"))
    assert course == {
        "line": seed_line("define refractory_sle") + 3,
        "text": "glucocorticoid dose >= 1 mg/kg/d for at least 3 months", "status": "false",
        "detail": "glucocorticoid: prednisone 55 mg/d = 1.078431 mg/kg/d (2026-03-20; ongoing, "
                  "2 completed months; as prednisone_equivalent, divided by weight 51 kg); "
                  "needs >= 1 mg/kg/d for at least "
                  "3 months"}
    counted = parts[3]
    assert counted["status"] == "false"
    assert counted["detail"] == ("1 of the set (MMF); needs at least 2; immunosuppressant: MMF "
                                 "2000 mg/d (2025-09-01; ongoing, 9 completed months)")
    i2 = one(records, "criterion", "P06-not-refractory-sledai-6", criterion="I2")
    assert evidence_of(records, i2)[1] == {
        "line": seed_line("inclusion I2 ") + 2, "text": "refractory_sle", "status": "false",
        "detail": "definition refractory_sle is false"}


def test_definition_values_agree_with_the_criteria(records):
    """The value a definition record gives is what the criteria reading it saw."""
    values = {r["patient"]: r["value"] for r in of(records, "definition")}
    assert set(values.values()) == {"T", "F", "U"}
    status = {"T": "true", "F": "false", "U": "unknown", "R": "unknown"}
    for pid, value in values.items():
        i2 = one(records, "criterion", pid, criterion="I2")
        (part,) = [p for p in evidence_of(records, i2) if p["text"] == "refractory_sle"]
        assert part["status"] == status[value], pid
    assert values["P23-weight-missing-dose-per-kg"] == "U"


def test_ratio_to_uln_is_shown_as_compared(tmp_path, baseline):
    """The exact ratio the network compared (was float %g: '3 x ULN' beside a NOT_MET)."""
    patient = baseline.fact("ast", value=105.00004, reference_range={"high": 35})
    patient = patient.top(patient="X-ast")
    facts = tmp_path / "ast.jsonl"
    facts.write_text(json.dumps(patient.data) + "\n", encoding="utf-8")
    trail = run_cli(tmp_path, "t.jsonl", SEED, str(facts))
    records = read(trail)
    liver = one(records, "criterion", "X-ast", criterion="I4.liver")
    assert liver["verdict"] == "NOT_MET"
    first = evidence_of(records, liver)[0]
    assert (first["text"], first["status"]) == ("ast <= 3.0 x ULN", "false")
    assert "= 3.000001 x ULN" in first["detail"]


def test_flags_and_lists_read_plainly(records):
    """Flags read yes/no (the trail keeps the JSON boolean); a list given as none reads 'recorded
    as none'; a concept with no fact reads 'no fact given'."""
    i2 = one(records, "criterion", "P01-eligible", criterion="I2")
    assert [(p["status"], p["detail"]) for p in evidence_of(records, i2)] == [
        ("true", "sle_classification_2019 yes (2023-04-11)"),
        ("true", "definition refractory_sle is true"),
        ("false", "intolerant_to_standard_treatment no (2026-05-20)")]
    assert [f["value"] for f in facts_of(records, i2)][:2] == [True, False]
    e1 = one(records, "criterion", "P01-eligible", criterion="E1")
    assert e1["evidence"] == [{"status": "false", "detail": "car_t_therapy: recorded as none"}]
    assert facts_of(records, e1) == [{"index": 22, "concept": "car_t_therapy",
                                      "value": "recorded as none", "unit": None, "date": None,
                                      "converted": None, "note": None}]
    e8 = one(records, "criterion", "P01-eligible", criterion="E8")
    assert e8["verdict"] == "NOT_MET"
    (hbv,) = [p for p in evidence_of(records, e8) if p["text"] == "hbv_dna > upper reference"]
    assert (hbv["status"], hbv["detail"]) == ("unknown", "hbv_dna: no fact given")


def test_unknown_lists_what_is_missing(records):
    stale = one(records, "criterion", "P11-stale-lvef", criterion="I4.cardiac")
    assert stale["verdict"] == "UNKNOWN"
    assert stale["missing"] == [{"concept": "lvef", "reason": "stale: latest lvef is from "
                                 "2026-04-20, before 2026-05-04 (valid for 28 days)"}]
    assert stale["pending"] == []
    assert evidence_of(records, stale)[0]["status"] == "unknown"
    assert [f["concept"] for f in facts_of(records, stale)] == ["ecg"]  # the stale lvef is not used
    hiv = one(records, "criterion", "P13-hiv-result-missing", criterion="E8")
    assert hiv["verdict"] == "UNKNOWN"
    assert {"concept": "hiv_antibody", "reason": "no fact given"} in hiv["missing"]
    dose = one(records, "criterion", "P23-weight-missing-dose-per-kg", criterion="I2")
    assert dose["verdict"] == "UNKNOWN"
    assert dose["missing"] == [{"concept": "weight", "reason": "no fact given"}]
    (steroid,) = [f for f in facts_of(records, dose) if f["concept"] == "glucocorticoid"]
    assert steroid["converted"] is None
    assert "weight" in steroid["note"]


def test_every_unknown_names_what_is_missing(records):
    """Including a weight needed for a dose per kg (was an UNKNOWN with nothing listed); what is
    missing or pending is no fact the patient's record used."""
    for record in of(records, "criterion", verdict="UNKNOWN"):
        assert record["missing"], f"{record['patient']} {record['criterion']}: nothing missing"
    for record in of(records, "criterion"):
        if record["verdict"] not in ("UNKNOWN", "NEEDS_REVIEW"):
            continue
        used = {f["concept"] for f in one(records, "patient", record["patient"])["facts"]}
        absent = [m["concept"] for m in record["missing"]] + record["pending"]
        assert not used & set(absent), (record["patient"], record["criterion"])
    dose = one(records, "criterion", "P23-weight-missing-dose-per-kg", criterion="I2")
    assert "weight" in [m["concept"] for m in dose["missing"]]


def test_needs_review_lists_the_pending_judgment(records):
    e13 = one(records, "criterion", "P09-judgment-pending", criterion="E13")
    assert e13["verdict"] == "NEEDS_REVIEW"
    assert e13["pending"] == ["investigator_deems_unsuitable"]
    assert e13["missing"] == []
    assert e13["facts"] == []
    assert evidence_of(records, e13) == [{
        "line": seed_line("exclusion E13 ") + 1, "text": "investigator_deems_unsuitable",
        "status": "unknown", "detail": "investigator_deems_unsuitable: not yet attested by an "
                                       "investigator"}]


def test_attested_judgment_shows_who_and_why(records):
    e13 = one(records, "criterion", "P22-investigator-unsuitable", criterion="E13")
    assert e13["verdict"] == "MET"
    (fact,) = facts_of(records, e13)
    assert (fact["concept"], fact["value"], fact["date"]) == (
        "investigator_deems_unsuitable", True, "2026-05-29")
    assert fact["note"] == ("attested by Dr. X. He: lives 900 km away and cannot attend "
                            "weekly follow-up in the first 3 months")
    assert e13["evidence"] == [{"status": "true", "detail": (
        "investigator_deems_unsuitable yes (2026-05-29; attested by Dr. X. He: lives 900 km away "
        "and cannot attend weekly follow-up in the first 3 months)")}]


def test_not_applicable(records):
    i6 = one(records, "criterion", "P07-male-not-applicable", criterion="I6")
    assert i6["verdict"] == "NOT_APPLICABLE"
    assert "missing" not in i6 and "pending" not in i6
    assert evidence_of(records, i6)[0] == {"line": seed_line("inclusion I6 ") + 1,
                                           "text": "sex is female", "status": "false",
                                           "detail": "sex male"}
    assert facts_of(records, i6) == [{"index": 0, "concept": "sex", "value": "male", "unit": None,
                                      "date": None, "converted": "male", "note": None}]


def test_decision_with_reasons(records):
    assert one(records, "decision", "P06-not-refractory-sledai-6") == {
        "type": "decision", "patient": "P06-not-refractory-sledai-6", "decision": "INELIGIBLE",
        "reasons": [{"criterion": "I2", "role": "inclusion", "verdict": "NOT_MET"},
                    {"criterion": "I3", "role": "inclusion", "verdict": "NOT_MET"}]}
    assert one(records, "decision", "P10-lung-lesions-spo2-90")["reasons"] == [
        {"criterion": "I4.lung", "role": "inclusion", "verdict": "NOT_MET"}]
    assert one(records, "decision", "P15-pregnant")["reasons"] == [
        {"criterion": "I6", "role": "inclusion", "verdict": "NOT_MET"},
        {"criterion": "E10", "role": "exclusion", "verdict": "MET"}]
    assert one(records, "decision", "P01-eligible")["reasons"] == []


def test_reasons_match_the_verdicts(records):
    bad = {"inclusion": "NOT_MET", "exclusion": "MET"}
    for decision in of(records, "decision"):
        verdicts = of(records, "criterion", decision["patient"])
        failing = [{"criterion": v["criterion"], "role": v["role"], "verdict": v["verdict"]}
                   for v in verdicts if v["verdict"] == bad[v["role"]]]
        open_ = [{"criterion": v["criterion"], "role": v["role"], "verdict": v["verdict"]}
                 for v in verdicts if v["verdict"] in ("UNKNOWN", "NEEDS_REVIEW")]
        expected = ("INELIGIBLE", failing) if failing else ("NEEDS_REVIEW", open_) if open_ \
            else ("ELIGIBLE", [])
        assert (decision["decision"], decision["reasons"]) == expected, decision["patient"]


def test_summary(stored):
    records = stored
    assert records[-2] == {"type": "summary", "patients": 23,
                           "decisions": {"ELIGIBLE": 4, "INELIGIBLE": 15, "NEEDS_REVIEW": 4},
                           "facts_sha256": hashlib.sha256((ROOT / PATIENTS).read_bytes()).hexdigest()}
    assert records[-1]["type"] == "seal" and records[-1]["records"] == len(records) - 1


def test_rejected_records(tmp_path):
    trail = run_cli(tmp_path, "bad.jsonl", SEED, BAD_FACTS)
    records = read(trail)
    assert [r["type"] for r in records[:2]] == ["run", "protocol"]
    rejected = of(records, "rejected")
    assert rejected[0] == {
                           "type": "rejected", "record": 2, "patient": None,
                           "problems": [f"{BAD_FACTS}:2: error: not valid JSON: Expecting value at "
                                        "column 75"]}
    several = next(r for r in rejected if r["patient"] == "B29-several-problems")
    assert len(several["problems"]) == 2
    assert not of(records, "patient", "B29-several-problems")  # nothing else about it
    summary = records[-2]
    assert summary["decisions"]["REJECTED"] == len(rejected)
    assert summary["patients"] == len(rejected) + len(of(records, "decision"))
    assert all(line.encode() == rfc8785.dumps(json.loads(line)) for line in lines_of(trail))


# -- the rendered trail ----------------------------------------------------------------------------

def test_golden_explain(demo, capsys):
    assert cli.main(["explain", str(demo)]) == 0
    text = capsys.readouterr().out
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_text(text, encoding="utf-8")
    assert GOLDEN.exists(), "no golden file: run with UPDATE_GOLDEN=1"
    assert text == GOLDEN.read_text(encoding="utf-8"), (
        "explain output differs from tests/data/golden/demo-trail.txt; if the change is intended, "
        "regenerate it with UPDATE_GOLDEN=1 and review the diff")


def test_why_not_names_the_fewest_facts_that_would_settle(records):
    """For every open verdict: the open parts whose values would let it pass, in its own words."""
    p13 = one(records, "criterion", "P13-hiv-result-missing", criterion="E8")
    assert p13["to_pass"] == [{"line": seed_line("or hiv_antibody is positive"),
                               "condition": "hiv_antibody is positive",
                               "needs": "not (hiv_antibody is positive)"}]
    p23 = one(records, "criterion", "P23-weight-missing-dose-per-kg", criterion="I2")
    assert [n["condition"] for n in p23["to_pass"]] == [
        "glucocorticoid dose >= 1 mg/kg/d for at least 3 months"]
    decision = one(records, "decision", "P11-stale-lvef")
    assert [(n["criterion"], n["needs"]) for n in decision["to_settle"]] == [
        ("I4.cardiac", "lvef >= 55 %")]
    for record in of(records, "criterion"):
        if record["verdict"] in ("UNKNOWN", "NEEDS_REVIEW"):
            assert record["to_pass"], (record["patient"], record["criterion"])
