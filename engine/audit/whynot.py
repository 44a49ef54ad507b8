"""What would change a verdict: for an open criterion, the fewest missing facts that settle it.

The network has decided; this only explains, for a coordinator who must chase data. For a criterion
left UNKNOWN or NEEDS_REVIEW it asks, in the same strong Kleene logic the network compiles, which
smallest sets of open parts, given a value, would let the criterion pass (MET for an inclusion,
NOT_MET for an exclusion), and says what each part would need: "lvef >= 55 %" or "not
hbv_dna > upper reference". Definitions are opened up, so a missing weight under `refractory_sle`
is found from I2. It also says which missing facts could change the verdict at all (`lacking`):
the trail lists those as missing, not every fact the criterion reads.

How the search takes a criterion apart (its condition as a tree of judged parts, the parts that may
be open, their text) is worked out once per protocol (`WhyNot`), as the network is compiled once:
per patient only the parts' judgments and the search itself remain.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations, product

from engine.atoms.derived import missing_inputs
from engine.audit.evidence import Explainer, Part, concepts_read, describe, parts
from engine.record import Patient
from protocol import model as m
from protocol.meaning import meaning

#: Larger searches are cut short: a coordinator needs the first few facts, not every combination.
MOST_OPEN_PARTS = 12
#: How many answers the search keeps per criterion (one per way its parts were judged).
REMEMBERED = 4096
#: Beyond this many open parts every one is taken to matter (`_deciding` tries 3^n ways).
MOST_DECIDING = 6


@dataclass(frozen=True)
class Need:
    """One open part and the value that would let its criterion pass. Its fields in the order of
    their names: the trail writes a need as they are (`to_pass`), keys sorted."""

    condition: str
    line: int
    needs: str


#: A condition compiled for the search: a judged part `(_PART, id, part)`, `(_NOT, node)`, or a
#: connective `(_SOME, nodes, how many must hold)`; a definition is its condition's node.
Node = tuple


@dataclass(frozen=True)
class _Plan:
    """One criterion, taken apart once per protocol: the value it must take to pass, its
    applies-when and condition as nodes, and the parts that may be open, in the search's order
    (definitions opened up), each with the key of the first part equal to it, so that a part met
    twice is chosen once."""

    wanted: str
    applies: Node | None
    condition: Node
    candidates: tuple[tuple[int, Part], ...]
    #: Every part the nodes and candidates read: what is judged per patient.
    parts: tuple[Part, ...]
    #: For each way of judging `parts` met so far: the search's answer, its needs when they do
    #: not depend on the patient (no derived value among them), and the concepts whose facts
    #: could change the verdict (`_deciding`; None: any).
    found: dict[tuple[str, ...], tuple[tuple[tuple[Part, str], ...], tuple[Need, ...] | None,
                                       frozenset[str] | None, bool]]


@dataclass(frozen=True)
class _Said:
    """How a part reads in a need: its line and text, the derived value it compares, whose
    missing inputs are named, and the need for each value it may be given, said without them."""

    line: int
    text: str
    derived: m.Concept | None
    needs: dict[str, Need]


class WhyNot:
    """The why-not search for one protocol; holds nothing of a patient."""

    def __init__(self, protocol: m.Protocol) -> None:
        self.protocol = protocol
        self._definitions = {d.name: d for d in reversed(protocol.definitions)}  # the first
        self._plans: dict[str, _Plan] = {}
        self._said: dict[int, _Said] = {}
        self._equal: dict[object, Part] = {}  # the first part met of each meaning

    def lacking(self, criterion: m.Criterion, patient: Patient,
                explainer: Explainer) -> tuple[frozenset[str] | None, Sequence[Need], bool]:
        """What an open criterion lacks. First, the concepts whose facts could still change its
        verdict: those read by an open part whose value, for some values of the other open
        parts (each given, or still open), changes the verdict; a missing fact read only by
        parts that cannot change it (HCV RNA when the HCV antibody is negative, in `(HCV
        antibody positive and HCV RNA above normal) or HIV positive`) is not one to chase.
        None when more than `MOST_DECIDING` parts are open: any may matter then. Second, the
        fewest open parts that, with the right values, would let it pass; third, whether it
        passes then by not applying (splenectomy attested, for "ANC >= 1.0 unless
        splenectomised": `applies when not splenectomy`), not by its condition.

        Both depend only on how the parts it reads were judged, so they are kept for each way
        they can be judged (of a few, most patients share one), with the needs when no derived
        value's missing inputs are to be named."""
        plan = self._plan_of(criterion)
        judged = explainer.statuses(plan.parts, patient)
        found = plan.found.get(judged)
        if found is None:
            values = dict(zip(map(id, plan.parts), judged))
            chosen = _search(plan, values)
            said = [self._said_of(part) for part, _ in chosen]
            needs = None if any(s.derived for s in said) else tuple(
                s.needs[value] for s, (_, value) in zip(said, chosen))
            deciding = _deciding(plan, values)
            reads = frozenset(name for part in deciding
                              for name in concepts_read(self.protocol, [part])) \
                if deciding else None
            not_applying = bool(chosen) and _verdict(plan, {**values, **{
                id(part): value for part, value in chosen}}) == "not applicable"
            found = chosen, needs, reads, not_applying
            if len(plan.found) < REMEMBERED:
                plan.found[judged] = found
        chosen, needs, reads, not_applying = found
        if needs is None:
            needs = [self._need(part, value, explainer, patient) for part, value in chosen]
        return reads, needs, not_applying

    def _plan_of(self, criterion: m.Criterion) -> _Plan:
        plan = self._plans.get(criterion.id)
        if plan is None:
            plan = self._plans[criterion.id] = self._plan(criterion)
        return plan

    def _said_of(self, part: Part) -> _Said:
        said = self._said.get(id(part))
        if said is None:
            said = self._said[id(part)] = self._say(part)
        return said

    def _need(self, part: Part, value: str, explainer: Explainer, patient: Patient) -> Need:
        said = self._said_of(part)
        need = said.needs[value]
        if said.derived is None:
            return need
        inputs = missing_inputs(said.derived, explainer, patient)  # a derived value: name them
        if not inputs:
            return need
        return Need(said.text, said.line,
                    f"{need.needs} ({said.derived.name} needs {', '.join(inputs)})")

    def _say(self, part: Part) -> _Said:
        text = describe(self.protocol, part)
        concept = self.protocol.concept(part.ref.name) \
            if isinstance(part, (m.Compare, m.InRange)) else None
        derived = concept if concept is not None and concept.formula is not None else None
        denied = describe(self.protocol, part.item).text if isinstance(part, m.Not) else \
            f"not ({text.text})"  # `not (not x)` is x
        needs = {"true": Need(text.text, text.line, text.text),
                 "false": Need(text.text, text.line, denied)}
        if isinstance(part, m.Compare):  # `_least` may find any value of it enough
            needs[ANY] = Need(text.text, text.line, f"{part.ref.name} recorded, whatever its value")
        return _Said(text.line, text.text, derived, needs)

    # -- once per protocol ------------------------------------------------------------------------
    def _plan(self, criterion: m.Criterion) -> _Plan:
        wanted = "true" if criterion.role is m.Role.INCLUSION else "false"
        applies = self._node(criterion.applies) if criterion.applies else None
        condition = self._node(criterion.condition)
        candidates = [(self._key(p), p) for c in (criterion.applies, criterion.condition)
                      for p in self._open(c)]
        read = {id(p): p for p in [*_parts(applies), *_parts(condition)]}
        read.update((id(p), p) for _, p in candidates)
        return _Plan(wanted, applies, condition, tuple(candidates), tuple(read.values()), {})

    def _key(self, part: Part) -> int:
        """Parts that mean the same are one part to the search (the first met of them), wherever
        they are written (`protocol.meaning`)."""
        return id(self._equal.setdefault(meaning(part), part))

    def _open(self, condition: m.Condition | None) -> list[Part]:
        """The parts of a condition that may be open, definitions opened up."""
        found: list[Part] = []
        for part in parts(condition):
            definition = self._definition(part)
            found.extend(self._open(definition.condition) if definition is not None else [part])
        return found

    def _definition(self, part: m.Condition) -> m.Definition | None:
        return self._definitions.get(part.ref.name) if isinstance(part, m.Truth) else None

    def _node(self, condition: m.Condition) -> Node:
        """A judged part, `not` of a condition, a connective with its items and how many must
        hold, or a definition's condition."""
        if isinstance(condition, m.Not) and condition in parts(condition):
            return _PART, id(condition), condition
        if isinstance(condition, m.Not):
            return _NOT, self._node(condition.item)
        if isinstance(condition, m.AtLeast) and parts(condition) == [condition]:
            return _PART, id(condition), condition
        if isinstance(condition, (m.And, m.Or, m.AtLeast)):
            items = condition.items
            need = {m.And: len(items), m.Or: 1}.get(type(condition), getattr(condition, "count", 0))
            return _SOME, tuple(self._node(item) for item in items), need
        definition = self._definition(condition)
        if definition is not None:
            return self._node(definition.condition)
        return _PART, id(condition), condition


def _search(plan: _Plan, judged: dict[int, str]) -> tuple[tuple[Part, str], ...]:
    """The first set of open parts, fewest first, and their values that let the criterion
    pass; none when its applies-when is false or no set does. Of single parts, the least a
    coordinator must find (`_least`)."""
    applies = _value(plan.applies, judged) if plan.applies else "true"
    if applies == "false":
        return ()
    open_parts = [same[0] for same in _open_groups(plan, judged)][:MOST_OPEN_PARTS]
    single = [(part, value) for part in open_parts for value in ("true", "false")
              if _passes(plan, {**judged, id(part): value})]
    if single:
        return _least(single)
    for size in range(2, len(open_parts) + 1):
        for chosen in combinations(open_parts, size):
            keys = [id(part) for part in chosen]
            for values in product(("true", "false"), repeat=size):
                if _passes(plan, {**judged, **dict(zip(keys, values))}):
                    return tuple(zip(chosen, values))
    return ()


#: A need met by any value of the concept a part compares (`_least`).
ANY = "any"


def _least(single: list[tuple[Part, str]]) -> tuple[tuple[Part, str], ...]:
    """Of the single parts that would each let a criterion pass, what to say a coordinator
    must find: where two comparisons of one concept pass between them whatever its value
    (`bm_plasma_cells < 50 %` and `>= 50 %` each pass, a platelet count sufficing either
    way), the concept recorded; else the first, or the weakest comparison of its concept that
    passes (`erosions >= 1` rather than `erosions >= 3`, when one erosion and a positive RF
    pass)."""
    halves = [(part, value, _half(part, value)) for part, value in single]
    for (part, _, half), (_, _, other) in combinations(halves, 2):
        if half and other and half[:2] == other[:2] and _covers(half[2:], other[2:]):
            return ((part, ANY),)
    least = halves[0]
    for other in halves[1:]:
        if least[2] and other[2] and least[2][:2] == other[2][:2] and \
                _within(least[2][2:], other[2][2:]):
            least = other
    return ((least[0], least[1]),)


def _half(part: Part, value: str) -> tuple[str, str | None, str, object] | None:
    """The values a comparison of a concept with a number lets through when it takes
    `value`: (concept, unit, operator, threshold); None for any other part."""
    if not isinstance(part, m.Compare) or part.op not in _TURNED:
        return None
    op = part.op if value == "true" else _TURNED[part.op]
    return part.ref.name, part.threshold.unit, op, part.threshold.value


_TURNED = {">=": "<", ">": "<=", "<=": ">", "<": ">="}


def _covers(one: tuple[str, object], other: tuple[str, object]) -> bool:
    """Whether two half-lines (operator, threshold) hold every value between them."""
    (up, low), (down, high) = sorted([one, other], key=lambda h: h[0][0] != ">")
    if up[0] != ">" or down[0] != "<":
        return False
    return low < high or (low == high and "=" in up + down)


def _within(one: tuple[str, object], other: tuple[str, object]) -> bool:
    """Whether half-line `one` holds every value `other` does (`>= 3` within `>= 1`)."""
    (op, at), (other_op, other_at) = one, other
    if op[0] != other_op[0]:
        return False
    if at == other_at:
        return "=" in other_op or "=" not in op
    return at > other_at if op[0] == ">" else at < other_at


def _deciding(plan: _Plan, judged: dict[int, str]) -> tuple[Part, ...] | None:
    """The open parts whose value changes the verdict for some values of the other open parts,
    each true, false or still unknown (parts equal as values take one value together), found
    by trying every way; None beyond `MOST_DECIDING` of them. Unknown is among the ways because
    the network decides in strong Kleene logic, where a part read twice can keep a verdict open
    that every true-or-false value of it would settle (`d and not (a and d)` with `a` true).
    Passing as met and passing as not applicable are one outcome: an applies-when beside a
    condition that passes does not decide it."""
    groups = _open_groups(plan, judged)
    if len(groups) > MOST_DECIDING:
        return None
    verdicts = {}
    for values in product(("true", "false", "unknown"), repeat=len(groups)):
        given = dict(judged)
        for same, value in zip(groups, values):
            given.update(dict.fromkeys(map(id, same), value))
        verdicts[values] = "passes" if _passes(plan, given) else _verdict(plan, given)
    return tuple(same[0] for place, same in enumerate(groups) if any(
        verdict != verdicts[(*values[:place], "unknown", *values[place + 1:])]
        for values, verdict in verdicts.items() if values[place] != "unknown"))


def _open_groups(plan: _Plan, judged: dict[int, str]) -> list[list[Part]]:
    """The candidate parts judged unknown, those that mean the same together, in the search's
    order: each group is one open part to the search, its first the one a need names. A part
    read only inside what is decided already (a definition true by one of its items, "any of
    [a, ..., f]" with f true) is none: strong Kleene logic keeps a decided value whatever its
    open parts turn out to be, so they cannot change the verdict (VIALE-A's helper was sent to
    chase five such facts)."""
    live: set[int] = set()
    for node in (plan.applies, plan.condition):
        if node is not None:
            _live(node, judged, live)
    groups: dict[int, list[Part]] = {}
    for equal, part in plan.candidates:
        if judged[id(part)] == "unknown":
            groups.setdefault(equal, []).append(part)
    return [same for same in groups.values() if any(id(part) in live for part in same)]


def _live(node: Node, values: dict[int, str], live: set[int]) -> None:
    """Add to `live` the parts a node reads outside its decided sub-nodes."""
    if node[0] is _PART:
        live.add(node[1])
    elif _value(node, values) == "unknown":
        for item in (node[1],) if node[0] is _NOT else node[1]:
            _live(item, values, live)


def _verdict(plan: _Plan, values: dict[int, str]) -> str:
    """The criterion's verdict as the network gives it: not applicable when its applies-when is
    false, its condition's value when true; while it may be either, the value it must take if
    it takes it (it passes whether or not it applies), else open (unknown)."""
    applies = _value(plan.applies, values) if plan.applies else "true"
    if applies == "false":
        return "not applicable"
    held = _value(plan.condition, values)
    return held if applies == "true" or held == plan.wanted else "unknown"


def _parts(node: Node | None) -> list[Part]:
    """The parts a node reads."""
    if node is None:
        return []
    if node[0] is _PART:
        return [node[2]]
    if node[0] is _NOT:
        return _parts(node[1])
    return [p for item in node[1] for p in _parts(item)]


def _passes(plan: _Plan, values: dict[int, str]) -> bool:
    """Whether the criterion passes: it does not apply, or it takes the value it must."""
    return _verdict(plan, values) in ("not applicable", plan.wanted)


def _value(node: Node, values: dict[int, str]) -> str:
    """Strong Kleene evaluation of a node over the parts' values (judged, or given by the
    search); a part among a connective's items is read in place, without a call."""
    kind = node[0]
    if kind is _PART:
        return values[node[1]]
    if kind is _NOT:
        return _NEGATED.get(_value(node[1], values), "unknown")
    _, items, need = node
    found = [values[item[1]] if item[0] is _PART else _value(item, values) for item in items]
    if found.count("true") >= need:
        return "true"
    return "false" if found.count("false") > len(found) - need else "unknown"


_PART, _NOT, _SOME = "part", "not", "some"
_NEGATED = {"true": "false", "false": "true"}
