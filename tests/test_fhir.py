"""FHIR in (issue 12, section 1): patients as R4B Bundles decide exactly as their JSON twins.

The Bundles are written from fact records by `bench/fhir_bundles.py` (the protocol's map read
backwards) and read back by `engine/fhir` through the same map, with the real FHIR library, the
real normaliser and network. Beside the twins: what each resource status does, hostile Bundles
(one line each, the others decided), a bad map (file:line:col, exit 2), a folder of Bundles, and
a run's trail that replays and verifies.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import cli
from bench.fhir_bundles import Writer, bundles
from bench.generate import generate, to_json
from engine import pipeline
from engine.factfile import read_records
from engine.fhir import load_map
from engine.run import Decision, Rejected, Screening
from engine.audit.trail import read as read_trail
from protocol.errors import ProtocolError
from tests.conftest import PATIENTS, SEED, as_read

SITE = "https://proto-rules.example/fhir/cd19-ucart-sle"
LOINC = "http://loinc.org"


@pytest.fixture(scope="module")
def seed() -> Any:
    return pipeline.load(str(SEED))[0]


@pytest.fixture(scope="module")
def screening(seed_network) -> Screening:
    return Screening(seed_network)


@pytest.fixture(scope="module")
def writer(seed) -> Writer:
    return Writer(seed, load_map(seed))


def decided(screening: Screening, protocol: Any, path: Path) -> dict[str, tuple]:
    """Each patient's decision and verdicts (or its problems), by patient id."""
    found = {}
    for outcome in screening.screen(read_records(str(path), protocol=protocol), str(path)):
        if isinstance(outcome, Decision):
            found[outcome.patient.id] = (outcome.decision, {
                k: v.verdict for k, v in outcome.verdicts.items()})
        else:
            found[outcome.patient] = ("REJECTED", [p.message for p in outcome.problems])
    return found


def ndjson(path: Path, items: Any) -> Path:
    path.write_text("".join(to_json(item) + "\n" for item in items), encoding="utf-8")
    return path


def test_example_patients_as_bundles_decide_as_their_facts(tmp_path, screening, seed):
    bundled = ndjson(tmp_path / "bundles.ndjson", bundles(str(SEED), str(PATIENTS)))
    expected = decided(screening, seed, PATIENTS)
    assert len(expected) == 23
    assert decided(screening, seed, bundled) == expected


def test_generated_patients_as_bundles_decide_as_their_twins(tmp_path, screening, seed):
    facts = ndjson(tmp_path / "patients.jsonl", generate(200, seed=12))
    bundled = ndjson(tmp_path / "bundles.ndjson", bundles(str(SEED), str(facts)))
    expected = decided(screening, seed, facts)
    assert {d for d, _ in expected.values()} == {"ELIGIBLE", "INELIGIBLE", "NEEDS_REVIEW"}
    assert decided(screening, seed, bundled) == expected


# -- resource statuses -------------------------------------------------------------------------

def p01(writer: Writer) -> dict:
    record = json.loads(PATIENTS.read_text(encoding="utf-8").splitlines()[0])
    return writer.bundle(record)


def resource(bundle: dict, code: str) -> dict:
    """The resource of a Bundle whose code (or medication, or vaccine) has this code."""
    for entry in bundle["entry"]:
        found = entry["resource"]
        concept = found.get("code") or found.get("medicationCodeableConcept") or {}
        if any(c.get("code") == code for c in concept.get("coding", ())):
            return found
    raise KeyError(code)


def decide_one(screening: Screening, seed: Any, tmp_path: Path, bundle: dict
               ) -> Decision | Rejected:
    path = ndjson(tmp_path / "one.ndjson", [bundle])
    (outcome,) = screening.screen(read_records(str(path), protocol=seed), str(path))
    return outcome


@pytest.mark.parametrize("status, effect", [
    ("final", "MET"), ("amended", "MET"), ("corrected", "MET"),
    ("entered-in-error", "set aside"), ("cancelled", "set aside"),
    ("unknown", "UNKNOWN"), ("preliminary", "UNKNOWN"), ("registered", "UNKNOWN"),
])
def test_an_observation_status(tmp_path, screening, seed, writer, status, effect):
    bundle = p01(writer)
    ast = resource(bundle, "1920-8")
    ast["status"] = status
    outcome = decide_one(screening, seed, tmp_path, bundle)
    verdict = outcome.verdicts["I4.liver"].verdict
    warnings = [(w.field, w.message) for w in outcome.patient.warnings]
    if effect == "set aside":
        assert verdict == "UNKNOWN"
        assert warnings == [(f"Observation/{ast['id']}", f"status {status}: set aside")]
        assert outcome.patient.unusable["ast"] == "no fact given"
    elif effect == "UNKNOWN":
        assert verdict == "UNKNOWN" and warnings == []
        assert outcome.patient.unusable["ast"] == f"Observation/{ast['id']} has status '{status}'"
    else:
        assert verdict == "MET" and warnings == []


@pytest.mark.parametrize("verification, effect", [
    ("confirmed", "MET"), (None, "MET"), ("refuted", "set aside"),
    ("entered-in-error", "set aside"), ("unconfirmed", "UNKNOWN"), ("provisional", "UNKNOWN"),
    ("differential", "UNKNOWN"),
])
def test_a_condition_verification_status(tmp_path, screening, seed, writer, verification,
                                         effect):
    """P01 given a malignancy in 2017 (E11), verified or not."""
    bundle = p01(writer)
    condition = resource(bundle, "363346000")  # malignancy
    condition.update(resourceType="Condition", onsetDateTime="2017-03-01",
                     subject={"reference": "Patient/P01-eligible"}, clinicalStatus={
        "coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                    "code": "resolved"}]})
    for key in ("status", "valueBoolean"):
        condition.pop(key, None)
    if verification:
        condition["verificationStatus"] = {"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/condition-ver-status",
            "code": verification}]}
    outcome = decide_one(screening, seed, tmp_path, bundle)
    verdict = outcome.verdicts["E11"].verdict
    if effect == "set aside":
        assert verdict == "UNKNOWN"  # the Condition replaced P01's "none": nothing is known
        assert [w.message for w in outcome.patient.warnings] == \
            [f"verification {verification}: set aside"]
    elif effect == "UNKNOWN":
        assert verdict == "UNKNOWN"
        assert outcome.patient.unusable["malignancy"] == \
            f"Condition/{condition['id']} is {verification}, not confirmed"
    else:
        assert verdict == "MET"


def test_an_active_condition_is_ongoing_and_a_stage_gives_its_grade(tmp_path, screening, seed,
                                                                       writer):
    bundle = p01(writer)
    effusion = resource(bundle, "373945007")
    effusion.clear()
    effusion.update(
        resourceType="Condition", id="effusion", code={"coding": [
            {"system": "http://snomed.info/sct", "code": "373945007"}]},
        subject={"reference": "Patient/P01-eligible"}, onsetDateTime="2026-05",
        clinicalStatus={"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
            "code": "active"}]},
        stage=[{"summary": {"coding": [{"system": SITE, "code": "grade-2"}]}}])
    outcome = decide_one(screening, seed, tmp_path, bundle)
    assert outcome.verdicts["E4"].verdict == "MET"
    (used,) = outcome.patient.used["pericardial_effusion"]
    assert used.date == "2026-05"


@pytest.mark.parametrize("kind, status, effect", [
    ("MedicationStatement", "active", "MET"), ("MedicationStatement", "completed", "open end"),
    ("MedicationStatement", "entered-in-error", "set aside"),
    ("MedicationStatement", "not-taken", "set aside"),
    ("MedicationStatement", "unknown", "UNKNOWN"),
    ("MedicationRequest", "active", "MET"), ("MedicationRequest", "cancelled", "set aside"),
    ("MedicationRequest", "unknown", "UNKNOWN"),
])
def test_a_medication_status(tmp_path, screening, seed, writer, kind, status, effect):
    """P01's prednisone (60 mg/d at 58 kg since 2025-11-03) decides I2 through refractory_sle;
    completed without an end date, how long it lasted is not known."""
    bundle = p01(writer)
    statement = resource(bundle, "8640")
    statement["status"] = status
    if kind == "MedicationRequest":
        statement["resourceType"] = kind
        statement["intent"] = "order"
        statement["authoredOn"] = statement.pop("effectivePeriod")["start"]
        statement["dosageInstruction"] = statement.pop("dosage")
    outcome = decide_one(screening, seed, tmp_path, bundle)
    refractory = outcome.derived["refractory_sle"][0]
    if effect == "set aside":  # no other glucocorticoid: nothing is known of one
        assert refractory == "U"
        assert [w.message for w in outcome.patient.warnings] == [f"status {status}: set aside"]
    elif effect == "UNKNOWN":
        assert outcome.patient.unusable["glucocorticoid"] == \
            f"{kind}/{statement['id']} has status '{status}'"
    else:
        assert refractory == ("T" if effect == "MET" else "U")


def test_a_procedure_and_an_immunization(tmp_path, screening, seed, writer):
    """A CAR-T procedure done (E1 MET), and one not done (set aside); a live zoster vaccine (CVX
    121) 17 days before screening (E9 MET), and an entered-in-error one (set aside)."""
    bundle = p01(writer)
    subject = {"reference": "Patient/P01-eligible"}
    added = [
        {"resourceType": "Procedure", "id": "cart", "status": "completed", "subject": subject,
         "code": {"coding": [{"system": SITE, "code": "car-t-therapy"}]},
         "performedDateTime": "2024-03-01"},
        {"resourceType": "Procedure", "id": "cart-2", "status": "not-done", "subject": subject,
         "code": {"coding": [{"system": SITE, "code": "car-t-therapy"}]}},
        {"resourceType": "Immunization", "id": "zoster", "status": "completed",
         "patient": subject, "occurrenceDateTime": "2026-05-15",
         "vaccineCode": {"coding": [{"system": "http://hl7.org/fhir/sid/cvx", "code": "121"}]}},
        {"resourceType": "Immunization", "id": "zoster-2", "status": "entered-in-error",
         "patient": subject, "occurrenceDateTime": "2026-05-16",
         "vaccineCode": {"coding": [{"system": "http://hl7.org/fhir/sid/cvx", "code": "121"}]}},
    ]
    bundle["entry"] = [e for e in bundle["entry"] if e["resource"].get("code", {}).get(
        "coding", [{}])[0].get("code") not in ("car-t-therapy", "121")]
    bundle["entry"] += [{"resource": r} for r in added]
    outcome = decide_one(screening, seed, tmp_path, bundle)
    assert outcome.verdicts["E1"].verdict == "MET"
    assert outcome.verdicts["E9"].verdict == "MET"
    assert [(w.field, w.message) for w in outcome.patient.warnings] == [
        ("Procedure/cart-2", "status not-done: set aside"),
        ("Immunization/zoster-2", "status entered-in-error: set aside")]


@pytest.mark.parametrize("born, verdict", [("1994", "MET"), ("2021-06", "UNKNOWN"),
                                           ("2021-05", "MET"), ("2021-07", "NOT_MET")])
def test_a_birth_date_of_the_year_or_month_gives_the_ages_it_allows(tmp_path, screening, seed,
                                                                     writer, born, verdict):
    """FHIR's `birthDate` may be a year or a month: read as written, never as its first day, so
    an age of 5 at screening (2026-06-01) is MET for 1994, open for June 2021 (4 or 5)."""
    bundle = p01(writer)
    for entry in bundle["entry"]:
        if entry["resource"]["resourceType"] == "Patient":
            entry["resource"]["birthDate"] = born
    outcome = decide_one(screening, seed, tmp_path, bundle)
    assert outcome.verdicts["I1"].verdict == verdict


def test_results_as_fhir_writes_them(tmp_path, screening, seed, writer):
    """A value below detection ("< 20" as valueString, and a comparator), an interpretation
    without a value, a UCUM code the map translates, a time and zone dropped from the date."""
    bundle = p01(writer)
    hbv = {"resourceType": "Observation", "id": "hbv", "status": "final",
           "code": {"coding": [{"system": LOINC, "code": "29615-2"}]},
           "effectiveDateTime": "2026-05-20T23:30:00-05:00",
           "valueQuantity": {"value": 20, "comparator": "<", "system":
                             "http://unitsofmeasure.org", "code": "[IU]/mL"},
           "referenceRange": [{"high": {"value": 20}}]}
    hiv = resource(bundle, "hiv-antibody")
    hiv.pop("valueCodeableConcept")
    hiv["interpretation"] = [{"coding": [{
        "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation",
        "code": "NEG"}]}]
    bundle["entry"].append({"resource": hbv})
    outcome = decide_one(screening, seed, tmp_path, bundle)
    assert outcome.decision == "ELIGIBLE"
    (used,) = outcome.patient.used["hbv_dna"]
    assert (used.converted, used.date, used.unit) == ("< 20 IU/mL", "2026-05-20", "IU/mL")
    assert outcome.patient.used["hiv_antibody"][0].converted == "negative"


def test_an_unmapped_code_is_reported_never_guessed(tmp_path, screening, seed, writer):
    bundle = p01(writer)
    ast = resource(bundle, "1920-8")
    ast["code"] = {"coding": [{"system": LOINC, "code": "1921-6"}]}
    bundle["entry"].append({"resource": {"resourceType": "AllergyIntolerance", "id": "a1",
                                         "patient": {"reference": "Patient/P01-eligible"}}})
    outcome = decide_one(screening, seed, tmp_path, bundle)
    assert outcome.verdicts["I4.liver"].verdict == "UNKNOWN"
    assert [(w.field, w.message) for w in outcome.patient.warnings] == [
        (f"Observation/{ast['id']}", "http://loinc.org|1921-6 not in the FHIR map: not read"),
        ("AllergyIntolerance/a1", "an AllergyIntolerance is not read")]


def test_a_coded_value_the_map_lacks_leaves_the_concept_unknown(tmp_path, screening, seed,
                                                               writer):
    bundle = p01(writer)
    hbsag = resource(bundle, "5196-1")
    hbsag["valueCodeableConcept"] = {"coding": [
        {"system": "http://snomed.info/sct", "code": "419984006"}]}  # "inconclusive"
    outcome = decide_one(screening, seed, tmp_path, bundle)
    assert outcome.patient.unusable["hbsag"] == f"Observation/{hbsag['id']}: value " \
        "http://snomed.info/sct|419984006 is not in the FHIR map"


def test_a_course_names_its_drug_by_a_medication_reference(tmp_path, screening, seed, writer):
    """Prednisone as a Medication in the Bundle, HCQ as one contained in its statement."""
    bundle = p01(writer)
    prednisone, hcq = resource(bundle, "8640"), resource(bundle, "5521")
    bundle["entry"].append({"resource": {"resourceType": "Medication", "id": "pred",
                                         "code": prednisone.pop("medicationCodeableConcept")}})
    prednisone["medicationReference"] = {"reference": "Medication/pred"}
    hcq["contained"] = [{"resourceType": "Medication", "id": "hcq",
                         "code": hcq.pop("medicationCodeableConcept")}]
    hcq["medicationReference"] = {"reference": "#hcq"}
    outcome = decide_one(screening, seed, tmp_path, bundle)
    assert outcome.decision == "ELIGIBLE"
    assert outcome.patient.used["glucocorticoid"][0].value == "prednisone 60 mg/d"
    assert outcome.patient.used["antimalarial"][0].value == "hydroxychloroquine 400 mg/d"


def test_a_result_absent_for_a_reason_leaves_the_concept_unknown(tmp_path, screening, seed,
                                                                  writer):
    bundle = p01(writer)
    lvef = resource(bundle, "10230-1")
    lvef.pop("valueQuantity")
    lvef["dataAbsentReason"] = {"coding": [{
        "system": "http://terminology.hl7.org/CodeSystem/data-absent-reason", "code": "error"}]}
    outcome = decide_one(screening, seed, tmp_path, bundle)
    assert outcome.verdicts["I4.cardiac"].verdict == "UNKNOWN"
    assert outcome.patient.unusable["lvef"] == \
        f"Observation/{lvef['id']}: no value (dataAbsentReason error)"


# -- hostile input -----------------------------------------------------------------------------

def good(writer: Writer, pid: str) -> dict:
    bundle = p01(writer)
    bundle = json.loads(json.dumps(bundle).replace("P01-eligible", pid))
    return bundle


HOSTILE = {
    "not JSON": (b'{"resourceType": "Bundle", "entry": [\n', "error: not valid JSON"),
    "not a Bundle": (b'{"resourceType": "Patient", "id": "x"}\n',
                     "field 'resourceType': error: a FHIR Patient resource, not a Bundle"),
    "refused value": (None, ".valueQuantity.value': error: the FHIR library refuses it: Value "
                      "error, Decimal value string does not match"),
    "unknown resource type": (None, "field 'Nonsense/n1': error: the FHIR library refuses it: "
                              "Nonsense is not a valid FHIR Model"),
    "unknown field": (None, ".bogus': error: the FHIR library refuses it: Extra inputs are not "
                      "permitted"),
    "two patients": (None, "field 'entry': error: a Bundle is one patient: it has 2 Patient"),
    "entry not a list": (b'{"resourceType": "Bundle", "type": "collection", "entry": 3}\n',
                         "field 'entry': error: a Bundle's entry is a list of objects"),
}


def hostile(writer: Writer, case: str) -> bytes:
    raw, _ = HOSTILE[case]
    if raw is not None:
        return raw
    bundle = good(writer, "bad")
    ast = resource(bundle, "1920-8")
    if case == "refused value":
        ast["valueQuantity"]["value"] = "abc"
    elif case == "unknown field":
        ast["bogus"] = 1
    elif case == "unknown resource type":
        bundle["entry"].append({"resource": {"resourceType": "Nonsense", "id": "n1"}})
    elif case == "two patients":
        bundle["entry"].append({"resource": {"resourceType": "Patient", "id": "other"}})
    return (to_json(bundle) + "\n").encode("utf-8")


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_a_hostile_bundle_is_one_line_and_the_others_are_decided(tmp_path, capsys, writer,
                                                                  case):
    path = tmp_path / "bundles.ndjson"
    path.write_bytes((to_json(good(writer, "before")) + "\n").encode() + hostile(writer, case)
                     + (to_json(good(writer, "after")) + "\n").encode())
    trail = tmp_path / "trail.jsonl"
    code = cli.main(["run", str(SEED), str(path), "--trail", str(trail), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2
    problems = [line for line in err.splitlines() if f"{path}:2" in line]
    assert len(problems) == 1 and HOSTILE[case][1] in problems[0], err
    assert "Traceback" not in err
    assert "2 ELIGIBLE" in err and "1 record rejected" in err


def test_a_bundle_without_a_map_is_refused(tmp_path, writer):
    path = tmp_path / "b.json"
    path.write_text(json.dumps(good(writer, "p")), encoding="utf-8")
    text = SEED.read_text(encoding="utf-8").replace('map "', '# map "')
    network = pipeline.compile(pipeline.load_text(text, str(SEED))[0])
    (outcome,) = Screening(network).screen(
        read_records(str(path), protocol=network.protocol), str(path))
    assert isinstance(outcome, Rejected)
    assert outcome.problems[0].message == "a FHIR Bundle, and the protocol cannot read it: it " \
        "names no FHIR map to read it with (map \"FILE.yaml\")"


def test_the_same_patient_twice_is_refused(tmp_path, screening, seed, writer):
    path = ndjson(tmp_path / "twice.ndjson", [good(writer, "p"), good(writer, "p")])
    first, second = screening.screen(read_records(str(path), protocol=seed), str(path))
    assert isinstance(first, Decision) and isinstance(second, Rejected)
    assert str(second.problems[0]) == f"{path}:2, patient p, field 'patient': error: " \
        "patient p is already the record at line 1: one record per patient"


# -- the map -----------------------------------------------------------------------------------

MAP_ERRORS = {
    "concepts:\n  egfrr: loinc 62238-1\n": "3:3: error: 'egfrr' is not declared",
    "concepts:\n  egfr: lonic 62238-1\n": "3:9: error: unknown system 'lonic'",
    "concepts:\n  egfr: 62238-1\n": "3:9: error: '62238-1' is not a code",
    "concepts:\n  egfr: loinc 62238-1\n  ast: loinc 62238-1\n":
        "4:8: error: 'loinc 62238-1' is already mapped at line 3",
    "concepts:\n  antimalarial:\n    drugs: {aspirin: loinc 1}\n":
        "4:13: error: 'aspirin' is not a drug of antimalarial",
    "concepts:\n  hbsag:\n    codes: loinc 5196-1\n    values: {loinc 1: maybe}\n":
        "5:23: error: 'maybe' is not a value of hbsag",
    "concepts:\n  egfr: [loinc 1\n": "3:17: error: not YAML",
    "concept:\n  egfr: loinc 1\n": "2:1: error: unknown section 'concept'",
    "concepts:\n  ast:\n    grades: {loinc 1: 2}\n": "4:5: error: 'ast' is not a graded event",
}


@pytest.mark.parametrize("text", sorted(MAP_ERRORS))
def test_a_bad_map_is_one_line_at_its_place(tmp_path, capsys, text):
    protocol = tmp_path / "seed.proto-rules"
    protocol.write_text(SEED.read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "cd19-ucart-sle.fhir-map.yaml").write_text(
        "systems: {loinc: http://loinc.org}\n" + text, encoding="utf-8")
    assert cli.main(["check", str(protocol)]) == 2
    err = capsys.readouterr().err
    first = err.splitlines()[0]
    assert first.startswith(f"{tmp_path / 'cd19-ucart-sle.fhir-map.yaml'}:{MAP_ERRORS[text]}"), err
    assert "^" in err.splitlines()[2]


def test_a_missing_map_stops_bundles_only(tmp_path, capsys, writer):
    """A protocol copied without its map still reads fact files; its Bundles are refused."""
    protocol = tmp_path / "seed.proto-rules"
    protocol.write_text(SEED.read_text(encoding="utf-8"), encoding="utf-8")
    assert cli.main(["check", str(protocol)]) == 0
    assert cli.main(["run", str(protocol), str(PATIENTS), "--quiet"]) == 0
    bundled = ndjson(tmp_path / "b.ndjson", [p01(writer)])
    assert cli.main(["run", str(protocol), str(bundled), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert f"field 'resourceType': error: a FHIR Bundle, and the protocol cannot read it: its " \
        f"FHIR map {tmp_path / 'cd19-ucart-sle.fhir-map.yaml'} is not there" in err


def test_two_maps_are_an_error(compile_text):
    text = SEED.read_text(encoding="utf-8") + '\nmap "other.yaml"\n'
    with pytest.raises(Exception, match="a FHIR map is already named at line"):
        pipeline.load_text(text, str(SEED))


# -- whole runs --------------------------------------------------------------------------------

def test_a_folder_of_bundles_runs_replays_and_verifies(tmp_path, capsys):
    folder = tmp_path / "export"
    folder.mkdir()
    for bundle in bundles(str(SEED), str(PATIENTS)):
        (folder / f"{bundle['id']}.json").write_text(to_json(bundle), encoding="utf-8")
    trail = tmp_path / "trail.jsonl"
    assert cli.main(["run", str(SEED), str(folder), "--trail", str(trail), "--quiet"]) == 0
    assert "4 ELIGIBLE, 15 INELIGIBLE, 4 NEEDS_REVIEW" in capsys.readouterr().err
    args = ["--protocol", str(SEED), "--facts", str(folder)]
    assert cli.main(["replay", str(trail), *args]) == 0
    assert cli.main(["verify", str(trail), *args]) == 0
    assert "facts file" in capsys.readouterr().out
    first = sorted(folder.iterdir())[0]
    first.write_text(first.read_text(encoding="utf-8").replace("2026-05-20", "2026-05-21"),
                     encoding="utf-8")
    assert cli.main(["verify", str(trail), *args]) == 1


def test_one_bundle_file_is_one_patient_and_its_trail_names_its_resources(tmp_path, capsys,
                                                                          writer):
    path = tmp_path / "p01.json"
    path.write_text(json.dumps(p01(writer), indent=2), encoding="utf-8")
    trail = tmp_path / "trail.jsonl"
    assert cli.main(["run", str(SEED), str(path), "--trail", str(trail)]) == 0
    assert "ELIGIBLE" in capsys.readouterr().out
    assert cli.main(["explain", str(trail), "--patient", "P01-eligible"]) == 0
    assert "decision: ELIGIBLE" in capsys.readouterr().out


def test_rescreen_reads_bundles_with_the_new_protocols_map(tmp_path, capsys):
    bundled = ndjson(tmp_path / "bundles.ndjson", bundles(str(SEED), str(PATIENTS)))
    assert cli.main(["rescreen", str(SEED), str(SEED), str(bundled)]) == 0
    assert "23 patients" in capsys.readouterr().out


def test_the_record_fields_a_bundle_adds_are_checked_in_fact_files(screening):
    """`unknown` and `set_aside` may be written in a fact file too; their shape is checked."""
    record = as_read(json.loads(PATIENTS.read_text(encoding="utf-8").splitlines()[0]))
    record["unknown"] = {"ast": "the laboratory withdrew it"}
    record["set_aside"] = [{"resource": "lab report 7", "reason": "unsigned: not read"}]
    (outcome,) = screening.screen([(1, record)], "p.jsonl")
    assert outcome.verdicts["I4.liver"].verdict == "UNKNOWN"
    assert outcome.patient.unusable["ast"] == "the laboratory withdrew it"
    assert [w.message for w in outcome.patient.warnings] == ["unsigned: not read"]
    record["set_aside"] = [{"resource": "lab report 7"}]
    (outcome,) = screening.screen([(1, record)], "p.jsonl")
    assert isinstance(outcome, Rejected)
    assert outcome.problems[0].field == "set_aside.0.reason"


def test_the_example_bundle_is_p04_as_the_writer_writes_it(screening, seed):
    """examples/P04-liver-at-threshold.fhir.json, the README's FHIR run, is P04 of
    examples/patients.jsonl as bench/fhir_bundles.py writes it, and decides as P04 does."""
    example = SEED.parent / "P04-liver-at-threshold.fhir.json"
    written = next(b for b in bundles(str(SEED), str(PATIENTS))
                   if b["id"] == "P04-liver-at-threshold")
    assert as_read(json.loads(example.read_text(encoding="utf-8"))) == as_read(
        json.loads(to_json(written)))
    assert decided(screening, seed, example) == {
        k: v for k, v in decided(screening, seed, PATIENTS).items()
        if k == "P04-liver-at-threshold"}


# -- FHIR out ----------------------------------------------------------------------------------

def test_a_trail_as_fhir(tmp_path, capsys):
    """`fhir TRAIL -o DIR`: the criteria as an EvidenceVariable, each decision as a Bundle of a
    ResearchSubject and an Observation with a component per criterion; all read back by the FHIR
    library, every verdict as the trail has it, the same bytes twice."""
    from fhir.resources.R4B.bundle import Bundle
    from fhir.resources.R4B.evidencevariable import EvidenceVariable

    trail = tmp_path / "trail.jsonl"
    assert cli.main(["run", str(SEED), str(PATIENTS), "--trail", str(trail), "--quiet"]) == 0
    assert cli.main(["fhir", str(trail), "-o", str(tmp_path / "fhir")]) == 0
    assert "decisions.ndjson (23 patients)" in capsys.readouterr().out
    criteria = EvidenceVariable.model_validate_json(
        (tmp_path / "fhir" / "EvidenceVariable.json").read_text(encoding="utf-8"))
    assert [(c.definitionCodeableConcept.coding[0].code, c.exclude)
            for c in criteria.characteristic][:2] == [("I1", False), ("I2", False)]
    assert sum(c.exclude for c in criteria.characteristic) == 13
    lines = (tmp_path / "fhir" / "decisions.ndjson").read_text(encoding="utf-8").splitlines()
    records = read_trail(str(trail))  # each decided patient opened into its old records
    decided = {r["patient"]: r["decision"] for r in records if r["type"] == "decision"}
    verdicts = {(r["patient"], r["criterion"]): r["verdict"] for r in records
                if r["type"] == "criterion"}
    status = {"ELIGIBLE": "eligible", "INELIGIBLE": "ineligible", "NEEDS_REVIEW": "screening"}
    for line in lines:
        subject, observation = (e.resource for e in Bundle.model_validate_json(line).entry)
        pid = subject.individual.identifier.value
        assert subject.status == status[decided[pid]]
        assert observation.valueCodeableConcept.coding[0].code == decided[pid]
        assert {(pid, c.code.coding[0].code): c.valueCodeableConcept.coding[0].code
                for c in observation.component} == {k: v for k, v in verdicts.items()
                                                     if k[0] == pid}
    assert len(lines) == 23
    first = (tmp_path / "fhir" / "decisions.ndjson").read_bytes()
    assert cli.main(["fhir", str(trail), "-o", str(tmp_path / "again")]) == 0
    assert (tmp_path / "again" / "decisions.ndjson").read_bytes() == first


def test_fhir_out_of_a_tampered_trail_says_so(tmp_path, capsys):
    trail = tmp_path / "trail.jsonl"
    assert cli.main(["run", str(SEED), str(PATIENTS), "--trail", str(trail), "--quiet"]) == 0
    trail.write_text(trail.read_text(encoding="utf-8").replace('"ELIGIBLE"', '"INELIGIBLE"', 1),
                     encoding="utf-8")
    capsys.readouterr()
    assert cli.main(["fhir", str(trail), "-o", str(tmp_path / "fhir")]) == 1
    assert "tampered" in capsys.readouterr().out
    (tmp_path / "facts.txt").write_text("not a trail\n", encoding="utf-8")
    assert cli.main(["fhir", str(tmp_path / "facts.txt"), "-o", str(tmp_path / "x")]) == 2
    assert capsys.readouterr().err.count("\n") == 1


PLANNED = """protocol "p" version "1"
concepts:
    planned_surgery: planned event "surgery planned"
    surgery: event "surgery done"
exclusion E1 "Surgery planned within 3 months": planned_surgery within 3 months after screening
exclusion E2 "Surgery in the last year": surgery within 12 months before screening
map "p.fhir-map.yaml"
"""
PLANNED_MAP = f"""systems:
  site: {SITE}
concepts:
  planned_surgery: site planned-surgery
  surgery: site surgery
"""


def test_a_plan_is_a_service_request_or_an_appointment(tmp_path):
    """A planned event is read from a ServiceRequest (its `occurrence[x]`, after screening too)
    or an Appointment booked for it (its `serviceType`, the day it starts), one withdrawn,
    cancelled or done is set aside; a Procedure or a Condition never gives a plan, and a
    ServiceRequest or Appointment never gives an event that is done. The Bundle writer writes a
    plan as a ServiceRequest."""
    (tmp_path / "p.proto-rules").write_text(PLANNED, encoding="utf-8")
    (tmp_path / "p.fhir-map.yaml").write_text(PLANNED_MAP, encoding="utf-8")
    protocol, _ = pipeline.load(str(tmp_path / "p.proto-rules"))
    screening = Screening(pipeline.compile(protocol))
    subject = {"reference": "Patient/x"}

    def coded(code: str) -> dict:
        return {"coding": [{"system": SITE, "code": code}]}
    resources = [
        {"resourceType": "Patient", "id": "x", "birthDate": "1980-01-01"},
        {"resourceType": "ResearchSubject", "id": "rs", "status": "candidate",
         "period": {"start": "2026-03-10"}, "study": {"reference": "ResearchStudy/s"},
         "individual": subject},
        {"resourceType": "ServiceRequest", "id": "plan", "status": "active", "intent": "plan",
         "subject": subject, "code": coded("planned-surgery"),
         "occurrenceDateTime": "2026-06-10"},
        {"resourceType": "ServiceRequest", "id": "revoked", "status": "revoked",
         "intent": "plan", "subject": subject, "code": coded("planned-surgery"),
         "occurrenceDateTime": "2026-04-01"},
        {"resourceType": "Procedure", "id": "done", "status": "completed", "subject": subject,
         "code": coded("planned-surgery"), "performedDateTime": "2026-01-05"},
        {"resourceType": "Condition", "id": "cond", "subject": subject,
         "code": coded("planned-surgery"), "onsetDateTime": "2026-01-05"},
        {"resourceType": "ServiceRequest", "id": "asked", "status": "active", "intent": "order",
         "subject": subject, "code": coded("surgery"), "occurrenceDateTime": "2026-04-01"},
        {"resourceType": "Procedure", "id": "surgery", "status": "completed", "subject": subject,
         "code": coded("surgery"), "performedDateTime": "2025-09-01"},
        {"resourceType": "Appointment", "id": "booked", "status": "booked",
         "serviceType": [coded("planned-surgery")], "start": "2026-09-01T08:30:00Z",
         "participant": [{"actor": subject, "status": "accepted"}]},
        {"resourceType": "Appointment", "id": "kept", "status": "fulfilled",
         "serviceType": [coded("planned-surgery")], "start": "2026-03-01T08:30:00Z",
         "participant": [{"actor": subject, "status": "accepted"}]},
        {"resourceType": "Appointment", "id": "visit", "status": "booked",
         "appointmentType": coded("surgery"), "start": "2026-04-01T08:30:00Z",
         "participant": [{"actor": subject, "status": "accepted"}]},
    ]
    bundle = {"resourceType": "Bundle", "type": "collection",
              "entry": [{"fullUrl": f"urn:uuid:{r['id']}", "resource": r} for r in resources]}
    path = ndjson(tmp_path / "one.ndjson", [bundle])
    (outcome,) = screening.screen(read_records(str(path), protocol=protocol), str(path))
    assert isinstance(outcome, Decision), outcome
    assert {c: v.verdict for c, v in outcome.verdicts.items()} == {"E1": "MET", "E2": "MET"}
    assert [(w.field, w.message) for w in outcome.patient.warnings] == [
        ("ServiceRequest/revoked", "status revoked: set aside"),
        ("Procedure/done", "a Procedure cannot give planned_surgery: a plan is a ServiceRequest "
         "or an Appointment, and planned_surgery is a plan"),
        ("Condition/cond", "a Condition cannot give planned_surgery: a plan is a "
         "ServiceRequest or an Appointment"),
        ("ServiceRequest/asked", "a ServiceRequest cannot give surgery: a plan is a "
         "ServiceRequest or an Appointment, and surgery is not planned"),
        ("Appointment/kept", "status fulfilled: set aside"),
        ("Appointment/visit", "an Appointment cannot give surgery: a plan is a ServiceRequest or "
         "an Appointment, and surgery is not planned")]
    assert [f.date for f in outcome.patient.used["planned_surgery"]] == [
        "2026-06-10", "2026-09-01"]
    # the writer writes a plan as the reader reads it: a ServiceRequest, decided alike
    record = {"patient": "y", "screening_date": "2026-03-10", "facts": [
        {"concept": "planned_surgery", "date": "2026-06-11"},
        {"concept": "surgery", "present": False}]}
    written = Writer(protocol, load_map(protocol)).bundle(record)
    assert [e["resource"]["resourceType"] for e in written["entry"]].count("ServiceRequest") == 1
    as_bundle = decided(screening, protocol, ndjson(tmp_path / "bundle.ndjson", [written]))
    as_facts = decided(screening, protocol, ndjson(tmp_path / "facts.jsonl", [record]))
    assert as_bundle == as_facts == {"y": ("ELIGIBLE", {"E1": "NOT_MET", "E2": "NOT_MET"})}


SIDED = """protocol "sided" version "1"
map "s.fhir-map.yaml"
concepts:
  abi: score valid for 28 days per ankle {left, right}
exclusion E1 "ABI < 0.9 in >= 1 ankle": abi < 0.9 in any ankle
"""
SIDED_MAP = """systems:
  loinc: http://loinc.org
  snomed: http://snomed.info/sct
concepts:
  abi:
    codes: loinc 76497-7
    sides: {left: [snomed 723962006, snomed 51636004], right: snomed 723961004}
"""


def test_a_side_is_an_observations_body_site(tmp_path):
    """A concept measured per side may be mapped once, for every side, its side read from the
    Observation's bodySite (as LOINC codes an ankle-brachial index, the ankle in bodySite); a
    bodySite the map gives no side, or none, is set aside; the writer writes the side so."""
    (tmp_path / "s.proto-rules").write_text(SIDED, encoding="utf-8")
    (tmp_path / "s.fhir-map.yaml").write_text(SIDED_MAP, encoding="utf-8")
    protocol, _ = pipeline.load(str(tmp_path / "s.proto-rules"))
    screening = Screening(pipeline.compile(protocol))

    def abi(ident: str, value: float, *sites: str) -> dict:
        obs = {"resourceType": "Observation", "id": ident, "status": "final",
               "code": {"coding": [{"system": "http://loinc.org", "code": "76497-7"}]},
               "effectiveDateTime": "2026-03-01", "valueQuantity": {"value": value}}
        if sites:
            obs["bodySite"] = {"coding": [{"system": "http://snomed.info/sct", "code": c}
                                         for c in sites]}
        return obs
    resources = [
        {"resourceType": "Patient", "id": "x"},
        {"resourceType": "ResearchSubject", "id": "rs", "status": "candidate",
         "period": {"start": "2026-03-10"}, "study": {"reference": "ResearchStudy/s"},
         "individual": {"reference": "Patient/x"}},
        abi("left", 1.1, "51636004"), abi("right", 0.85, "999", "723961004"),
        abi("knee", 0.5, "72696002"), abi("nowhere", 0.5)]
    bundle = {"resourceType": "Bundle", "type": "collection",
              "entry": [{"fullUrl": f"urn:uuid:{r['id']}", "resource": r} for r in resources]}
    path = ndjson(tmp_path / "one.ndjson", [bundle])
    (outcome,) = screening.screen(read_records(str(path), protocol=protocol), str(path))
    assert isinstance(outcome, Decision), outcome
    assert outcome.verdicts["E1"].verdict == "MET"
    assert outcome.patient.record["abi_left"] == 1.1 and outcome.patient.record["abi_right"] == 0.85
    assert [(w.field, w.message) for w in outcome.patient.warnings] == [
        ("Observation/knee", "abi is measured per ankle: http://snomed.info/sct|72696002 gives "
         "no ankle in the FHIR map: not read"),
        ("Observation/nowhere", "abi is measured per ankle: no coded bodySite gives no ankle in "
         "the FHIR map: not read")]
    record = {"patient": "y", "screening_date": "2026-03-10", "facts": [
        {"concept": "abi", "ankle": "right", "value": 0.8, "date": "2026-03-01"},
        {"concept": "abi", "ankle": "left", "value": 1.0, "date": "2026-03-01"}]}
    written = Writer(protocol, load_map(protocol)).bundle(record)
    as_bundle = decided(screening, protocol, ndjson(tmp_path / "bundle.ndjson", [written]))
    as_facts = decided(screening, protocol, ndjson(tmp_path / "facts.jsonl", [record]))
    assert as_bundle == as_facts == {"y": ("INELIGIBLE", {"E1": "MET"})}


@pytest.mark.parametrize("entry, message", [
    ("abi: {codes: loinc 76497-7, sides: {ankle: snomed 1}}",
     "'ankle' is not a side of abi (left, right)"),
    ("abi: {codes: loinc 76497-7, sides: {left: snomed 1, right: snomed 1}}",
     "'snomed 1' is already the side left"),
    ("abi_left: {codes: loinc 1-1, sides: {left: snomed 1}}",
     "'abi_left' is not measured per side: it has no sides"),
])
def test_a_bad_side_in_the_map_is_one_line(tmp_path, entry, message):
    (tmp_path / "s.proto-rules").write_text(SIDED, encoding="utf-8")
    (tmp_path / "s.fhir-map.yaml").write_text(
        "systems: {loinc: http://loinc.org, snomed: http://snomed.info/sct}\n"
        f"concepts:\n  {entry}\n", encoding="utf-8")
    with pytest.raises(ProtocolError) as error:  # the map is read as the protocol is loaded
        load_map(pipeline.load(str(tmp_path / "s.proto-rules"))[0])
    assert message in str(error.value)
