"""Limits: what the rule engine and the calendar can represent, checked before anything runs.

A protocol `check` accepts must compile and run. The engine compares binary floats and the
normaliser rounds every value to `units.PLACES` decimal places; dates are counted on a calendar,
and one rule of durable_rules joins a bounded number of facts. A number, a span of time or a count
beyond these would not be refused by the engine but crash it, or be silently read as another one
(a threshold of 0.0000001 rounds to 0): each is reported here, at its position, with what to write.
`protocol/checks.py` walks the protocol and asks these functions about what it finds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal

from protocol import escalation_model as em
from protocol import model as m
from protocol import units
from protocol.errors import Diagnostic, Span

#: A number has at most this many significant digits (a binary float holds 15 exactly) ...
MAX_DIGITS = 15
#: ... is below 10 to this power (the largest whole number of 15 digits) ...
MAX_EXPONENT = 15
#: ... and no more decimal places than values are rounded to.
MAX_PLACES = units.PLACES

#: The longest span of time, in each unit: 100 years. Windows, validity and DLT windows are
#: counted on the calendar from a screening date or a date concept's day; 100 years from any day of
#: this century stays within 1900 to 2200, the dates the normaliser's calendar is meant for.
MAX_YEARS = 100
MAX_DURATION = {"days": 36_525, "weeks": 5_218, "months": 12 * MAX_YEARS, "years": MAX_YEARS}

#: `at least N x ...`: the engine counts the items that meet (a rule's `count`, 16 bits), and a
#: patient needs N of them, each a fact of the session; sessions of tens of thousands of facts
#: meet the engine's 32-bit fact index clashing (engine/host.py). Counts are tested up to here.
MAX_COUNT = 1000

#: `at least k of [...]` over conditions: each condition is a few rules of its own, whose hits the
#: engine counts (engine/compile.py, `count_of`); 1,000 lab thresholds are about 3,100 rules, and a
#: network holds at most 4,096 (durable_rules' MAX_ACTIONS). Lists are tested up to here.
MAX_LISTED = 1000

#: BOIN generates rules per number of patients at a level, in rulesets of a bounded size: sample
#: sizes up to this many are built and tested.
MAX_BOIN_PATIENTS = 200


#: How a check makes a diagnostic from a template's kind, a span and the template's fields.
Diag = Callable[..., Diagnostic]


def number(value: Decimal, span: Span, diag: Diag) -> Iterator[Diagnostic]:
    """A number as written: at most 15 significant digits, 6 decimal places, below 10^15.

    >>> from protocol.declarations import diag
    >>> span = Span("t", 1, 1, 1, 2)
    >>> [d.message for d in number(Decimal("0.0000001"), span, diag)]  # doctest: +ELLIPSIS
    ['0.0000001 has 7 decimal places; values are rounded to 6...']
    """
    if not value.is_finite():
        yield diag("number-limit", span, value=value, what="no finite value", hint="")
        return
    _sign, digits, exponent = value.as_tuple()  # read without a context: 1E+4496729 is no error
    zeros = len(digits) - len("".join(map(str, digits)).rstrip("0"))
    significant, places = len(digits) - zeros, max(0, -(int(exponent) + zeros))
    if value and value.adjusted() >= MAX_EXPONENT:
        yield diag("number-limit", span, value=_shown(value),
                   what=f"{value.adjusted() + 1} digits before the point",
                   hint=f"; the engine compares numbers below 10^{MAX_EXPONENT}: write it in a "
                   "larger unit")
    elif places > MAX_PLACES:
        yield diag("number-limit", span, value=_shown(value), what=f"{places} decimal places",
                   hint=f"; values are rounded to {MAX_PLACES}, so it would be read as "
                   f"{units.quantize(value).normalize():f}")
    elif significant > MAX_DIGITS:
        yield diag("number-limit", span, value=_shown(value),
                   what=f"{significant} significant digits",
                   hint=f"; the engine compares numbers of at most {MAX_DIGITS}")


def representable(value: Decimal) -> bool:
    """Below 10^15: a number that may be converted and compared (`number` reports the others).

    >>> representable(Decimal("1E4496729")), representable(Decimal("6e7"))
    (False, True)
    """
    return value.is_finite() and (not value or value.adjusted() < MAX_EXPONENT)


def converted(quantity: m.Quantity, unit: str, conversions: units.Conversions,
              diag: Diag) -> Iterator[Diagnostic]:
    """A threshold once converted into the concept's unit is a number the engine compares too
    (10^14 kg is 10^23 mg); one too large as written is reported by `number` alone."""
    assert quantity.unit is not None
    if not representable(quantity.value):
        return
    value = units.convert(quantity.value, quantity.unit, unit, conversions)
    if value and value.adjusted() >= MAX_EXPONENT:
        yield diag("number-limit/converted", quantity.span, value=quantity, unit=unit,
                   converted=_shown(value.normalize()), limit=MAX_EXPONENT)


def duration(span_of_time: m.Duration, diag: Diag) -> Iterator[Diagnostic]:
    """At most 100 years, in whatever unit it is written."""
    limit = MAX_DURATION[span_of_time.unit]
    if span_of_time.amount > limit:
        yield diag("duration-limit", span_of_time.span, duration=span_of_time,
                   limit=f"{limit:,} {span_of_time.unit}", years=MAX_YEARS)


def power(node: m.Power, diag: Diag) -> Iterator[Diagnostic]:
    """`h^99` in a formula: a unit or a number raised beyond what a unit can hold. An exponent
    worked out per patient (`0.993^(age in years)`) has a plain base and no bound here: see
    `formula.MAX_WORKED_EXPONENT`."""
    if isinstance(node.exponent, m.Number) and abs(node.exponent.value) > units.MAX_POWER:
        yield diag("number-limit/power", node.exponent.span, value=node.exponent.text,
                   limit=units.MAX_POWER)


def count(atom: m.Counted, diag: Diag) -> Iterator[Diagnostic]:
    if atom.count > MAX_COUNT:
        yield diag("count-limit", atom.span, count=atom.count, limit=MAX_COUNT)


def listed(node: m.AtLeast, diag: Diag) -> Iterator[Diagnostic]:
    """`at least k of [...]` lists at most `MAX_LISTED` conditions."""
    if len(node.items) > MAX_LISTED:
        yield diag("at-least-limit", node.span, count=node.count, n=len(node.items),
                   limit=MAX_LISTED)


def boin_patients(escalation: em.Escalation, diag: Diag) -> Iterator[Diagnostic]:
    if isinstance(escalation.design, em.Boin) and escalation.maximum is not None \
            and escalation.maximum > MAX_BOIN_PATIENTS:
        yield diag("boin-limit", escalation.span, maximum=escalation.maximum,
                   limit=MAX_BOIN_PATIENTS)


def _shown(value: Decimal) -> str:
    """A long number as written, or shortened in the middle so the message stays one line."""
    text = f"{value:f}" if abs(value.adjusted()) < 40 else str(value)
    return text if len(text) <= 40 else f"{text[:18]}...{text[-18:]}"

#: A derived value gets one rule per way of deciding its conditional terms (up to 3 ** n for n
#: conditions: each true, false or open): beyond this many, compiling is slow and the rules are
#: unreadable.
FORMULA_WAYS = 256
