"""BOIN, the Bayesian optimal interval design (Liu and Yuan, JRSS C 2015): its numbers, and the
escalation rules they make.

The numbers are mathematics and live here: the escalation and de-escalation boundaries lambda_e and
lambda_d from the published formulas, the elimination cut-offs (posterior P(p > target) > 0.95 under
a beta(1, 1) prior, with at least 3 patients), and the MTD selection by isotonic regression, all as
the reference R package `BOIN` computes them (`get.boundary`, `select.mtd`). The decision for a
state is not made here: `design` turns the boundaries into escalation rules, one per number of
evaluable patients and outcome, with the boundary values written into their conditions, and the
rule network decides from those like from any other rules.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from decimal import Decimal
from fractions import Fraction

from engine.escalation import beta
from protocol import escalation_model as em
from protocol import model as m

#: The elimination rule's posterior cut-off (`cutoff.eli`) and the fewest patients it needs, and
#: extrasafe's `offset`, the reference's defaults.
CUTOFF = Fraction(95, 100)
DEFAULT_CUTOFF = Decimal("0.95")
DEFAULT_OFFSET = Decimal("0.05")
ELIMINATION_MIN_N = 3
#: A yes/no fact the rule network derives (it is not counted): the next higher level's own counts
#: meet the elimination rule. Only BOIN's generated rules use it.
ELIMINATED_ABOVE = "higher_eliminated"


@dataclass(frozen=True)
class Boundaries:
    """The boundaries for n = 1..maximum patients at a level; index 0 stands for n = 1.

    BOIN's come from its formulas (with phi1, phi2, lambda_e and lambda_d); a decision table's
    (i3+3, mTPI-2) are read off its rows (`from_table`) and have no lambdas.
    """

    target: Decimal
    phi1: Decimal | None
    phi2: Decimal | None
    lambda_e: float | None
    lambda_d: float | None
    escalate: tuple[int, ...]  # escalate if DLTs <= this
    deescalate: tuple[int, ...]  # de-escalate if DLTs >= this
    eliminate: tuple[int | None, ...]  # eliminate if DLTs >= this (None: never, n < 3)
    cutoff: Decimal = DEFAULT_CUTOFF  # the elimination's cut-off
    stop: tuple[int | None, ...] | None = None  # extrasafe: stop if DLTs >= this at the lowest
    stop_cutoff: Decimal | None = None  # extrasafe's cut-off, cutoff - offset
    n_earlystop: int | None = None  # stop at this many patients when the decision is to stay

    def unsafe_lowest(self, n: int, dlt: int) -> bool:
        """Extrasafe: the lowest level's counts stop the trial (and it selects no MTD)."""
        cut = self.stop[n - 1] if self.stop and 0 < n <= len(self.stop) else None
        return cut is not None and dlt >= cut

    def at(self, n: int) -> dict[str, object]:
        """The boundaries used with `n` evaluable patients, as the trail records them."""
        used: dict[str, object] = {
            "n": n,
            "escalate_if_dlt_at_most": self.escalate[n - 1],
            "deescalate_if_dlt_at_least": self.deescalate[n - 1],
            "eliminate_if_dlt_at_least": self.eliminate[n - 1],
        }
        if self.lambda_e is not None and self.lambda_d is not None:
            used |= {"lambda_e": f"{self.lambda_e:.4f}", "lambda_d": f"{self.lambda_d:.4f}"}
        if self.cutoff != DEFAULT_CUTOFF:
            used["cutoff_eli"] = str(self.cutoff)
        if self.stop is not None:
            used["extrasafe_stop_if_dlt_at_least"] = self.stop[n - 1]
        if self.n_earlystop is not None:
            used["n_earlystop"] = self.n_earlystop
        return used


def intervals(
    target: Decimal, phi1: Decimal | None = None, phi2: Decimal | None = None
) -> tuple[Decimal, Decimal, float, float]:
    """phi1, phi2 (defaults 0.6 and 1.4 times the target) and the boundaries lambda_e, lambda_d.

    >>> [f"{x:.4f}" for x in intervals(Decimal("0.3"))[2:]]
    ['0.2365', '0.3585']
    """
    phi1 = phi1 if phi1 is not None else Decimal("0.6") * target
    phi2 = phi2 if phi2 is not None else Decimal("1.4") * target
    phi, p1, p2 = float(target), float(phi1), float(phi2)
    lambda_e = math.log((1 - p1) / (1 - phi)) / math.log(phi * (1 - p1) / (p1 * (1 - phi)))
    lambda_d = math.log((1 - phi) / (1 - p2)) / math.log(p2 * (1 - phi) / (phi * (1 - p2)))
    return phi1, phi2, lambda_e, lambda_d


def posterior_above(dlt: int, n: int, target: Fraction) -> Fraction:
    """P(p > target | dlt of n) under a beta(1, 1) prior, exactly.

    The posterior is beta(dlt + 1, n - dlt + 1); for whole parameters its tail is a binomial sum:
    P(p > t) = P(Binomial(n + 1, t) <= dlt).

    >>> float(posterior_above(3, 3, Fraction(3, 10)))
    0.9919
    """
    return sum(
        (math.comb(n + 1, k) * target**k * (1 - target) ** (n + 1 - k) for k in range(dlt + 1)),
        Fraction(0),
    )


def elimination_boundary(
    n: int, target: Decimal, cutoff: Decimal | Fraction = CUTOFF
) -> int | None:
    """The fewest DLTs of `n` that eliminate a level, or None (fewer than 3 patients, or none do):
    the first with P(DLT rate > target | data) > cutoff. Extrasafe's stopping boundary is the
    same with the cut-off lowered by the offset.

    >>> [elimination_boundary(n, Decimal("0.3")) for n in (2, 3, 6, 9, 12)]
    [None, 3, 4, 5, 7]
    """
    if n < ELIMINATION_MIN_N:
        return None
    exact, cut = Fraction(target), Fraction(cutoff)
    return next((y for y in range(1, n + 1) if posterior_above(y, n, exact) > cut), None)


def boundaries(design: em.Boin, maximum: int) -> Boundaries:
    """Every boundary for 1..maximum patients at a level (the reference's `full_boundary_tab`),
    with the options: `cutoff.eli` for the elimination, extrasafe's stopping boundary
    (`stop_boundary`, cut-off `cutoff.eli - offset`), `n.earlystop`.

    As there, the de-escalation boundary never exceeds the elimination boundary.
    """
    phi1, phi2, lambda_e, lambda_d = intervals(design.target, design.phi1, design.phi2)
    cutoff = design.cutoff_eli if design.cutoff_eli is not None else DEFAULT_CUTOFF
    stop_cutoff = None
    if design.extrasafe:
        offset = design.offset if design.offset is not None else DEFAULT_OFFSET
        stop_cutoff = (cutoff - offset).normalize()  # 0.9 as the reference prints it, not 0.90
    escalate, deescalate, eliminate, stop = [], [], [], []
    for n in range(1, maximum + 1):
        elim = elimination_boundary(n, design.target, cutoff)
        escalate.append(math.floor(lambda_e * n))
        deescalate.append(min(math.ceil(lambda_d * n), elim) if elim else math.ceil(lambda_d * n))
        eliminate.append(elim)
        if stop_cutoff is not None:
            stop.append(elimination_boundary(n, design.target, stop_cutoff))
    return Boundaries(
        design.target,
        phi1,
        phi2,
        lambda_e,
        lambda_d,
        tuple(escalate),
        tuple(deescalate),
        tuple(eliminate),
        cutoff,
        tuple(stop) if stop_cutoff is not None else None,
        stop_cutoff,
        design.n_earlystop,
    )


def from_table(table: em.DecisionTable, maximum: int) -> Boundaries:
    """A decision table's rows as boundaries: escalate up to the last E, de-escalate from the
    first D (or DU), eliminate from the first DU. The checker has made sure every row reads
    E.., S.., D.., DU.. in that order and that rows 1..maximum are there.

    >>> rows = (em.TableRow(None, 1, ("E", "S")), em.TableRow(None, 2, ("E", "S", "DU")))
    >>> b = from_table(em.DecisionTable(Decimal("0.3"), (Decimal("0.2"), Decimal("0.4")), rows), 2)
    >>> b.escalate, b.deescalate, b.eliminate
    ((0, 0), (2, 2), (None, 2))
    """
    rows = {row.n: row.cells for row in table.rows}
    escalate, deescalate, eliminate = [], [], []
    for n in range(1, maximum + 1):
        cells = rows[n]
        escalate.append(cells.count("E") - 1)
        deescalate.append(next((y for y, c in enumerate(cells) if c in ("D", "DU")), n + 1))
        eliminate.append(next((y for y, c in enumerate(cells) if c == "DU"), None))
    return Boundaries(table.target, None, None, None, None, tuple(escalate), tuple(deescalate),
                      tuple(eliminate))


# --- MTD selection --------------------------------------------------------------------------------


def pava(values: list[float], weights: list[float]) -> list[float]:
    """Weighted isotonic (non-decreasing) regression by pooling adjacent violators.

    >>> pava([0.1, 0.4, 0.2], [1.0, 1.0, 1.0])
    [0.1, 0.30000000000000004, 0.30000000000000004]
    """
    blocks: list[list[float]] = []  # [value, weight, count]
    for value, weight in zip(values, weights):
        blocks.append([value, weight, 1])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            v2, w2, c2 = blocks.pop()
            v1, w1, c1 = blocks.pop()
            blocks.append([(v1 * w1 + v2 * w2) / (w1 + w2), w1 + w2, c1 + c2])
    return [value for value, _, count in blocks for _ in range(count)]


def select_mtd(counts: list[tuple[int, int]], eliminated: set[int], target: Decimal) -> int | None:
    """The index of the level selected as MTD from (patients, DLTs) per level, or None.

    As the reference `select.mtd`: levels at or above the lowest eliminated one are out; the
    others with patients get the isotonic estimate of (DLTs + 0.05) / (n + 0.1), weighted by the
    inverse of its variance; the level closest to the target wins (ties: the lower level when the
    estimates are above the target, the higher when below). None when the lowest level is out.

    >>> select_mtd([(3, 0), (3, 0), (15, 4), (9, 4), (0, 0)], set(), Decimal("0.3"))
    2
    """
    first_out = min(eliminated, default=len(counts))
    admissible = [i for i, (n, _) in enumerate(counts) if n > 0 and i < first_out]
    if first_out == 0 or not admissible:
        return None
    estimates, weights = [], []
    for i in admissible:
        n, y = counts[i]
        estimates.append((y + 0.05) / (n + 0.1))
        weights.append(1 / ((y + 0.05) * (n - y + 0.05) / ((n + 0.1) ** 2 * (n + 0.1 + 1))))
    pooled = [p + (k + 1) * 1e-10 for k, p in enumerate(pava(estimates, weights))]
    distance = [abs(p - float(target)) for p in pooled]
    return admissible[distance.index(min(distance))]


#: select.mtd's prior for its estimates, beta(0.05, 0.05), and its credible interval's tails.
PRIOR = 0.05
CREDIBLE = (0.025, 0.975)


@dataclass(frozen=True)
class Estimate:
    """What the reference's `select.mtd` reports for one level with patients: the isotonic
    estimate of the DLT rate, its 95% credible interval, and the probability of overdosing."""

    patients: int
    dlt: int
    rate: float  # isotonic estimate of the DLT rate
    low: float  # 95% credible interval, each end made isotonic as the estimate is
    high: float
    overdose: float  # P(DLT rate > target | data), made non-decreasing over the levels


def estimates(counts: list[tuple[int, int]], target: Decimal) -> list[Estimate | None]:
    """Per level, from (patients, DLTs), what `select.mtd` reports beside the MTD; None for a
    level nobody received. As the reference (BOIN 2.7, R/select.mtd.R) computes them, over every
    level with patients, eliminated or not, with a beta(0.05, 0.05) prior: the posterior means
    (y + 0.05) / (n + 0.1), and the beta quantiles 0.025 and 0.975 of beta(y + 0.05, n - y + 0.05),
    each pooled by `pava` weighted by the inverse posterior variance; the posterior tails
    P(rate > target) pooled by an unweighted `pava`. (The reference prints the interval of the
    i-th treated level beside dose i, which shifts it when a level below nobody's is empty, a
    backup level; here every level shows its own.)

    >>> [round(e.rate, 2) for e in estimates([(3, 0), (6, 1), (3, 2)], Decimal("0.3"))]
    [0.02, 0.17, 0.66]
    """
    treated = [i for i, (n, _) in enumerate(counts) if n > 0]
    shown: list[Estimate | None] = [None] * len(counts)
    if not treated:
        return shown
    y = [counts[i][1] for i in treated]
    n = [counts[i][0] for i in treated]
    a = [dlt + PRIOR for dlt in y]
    b = [m - dlt + PRIOR for m, dlt in zip(n, y)]
    weights = [1 / (p * q / ((p + q) ** 2 * (p + q + 1))) for p, q in zip(a, b)]
    rate = pava([p / (p + q) for p, q in zip(a, b)], weights)
    low = pava([beta.quantile(CREDIBLE[0], p, q) for p, q in zip(a, b)], weights)
    high = pava([beta.quantile(CREDIBLE[1], p, q) for p, q in zip(a, b)], weights)
    over = pava([beta.tail(float(target), p, q) for p, q in zip(a, b)], [1.0] * len(a))
    for k, i in enumerate(treated):
        shown[i] = Estimate(n[k], y[k], rate[k], low[k], high[k], over[k])
    return shown


# --- the rules ------------------------------------------------------------------------------------


def design(boin: em.Boin, maximum: int) -> tuple[em.Design, dict[str, dict[str, object]]]:
    """BOIN as escalation rules, and the boundary each rule uses (by rule id) for the trail."""
    bounds = boundaries(boin, maximum)
    rules, used = _rules(bounds, maximum, boin.span, "BOIN")
    text = f"BOIN, target DLT rate {boin.target}"
    return em.Design(boin.span, "boin", text, tuple(rules), exclusive=True), used


def table_design(
    table_design: em.Design, maximum: int
) -> tuple[em.Design, Boundaries, dict[str, dict[str, object]]]:
    """A decision-table design (i3+3, mTPI-2) as escalation rules, generated like BOIN's."""
    assert table_design.table is not None
    bounds = from_table(table_design.table, maximum)
    rules, used = _rules(bounds, maximum, table_design.span, table_design.name)
    return replace(table_design, rules=tuple(rules)), bounds, used


def _rules(
    bounds: Boundaries, maximum: int, span, prefix: str
) -> tuple[list[em.EscalationRule], dict[str, dict[str, object]]]:
    """The rules, and the boundary each uses (by rule id) for the trail.

    The rules partition every state, so exactly one holds (`exclusive`): the sample is full; the
    cohort is incomplete; or, for each number n of evaluable patients, the DLT count lies in the
    elimination, de-escalation, stay or escalation band of n, each split by whether the level is
    the lowest / the highest (or the next one is eliminated). A band no DLT count falls in (a
    table row without an E, or without a D) has no rule.
    """
    rules = [
        _rule(
            span,
            f"{prefix}.full",
            f"The maximum sample size ({maximum}) is reached: stop; the MTD is "
            "selected by isotonic regression.",
            [_flag(span, "full")],
            "STOP",
            "select",
        ),
        _rule(
            span,
            f"{prefix}.cohort",
            "The current cohort is not complete: treat the next patient at this level.",
            [_flag(span, "full", False), _flag(span, "cohort_complete", False)],
            "STAY",
        ),
    ]
    used: dict[str, dict[str, object]] = {}
    for n in range(1, maximum + 1):
        base = [
            _count(span, "evaluable", "==", n),
            _flag(span, "full", False),
            _flag(span, "cohort_complete"),
        ]
        cases = _options(bounds, n, span, _cases(bounds, n, span))
        for suffix, text, conditions, move, mtd in cases:
            rule = _rule(span, f"{prefix}.n{n}.{suffix}", text, [*base, *conditions], move, mtd)
            rules.append(rule)
            used[rule.id] = bounds.at(n)
    return rules, used


Case = tuple[str, str, list[m.Condition], str, "str | None"]  # suffix, text, conditions, move, mtd


def _cases(bounds: Boundaries, n: int, span) -> list[Case]:
    """The bands of the DLT count for n evaluable patients, without the options."""
    formula = bounds.lambda_e is not None
    higher_out = _flag(span, ELIMINATED_ABOVE)
    esc, de, elim = bounds.escalate[n - 1], bounds.deescalate[n - 1], bounds.eliminate[n - 1]
    cases: list[Case] = []
    if elim is not None:
        too_toxic = (
            f"{n} evaluable, at least {elim} with a DLT: P(DLT rate > {bounds.target}) > "
            f"{bounds.cutoff}"
        )
        cases += [
            (
                "stop",
                f"{too_toxic} at the lowest level; stop, no MTD.",
                [_count(span, "dlt", ">=", elim), _flag(span, "lowest")],
                "STOP",
                "none",
            ),
            (
                "eliminate",
                f"{too_toxic}; eliminate this level and those above, de-escalate.",
                [_count(span, "dlt", ">=", elim), _flag(span, "lowest", False)],
                "ELIMINATE",
                None,
            ),
        ]
    band = [_count(span, "dlt", ">=", de)] + ([_count(span, "dlt", "<", elim)] if elim else [])
    if de <= n and (elim is None or de < elim):
        why = f"rate >= lambda_d {bounds.lambda_d:.3f}" if formula else "D in the table"
        rate = f"{n} evaluable, at least {de} with a DLT ({why})"
        cases += [
            ("stay-lowest", f"{rate} at the lowest level: stay.",
             [*band, _flag(span, "lowest")], "STAY", None),
            ("de-escalate", f"{rate}: de-escalate.",
             [*band, _flag(span, "lowest", False)], "DE-ESCALATE", None),
        ]
    why = f"rate <= lambda_e {bounds.lambda_e:.3f}" if formula else "E in the table"
    low = f"{n} evaluable, at most {esc} with a DLT ({why})"
    cases += [] if esc < 0 else [
        ("stay-top", f"{low}, at the highest level: stay.",
         [_count(span, "dlt", "<=", esc), _flag(span, "highest")], "STAY", None),
        ("stay-below-eliminated", f"{low}, below an eliminated level: stay.",
         [_count(span, "dlt", "<=", esc), _flag(span, "highest", False), higher_out],
         "STAY", None),
        ("escalate", f"{low}: escalate.",
         [_count(span, "dlt", "<=", esc), _flag(span, "highest", False), m.Not(span, higher_out)],
         "ESCALATE", None),
    ]
    if esc + 1 < de:
        between = "rate between lambda_e and lambda_d" if formula else "S in the table"
        cases.append(
            ("stay", f"{n} evaluable, {esc + 1} to {de - 1} with a DLT ({between}): stay.",
             [_count(span, "dlt", ">", esc), _count(span, "dlt", "<", de)], "STAY", None)
        )
    return cases


def _options(bounds: Boundaries, n: int, span, cases: list[Case]) -> list[Case]:
    """BOIN's options, as the reference's get.oc applies them after the elimination rule.

    extrasafe: at the lowest level, `stop` DLTs of n (P(DLT rate > target) > cutoff.eli - offset)
    stop the trial with no MTD, before any other decision; every other band excludes that.
    n.earlystop: with at least that many patients at the current level, a decision to stay (in
    the interval; de-escalate at the lowest; escalate at the highest or below an eliminated level)
    stops the trial, and the MTD is selected.
    """
    stop = bounds.stop[n - 1] if bounds.stop else None
    elim = bounds.eliminate[n - 1]
    if stop is not None and (elim is None or stop < elim):
        lowest, unsafe = _flag(span, "lowest"), _count(span, "dlt", ">=", stop)
        guard = m.Not(span, m.And(span, (lowest, unsafe)))
        strict = (
            "extrasafe",
            f"{n} evaluable at the lowest level, at least {stop} with a DLT: P(DLT rate > "
            f"{bounds.target}) > {bounds.stop_cutoff} (extrasafe); stop, no MTD.",
            [unsafe, lowest], "STOP", "none",
        )
        kept = [case for case in cases if case[0] != "stop"]
        cases = [strict] + [
            case if _flag(span, "lowest", False) in case[2] else (*case[:2], [*case[2], guard],
                                                                  *case[3:])
            for case in kept
        ]
    early = bounds.n_earlystop
    if early is None or n < early:
        return cases
    reached = f"n.earlystop ({early}) is reached with a decision to stay: stop; the MTD is " \
        "selected by isotonic regression."
    return [
        (suffix, text.removesuffix("stay.") + reached, conditions, "STOP", "select")
        if move == "STAY" else (suffix, text, conditions, move, mtd)
        for suffix, text, conditions, move, mtd in cases
    ]


def elimination_groups(bounds: Boundaries) -> list[tuple[int, int, int]]:
    """(first n, last n, cut-off) for each run of n sharing an elimination cut-off.

    >>> elimination_groups(boundaries(em.Boin(None, Decimal("0.3")), 8))
    [(3, 4, 3), (5, 6, 4), (7, 8, 5)]
    """
    groups: list[tuple[int, int, int]] = []
    for n, cut in enumerate(bounds.eliminate, start=1):
        if cut is None:
            continue
        if groups and groups[-1][2] == cut and groups[-1][1] == n - 1:
            groups[-1] = (groups[-1][0], n, cut)
        else:
            groups.append((n, n, cut))
    return groups


def _rule(
    span, ident: str, text: str, conditions: list[m.Condition], move: str, mtd: str | None = None
) -> em.EscalationRule:
    return em.EscalationRule(
        span, ident, text, m.And(span, tuple(conditions)), em.Move(span, move, mtd)
    )


def _count(span, name: str, op: str, value: int) -> m.Compare:
    return m.Compare(span, m.Ref(span, name), op, m.Quantity(span, Decimal(value), None))


def _flag(span, name: str, value: bool = True) -> m.Condition:
    truth = m.Truth(span, m.Ref(span, name))
    return truth if value else m.Not(span, truth)


def table(bounds: Boundaries, cohort_size: int) -> str:
    """The boundary table as the reference software prints it (`get.boundary`'s `boundary_tab`),
    at multiples of the cohort size up to the maximum or n.earlystop; with cohorts of 1, every n
    (`full_boundary_tab`)."""
    ns = _columns(bounds, cohort_size)
    rows = [
        ("Number of patients treated", [str(n) for n in ns]),
        ("Escalate if # of DLT <=", [str(bounds.escalate[n - 1]) for n in ns]),
        ("Deescalate if # of DLT >=", [str(bounds.deescalate[n - 1]) for n in ns]),
        ("Eliminate if # of DLT >=", [_or_na(bounds.eliminate[n - 1]) for n in ns]),
    ]
    return _rows(rows, 28)


def summary(bounds: Boundaries, cohort_size: int) -> str:
    """The boundaries with every option, laid out as the reference's `summary(get.boundary(...))`
    prints them (the de-escalation boundary with `>=`, which is what its tables apply).

    >>> print(summary(boundaries(em.Boin(None, Decimal("0.3"), extrasafe=True), 6), 3))
    ... # doctest: +ELLIPSIS +NORMALIZE_WHITESPACE
    Escalate dose if the observed DLT rate at the current dose <= 0.2365
    ...
    Stop the trial if # of DLT >=                       2   4
    """
    assert bounds.lambda_e is not None and bounds.lambda_d is not None
    lines = [
        f"Escalate dose if the observed DLT rate at the current dose <= {bounds.lambda_e:.4f}",
        f"Deescalate dose if the observed DLT rate at the current dose >= {bounds.lambda_d:.4f}",
        "",
        "This is equivalent to the following decision boundaries",
        table(bounds, cohort_size),
    ]
    if cohort_size > 1:
        lines += ["", "A more completed version of the decision boundaries is given by",
                  table(bounds, 1)]
    lines += ["", f"Eliminate a dose and those above if Pr(its DLT rate > {bounds.target} | "
              f"data) > {bounds.cutoff} (cutoff.eli) and n >= 3"]
    if bounds.stop is None:
        lines.append("Default stopping rule: stop the trial if the lowest dose is eliminated.")
    else:
        ns = _columns(bounds, cohort_size)
        lines += [
            "In addition to the default stopping rule (i.e., stop the trial if the lowest dose is "
            "eliminated),",
            "the following more strict stopping safety rule will be used for extra safety:",
            " stop the trial if (1) the number of patients treated at the lowest dose >= 3 AND",
            f" (2) Pr(the DLT rate of the lowest dose > {bounds.target} | data) > "
            f"{bounds.stop_cutoff},",
            " which corresponds to the following stopping boundaries:",
            _rows([("The number of patients treated at the lowest dose", [str(n) for n in ns]),
                   ("Stop the trial if # of DLT >=", [_or_na(bounds.stop[n - 1]) for n in ns])],
                  49),
        ]
    if bounds.n_earlystop is not None:
        lines.append(f"Stop the trial and select the MTD when {bounds.n_earlystop} patients "
                     "(n.earlystop) are treated at the current dose and the decision is to stay.")
    return "\n".join(lines)


def _columns(bounds: Boundaries, cohort_size: int) -> list[int]:
    last = min(len(bounds.escalate), bounds.n_earlystop or len(bounds.escalate))
    return list(range(cohort_size, last + 1, cohort_size)) or [last]


def _rows(rows: list[tuple[str, list[str]]], width: int) -> str:
    return "\n".join(
        f"{label:<{width}}" + "".join(f"{cell:>4}" for cell in cells) for label, cells in rows
    )


def _or_na(value: int | None) -> str:
    return "NA" if value is None else str(value)
