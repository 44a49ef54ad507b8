"""Formulas of derived values: the unit of every part, and an exact plan to evaluate them.

`analyse` walks a formula once with pint's exact registry (`units.exact_registry`). A bare name is
its concept's quantity in the declared unit; `name in UNIT` is the plain number of that quantity in
UNIT; a numeric literal is a plain number. Products and quotients multiply units; sums, differences,
conditional terms and min/max need one dimension on every side (the right side is converted into
the left side's unit by an exact factor). The result is converted into the declared unit, or, for an
empirical formula whose result is a plain number, taken as a number in the declared unit.

The checks report the problems found; the engine evaluates the `Plan` in exact rationals
(`fractions.Fraction`: no rounding until the result), then rounds once with `units.quantize`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, localcontext
from fractions import Fraction
from itertools import product
from typing import Any

from protocol import limits
from protocol import model as m
from protocol import units
from protocol.errors import Span
from protocol.meaning import meaning

#: The kinds of concept whose value is a number a formula computes with.
NUMERIC = (m.Kind.QUANTITY, m.Kind.LAB, m.Kind.SCORE, m.Kind.AGE, m.Kind.DERIVED)
#: Significant digits of a square root or a fractional power before the result is rounded (the
#: operations whose result is not a rational number).
ROOT_DIGITS = 50
#: The largest exponent, either sign, that an exponent worked out per patient may reach
#: (`0.993^(age in years)`): ages and scores stay far below it, and a record that goes beyond
#: (an age of 5000 years) leaves the value unknown rather than an exact power of millions of digits.
MAX_WORKED_EXPONENT = 1000
PLAIN = None  # the unit of a plain number
#: The kinds of concept `mean(...)` averages: measured numbers, of which a day may have several
#: results (a triplicate ECG). An age has one value a day, a derived value one per patient.
AVERAGED = (m.Kind.QUANTITY, m.Kind.LAB, m.Kind.SCORE)


def mean_of(name: str, least: int = 1) -> str:
    """The input `mean(name)` reads: the mean of the concept's results of its latest day, when
    it has `least` of them or more.

    >>> mean_of("qtcf"), averaged(mean_of("qtcf")), averaged("qtcf")
    ('mean(qtcf)', 'qtcf', None)
    >>> mean_of("qtcf", 3), averaged(mean_of("qtcf", 3)), fewest(mean_of("qtcf", 3))
    ('mean(qtcf, at least 3)', 'qtcf', 3)
    """
    return f"mean({name})" if least == 1 else f"mean({name}, at least {least})"


def averaged(name: str) -> str | None:
    """The concept an input averages (`mean_of`), or None for any other input."""
    return name[5:-1].split(",")[0] if name.startswith("mean(") else None


def fewest(name: str) -> int:
    """The fewest results of its day an input that averages them needs (`mean_of`): 1 unless
    the formula says `at least N`."""
    return int(name[:-1].rsplit(" ", 1)[1]) if name.startswith("mean(") and "," in name else 1


def averages(expr: m.Expr) -> dict[str, int]:
    """The concepts a formula averages (`mean(qtcf)`), not through the derived values it reads,
    each with the fewest results it needs (the most any of its means asks)."""
    found: dict[str, int] = {}
    for node in m.subexpressions(expr):
        if isinstance(node, m.Call) and node.function == "mean" and \
                isinstance(node.args[0], m.Reading):
            name = node.args[0].ref.name
            found[name] = max(found.get(name, 1), node.least)
    return found


@dataclass(frozen=True)
class Problem:
    """What the checks report: a kind (a template key of `protocol.checks`), where, and details.
    Values under `DIMENSION_KEYS` are pint dimensionalities (or None for a plain number)."""

    kind: str
    span: Span
    info: dict[str, Any] = field(default_factory=dict)


DIMENSION_KEYS = ("left", "right", "what", "declared")


@dataclass(frozen=True)
class Plan:
    """A formula ready to evaluate: a tree of tuples (see `evaluate`), the factor from the
    formula's unit into the declared one, the conditional terms in formula order, and for each
    its case: the index of the first term with the same condition (CKD-EPI asks `sex is
    female` three times: one case, decided once, the same way in each place)."""

    root: tuple
    out: Fraction
    choices: tuple[m.Choice, ...]
    cases: tuple[int, ...] = ()


class _Unknown:
    """The unit of a part already reported as wrong: it mixes with anything, silently."""


UNKNOWN = _Unknown()


def analyse(concept: m.Concept, concepts: Mapping[str, m.Concept],
            definitions: Mapping[str, Any]) -> tuple[Plan | None, list[Problem]]:
    """The plan of a derived concept's formula, or None with the problems that prevent one.

    >>> from grammar.parser import parse
    >>> p = parse('concepts:\\n w: quantity in kg\\n h: quantity in cm\\n'
    ...           ' bmi: derived in kg/m2 = w / h^2')
    >>> plan, problems = analyse(p.concept("bmi"), {c.name: c for c in p.concepts}, {})
    >>> plan.out, problems
    (Fraction(10000, 1), [])
    """
    assert concept.formula is not None and concept.unit is not None
    walk = _Walk(concepts, definitions)
    root, unit = walk.expr(concept.formula)
    declared = _unit(concept.unit)
    out = Fraction(1)
    if declared is None:
        walk.problems.append(Problem("unit-unknown", concept.span, {"unit": concept.unit}))
    elif unit is not PLAIN and unit is not UNKNOWN:
        factor = units.exact_factor(unit, declared)
        if factor is None:
            info = {"name": concept.name, "unit": concept.unit, "declared": _dim(declared),
                    "what": _dim(unit)}
            walk.problems.append(Problem("formula-dimension", concept.formula.span, info))
        else:
            out = factor
            if out != 1 and _fraction(unit) and walk.hundreds:
                walk.problems.append(Problem("formula-hundred", walk.hundreds[0], {
                    "name": concept.name, "unit": concept.unit}))
    if walk.problems:
        return None, walk.problems
    first: dict[Any, int] = {}
    cases = tuple(first.setdefault(meaning(choice.condition), i)
                  for i, choice in enumerate(walk.choices))
    return Plan(root, out, tuple(walk.choices), cases), []


def _unit(text: str) -> Any:
    try:
        return units.exact_unit(text)
    except units.UnitProblem:
        return None


def _dim(unit: Any) -> str | None:
    return None if unit is PLAIN else units.dimension_of(unit)


class _Walk:
    """One pass over a formula: the plan of each part, its unit, and the problems found."""

    def __init__(self, concepts: Mapping[str, m.Concept], definitions: Mapping[str, Any]) -> None:
        self.concepts, self.definitions = concepts, definitions
        self.problems: list[Problem] = []
        self.choices: list[m.Choice] = []
        #: Where a ratio of like quantities (a fraction) is multiplied by 100: in a value
        #: declared in %, which shows a fraction as a percentage already, a slip (`analyse`).
        self.hundreds: list[Span] = []

    def expr(self, node: m.Expr) -> tuple[tuple, Any]:
        if isinstance(node, m.Number):
            return ("n", Fraction(node.value)), PLAIN
        if isinstance(node, m.Reading):
            return self.reading(node)
        if isinstance(node, m.Arithmetic):
            if node.op in "+-":
                (left, right), unit = self.mixed(f"'{node.op}'", (node.left, node.right))
                return (node.op, left, right), unit
            (left, lu), (right, ru) = self.expr(node.left), self.expr(node.right)
            if node.op == "/" and isinstance(node.right, m.Number) and node.right.value == 0:
                self.problems.append(Problem("division-by-zero", node.right.span))
            if node.op == "*" and any(isinstance(side, m.Number) and side.value == 100 and
                                      _fraction(unit) for side, unit in
                                      ((node.left, ru), (node.right, lu))):
                self.hundreds.append(node.span)
            return (node.op, left, right), _combine(node.op, lu, ru)
        if isinstance(node, m.Power):
            if not isinstance(node.exponent, m.Number):  # worked out per patient: plain numbers
                base = self.plain(node.base, "formula-dimension/base")
                exponent_plan = self.plain(node.exponent, "formula-dimension/exponent")
                return ("^", base, exponent_plan), PLAIN
            exponent = Fraction(node.exponent.value)
            if exponent.denominator != 1:  # a unit to a fractional power has no meaning
                return ("^", self.plain(node.base, "formula-dimension/plain",
                                        operation=f"^{node.exponent.text}"), exponent), PLAIN
            base, unit = self.expr(node.base)
            power = int(exponent)
            return ("^", base, power), unit if unit in (PLAIN, UNKNOWN) else unit ** power
        if isinstance(node, m.Choice):
            index = len(self.choices)
            self.choices.append(node)
            (then, otherwise), unit = self.mixed("a conditional term",
                                                 (node.then, node.otherwise))
            return ("?", index, then, otherwise), unit
        assert isinstance(node, m.Call)
        if node.function == "mean":
            return self.mean(node)
        if node.function == "sqrt":
            return ("^", self.plain(node.args[0], "formula-dimension/plain",
                                    operation="sqrt(...)"), Fraction(1, 2)), PLAIN
        args, unit = self.mixed(f"{node.function}(...)", node.args)
        return (node.function, *args), unit

    def mean(self, node: m.Call) -> tuple[tuple, Any]:
        """`mean(qtcf)`: the mean of a measured concept's results of its latest day, read as the
        concept itself is (bare, its quantity; `mean(qtcf in ms)`, a plain number). The parser
        gives it one argument; anything but a concept's reading has no results to average."""
        (arg,) = node.args
        if not isinstance(arg, m.Reading):
            self.problems.append(Problem("formula-mean", arg.span))
            return ("n", Fraction(1)), UNKNOWN
        plan, unit = self.reading(arg)
        concept = self.concepts.get(arg.ref.name)
        if concept is not None and concept.kind in NUMERIC and concept.kind not in AVERAGED:
            self.problems.append(Problem("formula-mean/kind", arg.ref.span, {
                "name": concept.name, "kind": _article(concept.kind.value)}))
        elif concept is not None and concept.extreme is not None:
            self.problems.append(Problem("formula-mean/kind", arg.ref.span, {
                "name": concept.name, "kind": str(concept.read_as)}))
        return ("r", mean_of(plan[1], node.least), plan[2]), unit

    def plain(self, node: m.Expr, kind: str, **info: str) -> tuple:
        """A part that must be a plain number (a square root's, a fractional power's base, an
        exponent worked out and its base): a dimensionless quantity is taken as its number;
        anything else is reported as `kind`."""
        plan, unit = self.expr(node)
        if unit is PLAIN or unit is UNKNOWN:
            return plan
        if units.dimension_of(unit) != "dimensionless":
            self.problems.append(Problem(kind, node.span, {**info, "what": _dim(unit)}))
            return plan
        return ("*", plan, ("n", units.exact_factor(unit, _unit(""))))

    def reading(self, node: m.Reading) -> tuple[tuple, Any]:
        name = node.ref.name
        concept = self.concepts.get(name)
        if concept is None or concept.kind not in NUMERIC:
            if concept is None and name not in self.definitions:
                names = [*self.concepts, *self.definitions]
                self.problems.append(Problem("undefined-name", node.ref.span,
                                             {"name": name, "names": names}))
            else:
                kind = "a definition" if concept is None else _article(concept.kind.value)
                self.problems.append(Problem("type-mismatch", node.ref.span, {
                    "name": name, "kind": kind, "advice": "a formula computes with the numbers "
                    "of quantities, labs, scores, ages and derived values"}))
            return ("r", name, Fraction(1)), UNKNOWN
        if concept.unit and units.temperature(concept.unit):
            self.problems.append(Problem("formula-temperature", node.ref.span, {"name": name}))
            return ("r", name, Fraction(1)), UNKNOWN
        own = _unit(concept.unit) if concept.unit else PLAIN
        if own is None:
            return ("r", name, Fraction(1)), UNKNOWN  # its declaration is reported
        if node.unit is None:
            return ("r", name, Fraction(1)), own
        target = _unit(node.unit)
        if target is None:
            self.problems.append(Problem("unit-unknown", node.span, {"unit": node.unit}))
            return ("r", name, Fraction(1)), UNKNOWN
        factor = reading_factor(concept, node.unit)
        if factor is None:
            self.problems.append(Problem("formula-unit", node.span, {
                "name": name, "unit": concept.unit or "plain numbers", "target": node.unit,
                "what": units.dimension_of(target)}))
            return ("r", name, Fraction(1)), UNKNOWN
        return ("r", name, factor), PLAIN

    def mixed(self, what: str, items: tuple[m.Expr, ...]) -> tuple[list[tuple], Any]:
        """Parts that must share a dimension; each converted into the first's unit, or where
        that is a plain number beside a fraction, the fraction's (`1 - weight / weight_before`
        is a fraction, as `(weight_before - weight) / weight_before` is); a part that does not
        fit is reported where it is written."""
        walked = [self.expr(item) for item in items]
        first = walked[0][1]
        if first is PLAIN:
            first = next((unit for _, unit in walked if _fraction(unit)), PLAIN)
        plans = []
        for item, (plan, unit) in zip(items, walked):
            factor = _factor(unit, first)
            if factor is None:
                info = {"what": what, "left": _dim(first), "right": _dim(unit)}
                self.problems.append(Problem("formula-dimension/mix", item.span, info))
                first, factor = UNKNOWN, Fraction(1)
            plans.append(plan if factor == 1 else ("*", plan, ("n", factor)))
        return plans, first


def reading_factor(concept: m.Concept, unit: str) -> Fraction | None:
    """The exact factor from the concept's declared unit into `unit` (`creatinine in mg/dL`),
    through the concept's own conversions if need be; None if they do not convert."""
    own, target = _unit(concept.unit) if concept.unit else _unit(""), _unit(unit)
    if own is None or target is None:
        return None
    return units.exact_factor(own, target, concept.factors)


def _factor(source: Any, target: Any) -> Fraction | None:
    """From one part's unit into another's; a plain number and a dimensionless unit (%) mix."""
    if source is UNKNOWN or target is UNKNOWN or source is target:
        return Fraction(1)
    dimensionless = _unit("")
    return units.exact_factor(dimensionless if source is PLAIN else source,
                              dimensionless if target is PLAIN else target)


def _fraction(unit: Any) -> bool:
    """Whether a part's unit is a ratio of like quantities (weight / weight): no dimension, and
    not a plain number."""
    return unit is not PLAIN and unit is not UNKNOWN and _dim(unit) == _dim(_unit(""))


def _combine(op: str, left: Any, right: Any) -> Any:
    if UNKNOWN in (left, right):
        return UNKNOWN
    if left is PLAIN and right is PLAIN:
        return PLAIN
    if right is PLAIN:
        return left
    if left is PLAIN:
        return right if op == "*" else right ** -1
    return left * right if op == "*" else left / right


def _article(word: str) -> str:
    return f"an {word}" if word[0] in "aeiou" else f"a {word}"


# --- evaluation -----------------------------------------------------------------------------------


#: The values a formula's input or result may have: its least and greatest (closed), either
#: unbounded (`INF` and `-INF`); an exact value is both. A value known only within bounds ("< 0.5
#: mg/dL") is an input so, and the formula is then worked out over every value it may have.
Interval = tuple["Fraction | float", "Fraction | float"]
INF = float("inf")


def point(value: Fraction) -> Interval:
    return value, value


def evaluate(plan: Plan, values: Mapping[str, Fraction], chosen: Mapping[int, bool]) -> Fraction:
    """The formula's exact value in the declared unit, from its inputs' values (each in its
    concept's declared unit) and the outcome of each conditional term the network decided.
    Raises ZeroDivisionError when a divisor is 0, and ValueError for a value the engine cannot
    compare (from 10^15 on: a power of a patient's numbers may reach it) or cannot compute.

    >>> from grammar.parser import parse
    >>> p = parse('concepts:\\n w: quantity in kg\\n h: quantity in cm\\n'
    ...           ' bmi: derived in kg/m2 = w / h^2')
    >>> plan, _ = analyse(p.concept("bmi"), {c.name: c for c in p.concepts}, {})
    >>> evaluate(plan, {"w": Fraction(72), "h": Fraction(180)}, {})
    Fraction(200, 9)
    """
    value, _ = evaluate_within(plan, {name: point(v) for name, v in values.items()}, chosen)
    return value  # type: ignore[return-value]  # exact inputs give one value, finite


def evaluate_within(plan: Plan, values: Mapping[str, Interval],
                    chosen: Mapping[int, bool | None]) -> Interval:
    """The least and greatest value the formula may have when each input may be anything within
    its interval: interval arithmetic, exact at every step, so the result holds every value the
    inputs allow (a name that occurs twice may widen it, never narrow it). On exact inputs it is
    the one exact value, with the same errors as `evaluate`. A divisor that may be 0 but is not
    known to be makes its side unbounded (creatinine "< 0.5 mg/dL" gives a clearance of at least
    some number); an end beyond 10^15 is unbounded; ValueError when nothing bounds the value.

    >>> from grammar.parser import parse
    >>> p = parse('concepts:\\n a: quantity in years\\n w: quantity in kg\\n'
    ...           ' s: lab in mg/dL\\n c: derived in mL/min = (140 - a in years) x'
    ...           ' (w in kg) / (72 x (s in mg/dL))')
    >>> plan, _ = analyse(p.concept("c"), {c.name: c for c in p.concepts}, {})
    >>> one = lambda v: (Fraction(v), Fraction(v))
    >>> evaluate_within(plan, {"a": one(50), "w": one(72), "s": (Fraction(0), Fraction(1, 2))}, {})
    (Fraction(180, 1), inf)
    >>> evaluate_within(plan, {"a": one(50), "w": (Fraction(70), INF), "s": one(1)}, {})
    (Fraction(175, 2), inf)

    A conditional term whose condition the network left open (`None`: its data missing) may
    take either branch: the value is the least and greatest over both outcomes of each open
    case, the same in every place the case is asked (CKD-EPI's sex in its three terms).
    """
    opened = sorted({plan.cases[i] for i, outcome in chosen.items() if outcome is None})
    if opened:
        ends = []
        for outcomes in product((True, False), repeat=len(opened)):
            taken = dict(zip(opened, outcomes))
            ends.append(evaluate_within(plan, values, {
                i: taken[plan.cases[i]] if outcome is None else outcome
                for i, outcome in chosen.items()}))
        return min(end[0] for end in ends), max(end[1] for end in ends)
    low, high = _times(_within(plan.root, values, chosen), point(plan.out))
    if low == high:
        if abs(low) >= 10 ** limits.MAX_EXPONENT:
            raise ValueError(f"a value of 10^{limits.MAX_EXPONENT} or more")
        return low, high
    low = -INF if low <= -10 ** limits.MAX_EXPONENT else low
    high = INF if high >= 10 ** limits.MAX_EXPONENT else high
    if low == -INF and high == INF:
        raise ValueError("no bound on the value")
    return low, high


def _within(node: tuple, values: Mapping[str, Interval], chosen: Mapping[int, bool]) -> Interval:
    code = node[0]
    if code == "n":
        return point(node[1])
    if code == "r":
        return _times(values[node[1]], point(node[2]))
    if code == "?":
        return _within(node[2] if chosen[node[1]] else node[3], values, chosen)
    if code == "^":
        base, exponent = _within(node[1], values, chosen), node[2]
        if isinstance(exponent, tuple):
            worked = _within(exponent, values, chosen)
            if worked[0] != worked[1]:
                return _varied_power(base, worked)
            exponent = _worked_exponent(worked[0])  # type: ignore[arg-type]
        return _raised(base, exponent)
    args = [_within(item, values, chosen) for item in node[1:]]
    return _OPS[code](args)


def _product(a: Fraction | float, b: Fraction | float) -> Fraction | float:
    """One end of a product: 0 times an unbounded end is 0 (the end is approached, not reached)."""
    return Fraction(0) if a == 0 or b == 0 else a * b


def _times(a: Interval, b: Interval) -> Interval:
    if a[0] == a[1] and b[0] == b[1]:
        return point(a[0] * b[0])  # type: ignore[operator]
    ends = [_product(x, y) for x in a for y in b]
    return min(ends), max(ends)


def _reciprocal(a: Interval) -> Interval:
    """1/a: ZeroDivisionError for 0 itself; a side unbounded where a may be 0."""
    low, high = a
    if low == high:
        return point(1 / low)  # type: ignore[operator]
    if low > 0 or high < 0:
        return 1 / high, 1 / low
    if low == 0:
        return 1 / high, INF
    if high == 0:
        return -INF, 1 / low
    return -INF, INF


def _raised(base: Interval, exponent: int | Fraction) -> Interval:
    """`base` to a fixed power: whole powers by their monotony on each side of 0, a negative one
    as the reciprocal; a fractional power of a base that may be negative is a ValueError, of one
    that may be 0 reaches 0 (a positive power) or is unbounded (a negative one)."""
    low, high = base
    if low == high:
        return point(_power(low, exponent))  # type: ignore[arg-type]
    if isinstance(exponent, int):
        if exponent < 0:
            return _reciprocal(_raised(base, -exponent))
        ends = low ** exponent, high ** exponent
        if exponent % 2 == 0 and low < 0 < high:
            return Fraction(0), max(ends)
        return min(ends), max(ends)
    if low < 0:
        raise ValueError("a fractional power of a number that may be negative")
    ends = [_fractional_power(end, exponent) for end in (low, high)]
    return min(ends), max(ends)


def _fractional_power(end: Fraction | float, exponent: Fraction) -> Fraction | float:
    """One end of a fractional power of a base that is not negative: at 0 or unbounded, the
    limit the power approaches there."""
    if end == 0:
        return Fraction(0) if exponent > 0 else INF
    if end == INF:
        return INF if exponent > 0 else Fraction(0)
    return _power(end, exponent)  # type: ignore[arg-type]


def _varied_power(base: Interval, exponent: Interval) -> Interval:
    """A positive base to an exponent worked out per patient that is itself within bounds: the
    power is monotonic in each, so its extremes are at the corners."""
    if base[0] <= 0 or INF in base or -INF in exponent or INF in exponent:
        raise ValueError("a power whose base or exponent is not bounded")
    ends = [_power(b, _worked_exponent(e)) for b in base for e in exponent]  # type: ignore[arg-type]
    return min(ends), max(ends)


def _worked_exponent(value: Fraction) -> int | Fraction:
    """An exponent worked out for a patient, as `_power` takes it: whole (exact) or fractional;
    beyond `MAX_WORKED_EXPONENT` a ValueError (the value is unknown).

    >>> _worked_exponent(Fraction(67)), _worked_exponent(Fraction(-329, 1000))
    (67, Fraction(-329, 1000))
    """
    if abs(value) > MAX_WORKED_EXPONENT:
        raise ValueError(f"an exponent beyond {MAX_WORKED_EXPONENT}")
    return int(value) if value.denominator == 1 else value


def _power(base: Fraction, exponent: int | Fraction) -> Fraction:
    """A whole power exactly (a negative one of 0 raises ZeroDivisionError); a fractional one
    (a square root, MDRD's ^-1.154) to `ROOT_DIGITS` significant digits, of a positive base only
    (ValueError otherwise, and for a result beyond what a decimal holds)."""
    if isinstance(exponent, int):
        return base ** exponent
    if base <= 0:
        raise ValueError("a fractional power of a number that is not positive")
    with localcontext() as context:
        context.prec = ROOT_DIGITS
        plain = Decimal(base.numerator) / Decimal(base.denominator)
        if exponent == Fraction(1, 2):
            return Fraction(plain.sqrt())
        try:
            return Fraction(plain ** (Decimal(exponent.numerator) / Decimal(exponent.denominator)))
        except ArithmeticError as error:  # decimal's Overflow: (10^1000)^1000.5
            raise ValueError("a power beyond what a decimal holds") from error


_OPS: dict[str, Callable[[list[Interval]], Interval]] = {
    "+": lambda a: (a[0][0] + a[1][0], a[0][1] + a[1][1]),
    "-": lambda a: (a[0][0] - a[1][1], a[0][1] - a[1][0]),
    "*": lambda a: _times(a[0], a[1]),
    "/": lambda a: _times(a[0], _reciprocal(a[1])),
    "min": lambda a: (min(x[0] for x in a), min(x[1] for x in a)),
    "max": lambda a: (max(x[0] for x in a), max(x[1] for x in a)),
}


def paths(plan: Plan) -> list[tuple[dict[int, bool | None], tuple[str, ...]]]:
    """Every way the formula can be decided: the outcome of each conditional term on the way
    (true, false, or None where its condition is left open for want of data, which reads both
    branches; a term in a branch not taken is not needed; the terms of one case alike) and the
    names whose values it then reads.

    >>> from grammar.parser import parse
    >>> p = parse('concepts:\\n w: quantity in kg\\n s: flag\\n'
    ...           ' v: derived in kg = (w in kg if s else 0) + (1 if s else 2)')
    >>> paths(analyse(p.concept("v"), {c.name: c for c in p.concepts}, {})[0])
    [({0: True, 1: True}, ('w',)), ({0: False, 1: False}, ()), ({0: None, 1: None}, ('w',))]
    """
    found: dict[tuple, tuple[dict[int, bool | None], tuple[str, ...]]] = {}
    for chosen, names in _paths(plan.root):
        said: dict[int, bool | None] = {}
        if all(said.setdefault(plan.cases[i], outcome) is outcome
               for i, outcome in chosen.items()):
            found.setdefault(tuple(sorted(chosen.items())), (chosen, tuple(dict.fromkeys(names))))
    return list(found.values())


def ways(plan: Plan) -> int:
    """How many ways `paths` lists (each is a rule): at most 3 for each case, its condition
    true, false or open; counted without listing them where that bound is past what a formula
    may have (`limits.FORMULA_WAYS`).

    >>> from grammar.parser import parse
    >>> p = parse('concepts:\\n s: flag\\n t: flag\\n'
    ...           ' v: derived in kg = (1 if s else 2) x (3 if t else (4 if s else 5))')
    >>> ways(analyse(p.concept("v"), {c.name: c for c in p.concepts}, {})[0])
    9
    """
    bound = 3 ** len(set(plan.cases))
    return bound if bound > limits.FORMULA_WAYS else len(paths(plan))


def _paths(node: tuple) -> list[tuple[dict[int, bool | None], list[str]]]:
    code = node[0]
    if code == "n":
        return [({}, [])]
    if code == "r":
        return [({}, [node[1]])]
    if code == "?":
        decided = [({node[1]: outcome, **chosen}, names) for outcome, branch in
                   ((True, node[2]), (False, node[3])) for chosen, names in _paths(branch)]
        return decided + [({node[1]: None, **a, **b}, [*one, *other])
                          for a, one in _paths(node[2]) for b, other in _paths(node[3])]
    parts = [_paths(item) for item in node[1:] if isinstance(item, tuple)]
    return [({k: v for chosen, _ in combo for k, v in chosen.items()},
             [n for _, names in combo for n in names]) for combo in product(*parts)]


def exact_text(value: Fraction) -> str:
    """A rational as decimal text when it has a finite expansion, else to 6 places with `~`.

    >>> exact_text(Fraction(3, 8)), exact_text(Fraction(2, 3)), exact_text(Fraction(72))
    ('0.375', '~0.666667', '72')
    """
    denominator = value.denominator
    for prime in (2, 5):
        while denominator % prime == 0:
            denominator //= prime
    if denominator == 1:
        with localcontext() as context:
            context.prec = 100
            text = format((Decimal(value.numerator) / Decimal(value.denominator)).normalize(), "f")
        return text
    return "~" + format(rounded(value).normalize(), "f")


def rounded(value: Fraction) -> Decimal:
    """The one rounding of a derived value: half to even, to `units.PLACES` places.

    >>> rounded(Fraction(5, 10**7)), rounded(Fraction(15, 10**7)), rounded(Fraction(2, 3))
    (Decimal('0.000000'), Decimal('0.000002'), Decimal('0.666667'))
    """
    scaled = round(value * 10**units.PLACES)  # round() on a Fraction rounds half to even
    return units.quantize(Decimal(scaled).scaleb(-units.PLACES))
