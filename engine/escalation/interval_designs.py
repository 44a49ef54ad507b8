"""The interval designs i3+3 and mTPI-2: their decision tables, from the published rules.

Both designs decide from the observed DLTs y of n patients at the current level alone, so a design
is its decision table: one letter per (n, y), E escalate, S stay, D de-escalate, DU de-escalate and
eliminate the level and those above ("unacceptable"). The tables ship as rules modules
(`protocol/designs/i3plus3.proto-rules`, `mtpi2.proto-rules`) written by `module_text`; the
engine reads a module's table like BOIN's boundaries (`engine/boin.from_table`). An author who
wants another target or equivalence interval writes the module with `proto-rules design-table`,
which calls
`module_text`: the numbers are computed here, exactly (fractions, no floating point), so the same
arguments give the same file on every machine.

Both designs share the safety rule: with at least 3 patients, a level is unacceptable when
P(DLT rate > target | y, n) > 0.95 under a beta(1, 1) prior (as BOIN's elimination).
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from engine.escalation.boin import CUTOFF, ELIMINATION_MIN_N, posterior_above

#: The designs this module can tabulate, with the paper each rule comes from.
DESIGNS = {
    "i3plus3": "The i3+3 design (Liu, Wang and Ji, J Biopharm Stat 2020;30(2):294-304)",
    "mtpi2": "The mTPI-2 design (Guo et al., Contemp Clin Trials 2017;58:23-33)",
}


def decision_table(design: str, target: Decimal, ei: tuple[Decimal, Decimal],
                   patients: int) -> list[tuple[str, ...]]:
    """The letters for n = 1..patients (row n - 1), each for y = 0..n DLTs.

    >>> decision_table("i3plus3", Decimal("0.3"), (Decimal("0.25"), Decimal("0.35")), 3)[2]
    ('E', 'S', 'D', 'DU')
    """
    decide = {"i3plus3": _i3plus3, "mtpi2": _mtpi2}[design]
    pt, lo, hi = Fraction(target), Fraction(ei[0]), Fraction(ei[1])
    rows = []
    for n in range(1, patients + 1):
        rows.append(tuple(
            "DU" if _unacceptable(y, n, pt) else decide(y, n, lo, hi) for y in range(n + 1)
        ))
    return rows


def _unacceptable(y: int, n: int, target: Fraction) -> bool:
    return n >= ELIMINATION_MIN_N and posterior_above(y, n, target) > CUTOFF


def _i3plus3(y: int, n: int, lo: Fraction, hi: Fraction) -> str:
    """Below the equivalence interval escalate, inside stay; above it, stay if one DLT fewer
    would be below the interval (the "i" of i3+3: one DLT may be bad luck), else de-escalate."""
    rate = Fraction(y, n)
    if rate < lo:
        return "E"
    if rate <= hi:
        return "S"
    return "S" if Fraction(y - 1, n) < lo else "D"


def _mtpi2(y: int, n: int, lo: Fraction, hi: Fraction) -> str:
    """The interval of length hi - lo with the largest unit probability mass (posterior mass over
    length, beta(1, 1) prior) decides: below the equivalence interval E, the interval itself S,
    above D. Intervals tile [0, 1] outward from the equivalence interval; the end ones are cut at 0
    and 1 (and their mass divided by their cut length); the first largest wins a tie."""
    width = hi - lo
    below, start = [], lo
    while start > 0:
        below.insert(0, (max(start - width, Fraction(0)), start))
        start -= width
    above, end = [], hi
    while end < 1:
        above.append((end, min(end + width, Fraction(1))))
        end += width
    intervals = [*below, (lo, hi), *above]

    def upm(interval: tuple[Fraction, Fraction]) -> Fraction:
        a, b = interval
        return (posterior_above(y, n, a) - posterior_above(y, n, b)) / (b - a)

    masses = [upm(interval) for interval in intervals]
    best = masses.index(max(masses))
    return "E" if best < len(below) else ("S" if best == len(below) else "D")


def module_text(
    design: str, target: Decimal, ei: tuple[Decimal, Decimal] | None, patients: int
) -> str:
    """A rules module with the design's decision table, as `proto-rules design-table` writes it;
    the interval defaults to the target -/+ 0.05, as in both papers. A ValueError says what is
    wrong with the arguments."""
    ei = ei or (target - Decimal("0.05"), target + Decimal("0.05"))
    if not 0 < ei[0] < target < ei[1] < 1:
        raise ValueError(f"the equivalence interval {ei[0]},{ei[1]} must hold the target "
                         f"{target}, all between 0 and 1")
    rows = decision_table(design, target, ei, patients)
    name = design if (target, ei) == DEFAULTS else f"{design}_{_digits(target)}"
    lines = [
        f"# {DESIGNS[design]}: its decision table.",
        f"# Target DLT rate {target}, equivalence interval {ei[0]} to {ei[1]}, beta(1, 1) prior;",
        f"# written by `proto-rules design-table {design} --target {target} "
        f"--interval {ei[0]},{ei[1]} --patients {patients}`.",
        "#",
        "# Row n: the decision with n evaluable patients at the current level and 0, 1, ..., n",
        "# of them with a DLT. E escalate, S stay, D de-escalate, DU de-escalate and eliminate",
        "# this level and those above (P(DLT rate > target) > 0.95, at least 3 patients). At the",
        "# lowest level D stays and DU stops the trial with no MTD; at the highest level, or",
        "# below an eliminated one, E stays; at the maximum sample size the MTD is selected by",
        "# isotonic regression, as in BOIN.",
        "",
        f'escalation table {name} "{DESIGNS[design].split(" (")[0]}, target DLT rate {target}"'
        f" target {target} interval {ei[0]} {ei[1]}:",
    ]
    lines += [f"    n {n}: " + " ".join(row) for n, row in enumerate(rows, start=1)]
    return "\n".join(lines) + "\n"


def rate(text: str) -> Decimal:
    """A rate written on the command line, exactly: `0.3` is 3/10, not a binary fraction."""
    try:
        value = Decimal(text)
    except ArithmeticError:
        raise ValueError(f"not a rate like 0.3: {text!r}") from None
    if not value.is_finite() or not 0 < value < 1:
        raise ValueError(f"a rate between 0 and 1, not {text}")
    return value


def interval(text: str) -> tuple[Decimal, Decimal]:
    """`0.25,0.35`: an equivalence interval as two rates."""
    parts = text.split(",")
    if len(parts) != 2:
        raise ValueError(f"an interval like 0.25,0.35, not {text!r}")
    return rate(parts[0]), rate(parts[1])


#: The setting the shipped modules are written for (the papers' running example).
DEFAULTS = (Decimal("0.3"), (Decimal("0.25"), Decimal("0.35")))


def _digits(value: Decimal) -> str:
    return format(value, "f").replace(".", "")
