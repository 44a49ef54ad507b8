"""A decision trail as FHIR R4B, so other FHIR tools read the screening: the protocol's
criteria as an EvidenceVariable, and per patient a Bundle of a ResearchSubject (its status the
decision) and an Observation of the decision with one component per criterion (its verdict).

Everything is read from the trail, not from the protocol or the facts: what is written is what
was decided, and the trail file's SHA-256 is named in each Observation. Every resource is
validated with `fhir.resources` before it is written; the same trail gives the same bytes.

Codes are of proto-rules' own systems (`urn:proto-rules:...`): a decision and a verdict have no
standard code, and a criterion is coded by its id within its protocol.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any, Iterable, Iterator

from fhir.resources.R4B import get_fhir_model_class

from engine.console import writing

DECISIONS = "urn:proto-rules:decision"
VERDICTS = "urn:proto-rules:verdict"
#: The ResearchSubject status of each decision (R4B's research-subject-status codes).
SUBJECT_STATUS = {"ELIGIBLE": "eligible", "INELIGIBLE": "ineligible",
                  "NEEDS_REVIEW": "screening"}
#: What a FHIR id may be: an id that is not one is written as a digest of itself.
FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")


def criteria_system(protocol: dict[str, Any]) -> str:
    """The code system of a protocol's criterion ids: `urn:proto-rules:cd19-ucart-sle:criterion`."""
    return f"urn:proto-rules:{protocol['id']}:criterion"


def fhir_id(text: str) -> str:
    """`text` as a FHIR id: itself when it is one, else `h-` and 40 hex digits of its SHA-256.

    >>> fhir_id("P01-eligible"), fhir_id("patient 7")[:10]
    ('P01-eligible', 'h-380e1c62')
    """
    return text if FHIR_ID.fullmatch(text) else "h-" + hashlib.sha256(
        text.encode("utf-8")).hexdigest()[:40]


def evidence_variable(records: list[dict[str, Any]]) -> dict[str, Any]:
    """The protocol's criteria, as the trail records them, as one EvidenceVariable: every
    inclusion holds and no exclusion does (`intersection`, exclusions `exclude`)."""
    run = records[0]["protocol"]
    protocol = next(r for r in records if r["type"] == "protocol")
    system = criteria_system(run)
    characteristics = [{
        "description": f"{entry['id']} ({entry['role']}): {entry['text']}",
        "definitionCodeableConcept": {"coding": [{"system": system, "code": entry["id"]}],
                                      "text": entry["text"]},
        "exclude": entry["role"] == "exclusion"}
        for entry in protocol["criteria"]]
    document = {"resourceType": "EvidenceVariable", "id": fhir_id(run["id"]),
                "url": f"urn:proto-rules:{run['id']}", "version": run["version"],
                "name": run["id"], "status": "active",
                "description": f"eligibility criteria of {run['id']} version {run['version']} "
                f"({run['file']}, sha256 {run['sha256']})",
                "characteristicCombination": "intersection",
                "characteristic": characteristics}
    return _valid(document)


def decisions(records: Iterable[dict[str, Any]], trail_sha256: str) -> Iterator[dict[str, Any]]:
    """One Bundle per decided patient, in trail order (a rejected record has no decision)."""
    run: dict[str, Any] = {}
    patient: dict[str, Any] | None = None
    verdicts: list[dict[str, Any]] = []
    for record in records:
        kind = record["type"]
        if kind == "run":
            run = record
        elif kind == "patient":
            patient, verdicts = record, []
        elif kind == "criterion" and patient is not None:
            verdicts.append(record)
        elif kind == "decision" and patient is not None:
            yield _valid(_bundle(run, patient, verdicts, record, trail_sha256))
            patient = None


def _bundle(run: dict[str, Any], patient: dict[str, Any], verdicts: list[dict[str, Any]],
            decision: dict[str, Any], trail_sha256: str) -> dict[str, Any]:
    protocol = run["protocol"]
    pid = patient["patient"]
    ident = fhir_id(pid)
    individual = {"identifier": {"value": pid}, "display": pid}
    subject = {"resourceType": "ResearchSubject", "id": f"{ident}-subject",
               "status": SUBJECT_STATUS[decision["decision"]],
               "study": {"reference": f"ResearchStudy/{fhir_id(protocol['id'])}"},
               "individual": individual}
    system = criteria_system(protocol)
    provenance = f"decided by {run['tool']} ({run['engine']}), network {run['network']['name']}, " \
        f"protocol sha256 {protocol['sha256']}; trail sha256 {trail_sha256}"
    observation = {
        "resourceType": "Observation", "id": f"{ident}-eligibility", "status": "final",
        "code": {"coding": [{"system": f"urn:proto-rules:{protocol['id']}",
                             "code": "eligibility"}],
                 "text": f"eligibility for {protocol['id']} version {protocol['version']}"},
        "subject": individual,
        "focus": [{"reference": f"ResearchSubject/{ident}-subject"}],
        "valueCodeableConcept": {"coding": [{"system": DECISIONS,
                                             "code": decision["decision"]}]},
        "note": [{"text": provenance}],
        "component": [{"code": {"coding": [{"system": system, "code": v["criterion"]}]},
                       "valueCodeableConcept": {"coding": [{"system": VERDICTS,
                                                            "code": v["verdict"]}]}}
                      for v in verdicts]}
    if patient.get("screening_date"):
        subject["period"] = {"start": patient["screening_date"]}
        observation["effectiveDateTime"] = patient["screening_date"]
    return {"resourceType": "Bundle", "id": f"{ident}-decision", "type": "collection",
            "entry": [{"resource": subject}, {"resource": observation}]}


def _valid(document: dict[str, Any]) -> dict[str, Any]:
    """The document, once the FHIR library has read it without a complaint (a refusal is a bug
    of ours, raised as the library's error)."""
    get_fhir_model_class(document["resourceType"]).model_validate(document)
    return document


def write(records: list[dict[str, Any]], trail_sha256: str, folder: Path) -> str:
    """`EvidenceVariable.json` and `decisions.ndjson` of a trail's records into `folder`; what
    was written, in a line."""
    with writing(str(folder / "EvidenceVariable.json"), "FHIR output") as out:
        out.write(json.dumps(evidence_variable(records), indent=2, sort_keys=True,
                             ensure_ascii=False) + "\n")
    count = 0
    with writing(str(folder / "decisions.ndjson"), "FHIR output") as out:
        for bundle in decisions(records, trail_sha256):
            out.write(json.dumps(bundle, sort_keys=True, ensure_ascii=False) + "\n")
            count += 1
    return (f"{folder}: EvidenceVariable.json ({len(records[1]['criteria'])} criteria), "
            f"decisions.ndjson ({count} patients)")
