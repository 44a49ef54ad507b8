"""Boundary cases of derived values: `crcl >= 60 mL/min` where `crcl` is a formula of age,
weight, creatinine and sex.

A derived value is worked out here again, apart from the network's rational arithmetic: in
Python `decimal` at 80 significant digits, a bare name's quantity through pint's base units, a
fractional power by `Decimal.power`, then rounded once, half to even, to 6 places (the README's
rule). For each number the formula reads (a quantity, a lab or a score the base patient gives;
a score is a plain number), the value is moved in steps of 0.000001 of its unit, doubling, until
the comparison turns, then bisected to the two neighbouring values where it turns: one of them
lands exactly on the threshold when exact decimals allow (`(140 - 50) x 72 / (72 x 1.5) = 60`),
else they are the nearest on both sides. Each such value is also given in another unit, and the
input is removed (UNKNOWN). A range on a derived value (`bmi 18.5 to 30 kg/m2`) is varied at each
of its ends.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Context, Decimal, DivisionByZero, InvalidOperation
from typing import TYPE_CHECKING, Callable, NamedTuple

from dateutil.relativedelta import relativedelta

from engine.atoms.base import OPS, threshold_of
from engine.edgecases.base import Skip, Variant, day_given, given_as, kept, other_unit, tidy
from protocol import model as m
from protocol.amend.wording import source_text
from protocol.formula import averaged as averaged_name, mean_of
from protocol.meaning import meaning
from protocol.units import QUANTUM, UnitProblem, factor, parse_unit, quantize, registry

if TYPE_CHECKING:
    from engine.edgecases import EdgeCases

CONTEXT = Context(prec=80, traps=[DivisionByZero, InvalidOperation])
#: How far an input is moved, at most, looking for the value where the comparison turns.
LIMIT = Decimal(10) ** 6
#: Ages tried for a formula's age input, in whole years.
OLDEST = 130
#: The calendar's first day (`engine.dates`): no one is born before it.
FIRST_DAY = date(1900, 1, 1)


class Open(Exception):
    """The value cannot be worked out: an input missing or stale, a condition unknown, a division
    by zero or a power that cannot be taken."""


class Undecided(Open):
    """A conditional term's condition is unknown: the value is one of its branches' (`values`
    works out each)."""

    def __init__(self, condition: m.Condition) -> None:
        super().__init__("a conditional term's condition is unknown")
        self.condition = condition


def values_of(concept: m.Concept, number: Callable[[str], Decimal | None],
              truth: Callable[[m.Condition], str], concepts: dict[str, m.Concept]
              ) -> list[Decimal]:
    """The derived value for each outcome of the conditions left unknown, each condition taken
    the same way wherever the formula asks it (as the network reads a case: `formula.Plan`);
    raises `Open` where an input is missing or a value cannot be worked out."""
    try:
        return [value_of(concept, number, truth, concepts)]
    except Undecided as open_:
        asked = meaning(open_.condition)

        def taken(outcome: str) -> Callable[[m.Condition], str]:
            return lambda c: outcome if meaning(c) == asked else truth(c)
        return [value for outcome in ("true", "false")
                for value in values_of(concept, number, taken(outcome), concepts)]


def value_of(concept: m.Concept, number: Callable[[str], Decimal | None],
             truth: Callable[[m.Condition], str], concepts: dict[str, m.Concept]) -> Decimal:
    """The derived value, rounded once to 6 places in its declared unit; raises `Open`."""
    return quantize(unrounded(concept, number, truth, concepts))


def unrounded(concept: m.Concept, number: Callable[[str], Decimal | None],
              truth: Callable[[m.Condition], str], concepts: dict[str, m.Concept]) -> Decimal:
    """The derived value to 80 digits, before its one rounding; raises `Open`."""
    bare: list[bool] = []
    assert concept.formula is not None and concept.unit is not None
    try:
        result = _value(concept.formula, number, truth, concepts, bare)
        if any(bare):
            result = CONTEXT.divide(result, _base(concept.unit))
    except (ArithmeticError, ValueError) as error:
        raise Open(str(error)) from None
    return result


def _base(unit: str) -> Decimal:
    """How many of pint's base units one `unit` is (kg/m2 is 1; cm is 0.01)."""
    try:
        quantity = registry().Quantity(Decimal(1), parse_unit(unit)).to_base_units()
    except (UnitProblem, ValueError):  # pragma: no cover - checked units
        raise Open(f"no base unit for {unit}") from None
    return Decimal(quantity.magnitude)


def _value(node: m.Expr, number, truth, concepts, bare: list[bool]) -> Decimal:
    def go(e: m.Expr) -> Decimal:
        return _value(e, number, truth, concepts, bare)

    if isinstance(node, m.Number):
        return node.value
    if isinstance(node, m.Reading):
        concept = concepts[node.ref.name]
        if concept.kind is m.Kind.DERIVED:
            value = value_of(concept, number, truth, concepts)
        else:
            given = number(node.ref.name)
            if given is None:
                raise Open(f"{node.ref.name}: no value")
            value = given
        unit = concept.unit
        if unit is None:  # a score: a plain number (`formula.reading`)
            if node.unit is not None:
                raise Open(f"{node.ref.name}, a plain number, read in {node.unit}")
            return value
        if node.unit is not None:
            try:
                rate = factor(unit, node.unit, concept.factors)
            except UnitProblem:  # pragma: no cover - checked units
                raise Open(f"{unit} does not convert to {node.unit}") from None
            return CONTEXT.multiply(value, rate)
        bare.append(True)
        return CONTEXT.multiply(value, _base(unit))
    if isinstance(node, m.Arithmetic):
        left, right = go(node.left), go(node.right)
        return {"+": CONTEXT.add, "-": CONTEXT.subtract, "*": CONTEXT.multiply,
                "/": CONTEXT.divide}[node.op](left, right)
    if isinstance(node, m.Power):
        base, exponent = go(node.base), go(node.exponent)
        if exponent == exponent.to_integral_value():
            return CONTEXT.power(base, int(exponent))
        if base <= 0:
            raise Open("a fractional power of a number that is not positive")
        return CONTEXT.power(base, exponent)
    if isinstance(node, m.Choice):
        said = truth(node.condition)
        if said == "unknown":
            raise Undecided(node.condition)
        return go(node.then if said == "true" else node.otherwise)
    if isinstance(node, m.Call) and node.function == "mean":
        # the mean of the latest day's results, read as the concept is (`EdgeCases.number`:
        # none, with fewer than it needs); the triplicates (`_triplicate`) give three whose
        # mean is exactly the value they stand for
        (reading,) = node.args
        averaged = mean_of(reading.ref.name, node.least)
        return _value(reading, lambda name: number(averaged if name == reading.ref.name
                                                   else name), truth, concepts, bare)
    if isinstance(node, m.Call):
        args = [go(a) for a in node.args]
        if node.function == "sqrt":
            if args[0] < 0:
                raise Open("the square root of a negative number")
            return CONTEXT.sqrt(args[0])
        return min(args) if node.function == "min" else max(args)
    raise Open(f"no reading of {type(node).__name__}")  # pragma: no cover


class Asked(NamedTuple):
    """What a comparison or a range on a derived value asks, in the concept's unit: each bound
    where it turns (a comparison's threshold; a range's two ends), and the words for it."""

    bounds: tuple[tuple[str, Decimal], ...]  # (comparison, threshold)
    written: str  # as the protocol writes it
    needs: str  # `>= 60`, `18 to 30`

    def holds(self, value: Decimal) -> bool:
        return all(OPS[op](value, threshold) for op, threshold in self.bounds)

    def end(self, threshold: Decimal) -> str:
        """The bound at `threshold` as a case names it: nothing more for a comparison, a range's
        end (`the low end of `) for a range, to go before `written`."""
        if len(self.bounds) == 1:
            return ""
        return f"the {'low' if threshold == self.bounds[0][1] else 'high'} end of "


def asked(concept: m.Concept, atom: m.Compare | m.InRange) -> Asked:
    if isinstance(atom, m.InRange):
        low, high = (threshold_of(concept, q) for q in (atom.low, atom.high))
        return Asked(((">=", low), ("<=", high)), f"{atom.ref.name} {atom.low.value} to "
                     f"{atom.high}", f"{tidy(low)} to {tidy(high)}")
    threshold = threshold_of(concept, atom.threshold)
    return Asked(((atom.op, threshold),), f"{atom.ref.name} {atom.op} {atom.threshold}",
                 f"{atom.op} {tidy(threshold)}")


def formulas(gen: EdgeCases, atom: m.Compare | m.InRange) -> list[Variant]:
    """For each number the formula reads and each bound (a range has two), the two neighbouring
    values where the comparison turns, each in another unit, and the input removed."""
    concept = gen.concept(atom)
    test = asked(concept, atom)
    written = test.written
    concepts = {c.name: c for c in gen.protocol.concepts}
    patient = gen.base_patient()
    truth = gen.truth_on(patient)
    out: list[Variant] = []
    averaged = _averaged(concept, concepts)
    try:
        value_of(concept, lambda n: gen.number(patient, n), truth, concepts)
    except Undecided as open_:  # its value is a range over the condition: no one edge to move
        raise Skip(f"its formula asks '{source_text(gen.protocol, open_.condition.span)}', "
                   "which the base patient leaves unknown: its value is that of either branch") \
            from None
    except Open:
        pass  # an input missing: said of that input below
    for name in _inputs(concept, concepts):
        source = concepts[name]
        if source.kind is m.Kind.AGE:
            out += _ages(gen, atom, concept, source, test, patient, truth)
            continue
        start = gen.number(patient, name)
        if start is None and name in averaged:  # a day of results: its mean, as many as needed
            start = gen.number(patient, mean_of(name, averaged[name]))
        if start is None:
            gen.not_generate(f"{concept.name}'s input {name}, which the base patient "
                                     "does not give as one number (missing, stale or within "
                                     "bounds), at " + _where(atom))
            continue

        def worked(x: Decimal, name: str = name) -> Decimal | None:
            def number(n: str) -> Decimal | None:  # x, or a day of results whose mean is x
                return x if n == name or averaged_name(n) == name else gen.number(patient, n)
            try:
                return unrounded(concept, number, truth, concepts)
            except Open:
                return None

        unit = source.unit if source.kind not in m.UNITLESS else None
        fields = {**({"unit": unit} if unit else {}), **kept(gen, name)}
        for op, threshold in test.bounds:
            def held(x: Decimal, op: str = op, threshold: Decimal = threshold) -> bool | None:
                value = worked(x)
                return None if value is None else OPS[op](quantize(value), threshold)

            pair = _turn(held, start)
            if pair is None:
                gen.not_generate(f"{concept.name}'s input {name}: no value from 0 to "
                                         f"{LIMIT} turns {test.end(threshold)}{written}, at "
                                         + _where(atom))
                continue
            for x in _exactly(worked, pair, threshold):
                given = f"{tidy(x)} {unit}" if unit else f"{tidy(x)}"
                exact = worked(x)
                assert exact is not None
                value = quantize(exact)
                ok = test.holds(value)
                where = _where_on(exact, value, threshold, test)
                said = _digits(exact) if exact == value else \
                    f"{_digits(exact)}, rounded {tidy(value)}"
                least = averaged.get(name, 1)
                if least > 1:  # one result is too few: as many as the mean needs, or three
                    out.append(_several(name, x, fields, unit, concept, value, where, written,
                                        atom, ok, max(3, least)))
                    continue
                out.append(Variant(
                    f"{name} {given}: {concept.name} {tidy(value)} {concept.unit}, {where} "
                    f"{written}",
                    f"{concept.name} from its formula with {name} {given} (Python decimal at "
                    f"80 digits, rounded half to even to 6 places) = {said}; {test.needs} "
                    f"is {str(ok).lower()}", atom, "true" if ok else "false",
                    replace=({"concept": name, "value": tidy(x), **fields},)))
                other = other_unit(source, x, unit, None, gen.protocol.aliases)
                if other is not None:
                    shown, other_name = other
                    out.append(Variant(
                        f"{name} {shown} {other_name}: {concept.name} {tidy(value)} "
                        f"{concept.unit}, {where} {written}, in another unit",
                        f"{shown} {other_name} is exactly {tidy(x)} {unit} (exact factor); "
                        f"{concept.name} = {tidy(value)}; {test.needs} is {str(ok).lower()}",
                        atom, "true" if ok else "false",
                        replace=({"concept": name, "value": shown, **fields, "unit": other_name},)))
                if name in averaged:
                    out.append(_several(name, x, fields, unit, concept, value, where, written,
                                        atom, ok, 3))
            if averaged.get(name, 1) > 1:
                out.append(_too_few(name, pair[1], fields, unit, concept, written, atom,
                                    averaged[name]))
        out.append(Variant(f"no {name}: {written}", f"{concept.name} reads {name}: unknown",
                           atom, "unknown", remove=(given_as(gen, name),)))
    return out


def _where_on(exact: Decimal, value: Decimal, threshold: Decimal, test: Asked) -> str:
    """Where a worked-out value lies against the bound it was moved to: `exactly at`, `rounds
    onto`, `just under`, `just over`; of a range's end, which end (`just over the high end of`)."""
    where = "exactly at" if exact == threshold else "rounds onto" if value == threshold \
        else "just under" if value < threshold else "just over"
    return f"{where} {test.end(threshold)}".rstrip()


#: How many values beside the turning point are tried for one that lands exactly on it.
NEAR = 200


def _exactly(worked: Callable[[Decimal], Decimal | None], pair: tuple[Decimal, Decimal],
             threshold: Decimal) -> list[Decimal]:
    """The pair, and the nearest value that lands exactly (before rounding) on the threshold
    when one lies within `NEAR` steps of it: exact decimals allow it for some formulas (a
    product, a quotient) and never for a fractional power."""
    out = list(pair)
    for k in range(NEAR):
        for x in (pair[0] - k * QUANTUM, pair[1] + k * QUANTUM):
            if x > 0 and worked(x) == threshold:
                return sorted({*out, x})
    return out


def _digits(value: Decimal) -> str:
    """An unrounded value to 12 places, marked as cut (an exact one as it is)."""
    if value == quantize(value):
        return f"exactly {tidy(value)}"
    return f"{value.quantize(Decimal(1).scaleb(-12), rounding='ROUND_DOWN')}..."


def _ages(gen: EdgeCases, atom: m.Compare | m.InRange, concept: m.Concept, source: m.Concept,
          test: Asked, patient, truth) -> list[Variant]:
    """An age the formula reads: the two neighbouring ages where the comparison turns, each as
    a birth date (the last day of the younger age, the first day of the older), and no birth
    date. The age each birth date gives is `relativedelta(day, born).years`."""
    concepts = {c.name: c for c in gen.protocol.concepts}
    ages = [n for n in _inputs(concept, concepts) if concepts[n].kind is m.Kind.AGE]
    anchor = gen.screening if source.at is None else day_given(gen, source.at.name)
    start = gen.number(patient, source.name)
    why = "it reads more than one age (one birth date moves them all)" if len(ages) > 1 else \
        f"the base patient gives no {source.at.name if source.at else 'screening'} day" \
        if anchor is None else "the base patient gives no age" if start is None else None
    if why is not None:
        gen.not_generate(f"{concept.name}'s input {source.name}: {why}, at "
                                 + _where(atom))
        return []
    assert anchor is not None and start is not None

    def worked(years: int) -> Decimal | None:
        try:
            return unrounded(concept, lambda n: Decimal(years) if n == source.name else
                             gen.number(patient, n), truth, concepts)
        except Open:
            return None

    origin = int(start)
    oldest = min(OLDEST, relativedelta(anchor, FIRST_DAY).years)  # born within the calendar
    on = source.at.name if source.at else "screening"
    out = []
    for op, threshold in test.bounds:
        def held(years: int, op: str = op, threshold: Decimal = threshold) -> bool | None:
            value = worked(years)
            return None if value is None else OPS[op](quantize(value), threshold)

        pair = next(((a, a + 1) for d in range(oldest) for a in (origin + d, origin - d - 1)
                     if 0 <= a < oldest and None not in (held(a), held(a + 1))
                     and held(a) != held(a + 1)), None)
        if pair is None:
            gen.not_generate(f"{concept.name}'s input {source.name}: no age from 0 to "
                                     f"{oldest} turns {test.end(threshold)}{test.written}, at "
                                     + _where(atom))
            continue
        for years, born, which in (
                (pair[0], anchor - relativedelta(years=pair[0] + 1) + timedelta(days=1), "last"),
                (pair[1], anchor - relativedelta(years=pair[1]), "first")):
            assert relativedelta(anchor, born).years == years
            value = worked(years)
            assert value is not None
            ok = test.holds(quantize(value))
            out.append(Variant(
                f"born {born}, {source.name} {years} at {on} {anchor}: {concept.name} "
                f"{tidy(quantize(value))} {concept.unit}, {test.written}",
                f"relativedelta({anchor}, {born}).years = {years} (dateutil), the {which} day "
                f"of that age; {concept.name} from its formula (Python decimal at 80 digits, "
                f"rounded half to even to 6 places) = {_digits(value)}; {test.needs} is "
                f"{str(ok).lower()}", atom, "true" if ok else "false",
                birth_date=born.isoformat(), remove=_given(gen, ages)))
    out.append(Variant(f"no birth date: {test.written}", f"{concept.name} reads {source.name}: "
                       "unknown", atom, "unknown", birth_date=None, remove=_given(gen, ages)))
    return out


def _given(gen: EdgeCases, names: list[str]) -> tuple[str, ...]:
    """Those of `names` the base gives as facts (an age fact goes when a birth date is set)."""
    return tuple(n for n in names if any(f.get("concept") == n for f in gen.base["facts"]))


def _inputs(concept: m.Concept, concepts: dict[str, m.Concept]) -> list[str]:
    """The recorded numbers a formula reads, through the derived values it reads."""
    assert concept.formula is not None
    found: list[str] = []
    for node in m.subexpressions(concept.formula):
        if isinstance(node, m.Reading):
            inner = concepts[node.ref.name]
            names = _inputs(inner, concepts) if inner.kind is m.Kind.DERIVED else [inner.name]
            found += [n for n in names if n not in found]
    return found


def _averaged(concept: m.Concept, concepts: dict[str, m.Concept]) -> dict[str, int]:
    """The inputs the formula reads only as a mean of one day's results (`mean(qtcf)`), through
    the derived values it reads, each with the fewest results its means need (`mean(qtcf, at
    least 3)`): for those, results of one day stand for one value."""
    means: dict[str, int] = {}
    plain: set[str] = set()
    pending = [concept]
    while pending:
        formula = pending.pop().formula
        assert formula is not None
        inside = {id(n.args[0]): n.least for n in m.subexpressions(formula)
                  if isinstance(n, m.Call) and n.function == "mean"}
        for node in m.subexpressions(formula):
            if isinstance(node, m.Reading):
                inner = concepts[node.ref.name]
                if inner.kind is m.Kind.DERIVED:
                    pending.append(inner)
                elif id(node) in inside:
                    means[inner.name] = max(means.get(inner.name, 1), inside[id(node)])
                else:
                    plain.add(inner.name)
    return {name: least for name, least in means.items() if name not in plain}


def _several(name: str, x: Decimal, fields: dict, unit: str | None, concept: m.Concept,
             value: Decimal, where: str, written: str, atom: m.Compare, ok: bool,
             count: int) -> Variant:
    """The value `x` of a mean input as `count` results of one day (three, or as many as the
    mean needs), a hundredth of it apart (on the rounding rule's 6 places, as `x` is) around it,
    whose mean is `x` exactly: the network's mean lands where one result of `x` does."""
    results = _around(x, count)
    given = f"{', '.join(map(str, results))}{f' {unit}' if unit else ''}"
    return Variant(
        f"{name} {given} on one day: {concept.name} {tidy(value)} {concept.unit}, {where} "
        f"{written}", f"the mean of {given} is exactly {tidy(x)}; {concept.name} as for one "
        f"result of {tidy(x)}; {written} is {str(ok).lower()}", atom, "true" if ok else "false",
        replace=tuple({"concept": name, "value": r, **fields} for r in results))


def _around(x: Decimal, count: int) -> list[Decimal]:
    """`count` different values a hundredth of `x` apart (on the rounding rule's 6 places), whose
    mean is `x` exactly: results of one day, none a duplicate of another.

    >>> _around(Decimal(100), 3), _around(Decimal(100), 2)
    ([Decimal('99'), Decimal('100'), Decimal('101')], [Decimal('99'), Decimal('101')])
    """
    step = quantize(x / 100)
    offsets = [k - count // 2 for k in range(count)] if count % 2 else \
        [k for k in range(-(count // 2), count // 2 + 1) if k]
    return [tidy(x + k * step) for k in offsets]


def _too_few(name: str, x: Decimal, fields: dict, unit: str | None, concept: m.Concept,
             written: str, atom: m.Compare, least: int) -> Variant:
    """One result fewer than the mean needs (`mean(qtcf, at least 3)`): unknown, whatever they
    are."""
    results = _around(x, least - 1)
    given = f"{', '.join(map(str, results))}{f' {unit}' if unit else ''}"
    return Variant(
        f"{name} {given} on one day, {least - 1} of the {least} its mean needs: {written}",
        f"{concept.name} averages at least {least} results of a day: unknown", atom, "unknown",
        replace=tuple({"concept": name, "value": r, **fields} for r in results))


def _turn(held: Callable[[Decimal], bool | None], start: Decimal) -> tuple[Decimal, Decimal] | None:
    """Two neighbouring values (a step of 0.000001 apart) where `held` turns, searched from
    `start` upwards, then downwards, by doubling steps then bisection; None if it never turns.

    >>> _turn(lambda x: x * 3 >= 1, Decimal(5))
    (Decimal('0.333333'), Decimal('0.333334'))
    """
    first = held(start)
    if first is None:
        return None
    origin = int(start / QUANTUM)
    for sign in (1, -1):
        previous, k = origin, 1
        while True:  # doubling steps, the last clamped to the smallest value or to the limit
            n = min(max(origin + sign * k, 1), int(LIMIT / QUANTUM))
            if n == previous:
                break
            now = held(n * QUANTUM)
            if now is None:
                break
            if now != first:
                a, b = previous, n
                while abs(b - a) > 1:
                    mid = (a + b) // 2
                    said = held(mid * QUANTUM)
                    if said is None:
                        return None
                    a, b = (mid, b) if said == first else (a, mid)
                low, high = sorted((a, b))
                return low * QUANTUM, high * QUANTUM
            previous, k = n, k * 2
    return None


def _where(atom: m.Compare) -> str:
    return f"line {atom.span.line}"
