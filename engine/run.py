"""Run a compiled network over patients: normalise each, fire the network, read the decision.

`screen` takes an iterator of fact records and yields one outcome per patient, so memory stays flat in
the number of patients; the network and its host are built once and keep no patient state between
calls (each patient's session is deleted), so the same function runs unchanged inside worker processes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from functools import partial
from typing import Iterable, Iterator, NamedTuple

import orjson

from engine.atoms.derived import shown_number
from engine.compile import Network
from engine.factfile import Located, Unparsed, patient_id
from engine.facts import Normaliser
from engine.host import Firing, Host, Refused
from engine.kleene import KNOWN
from engine.record import Patient
from protocol.errors import EngineError, FactError, FactProblem

BAD = {"inclusion": "NOT_MET", "exclusion": "MET"}
#: How many patients the engine may refuse before a run stops: each refusal leaves a session held
#: in the engine (1,024 at most per host), and so many say that the protocol is beyond the engine,
#: not that a few patients are.
REFUSED_AT_MOST = 100


class Verdict(NamedTuple):
    """One criterion's verdict for one patient, with the rule firings that concluded it.

    A named tuple, not a frozen dataclass: every patient has one per criterion, and a frozen
    dataclass costs several times as much to build."""

    criterion: str
    role: str
    verdict: str
    rules: tuple[str, ...]


#: A `Verdict` made from a tuple of its four fields, without the named tuple's own constructor.
verdict = partial(tuple.__new__, Verdict)


@dataclass
class Decision:
    """A patient's decision with every reason, as the network concluded it."""

    patient: Patient
    decision: str
    reasons: list[Verdict]
    verdicts: dict[str, Verdict]
    derived: dict[str, tuple[str, tuple[str, ...]]] = field(default_factory=dict)
    firings: list[str] = field(default_factory=list)


@dataclass
class Rejected:
    """A patient set aside because its facts could not be used; the problems say where and why."""

    line: int
    patient: str | None
    problems: list[FactProblem]


class Screening:
    """A network loaded into its own host, with the normaliser for its concepts."""

    def __init__(self, network: Network) -> None:
        self.network = network
        self.host = Host(network.ruleset())
        self.normaliser = Normaliser(network.protocol, network.layout)
        self._sessions = 0
        self.refusals = 0  # patients the engine refused (`_refused`)
        self._leaves = [(leaf.id, leaf.role.value, ("verdict", leaf.id)) for leaf in network.leaves]
        self._order = {leaf.id: i for i, leaf in enumerate(network.leaves)}
        self._derived = [(name, ("derived", name)) for name in (*network.definitions,
                                                                 *network.values)]
        # Per rule, what its firing says: the (kind, target) it concludes about, None for a
        # decision rule, and the value; read once here rather than per firing.
        self._says = {rule: (None if action.kind == "decision" else (action.kind, action.target),
                             action.value) for rule, action in network.actions.items()}

    def decide(self, patient: Patient) -> Decision:
        """Fire the network for one normalised patient and read verdicts and decision off it."""
        self._sessions += 1
        sid = str(self._sessions)
        firings = self.host.session(sid, self.network.facts(sid, patient.record), self.network.ends)
        return self._read(patient, firings)

    def _read(self, patient: Patient, firings: list[Firing]) -> Decision:
        fired: dict[tuple[str, str], list[str]] = {}
        values: dict[tuple[str, str], str] = {}  # the first value concluded about each
        decisions: set[str] = set()
        reasons: list[str] = []
        for rule, message, fact in firings:
            key, value = self._says[rule]
            if fact is not None:  # a derived value: its number (or bounds) as exact decimal text
                value = fact["v"] if fact["v"] != KNOWN else shown_number(fact)
            if key is None:
                decisions.add(value)
                if value != "ELIGIBLE":
                    reasons.append(orjson.loads(message)[rule]["v"]["c"])
            elif key in fired:
                fired[key].append(rule)
            else:
                fired[key] = [rule]
                values[key] = value
        if len(decisions) != 1:
            raise EngineError(f"patient {patient.id}: the network decided {sorted(decisions) or 'nothing'}")
        verdicts = {}
        for leaf_id, role, key in self._leaves:
            if key not in values:
                raise EngineError(f"patient {patient.id}: no verdict for {leaf_id}")
            verdicts[leaf_id] = verdict((leaf_id, role, values[key], tuple(fired[key])))
        derived = {name: (values[key], tuple(fired[key])) for name, key in self._derived
                   if key in values}
        listed = [verdicts[c] for c in sorted(set(reasons), key=self._order.__getitem__)]
        return Decision(patient, decisions.pop(), listed, verdicts, derived,
                        [f.rule for f in firings])

    def screen(
        self, records: Iterable[tuple[int, object]], path: str, screening: date | None = None
    ) -> Iterator[Decision | Rejected]:
        """Decide each record in turn; a record whose facts are unusable is yielded as `Rejected`."""
        for line, data in records:
            where = path, line  # where a problem of it is said: a folder's, at its file's line
            if type(data) is Unparsed:
                data = data.parsed(path, line)
            elif type(data) is Located:
                data, where = data.data, (data.file, data.line)
            if isinstance(data, FactProblem):
                yield Rejected(line, data.patient, [data])
                continue
            try:
                patient = self.normaliser.patient(data, path, line, screening, where)
            except FactError as error:
                yield Rejected(line, patient_id(data), error.problems)
                continue
            try:
                decided = self.decide(patient)
            except Refused as refused:
                yield self._refused(patient, where, refused)
                continue
            yield decided

    def _refused(self, patient: Patient, where: tuple[str, int], refused: Refused) -> Rejected:
        """A patient the engine could not decide, set aside as a record whose facts could not be
        used, saying why; the run goes on, unless the engine has refused too many."""
        self.refusals += 1
        if self.refusals > REFUSED_AT_MOST:
            raise EngineError(f"the rule engine refused more than {REFUSED_AT_MOST} patients, the "
                              f"last {patient.id} (record {patient.line}): {refused}")
        return Rejected(patient.line, patient.id, [FactProblem(
            *where, patient.id, None, None,
            f"the rule engine could not decide this patient: {refused}")])
