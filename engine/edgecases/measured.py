"""Boundary cases of measured values: a threshold (`egfr >= 30 mL/min/1.73m2`), a range (`weight
40 to 150 kg`, both ends counted) and a multiple of the lab's own limit (`ast <= 3.0 x ULN`).

Each bound gets the value at it, one step past it on either side (0.000001 of the concept's unit,
the rounding rule's step; 1 for a scale), the bound restated exactly in another unit of the same
dimension, and no value. The status is exact decimal comparison on what the case writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Context, Decimal
from typing import TYPE_CHECKING, Any, Callable

from engine.atoms.base import OPS, threshold_of
from engine.edgecases.base import (Skip, Variant, allowed, given, given_as, kept, other_unit,
                                   step_of, tidy)
from engine.edgecases import validity
from engine.edgecases.validity import aged
from engine.record import dilution
from protocol import model as m
from protocol.units import QUANTUM, UnitProblem, factor, quantize, temperature

if TYPE_CHECKING:
    from engine.edgecases import EdgeCases

#: The reference range a case gives when the base patient's fact of the lab has none.
OWN_RANGE = (("low", Decimal(10)), ("high", Decimal(40)))
#: How far a value at a multiple of the limit is moved, at most, to find the first one whose
#: ratio rounds past it (a limit of 1,000 needs 500 steps).
MOST_STEPS = 100_000
#: Room for a ratio before it is rounded once: far beyond any number's 15 digits.
ROOMY = Context(prec=100)


def _fact(concept: m.Concept, value: Decimal, unit: str | None, fields: dict) -> dict:
    return {"concept": concept.name, "value": _said(concept, value),
            **({"unit": unit} if unit else {}), **fields}


def _said(concept: m.Concept, value: Decimal) -> Decimal | str:
    """A value as a fact file gives it: a titre as its dilution (`1:80`), else the number."""
    return dilution(value) if concept.kind is m.Kind.TITRE else value


def thresholds(gen: EdgeCases, atom: m.Compare) -> list[Variant]:
    """At the threshold, a step under and over, in another unit, and no value."""
    concept = gen.concept(atom)
    threshold = threshold_of(concept, atom.threshold)
    written = f"{atom.ref.name} {atom.op} {atom.threshold}"
    def held(value: Decimal) -> bool:
        return OPS[atom.op](value, threshold)

    return _around(gen, atom, concept, [(threshold, atom.op, atom.threshold.unit)], written, held,
                   lambda v: f"{v} {atom.op} {tidy(threshold)} is {str(held(v)).lower()}")


def ranges(gen: EdgeCases, atom: m.InRange) -> list[Variant]:
    """Each end of `low to high`: at it, a step inside and outside, in another unit; no value."""
    concept = gen.concept(atom)
    low, high = (threshold_of(concept, q) for q in (atom.low, atom.high))
    low_written = atom.low if atom.low.unit == m.DILUTION else atom.low.value
    written = f"{atom.ref.name} {low_written} to {atom.high}"
    def held(value: Decimal) -> bool:
        return low <= value <= high

    return _around(gen, atom, concept, [(low, ">=", atom.low.unit), (high, "<=", atom.high.unit)],
                   written, held, lambda v: f"{tidy(low)} <= {v} <= {tidy(high)} is "
                   f"{str(held(v)).lower()}")


def _around(gen: EdgeCases, atom, concept: m.Concept, bounds, written: str,
            held: Callable[[Decimal], bool], said: Callable[[Decimal], str]) -> list[Variant]:
    step = step_of(concept)
    unit = concept.unit if concept.kind not in m.UNITLESS else None
    fields = kept(gen, concept.name)
    out = []
    for bound, op, written_unit in bounds:
        word = " " if len(bounds) == 1 else (" low end of " if op == ">=" else " high end of ")
        for value, where in ((bound - step, "one step under"), (bound, "at"),
                             (bound + step, "one step over")):
            value = tidy(value)
            if not allowed(concept, value):
                continue
            shown = f"{value} {unit}" if unit else str(_said(concept, value))
            out.append(Variant(
                f"{concept.name} {shown}: {where}{word}{written}",
                f"{said(value)} (step {tidy(step)})", atom,
                "true" if held(value) else "false",
                replace=(_fact(concept, value, unit, fields),)))
        other = other_unit(concept, bound, concept.unit, written_unit, gen.protocol.aliases)
        if other is not None:
            value, other_name = other
            out.append(Variant(
                f"{concept.name} {value} {other_name}: at{word}{written}, in another unit",
                f"{value} {other_name} is exactly {tidy(bound)} {unit} "
                f"({'exact offset and factor' if temperature(unit) else 'exact factor'}): at the "
                f"bound, {'inside' if held(bound) else 'outside'}", atom,
                "true" if held(bound) else "false",
                replace=(_fact(concept, value, other_name, fields),)))
    bound = bounds[0][0]
    value = tidy(next((v for v in (bound, bound + step, bound - step) if allowed(concept, v)),
                      bound))
    out += aged(gen, atom, concept, _fact(concept, value, unit, fields),
                "true" if held(value) else "false", written)
    if given(gen, concept.name):
        out.append(Variant(f"no {concept.name}: {written}", "no value: unknown", atom, "unknown",
                           remove=(given_as(gen, concept.name),)))
    return out


def references(gen: EdgeCases, atom: m.CompareReference) -> list[Variant]:
    """`ast <= 3.0 x ULN`: the value whose ratio to the base's limit is the factor (a range of
    10 to 40 in the concept's unit when the base gives none), the nearest values on either side
    whose ratio (rounded half to even to 6 places, as every number) is past it, the same in
    another unit (value and range alike), no reference range, no value."""
    concept = gen.concept(atom)
    key = "high" if atom.bound == "upper" else "low"
    fields = kept(gen, concept.name)
    unit = given(gen, concept.name).get("unit", concept.unit)
    if key not in (fields.get("reference_range") or {}):  # the case gives a range of its own
        fields["reference_range"] = dict(OWN_RANGE)
        unit = concept.unit
    limit = Decimal(str(fields["reference_range"][key]))
    factor_ = quantize(atom.factor)
    name = "ULN" if atom.bound == "upper" else "LLN"
    written = f"{atom.ref.name} {atom.op} " + (f"{atom.bound} reference" if atom.factor == 1
                                                 else f"{atom.factor} x {name}")
    at = factor_ * limit
    if at != quantize(at):
        raise Skip(f"{atom.factor} x {limit} {unit} has more than 6 places")
    out = []
    for value, where in ((_nearest(at, limit, factor_, -1), "the nearest under"), (at, "at"),
                         (_nearest(at, limit, factor_, +1), "the nearest over")):
        ratio = quantize(ROOMY.divide(value, limit))
        held = OPS[atom.op](ratio, factor_)
        out.append(Variant(
            f"{concept.name} {tidy(value)} {unit}, {name} {tidy(limit)}: {where} {written}",
            f"{tidy(value)} / {tidy(limit)} = {tidy(ratio)} (decimal, rounded half to even to 6 "
            f"places); {tidy(ratio)} {atom.op} {tidy(factor_)} is {str(held).lower()}",
            atom, "true" if held else "false",
            replace=(_fact(concept, tidy(value), unit, fields),)))
    other = other_unit(concept, at, unit, None, gen.protocol.aliases)
    if other is not None:
        value, other_name = other
        try:
            rate = factor(other_name, unit, concept.factors, aliases=gen.protocol.aliases)
        except (UnitProblem, ValueError):  # pragma: no cover - other_unit found it
            rate = None
        range_ = {k: tidy(Decimal(str(v)) / rate) for k, v in fields["reference_range"].items()} \
            if rate is not None else {}
        if rate is not None and all(v == quantize(v) for v in range_.values()):
            held = OPS[atom.op](factor_, factor_)
            out.append(Variant(
                f"{concept.name} {value} {other_name}, {name} {range_[key]}: at {written}, in "
                "another unit", f"{value} / {range_[key]} is exactly {tidy(factor_)}: at it, "
                f"{atom.op} is {str(held).lower()}", atom, "true" if held else "false",
                replace=(_fact(concept, value, other_name,
                               {**fields, "reference_range": range_}),)))
    out += aged(gen, atom, concept, _fact(concept, tidy(at), unit, fields),
                "true" if OPS[atom.op](factor_, factor_) else "false", written)
    unranged = {k: v for k, v in fields.items() if k != "reference_range"}
    out.append(Variant(f"{concept.name} {tidy(at)} {unit} without a reference range: {written}",
                       f"no {atom.bound} reference: unknown", atom, "unknown",
                       replace=(_fact(concept, tidy(at), unit, unranged),)))
    if given(gen, concept.name):
        out.append(Variant(f"no {concept.name}: {written}", "no value: unknown", atom,
                           "unknown", remove=(given_as(gen, concept.name),)))
    return out


def _nearest(at: Decimal, limit: Decimal, factor_: Decimal, sign: int) -> Decimal:
    """The value nearest `at`, on the side of `sign`, whose ratio to `limit` rounds past the
    factor (6 places, half to even)."""
    for k in range(1, MOST_STEPS):
        value = at + sign * k * QUANTUM
        ratio = quantize(ROOMY.divide(value, limit))
        if (ratio > factor_) if sign > 0 else (ratio < factor_):
            return value
    raise Skip(f"no value within {MOST_STEPS} steps of {at} passes {factor_} x {limit}")


@dataclass(frozen=True)
class _Confirming:
    """What the cases of one confirmed comparison share: how it reads (`written`) and how its
    test reads (`said`); a value that holds, one that does not and a second that holds; the unit
    and the fields each result records; for a multiple of a limit, the fields under a limit twice
    as high, and how the earlier result at `meets` reads and counts there."""

    written: str
    said: str
    meets: Decimal
    fails: Decimal
    again: Decimal
    unit: str | None
    fields: dict[str, Any]
    doubled: tuple[dict[str, Any], str, bool] | None = None


def confirmations(gen: EdgeCases, atom: m.Confirmed) -> list[Variant]:
    """`X <op> T confirmed on another day` (or `X low to high ...`, at its low end; or `X <op> F
    x ULN ...`, each result by its own range): a result of the day before screening and one of
    the day before that, each at a value that holds (T itself where the comparison counts it,
    else a step past it; for a multiple of a limit, the nearest value whose ratio, rounded as
    every number, passes) or one that does not: both hold (true), either fails (false); the
    latest alone, or a second result of its own day (unknown: no earlier day); for a multiple
    of a limit, the earlier result at the same value under a limit twice as high (false: each
    day's ratio is to its own range); with `valid for N`, the earlier result dated the oldest
    day it counts (true) and a day older (unknown); none."""
    concept = gen.concept(atom)
    c = _by_reference(gen, atom, concept) if isinstance(atom.measured, m.CompareReference) \
        else _by_value(gen, atom, concept)
    meets, fails, again, unit = c.meets, c.fails, c.again, c.unit
    latest, earlier = gen.screening - timedelta(days=1), gen.screening - timedelta(days=2)
    written = c.written + " confirmed on another day"

    def result(value: Decimal, day: date, range_fields: dict | None = None) -> dict:
        return {**_fact(concept, tidy(value), unit, range_fields or c.fields),
                "date": day.isoformat()}

    def shown(value: Decimal) -> str:
        return f"{_said(concept, tidy(value))}{f' {unit}' if unit else ''}"

    cases = [
        (f"{shown(meets)} on {latest}, {shown(meets)} on {earlier}", "both hold: true", "true",
         (result(meets, latest), result(meets, earlier))),
        (f"{shown(meets)} on {latest}, {shown(fails)} on {earlier}",
         "the earlier does not confirm it: false", "false",
         (result(meets, latest), result(fails, earlier))),
        (f"{shown(fails)} on {latest}, {shown(meets)} on {earlier}",
         "the latest does not hold: false", "false",
         (result(fails, latest), result(meets, earlier))),
        (f"{shown(meets)} on {latest} alone", "no earlier day: unknown", "unknown",
         (result(meets, latest),)),
        (f"{shown(meets)} and {shown(again)} on {latest}",
         "two results of one day, no earlier day: unknown", "unknown",
         (result(meets, latest), result(again, latest))),
    ]
    if c.doubled is not None:  # the earlier day's ratio is to its own range: half the latest's
        fields, how, confirms = c.doubled
        cases.append((f"{shown(meets)} on {latest}, {shown(meets)} on {earlier} under a limit "
                      "twice as high", how, str(confirms).lower(),
                      (result(meets, latest), result(meets, earlier, fields))))
    edge = validity.oldest_counted(gen, concept)
    if edge is not None:
        oldest, why = edge
        cases += [(f"{shown(meets)} on {latest}, {shown(meets)} on {oldest}",
                   f"{why}: the earlier counts: true", "true",
                   (result(meets, latest), result(meets, oldest))),
                  (f"{shown(meets)} on {latest}, {shown(meets)} on {oldest - timedelta(days=1)}",
                   f"{why}: the earlier is a day too old: unknown", "unknown",
                   (result(meets, latest), result(meets, oldest - timedelta(days=1))))]
    out = [Variant(f"{what}: {written}", f"{c.said}: {how}", atom, status,
                   replace=facts) for what, how, status, facts in cases]
    if given(gen, concept.name):
        out.append(Variant(f"no {concept.name}: {written}", "no value: unknown", atom, "unknown",
                           remove=(given_as(gen, concept.name),)))
    return out


def _by_value(gen: EdgeCases, atom: m.Confirmed, concept: m.Concept) -> _Confirming:
    """A threshold or a range (at its low end) on the value: T itself where it holds, else a
    step past it, and a step either way where it does not."""
    measured, step = atom.measured, step_of(concept)
    if isinstance(measured, m.InRange):
        low, high = (threshold_of(concept, q) for q in (measured.low, measured.high))
        threshold, written = low, f"{atom.ref.name} {measured.low.value} to {measured.high}"
        said = f"{tidy(low)} to {tidy(high)}"

        def holds(value: Decimal) -> bool:
            return low <= value <= high
    else:
        assert isinstance(measured, m.Compare)
        threshold = threshold_of(concept, measured.threshold)
        written = f"{atom.ref.name} {measured.op} {measured.threshold}"
        said = f"{measured.op} {tidy(threshold)}"

        def holds(value: Decimal) -> bool:
            return OPS[measured.op](value, threshold)
    meets = next(v for v in (threshold, threshold + step, threshold - step) if holds(v))
    fails = next(v for v in (threshold, threshold - step, threshold + step) if not holds(v))
    again = next(v for v in (meets + step, meets - step) if holds(v))
    fields = {k: v for k, v in kept(gen, concept.name).items() if k != "date"}
    return _Confirming(written, said, meets, fails, again,
                       concept.unit if concept.kind not in m.UNITLESS else None, fields)


def _by_reference(gen: EdgeCases, atom: m.Confirmed, concept: m.Concept) -> _Confirming:
    """A multiple of the reference limit: the base's range (10 to 40 in the concept's unit where
    it gives none), the nearest values whose ratio (rounded as every number) passes or not, and
    the earlier result under a limit twice as high."""
    measured = atom.measured
    assert isinstance(measured, m.CompareReference)
    key = "high" if measured.bound == "upper" else "low"
    fields = {k: v for k, v in kept(gen, concept.name).items() if k != "date"}
    unit = given(gen, concept.name).get("unit", concept.unit)
    if key not in (fields.get("reference_range") or {}):  # a range of the cases' own
        fields["reference_range"], unit = dict(OWN_RANGE), concept.unit
    limit = Decimal(str(fields["reference_range"][key]))
    factor_ = quantize(measured.factor)
    name = "ULN" if measured.bound == "upper" else "LLN"
    threshold = factor_ * limit
    if threshold != quantize(threshold):
        raise Skip(f"{measured.factor} x {limit} {unit} has more than 6 places")

    def under(value: Decimal, limit: Decimal) -> bool:
        return OPS[measured.op](quantize(ROOMY.divide(value, limit)), factor_)
    near = {sign: _nearest(threshold, limit, factor_, sign) for sign in (-1, 1)}
    meets = next(v for v in (threshold, near[1], near[-1]) if under(v, limit))
    fails = next(v for v in (threshold, near[-1], near[1]) if not under(v, limit))
    again = next(v for v in (meets + QUANTUM, meets - QUANTUM) if under(v, limit))
    twice = limit * 2
    confirms = under(meets, twice)
    how = f"the earlier's ratio is to its own limit, {tidy(twice)}: " \
        f"{tidy(quantize(ROOMY.divide(meets, twice)))}, " \
        f"{'confirms' if confirms else 'does not confirm'} it: {str(confirms).lower()}"
    doubled = {**fields, "reference_range": {**fields["reference_range"], key: tidy(twice)}}
    return _Confirming(f"{atom.ref.name} {measured.op} {measured.factor} x {name}",
                       f"{measured.op} {tidy(factor_)} x {name} {tidy(limit)} (each ratio "
                       "rounded half to even to 6 places)", meets, fails, again, unit, fields,
                       (doubled, how, confirms))
