"""Derived values: a number the network computes from other concepts by a formula (`crcl`, `bmi`).

A derived value is a node of its own, like a definition. Its rules match the patient record (and
the facts of derived values it reads): one rule per way of deciding the formula (`formula.paths`),
whose patterns require every input the formula reads on that way and each conditional term's
condition decided true or false (strong Kleene, as any condition). Its action (`Compute`) works the
formula out in exact rationals from the values in the firing's message, rounds once
(`formula.rounded`), and concludes `{t: d, n: crcl, v: N, q: 66.454545}`. When no such rule fires,
the node concludes U at its end marker (an input missing or stale, a condition unknown) or R (a
condition awaits an investigator's judgment), as a definition does.

A comparison `crcl >= 60 mL/min` joins that fact with a test on `q` (`kleene.measured`), the
threshold converted into the declared unit by the facts' rounding rule; its evidence shows the
formula with the patient's numbers, the result, and the inputs it read, or names the inputs that
are missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from engine import patterns as P
from engine import record as R
from engine.atoms.base import Judged, Reader, compared, exact, threshold_of
from engine.kleene import KNOWN, NUMBER, Kleene, Terms, both, conjunction, known, measured
from protocol import formula as f
from protocol import model as m

if TYPE_CHECKING:
    from engine.atoms.base import Build
    from engine.record import Patient

#: How a conditional term's outcome is spelt in a rule's name: `q:crcl:N1#0` took the first term's
#: `then`, `N0` its `else`, `N?` both (its condition open for want of data); `-` a term not
#: needed on that way.
OUTCOME = {True: "1", False: "0", None: "?"}
#: A case's node value each outcome joins: an open case's is U (data missing); one awaiting a
#: judgment (R) leaves the value open, as before, for what reads it to await that judgment too.
JOINED = {True: "T", False: "F", None: "U"}


@dataclass(frozen=True)
class Way:
    """One way of deciding a formula: the outcome of each conditional term, the terms (patterns
    and joins) that must hold, and the action that computes the value."""

    bits: str
    terms: Terms
    compute: Compute


@dataclass(frozen=True)
class Node:
    """A derived value compiled: its ways, when it stays open (`open.d`: data missing), and each
    case of its conditional terms as a node of its own with its condition compiled."""

    ways: tuple[Way, ...]
    open: Kleene
    cases: tuple[tuple[str, Kleene], ...]


def case_node(concept: str, case: int) -> str:
    """The node deciding a case of a derived value's conditional terms (`formula.Plan.cases`):
    true, false, or open (U, R) at its end marker, as a definition is."""
    return f"{concept}?{case}"


def plan_of(concept: m.Concept, protocol: m.Protocol) -> f.Plan:
    """The formula's evaluation plan; the protocol has been checked, so there is one."""
    concepts = {c.name: c for c in protocol.concepts}
    definitions = {d.name: d for d in protocol.definitions}
    plan, problems = f.analyse(concept, concepts, definitions)
    assert plan is not None, problems
    return plan


def compile_node(concept: m.Concept, build: Build) -> Node:
    """The rules' ingredients for the node of derived value `concept`: a way per outcome of its
    cases (each true, false or open for want of data: then both branches are read, and the
    value is the least and greatest of the two), joined with each case's node."""
    plan = plan_of(concept, build.protocol)
    nodes = {case: case_node(concept.name, case) for case in sorted(set(plan.cases))}
    cases = tuple((node, build.kleene(plan.choices[case].condition))
                  for case, node in nodes.items())
    derived = {c.name for c in build.protocol.concepts if c.kind is m.Kind.DERIVED}
    ways = []
    for chosen, names in f.paths(plan):
        present = [known(n) if n in derived else ((_given(n)[0], frozenset()),) for n in names]
        outcomes = {plan.cases[i]: outcome for i, outcome in chosen.items()}
        decided = [((P.TRUE, frozenset({(nodes[case], JOINED[outcome])})),)
                   for case, outcome in sorted(outcomes.items())]
        bits = "".join(OUTCOME[chosen[i]] if i in chosen else "-"
                       for i in range(len(plan.choices)))
        ways.append(Way(bits, both(*present, *decided),
                        Compute(concept.name, plan, chosen, tuple(n for n in names if n in derived),
                                tuple(n for n in names if n not in derived))))
    inputs = list(dict.fromkeys(n for _, names in f.paths(plan) for n in names))
    for name in inputs:
        if f.averaged(name):
            build.layout.means.add(f.averaged(name))
        if name not in derived:
            build.layout.read(build.concepts[f.averaged(name) or name])
    read = [Kleene((), (), *_given(n)[::-1], frozenset()) for n in inputs if n not in derived]
    uses = frozenset(n for n in inputs if n in derived) | frozenset(nodes.values())
    opened = conjunction([*read, Kleene((), (), P.FALSE, P.TRUE, uses)])
    return Node(tuple(ways), opened, cases)


class Compute:
    """An action's computation: the derived fact from the facts a firing matched.

    A class rather than a closure so that a compiled network can be pickled to worker processes.
    """

    def __init__(self, name: str, plan: f.Plan, chosen: dict[int, bool | None],
                 derived: tuple[str, ...], recorded: tuple[str, ...]) -> None:
        self.name, self.plan, self.chosen = name, plan, chosen
        self.derived, self.recorded = derived, recorded
        #: The record fields it reads: each input's, and its bounds' (`group_record_patterns`).
        self.fields = tuple(field for name in recorded
                            for field in (_field(name), *R.bounds(_field(name))[:2]))

    def __call__(self, matched: dict[str, dict[str, Any]]) -> dict[str, Any]:
        values = {}
        for fact in matched.values():
            if fact.get("t") == "p":
                for name in self.recorded:
                    value = _read(fact, name)
                    if value is not None:
                        values[name] = value
            elif fact.get("t") == "d" and fact.get("n") in self.derived:
                values[fact["n"]] = _within(fact, NUMBER)
        try:
            low, high = f.evaluate_within(self.plan, values, self.chosen)
        except (ZeroDivisionError, ValueError):
            return {"t": "d", "n": self.name, "v": "U"}
        return {"t": "d", "n": self.name, "v": KNOWN, **written(low, high)}


def written(low: Fraction | float, high: Fraction | float) -> dict[str, float]:
    """A derived number as its node's fact holds it, rounded once: `q`, or where an input was
    known only within bounds its least and greatest (`q__lo`, `q__hi`; an unbounded side
    absent), each reached (the rounding reaches an end an open bound only approached)."""
    ends = [None if abs(end) == f.INF else float(f.rounded(end))  # type: ignore[arg-type]
            for end in (low, high)]
    if ends[0] == ends[1]:
        return {NUMBER: ends[0]}  # type: ignore[dict-item]
    return {field: end for field, end in zip(R.bounds(NUMBER), ends) if end is not None}


def _exact(number: float) -> Fraction:
    """A record number as the exact decimal it stands for (its shortest repr)."""
    return Fraction(repr(number))


def _mean(results: list[f.Interval]) -> f.Interval:
    """The exact mean of one day's results (`mean(qtcf)`), each the exact decimal it stands for:
    469, 470 and 472 ms give 1411/3 ms, which the formula rounds once, at its end; where a result
    is known only within bounds, from the mean of the least to the mean of the greatest."""
    count = len(results)
    return (sum((r[0] for r in results), Fraction(0)) / count,
            sum((r[1] for r in results), Fraction(0)) / count)


def _read(fields: dict[str, Any], name: str) -> f.Interval | None:
    """An input's exact value in a fact the network matched, or in the record the trail reads:
    its number, or for `mean(qtcf)` the mean of its day's results, or the interval of a value
    known only within bounds ("< 0.5": 0 to 0.5); None when it is not there."""
    averaged = f.averaged(name)
    if averaged is not None:
        results = day_results(fields, averaged)
        return None if results is None else _mean(results)
    if name not in fields and R.bounds(name)[0] not in fields:
        return None
    return _within(fields, name)


def day_results(fields: dict[str, Any], name: str) -> list[f.Interval] | None:
    """The results of `name`'s latest day in a record or a fact (`Values._results`), each the
    values it allows; None when there are none."""
    day = R.day_field(name)
    if day in fields:
        return [f.point(_exact(result)) for result in fields[day]]
    low, high = R.bounds(day)[:2]
    if low not in fields:
        return None
    highs = fields.get(high) or [f.INF] * len(fields[low])
    return [(_exact(lo), f.INF if hi == f.INF else _exact(hi))
            for lo, hi in zip(fields[low], highs)]


def _within(fields: dict[str, Any], name: str) -> f.Interval:
    """The values the record or a derived fact allows `name`: its number, or within its bounds
    (closed: a derived value rounds to an end a bound only approached; upper unbounded when
    absent, as is the lower of a derived number)."""
    if name in fields:
        return f.point(_exact(fields[name]))
    low, high = R.bounds(name)[:2]
    return (_exact(fields[low]) if low in fields else -f.INF,
            _exact(fields[high]) if high in fields else f.INF)


def _given(name: str) -> tuple[P.Pattern, P.Pattern]:
    """When the record holds a value for input `name` of a formula (a number, or its bounds; for
    a mean, the day's numbers only, as many as it needs), and when it holds none."""
    fields = (name, R.bounds(name)[0]) if not f.averaged(name) else \
        (_field(name), R.bounds(_field(name))[0])
    given = P.any_of(*(P.test("$ex", field, 1) for field in fields))
    lacking = P.all_of(*(P.test("$nex", field, 1) for field in fields))
    least = f.fewest(name)
    if least == 1:
        return given, lacking
    counted = R.day_count_field(f.averaged(name))
    return P.all_of(given, P.test(">=", counted, least)), \
        P.any_of(lacking, P.test("<", counted, least))


def _field(name: str) -> str:
    """The record field an input of a formula reads: a concept's own, or for `mean(qtcf)` the
    results of its latest day (`record.day_field`)."""
    averaged = f.averaged(name)
    return name if averaged is None else R.day_field(averaged)


# --- comparisons ----------------------------------------------------------------------------------


def compile_compare(atom: m.Compare | m.InRange, concept: m.Concept) -> Kleene:
    """A threshold on the node's number, or a range as its two (both ends counted)."""
    if isinstance(atom, m.Compare):
        return measured(concept.name, atom.op, float(threshold_of(concept, atom.threshold)))
    low, high = (float(threshold_of(concept, q)) for q in (atom.low, atom.high))
    return conjunction([measured(concept.name, ">=", low), measured(concept.name, "<=", high)])


def judge_compare(atom: m.Compare | m.InRange, reader: Reader, patient: Patient) -> Judged:
    """`crcl = (140 - 54) x 72 / (72 x 1.1) x 0.85 = 66.454545 mL/min (age 54 years, ...);
    needs >= 60 mL/min`, or `crcl: unknown: creatinine: no fact given`; with an input known only
    within bounds, `crcl = (140 - 50) x 72 / (72 x (< 0.5)) x 1 >= 180 mL/min (...)`, decided
    where every value it may have gives the same answer (`base.compared`, as the network does)."""
    concept, plan, tests, required = reader.constant(atom, _compare_constants)
    value, detail = explain(concept, plan, reader, patient)
    if value is None:
        return "unknown", detail
    fields = number_fields(value)
    answers = [compared(fields, NUMBER, op, threshold) for op, threshold in tests]
    held = "false" if "false" in answers else "unknown" if "unknown" in answers else "true"
    return held, f"{detail}; {required}"


def _compare_constants(atom: m.Compare | m.InRange, reader: Reader) -> tuple:
    """The concept, its formula's plan, the comparison's tests and its words: once per protocol."""
    concept = reader.concepts[atom.ref.name]
    plan = plan_of(concept, reader.protocol)
    if isinstance(atom, m.InRange):
        low, high = (threshold_of(concept, q) for q in (atom.low, atom.high))
        return concept, plan, ((">=", float(low)), ("<=", float(high))), \
            f"needs {_plain(low)} to {_plain(high)} {concept.unit}"
    threshold = threshold_of(concept, atom.threshold)
    required = f"needs {atom.op} {_plain(threshold)} {concept.unit}"
    return concept, plan, ((atom.op, float(threshold)),), required


def shown_number(fact: dict[str, Any]) -> str:
    """A derived number as the trail writes it: `66.454545`, or within the bounds an input left
    it, `>= 180`, `<= 12.5` or `60.1 to 75.2` (read back by `number_fields`)."""
    if NUMBER in fact:
        return exact(fact[NUMBER])
    low, high = (fact.get(field) for field in R.bounds(NUMBER)[:2])
    if high is None:
        return f">= {exact(low)}"  # type: ignore[arg-type]
    return f"<= {exact(high)}" if low is None else f"{exact(low)} to {exact(high)}"


def number_fields(text: str) -> dict[str, float]:
    """The fields of a derived number's fact from its text (`shown_number`).

    >>> number_fields("66.454545"), number_fields(">= 180"), number_fields("1 to 2.5")
    ({'q': 66.454545}, {'q__lo': 180.0}, {'q__lo': 1.0, 'q__hi': 2.5})
    """
    low, high = R.bounds(NUMBER)[:2]
    if text.startswith(">= "):
        return {low: float(text[3:])}
    if text.startswith("<= "):
        return {high: float(text[3:])}
    first, to, last = text.partition(" to ")
    return {low: float(first), high: float(last)} if to else {NUMBER: float(text)}


def explain(concept: m.Concept, plan: f.Plan, reader: Reader,
            patient: Patient) -> tuple[str | None, str]:
    """The network's value of a derived concept for this patient (`shown_number`), and how it
    came about."""
    value, rules = reader.derived.get(concept.name, ("U", ()))
    if value == "R":
        return None, f"{concept.name}: open: a condition awaits an investigator's judgment"
    computed = bool(rules) and _computed(concept.name, rules[0])
    chosen = _chosen(rules[0]) if computed else {}
    if value == "U":
        if computed:  # every input was there, but the formula has no value for them
            reasons = [f"cannot be computed from {_inputs(plan, chosen, reader, patient)}"]
        else:
            reasons = _missing(concept, reader, patient, set())
        return None, f"{concept.name}: unknown: " + "; ".join(reasons or ["no value"])
    text = _substituted(concept.formula, plan, _numbers(plan, reader, patient), chosen,
                        reader.concepts, patient.record)
    result = value if value[:1] in "<>" else f"= {value}"
    return value, (f"{concept.name} = {text} {result} {concept.unit} "
                   f"({_inputs(plan, chosen, reader, patient)})")


def _computed(name: str, rule: str) -> bool:
    """Whether `rule` is one of the rules that compute `name` (rather than leave it open)."""
    return rule.startswith(f"q:{name}:{KNOWN}")


def _chosen(rule: str) -> dict[int, bool | None]:
    """The outcome of each conditional term, from the name of the rule that computed the value
    (None: open, both branches read)."""
    bits = rule.split(":")[2].split("#")[0][1:]
    return {i: None if bit == "?" else bit == "1" for i, bit in enumerate(bits) if bit != "-"}


def _missing(concept: m.Concept, reader: Reader, patient: Patient, seen: set[str]) -> list[str]:
    """Why a derived value is unknown: each input (or condition's concept) that is missing or
    stale, found through the derived values it reads."""
    reasons = []
    assert concept.formula is not None
    averages = f.averages(concept.formula)
    for name in m.formula_names(concept.formula):
        if name in seen:
            continue
        seen.add(name)
        inner = reader.concepts.get(name)
        if name in averages and day_results(patient.record, name) is None:
            reasons.append(reader.missing(patient, name)[1])
            continue
        too_few = _too_few(patient, name, averages[name]) if name in averages else None
        if too_few:
            reasons.append(too_few)
            continue
        if inner is not None and inner.kind is m.Kind.DERIVED:
            value, rules = reader.derived.get(name, ("U", ()))
            if value == "U" and rules and _computed(name, rules[0]):
                reasons.append(f"{name} cannot be computed")
            elif value == "U":
                reasons.extend(_missing(inner, reader, patient, seen))
        elif inner is not None and name not in patient.record:
            if inner.kind is m.Kind.JUDGMENT or R.none_field(name) in patient.record:
                continue  # awaiting attestation (R, not U), or a list recorded as empty
            reasons.append(reader.missing(patient, name)[1])
        elif inner is None and reader.derived.get(name, ("U",))[0] == "U":
            reasons.append(f"definition {name} is unknown")
    return reasons


def _too_few(patient: Patient, name: str, least: int) -> str | None:
    """Why a mean that needs `least` results of a day has too few: `qtcf: 1 result of
    2026-05-26, a mean of at least 3`; None when it has enough (or none: it is missing)."""
    count = patient.record.get(R.day_count_field(name), 0)
    if not count or count >= least:
        return None
    used = patient.used.get(name)
    on = f" of {used[0].date}" if used and used[0].date else ""
    return f"{name}: {count} result{'' if count == 1 else 's'}{on}, a mean of at least {least}"


def missing_inputs(concept: m.Concept, reader: Reader, patient: Patient) -> list[str]:
    """The concepts a derived value reads (through the derived values it reads) that the
    patient's record lacks: what a coordinator would chase to settle it."""
    assert concept.formula is not None
    found: list[str] = []
    averages = f.averages(concept.formula)
    for name in m.formula_names(concept.formula):
        inner = reader.concepts.get(name)
        if name in averages and name not in found and (
                day_results(patient.record, name) is None or
                _too_few(patient, name, averages[name])):
            found.append(name if averages[name] == 1 else f"{averages[name]} {name} results "
                         "of one day")
        elif inner is not None and inner.formula is not None:
            found.extend(n for n in missing_inputs(inner, reader, patient) if n not in found)
        elif inner is not None and R.bounds(name)[0] in patient.record:
            found.append(f"an exact {name}")
        elif inner is not None and name not in patient.record and \
                R.none_field(name) not in patient.record and name not in found:
            found.append(name)
    return found


def _numbers(plan: f.Plan, reader: Reader, patient: Patient) -> dict[str, str]:
    """Each input as the formula shows it, in its concept's unit (an input of a branch not taken
    may have none): its number, or the bounds it is known within."""
    numbers = {}
    for _, names in f.paths(plan):
        for name in names:
            if name in reader.derived and reader.derived[name][0] not in ("U", "R"):
                numbers[name] = reader.derived[name][0]
            elif _field(name) in patient.record:
                numbers[name] = f.exact_text(_read(patient.record, name)[0])  # type: ignore[index]
            elif R.bounds(name)[0] in patient.record:
                numbers[name] = _bounds_text(patient.record, name)
    return numbers


def _bounds_text(record: dict[str, Any], name: str) -> str:
    """A recorded value known only within bounds as the formula shows it: `< 0.5`, `>= 1000`,
    `0.4 to 0.6` (its unit's numbers)."""
    return _within_text(*(record.get(field) for field in R.bounds(name)))


def _result_text(record: dict[str, Any], name: str, index: int, factor: Fraction | int = 1
                 ) -> str:
    """One result of `name`'s latest day, for a mean, in the unit the formula reads it in."""
    day = R.day_field(name)
    if day in record:
        return f.exact_text(_exact(record[day][index]) * factor)
    ends = [None if field not in record else record[field][index] for field in R.bounds(day)]
    if factor != 1:
        ends[:2] = [None if end is None else float(_exact(end) * factor) for end in ends[:2]]
    return _within_text(*ends)


def _within_text(low: float, high: float | None, low_open: Any, high_open: Any) -> str:
    """A value known within bounds as the trail writes it: `< 0.5` (a measured value is never
    negative), `>= 1000`, `0.4 to 0.6`; a value the bounds close on, itself."""
    if high == low and not (low_open or high_open):
        return exact(low)
    if high is None:
        return f"{'>' if low_open else '>='} {exact(low)}"  # type: ignore[arg-type]
    if low == 0 and not low_open:
        return f"{'<' if high_open else '<='} {exact(high)}"
    return f"{exact(low)} to {exact(high)}"  # type: ignore[arg-type]


def _inputs(plan: f.Plan, chosen: dict[int, bool | None], reader: Reader, patient: Patient) -> str:
    """The inputs as the network read them, with their units, and the conditions' concepts."""
    shown = []
    conditions = _condition_names(plan, chosen)
    for name in _read_on(plan, chosen) + conditions:
        concept = reader.concepts.get(f.averaged(name) or name)
        if f.averaged(name) and concept is not None:
            results = day_results(patient.record, concept.name) or []
            used = patient.used.get(concept.name)
            on = f" of {used[0].date}" if used and used[0].date else ""
            shown.append(f"{concept.name} {_result_text(patient.record, concept.name, 0)}"
                         f"{' ' + concept.unit if concept.unit else ''}{on}" if len(results) == 1
                         else f"{concept.name}: {len(results)} results{on}")
        elif name in reader.derived and concept is not None:
            shown.append(f"{name} {reader.derived[name][0]} {concept.unit}")
        elif name in reader.derived:
            shown.append(f"{name} {'true' if reader.derived[name][0] == 'T' else 'false'}")
        elif name in patient.record and concept is not None:
            shown.append(f"{name} {_recorded(concept, patient.record[name])}")
        elif R.bounds(name)[0] in patient.record and concept is not None:
            shown.append(f"{name} {_bounds_text(patient.record, name)} {concept.unit or ''}".rstrip())
        elif R.none_field(name) in patient.record:
            shown.append(f"{name} recorded as none")
        elif name in conditions:  # its case open: both branches read
            shown.append(f"{name} not recorded")
    return ", ".join(dict.fromkeys(shown))


def _read_on(plan: f.Plan, chosen: dict[int, bool | None]) -> list[str]:
    for way, names in f.paths(plan):
        if way == chosen:
            return list(names)
    return []


def _condition_names(plan: f.Plan, chosen: dict[int, bool | None]) -> list[str]:
    return [a.ref.name for i in sorted(chosen) for a in m.atoms(plan.choices[i].condition)]


def _recorded(concept: m.Concept, value: Any) -> str:
    if concept.kind in (m.Kind.FLAG, m.Kind.JUDGMENT):
        return "yes" if value == 1 else "no"
    if isinstance(value, list):
        return f"{len(value)} recorded"
    if isinstance(value, float):
        return f"{exact(value)} {concept.unit}" if concept.unit else exact(value)
    return str(value)


#: Binding strength of each operation, for the parentheses the evidence needs.
_STRENGTH = {"+": 1, "-": 1, "*": 2, "/": 2}
_SHOWN_OP = {"+": "+", "-": "-", "*": "x", "/": "/"}


def _substituted(expr: m.Expr, plan: f.Plan, numbers: dict[str, str],
                 chosen: dict[int, bool | None], concepts: dict[str, m.Concept],
                 record: dict[str, Any]) -> str:
    """The formula with the patient's numbers in the units it reads them in, each conditional
    term replaced by the branch the network took, and a mean by the results it averaged."""
    choices = {id(choice): i for i, choice in enumerate(plan.choices)}

    def shown(node: m.Expr, outer: int = 0, right: bool = False) -> str:
        if isinstance(node, (m.Number, m.Reading)):
            if isinstance(node, m.Number):
                text = node.text
            else:
                factor = f.reading_factor(concepts[node.ref.name], node.unit) if node.unit else 1
                text = _times_text(numbers[node.ref.name], factor or 1)
            # a negative base is bracketed: -2^2 would read as -(2^2)
            return f"({text})" if text.startswith("-") and outer == 3 and not right else text
        if isinstance(node, m.Choice):
            outcome = chosen.get(choices[id(node)], False)
            if outcome is None:  # its condition open: either branch, as the value's bounds say
                return f"({shown(node.then)} or {shown(node.otherwise)})"
            return shown(node.then if outcome else node.otherwise, outer, right)
        if isinstance(node, m.Power):  # bracketed in another power: a^2^3 reads either way
            text = f"{shown(node.base, 3)}^{shown(node.exponent, 3, True)}"
            return f"({text})" if outer == 3 else text
        if isinstance(node, m.Call) and node.function == "mean":
            (reading,) = node.args
            assert isinstance(reading, m.Reading)
            factor = f.reading_factor(concepts[reading.ref.name], reading.unit) \
                if reading.unit else 1
            count = len(day_results(record, reading.ref.name) or ())
            return "mean(" + ", ".join(_result_text(record, reading.ref.name, i, factor or 1)
                                       for i in range(count)) + ")"
        if isinstance(node, m.Call):
            return f"{node.function}({', '.join(shown(a) for a in node.args)})"
        strength = _STRENGTH[node.op]
        text = f"{shown(node.left, strength)} {_SHOWN_OP[node.op]} " \
               f"{shown(node.right, strength, True)}"
        return f"({text})" if strength < outer or (right and strength == outer) else text

    return shown(expr)


def _times_text(number: str, factor: Fraction | int) -> str:
    """An input's text (`_numbers`) in the unit the formula reads it in; one known only within
    bounds bracketed: `(< 0.5)`."""
    words = number.split(" ")
    shown = " ".join(f.exact_text(Fraction(word) * factor) if word[:1].isdigit() or word[:1] == "-"
                     else word for word in words)
    return shown if len(words) == 1 else f"({shown})"


def _plain(value: Decimal) -> str:
    return format(value.normalize(), "f")


__all__ = ["Compute", "Node", "Way", "compile_compare", "compile_node", "explain", "judge_compare",
           "missing_inputs"]
