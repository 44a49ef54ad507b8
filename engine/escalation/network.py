"""Dose escalation decided by the rule network: escalation rules compiled to durable_rules.

The same approach as engine/compile.py: the engine's own ruleset dict, loaded by engine/host.Host;
Python only counts and validates the facts (engine/escalation/cohort.py) and builds one *state*
fact. Per decision, one session:

1. the state fact `{t: s, treated, evaluable, dlt, ...}`: counts at the current level and its
   neighbours, and yes/no facts as 0/1 (the names of `model.ESCALATION_COUNTS` and `_FLAGS`);
2. the engine's own PENDING rule: a complete cohort whose DLT windows are still open (or an open
   window at another level) gets no decision;
3. one rule per escalation rule of the design (more if the engine's expression budget splits it),
   whose pattern is its condition; for a design read top to bottom (3+3 as written) rule i's pattern
   also excludes rules 1..i-1, so at most one holds. It asserts the decision `{t: x, v: MOVE}`;
4. HOLD: an ESCALATE decision while a required safety review is not signed;
5. at the end marker, NO_RULE when nothing decided: a gap in the design, reported as an error;
6. for BOIN and decision tables (i3+3, mTPI-2), one fact per dose level and one rule per
   elimination cut-off flag the levels whose own counts meet the elimination rule (the MTD
   selection leaves them and those above out). A level an earlier decision eliminated comes
   with `out` (engine/escalation/deviations.py finds them): it stays eliminated whatever its counts
   say now (more patients infused there against the design), so the next level up is never
   recommended past it, and from an eliminated current level the trial moves below it.

Deviations from the design are decided in the same network, one session per cohort file:
one *infusion* fact per patient with the day numbers and counts the trial's history gives
(engine/escalation/deviations.py), and one rule per kind of deviation (`DEVIATIONS`).
"""

from __future__ import annotations

import hashlib
from bisect import bisect_right
import json
from collections import Counter
from dataclasses import dataclass, field

from engine.escalation import boin as B
from engine import patterns as P
from engine.escalation import tite as T
from engine.host import Host
from protocol import escalation_model as em
from protocol import model as m
from protocol.errors import Diagnostic, ProtocolError, Severity

NEGATE = {">=": "<", ">": "<=", "<=": ">", "<": ">=", "==": "!=", "!=": "=="}
STATE = {"t": "s"}
#: Decisions wait for end marker 0, when everything derived from the state is there; NO_RULE
#: looks for a decision at end marker 1.
END = ({"e": {"$and": [{"t": "end"}, {"s": 0}]}}, {"e": {"$and": [{"t": "end"}, {"s": 1}]}})
#: The end markers the host asserts, one a stratum, as `END` waits for them.
ENDS = ((0,), (1,))
ABOVE = {"$and": [{"t": "d"}, {"n": B.ELIMINATED_ABOVE}]}
PENDING_WHEN = P.any_of(
    P.test(">", "pending_elsewhere", 0),
    P.all_of(P.test(">", "pending", 0), P.test("==", "cohort_complete", 1)),
)
DECIDABLE = P.all_of(
    P.test("==", "pending_elsewhere", 0),
    P.any_of(P.test("==", "pending", 0), P.test("==", "cohort_complete", 0)),
)
#: A level fact of a level an earlier decision eliminated (`at`: its place from the current level).
OUT = P.all_of(P.test("==", "t", "l"), P.test("==", "out", 1))
OUT_LOWEST = P.all_of(OUT, P.test("==", "i", 0))
#: The state fact's `eliminated`: the current level is one an earlier decision eliminated.
HERE_OUT = P.test("==", "eliminated", 1)


def _on(field: str, op: str, other: str) -> P.Pattern:
    """A test of one field of the infusion fact against another (day numbers, level indexes)."""
    return P.test(op, field, {"$m": other})


ESCALATES = P.test("==", "escalates", 1)
REVIEW = P.all_of(ESCALATES, P.test("==", "review_required", 1))
#: The deviations from the design, one rule each, on a patient's infusion fact: (rule, kind,
#: pattern). The facts' numbers are the trial's history as engine/escalation/deviations.py reads it.
DEVIATIONS = (
    ("dev:eliminated", "eliminated", _on("level", ">=", "out_from")),
    ("dev:skipped", "skipped", P.all_of(_on("level", ">", "start"),
                                        P.test("==", "tried_below", 0))),
    ("dev:window", "window", P.all_of(ESCALATES, P.test("==", "waits", 1),
                                      _on("assessed_below", ">", "infused"))),
    ("dev:review-missing", "review", P.all_of(REVIEW, P.test("==", "review", 0))),
    ("dev:review-late", "review", P.all_of(REVIEW, _on("review", ">", "infused"))),
    ("dev:under-dosed", "under-dosed", P.test("==", "partial", 1)),
)
#: TITE-BOIN decides with outcomes pending; only the MTD's selection at the maximum waits.
TITE_PENDING_WHEN = P.all_of(
    P.test("==", "full", 1),
    P.any_of(P.test(">", "pending", 0), P.test(">", "pending_elsewhere", 0)),
)
TITE_DECIDABLE = P.any_of(
    P.test("==", "full", 0),
    P.all_of(P.test("==", "pending", 0), P.test("==", "pending_elsewhere", 0)),
)


@dataclass(frozen=True)
class EscalationAction:
    """What an engine rule concludes; the host reads `fact`, the report reads the rest."""

    rule: str
    kind: str  # "decision" | "hold" | "none" | "eliminated" | "level" | "derived"
    #          | "deviation" | "infusion"
    value: str = ""  # the decision: a move, "STOP:<mtd>" or "PENDING"; a deviation's kind
    source: em.EscalationRule | None = None
    boundary: dict[str, object] | None = None

    @property
    def fact(self) -> dict | None:
        if self.kind == "derived":
            return {"t": "d", "n": B.ELIMINATED_ABOVE, "v": "T"}
        return {"t": "x", "n": "decision", "v": self.value} if self.kind == "decision" else None


#: How many numbers of evaluable patients one ruleset decides. Every decision rule joins the end
#: marker, and durable_rules links at most 256 rules to one alpha node (BETA_LIST_LENGTH; error
#: 108): BOIN's up to 8 rules per number of patients fit 24 numbers to a ruleset, with room.
PATIENTS_PER_RULESET = 24


@dataclass
class EscalationNetwork:
    """A protocol's escalation, compiled: the ruleset and what decisions and reports need.

    A design whose rules are per number of evaluable patients (BOIN: `bands`, rule -> n) is split
    into rulesets beginning at `starts` (every `PATIENTS_PER_RULESET` numbers; TITE-BOIN, as many
    as fit `tite.RULES_PER_RULESET` rules), every one with the rules that hold for
    any number (pending, the full sample, an incomplete cohort, the review hold, elimination); a
    state is decided by the ruleset of its number of evaluable patients. `rules` is all of them.
    """

    protocol: m.Protocol
    escalation: em.Escalation
    design: em.Design
    boundaries: B.Boundaries | None
    name: str
    rules: dict[str, dict]
    actions: dict[str, EscalationAction]
    digest: str = field(default="")
    bands: dict[str, int] = field(default_factory=dict)
    starts: tuple[int, ...] = (1,)  # the first number of patients of each ruleset
    band_by: str = "evaluable"  # the state's count the bands are of (TITE-BOIN: `counted`)

    @property
    def reads(self) -> tuple[str, ...]:
        """The state fact's fields some rule tests: two states equal on these get the same
        answer, so a caller may ask once for all of them (`simulate.chart` does)."""
        found: set[str] = set()
        for body in self.rules.values():
            for part in body["all"]:
                if "s" in part:
                    _fields(part["s"], found)
        return tuple(sorted(found))

    def cuts(self, name: str, band: int | None = None) -> list[int]:
        """The values at which some rule's test of the whole-number field `name` changes truth,
        sorted: two values with as many cuts at or below them (`bisect_right`) pass the same
        tests (TITE-BOIN's simulation buckets the state so). With `band`, only the rules of that
        number of patients and those of every number.

        >>> from grammar.parser import parse_file
        >>> net = compile_escalation(parse_file("examples/tite-boin.proto-rules"))
        >>> net.cuts("followup", 9), net.cuts("pending_elsewhere")
        ([15, 22, 45, 61, 75, 105], [0, 1])
        """
        found: set[int] = set()
        for rule, body in self.rules.items():
            if band is not None and self.bands.get(rule, band) != band:
                continue
            for part in body["all"]:
                if "s" in part:
                    _cuts(part["s"], name, found)
        return sorted(found)

    @property
    def parts(self) -> int:
        """How many rulesets the network is loaded as."""
        return len(self.starts)

    def part_of(self, state: dict[str, int]) -> int:
        """The ruleset that decides `state`: the one holding its number of evaluable patients."""
        return bisect_right(self.starts, max(1, state.get(self.band_by, 0))) - 1

    def ruleset(self, part: int = 0) -> dict[str, dict]:
        """Ruleset `part` (of `parts`), under a name of its own."""
        held = {rule: body for rule, body in self.rules.items()
                if rule not in self.bands or self.part_of({self.band_by: self.bands[rule]}) == part}
        name = self.name if self.parts == 1 else f"{self.name}/part{part}"
        return {name: {rule: {**body, "run": self.actions[rule]} for rule, body in held.items()}}

    @property
    def levels(self) -> tuple[em.DoseLevel, ...]:
        return self.escalation.levels


def compile_escalation(protocol: m.Protocol) -> EscalationNetwork:
    """Compile a checked protocol's escalation section (built once per process, no trial state).

    >>> from grammar.parser import parse_file
    >>> net = compile_escalation(parse_file("examples/cd19-ucart-sle.proto-rules"))
    >>> net.design.name, sorted({a.value for a in net.actions.values() if a.kind == "decision"})[:3]
    ('three_plus_three', ['DE-ESCALATE', 'ESCALATE', 'EXPAND'])
    """
    escalation = protocol.escalation
    assert escalation is not None and escalation.maximum is not None
    bounds, used = None, {}
    tite = isinstance(escalation.design, em.Boin) and escalation.design.tite
    if isinstance(escalation.design, em.Boin):
        if tite:
            window = T.window_days(escalation.dlt_window)
            assert window is not None
            design, used = T.design(escalation.design, escalation.maximum, window)
        else:
            design, used = B.design(escalation.design, escalation.maximum)
        bounds = B.boundaries(escalation.design, escalation.maximum)
    else:
        assert escalation.design is not None
        found = protocol.design(escalation.design.name)
        assert found is not None
        design = found
        if found.table is not None:
            design, bounds, used = B.table_design(found, escalation.maximum)
    rules: dict[str, dict] = {}
    actions: dict[str, EscalationAction] = {}
    bands: dict[str, int] = {}

    def add(rule: str, body: list[dict], action: EscalationAction) -> None:
        rules[rule], actions[rule] = {"all": body}, action

    add(
        "esc:PENDING",
        [END[0], _state(TITE_PENDING_WHEN if tite else PENDING_WHEN)],
        EscalationAction("esc:PENDING", "decision", "PENDING"),
    )
    earlier: list[m.Condition] = []
    # with elimination, a design's rules decide only while the current level is in the trial
    gone = P.test("==", "eliminated", 0) if bounds is not None else P.TRUE
    for rule in design.rules:
        own, derived = _own_and_derived(rule.condition)
        excluded = [] if design.exclusive else [pattern(c, negate=True) for c in earlier]
        earlier.append(rule.condition)
        whole = P.all_of(own, TITE_DECIDABLE if tite else DECIDABLE, gone, *excluded)
        for index, part in enumerate(P.pack(whole) if whole != P.FALSE else []):
            name = f"r:{rule.id}#{index}"
            add(
                name,
                [END[0], _state(part), *derived],
                EscalationAction(name, "decision", value_of(rule.move), rule, used.get(rule.id)),
            )
            if rule.id in used:
                bands[name] = int(used[rule.id]["n"])  # type: ignore[call-overload]
    add(
        "esc:HOLD",
        [
            {"d": {"$and": [{"t": "x"}, {"v": "ESCALATE"}]}},
            _state(P.all_of(P.test("==", "review_required", 1), P.test("==", "reviewed", 0))),
        ],
        EscalationAction("esc:HOLD", "hold"),
    )
    add(
        "esc:NO_RULE",
        [END[1], {"s": STATE}, {"d$not": {"t": "x"}}],
        EscalationAction("esc:NO_RULE", "none"),
    )
    if bounds is not None:
        add("esc:level", [{"l": {"t": "l"}}], EscalationAction("esc:level", "level"))
        for index, (lo, hi, cut) in enumerate(B.elimination_groups(bounds)):
            band = [P.test(">=", "n", lo), P.test("<=", "n", hi), P.test(">=", "y", cut)]
            name = f"esc:eliminated#{index}"
            add(
                name,
                [{"l": P.to_json(P.all_of(P.test("==", "t", "l"), *band))}],
                EscalationAction(name, "eliminated"),
            )
            higher = "higher_counted" if tite else "higher_evaluable"
            above = [
                P.test(">=", higher, lo),
                P.test("<=", higher, hi),
                P.test(">=", "higher_dlt", cut),
            ]
            name = f"esc:eliminated-above#{index}"
            add(name, [_state(P.all_of(*above))], EscalationAction(name, "derived"))
        _stays_out(add, TITE_DECIDABLE if tite else DECIDABLE)
    for rule, kind, when in DEVIATIONS:
        add(rule, [{"i": P.to_json(P.all_of(P.test("==", "t", "i"), when))}],
            EscalationAction(rule, "deviation", kind))
    add("dev:infusion", [{"i": {"t": "i"}}], EscalationAction("dev:infusion", "infusion"))
    if tite:  # TITE-BOIN has many more rules per number of patients than BOIN
        per_n = Counter(bands.values())
        if max(per_n.values()) > T.RULES_PER_RULESET:
            raise T.too_large(protocol, per_n)
    digest = hashlib.sha256(json.dumps(rules, sort_keys=True).encode()).hexdigest()
    name = f"{protocol.id or 'protocol'}@{protocol.version or '0'}/escalation#{digest[:12]}"
    return EscalationNetwork(protocol, escalation, design, bounds, name, rules, actions, digest,
                             bands, _starts(bands, tite), "counted" if tite else "evaluable")


def _starts(bands: dict[str, int], tite: bool) -> tuple[int, ...]:
    """Where each ruleset begins: every 24 numbers of patients (BOIN), or as many numbers as
    fit `tite.RULES_PER_RULESET` rules (TITE-BOIN's grow with the number: 20 at 6, 163 at 60)."""
    largest = max(bands.values(), default=1)
    if not tite:
        return tuple(range(1, largest + 1, PATIENTS_PER_RULESET))
    per_n = Counter(bands.values())
    starts, held = [1], 0
    for n in range(1, largest + 1):
        if held + per_n[n] > T.RULES_PER_RULESET:
            starts.append(n)
            held = 0
        held += per_n[n]
    return tuple(starts)


def _stays_out(add, decidable: P.Pattern) -> None:
    """The engine's rules for levels an earlier decision eliminated: flagged like the levels
    their counts eliminate; the level above the current one out keeps the design from
    escalating into it; an eliminated current level moves the trial below the lowest level
    out (ELIMINATE), and the lowest level out stops it with no MTD."""
    add("esc:out", [{"l": P.to_json(OUT)}], EscalationAction("esc:out", "eliminated"))
    add("esc:out-above", [{"l": P.to_json(P.all_of(OUT, P.test("==", "at", 1)))}],
        EscalationAction("esc:out-above", "derived"))
    here = _state(P.all_of(HERE_OUT, decidable))
    add("esc:OUT", [END[0], here, {"z$not": P.to_json(OUT_LOWEST)}],
        EscalationAction("esc:OUT", "decision", "ELIMINATE"))
    add("esc:OUT-lowest", [END[0], here, {"o": P.to_json(OUT_LOWEST)}],
        EscalationAction("esc:OUT-lowest", "decision", "STOP:none"))


def _fields(pattern: dict, found: set[str]) -> None:
    """The field names a durable_rules pattern tests (`{"$gte": {"dlt": 2}}` tests `dlt`)."""
    for key, value in pattern.items():
        if key in ("$and", "$or"):
            for item in value:
                _fields(item, found)
        elif key.startswith("$"):
            found.update(value)
        else:
            found.add(key)


def _cuts(pattern: dict, name: str, found: set[int]) -> None:
    """Where a test of `name` changes truth: at v for >= and <, v + 1 for > and <=, both for ==."""
    shift = {"$gte": (0,), "$lt": (0,), "$gt": (1,), "$lte": (1,), "$neq": (0, 1)}
    for key, value in pattern.items():
        if key in ("$and", "$or"):
            for item in value:
                _cuts(item, name, found)
        elif key in shift and name in value:
            found.update(value[name] + d for d in shift[key])
        elif key == name:
            found.update((value, value + 1))


def value_of(move: em.Move) -> str:
    return f"STOP:{move.mtd}" if move.kind == "STOP" and move.mtd else move.kind


def pattern(condition: m.Condition, negate: bool = False) -> P.Pattern:
    """A two-valued condition on the state fact (every field is always there: no Kleene logic)."""
    if isinstance(condition, (m.And, m.Or)):
        items = [pattern(item, negate) for item in condition.items]
        conjunction = isinstance(condition, m.And) != negate
        return P.all_of(*items) if conjunction else P.any_of(*items)
    if isinstance(condition, m.Not):
        return pattern(condition.item, not negate)
    if isinstance(condition, m.AtLeast):
        count = len(condition.items) - condition.count + 1 if negate else condition.count
        return P.at_least(count, [pattern(item, negate) for item in condition.items])
    if isinstance(condition, m.Truth):
        return P.test("==", condition.ref.name, 0 if negate else 1)
    assert isinstance(condition, m.Compare)
    op = NEGATE[condition.op] if negate else condition.op
    return P.test(op, condition.ref.name, int(condition.threshold.value))


def _state(pattern_: P.Pattern) -> dict:
    return {"s": P.to_json(P.all_of(P.test("==", "t", "s"), pattern_))}


def _own_and_derived(condition: m.Condition) -> tuple[P.Pattern, list[dict]]:
    """A rule's pattern on the state fact, and its joins on the derived "eliminated above" fact
    (only BOIN's generated rules test it, as a top-level item of their conjunction)."""
    items = condition.items if isinstance(condition, m.And) else (condition,)
    own, derived = [], []
    for item in items:
        negated = isinstance(item, m.Not)
        atom = item.item if isinstance(item, m.Not) else item
        if isinstance(atom, m.Truth) and atom.ref.name == B.ELIMINATED_ABOVE:
            derived.append({"h$not": ABOVE} if negated else {"h": ABOVE})
        else:
            own.append(pattern(item))
    return P.all_of(*own), derived


# --- asking the network ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """What the network concluded for one state."""

    value: str
    action: EscalationAction
    hold: bool
    eliminated: frozenset[int]  # levels whose own counts meet the elimination rule
    fired: tuple[str, ...]


class Escalator:
    """A compiled escalation loaded into its own host; `ask` decides one state."""

    def __init__(self, network: EscalationNetwork) -> None:
        self.network = network
        self.hosts = [Host(network.ruleset(part)) for part in range(network.parts)]
        self._sessions = 0

    def ask(
        self,
        state: dict[str, int],
        counts: list[tuple[int, int]] | None = None,
        out: frozenset[int] = frozenset(),
        current: int = 0,
    ) -> Answer:
        """The decision for a state fact. `counts`, (evaluable, DLTs) per level, are asserted too
        when given, for BOIN's elimination flags, with `out` the levels an earlier decision
        eliminated (`current` the current level's index). A state no rule decides is the
        design's gap: a `ProtocolError` at the design."""
        self._sessions += 1
        sid = f"e{self._sessions}"
        facts = [{**state, "sid": sid}]
        if self.network.boundaries is not None and counts:
            facts += [
                {"t": "l", "i": i, "n": n, "y": y, "sid": sid}
                | ({"out": 1, "at": i - current} if i in out else {})
                for i, (n, y) in enumerate(counts)
            ]
        host = self.hosts[self.network.part_of(state)]
        firings = host.session(sid, facts, ENDS)
        actions = host.actions
        decided = [actions[f.rule] for f in firings if actions[f.rule].kind == "decision"]
        eliminated = frozenset(
            json.loads(f.message)[f.rule]["l"]["i"]
            for f in firings
            if actions[f.rule].kind == "eliminated"
        )
        if not decided:
            raise self._gap(state)
        return Answer(
            decided[0].value,
            decided[0],
            any(actions[f.rule].kind == "hold" for f in firings),
            eliminated,
            tuple(f.rule for f in firings),
        )

    def deviations(self, facts: list[dict]) -> list[tuple[int, str, str]]:
        """The deviations the network finds in infusion facts (engine/escalation/deviations.py makes
        them): (the fact's `p`, the deviation's kind, the rule), in firing order."""
        if not facts:  # the engine crashes on a session of no facts
            return []
        self._sessions += 1
        sid = f"e{self._sessions}"
        host = self.hosts[0]
        firings = host.session(sid, [{**fact, "sid": sid} for fact in facts], ())
        found = []
        for firing in firings:
            action = host.actions[firing.rule]
            if action.kind == "deviation":
                fact = json.loads(firing.message)[firing.rule]["i"]
                found.append((fact["p"], action.value, firing.rule))
        return found

    def _gap(self, state: dict[str, int]) -> ProtocolError:
        design = self.network.design
        shown = ", ".join(
            f"{k} = {v}"
            for k, v in state.items()
            if k in em.ESCALATION_COUNTS or k in em.ESCALATION_FLAGS
        )
        message = f"no rule of '{design.name}' decides this state: {shown}"
        diagnostic = Diagnostic(design.span, Severity.ERROR, "escalation-gap", message)
        protocol = self.network.protocol
        return ProtocolError([diagnostic], protocol.source_of(design.span.file))


# --- from an answer to the next step --------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """An answer read against the trial: where the next cohort goes, or what the study found."""

    move: str  # ESCALATE, STAY, EXPAND, DE-ESCALATE, ELIMINATE, STOP, PENDING, SUSPEND
    mtd_kind: str | None  # for STOP: a key of model.MTD_OUTCOMES
    next_level: int | None  # None when the study stops (or waits)
    mtd: int | None  # the level declared MTD (index), when one is
    eliminated: tuple[int, ...]  # levels out of the trial (BOIN), lowest first


def step(
    network: EscalationNetwork, answer: Answer, current: int, counts: list[tuple[int, int]]
) -> Step:
    """Read an answer at level `current`, with (evaluable, DLTs) per level.

    A move a design cannot make here (escalate from the highest level, de-escalate from the
    lowest) is the design's error, reported at the rule.
    """
    move, _, mtd_kind = answer.value.partition(":")
    top = len(network.levels) - 1
    out = min(answer.eliminated, default=None)
    if move == "ELIMINATE":
        out = current if out is None else min(out, current)
    eliminated = tuple(range(out, top + 1)) if out is not None else ()
    impossible = {
        "ESCALATE": current == top,
        "DE-ESCALATE": current == 0,
        "ELIMINATE": out == 0,
        "STOP": mtd_kind == "lower" and current == 0,
    }
    if impossible.get(move):
        raise _impossible(network, answer.action, current)
    if move in ("PENDING", "SUSPEND"):
        return Step(move, None, None, None, eliminated)
    if move == "ELIMINATE":  # below the lowest level out (the current one, unless it deviated)
        assert out is not None
        return Step(move, None, out - 1, None, eliminated)
    if move != "STOP":
        delta = {"ESCALATE": 1, "DE-ESCALATE": -1}.get(move, 0)
        return Step(move, None, current + delta, None, eliminated)
    mtd = {"this": current, "lower": current - 1}.get(mtd_kind)
    if mtd_kind == "select":
        if network.boundaries is None:
            raise _impossible(network, answer.action, current)
        bounds = network.boundaries
        out = set(answer.eliminated) | ({0} if bounds.unsafe_lowest(*counts[0]) else set())
        mtd = B.select_mtd(counts, out, bounds.target)
    return Step(move, mtd_kind or None, None, mtd, eliminated)


def _impossible(
    network: EscalationNetwork, action: EscalationAction, current: int
) -> ProtocolError:
    rule = action.source
    level = network.levels[current].id
    where = (
        "the only"
        if len(network.levels) == 1
        else ("the highest" if current == len(network.levels) - 1 else "the lowest")
    )
    words = {
        "ESCALATE": "escalates from",
        "DE-ESCALATE": "de-escalates from",
        "ELIMINATE": "de-escalates from",
        "STOP": "declares the level below",
    }
    move = action.value.partition(":")[0]
    if action.value == "STOP:select":
        text = (
            f"rule {rule.id if rule else action.rule} selects the MTD by isotonic regression, "
            "which needs BOIN's target DLT rate"
        )
    else:
        text = f"rule {rule.id if rule else action.rule} {words[move]} {level}, {where} level"
    span = rule.span if rule else network.design.span
    diagnostic = Diagnostic(span, Severity.ERROR, "escalation-move", text)
    return ProtocolError([diagnostic], network.protocol.source_of(span.file))


def render_condition(condition: m.Condition, top: bool = True) -> str:
    """A condition as an author would write it, for the trail and the explanation."""
    if isinstance(condition, (m.And, m.Or)):
        word = " and " if isinstance(condition, m.And) else " or "
        text = word.join(render_condition(item, False) for item in condition.items)
        return text if top or isinstance(condition, m.And) else f"({text})"
    if isinstance(condition, m.Not):
        return f"not {render_condition(condition.item, False)}"
    if isinstance(condition, m.AtLeast):
        items = ", ".join(render_condition(item) for item in condition.items)
        return f"at least {condition.count} of [{items}]"
    if isinstance(condition, m.Truth):
        return condition.ref.name
    assert isinstance(condition, m.Compare)
    return f"{condition.ref.name} {condition.op} {condition.threshold.value}"


def names_in(condition: m.Condition) -> list[str]:
    """The state names a condition reads, in first-use order."""
    return list(dict.fromkeys(atom.ref.name for atom in m.atoms(condition)))
