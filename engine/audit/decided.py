"""A decided patient's trail record, written as its line (`Decided.line`).

A decided record is nearly all of a trail: a patient's facts used, the evidence of every part of
the definitions and criteria, each one's value or verdict and the rules that fired (see
`engine/audit/trail.py` for what it holds and why). Here it goes straight to its line, before and
after its `prev` (`engine.audit.trail.unchained`), in the trail's canonical form (keys sorted,
compact, UTF-8: `engine.audit.trail.canonical`, byte for byte):

- each object is built with its keys in sorted order, so that orjson writes it as it is, without
  sorting keys, and the line is cut around `prev` as it is written, not built as a record first;
- what is taken from the patient's judged parts and facts is taken by places worked out once per
  protocol (a part's evidence, a criterion's concepts), and what an open criterion lacks and needs
  is worked out once per way its parts were judged where it can be (`engine/audit/whynot.py`);
- a need is written as the dataclass it is (orjson writes its fields in order).

Writing the line as text directly (the patient's strings escaped by one call to orjson, put in
pre-encoded slots by one `%` formatting) was measured and cost more than this: in CPython, a
string made, joined and formatted costs about what a dict entry does, and orjson writes dicts in C.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from itertools import chain
from typing import Any

import orjson

from engine.compile import Network
from engine.audit.evidence import Explainer, Judges, Part
from engine.audit.trail import MARK
from engine import record as R
from engine.record import Patient, UsedFact
from engine.run import Decision
from engine.audit.whynot import WhyNot
from protocol import model as m

#: The verdicts whose criterion says what it lacks (`Decided._open`).
OPEN = frozenset({"UNKNOWN", "NEEDS_REVIEW"})


class Decided:
    """How a decided patient's record is written, worked out once per network (as the network is
    compiled once): the parts judged for its evidence, and where each record takes its own."""

    def __init__(self, network: Network, parts: dict[str, list[Part]],
                 reads: dict[str, list[str]]) -> None:
        protocol = network.protocol
        self.protocol = protocol
        judgments = {c.name for c in protocol.concepts if c.kind is m.Kind.JUDGMENT}
        #: Each criterion's concepts, and whether each awaits an investigator's judgment: what
        #: an open one lacks (`_open`).
        self._lacking = {key: [(name, name in judgments) for name in names]
                         for key, names in reads.items()}
        self._whynot = WhyNot(protocol)
        # Every part of the definitions and criteria judged in one pass per patient; each one's
        # evidence is then its parts' places in that pass.
        self._judges = Judges((p for key in (*network.definitions, *reads) for p in parts[key]),
                              protocol.narrowed)
        place = self._judges.place

        def evidence(key: str) -> Callable[[list[str]], Sequence[str]]:
            return _picker([place[id(p)] for p in parts[key]])
        #: Each criterion, how its evidence and facts are taken from the patient's, in order;
        #: then each definition with its evidence.
        self._criteria = [(leaf, evidence(leaf.id), tuple(reads[leaf.id]))
                          for leaf in network.leaves]
        self._definitions = [(name, evidence(name)) for name in network.definitions]

    def line(self, outcome: Decision) -> tuple[str, str]:
        """A decided patient's record as its trail line, before and after its `prev`
        (`engine.audit.trail.unchained`): the facts used, each once, then the definitions and the
        criteria in the order of the protocol record, which says their ids, roles, sentences
        and condition parts, so that none of it is repeated per patient. Each part's evidence is
        its mark (+ holds, - does not, ? cannot be judged) and the detail, and the facts a
        criterion read are indexes into the patient's facts; the decision's reasons name the
        criteria, whose verdicts say the rest."""
        patient = outcome.patient
        explainer = Explainer(self.protocol, outcome.derived)
        marked = [MARK[status] + detail for status, detail in
                  explainer.every(self._judges, patient)]
        used, verdicts, criteria = patient.used, outcome.verdicts, []
        for leaf, evidence, reads in self._criteria:
            verdict = verdicts[leaf.id]
            facts = [f[0] for name in reads for f in used.get(name, ())]
            if verdict.verdict in OPEN:
                criteria.append({"evidence": evidence(marked), "facts": facts,
                                 "fired": verdict.rules, **self._open(leaf, patient, explainer),
                                 "verdict": verdict.verdict})
            else:
                criteria.append({"evidence": evidence(marked), "facts": facts,
                                 "fired": verdict.rules, "verdict": verdict.verdict})
        derived = outcome.derived
        definitions = [{"evidence": evidence(marked), "fired": derived[name][1],
                        "value": derived[name][0]} for name, evidence in self._definitions]
        head = orjson.dumps({"criteria": criteria, "decision": outcome.decision,
                             "definitions": definitions, "facts": _facts(patient.used),
                             "patient": patient.id}).decode()
        warnings = orjson.dumps([str(w) for w in patient.warnings]).decode() \
            if patient.warnings else "[]"
        reasons = orjson.dumps([v.criterion for v in outcome.reasons]).decode()
        return head[:-1] + ',"prev":"', (
            f'","reasons":{reasons},"record":{patient.line},"screening_date":'
            f'"{patient.screening.isoformat()}","type":"decided","warnings":{warnings}}}')

    def _open(self, leaf: m.Criterion, patient: Patient,
              explainer: Explainer) -> dict[str, Any]:
        """What an open criterion lacks: the facts missing or awaiting judgment that could change
        its verdict (every one, when the search does not say which), and the fewest open parts
        whose values would let it pass (`WhyNot.lacking`), saying so when it would pass by not
        applying."""
        used, unusable, record = patient.used, patient.unusable, patient.record
        wanted, to_pass, not_applying = self._whynot.lacking(leaf, patient, explainer)
        missing, pending = [], []
        for name, judgment in self._lacking[leaf.id]:
            # a list used is what it lacks only while it is open (given through narrower ones)
            if name in used and not R.open_list(record, explainer.wholes, name) or \
                    wanted is not None and name not in wanted:
                continue
            if judgment:
                pending.append(name)
            else:
                missing.append({"concept": name, "reason": unusable.get(name, "no usable fact")})
        if not_applying:  # keys in the canonical (sorted) order
            return {"missing": missing, "passes_as": "NOT_APPLICABLE", "pending": pending,
                    "to_pass": to_pass}
        return {"missing": missing, "pending": pending, "to_pass": to_pass}


def _picker(places: list[int]) -> Callable[[list[str]], Sequence[str]]:
    """What takes the items at `places` from a list, in one call (a slice for one place, or
    none, which `itemgetter` alone would not give as a sequence)."""
    if len(places) > 1:
        return operator.itemgetter(*places)
    first = places[0] if places else 0
    return operator.itemgetter(slice(first, first + len(places)))


def _facts(used: dict[str, list[UsedFact]]) -> list[dict[str, Any]]:
    """The facts used, each once and in the order of the patient's facts, each with its empty
    fields left out (`engine.audit.trail.FACT_FIELDS` puts them back as null) and a number as its
    exact text; keys in their sorted order, as the line writes them. Field by field, in one
    loop: a patient has dozens of facts, and this is several times quicker than a loop over
    each one's fields."""
    written = []
    for index, concept, value, unit, day, converted, note in _in_order(used):
        fields = {"concept": concept}
        if converted is not None:
            fields["converted"] = converted
        if day is not None:
            fields["date"] = day
        fields["index"] = index
        if note is not None:
            fields["note"] = note
        if unit is not None:
            fields["unit"] = unit
        if value is not None:
            fields["value"] = str(value) if type(value) in _NUMBERS else value
        written.append(fields)
    return written


def _in_order(used: dict[str, list[UsedFact]]) -> list[UsedFact]:
    """The facts used, by their index, then their concept: a fact of a narrower concept is used
    for the broader one too. Sorted by index alone first, which is quicker, and again only when
    two share one."""
    facts = sorted(chain.from_iterable(used.values()), key=_INDEX)
    if len(set(map(_INDEX, facts))) < len(facts):
        facts.sort(key=_BY_INDEX)
    return facts


#: The types of a fact's value written as text (not `bool`, which is an `int` but reads as
#: true or false).
_NUMBERS = (int, float)
#: A used fact's place among the patient's facts: its index, then its concept.
_INDEX, _BY_INDEX = operator.itemgetter(0), operator.itemgetter(0, 1)
