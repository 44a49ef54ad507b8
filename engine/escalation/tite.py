"""TITE-BOIN, the time-to-event BOIN (Yuan, Lin, Li, Nie and Warren, Clin Cancer Res 2018;
24:4921-4930): BOIN's decisions taken while some DLT outcomes are still pending.

A pending patient counts by the share of the DLT window already observed without a DLT. With n
patients at the current level (evaluable or pending), y DLTs, c pending and STFT, the standardized
total follow-up time (the pending patients' days of follow-up summed, over the window's length),
the paper imputes the DLT rate as

    p_hat = (y + p_tilde / (1 - p_tilde) * (c - STFT)) / n,  p_tilde = (y + target/2) / (n - c + 1)

(p_tilde: the posterior mean from the completed patients under a beta(target/2, 1 - target/2)
prior) and compares it with BOIN's lambda_e and lambda_d. For each n, y and c that is a threshold
on the STFT, which is how the published decision tables state it: escalate if STFT >= t, and so
on. Further, as those tables and the authors' software apply it:

- DLTs alone decide when they are enough (y at or above BOIN's de-escalation boundary for n:
  de-escalate, or eliminate as BOIN does, with n counting the pending patients);
- otherwise, with more than half of the patients pending, accrual is suspended;
- the imputation only moves a decision away from staying in the direction the observed rate
  already points: escalation is considered when y/n < target, de-escalation when y/n > target;
- de-escalating from the lowest level with outcomes pending suspends accrual instead of staying
  (the authors' code, `TITE-MAD` and `TITEgBOIN`): the pending outcomes may eliminate it;
- the MTD is selected only when every outcome is known.

The numbers live here; the decisions are rules, generated as BOIN's are (engine/escalation/boin.py),
with the thresholds written into their patterns as whole days of follow-up (`followup >= 22` with a
28-day window is STFT >= 22/28), so the network compares integers and decides exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, localcontext
from fractions import Fraction

from engine.escalation import boin as B
from protocol import escalation_model as em
from protocol import model as m
from protocol.errors import Diagnostic, ProtocolError, Severity

#: The window's units whose length in days is fixed.
DAYS = {"days": 1, "weeks": 7}
#: Rules joined to one alpha node of a ruleset, at most (durable_rules' limit is 256; error 108).
RULES_PER_RULESET = 200
PRECISION = 50  # digits for lambda_e and lambda_d: thresholds in days are then exact


def window_days(window: m.Duration | None) -> int | None:
    """The DLT window in days, or None when its length varies with the calendar (months).

    >>> window_days(m.Duration(None, 4, "weeks"))
    28
    """
    if window is None or window.unit not in DAYS:
        return None
    return window.amount * DAYS[window.unit]


def lambdas(boin: em.Boin) -> tuple[Decimal, Decimal]:
    """lambda_e and lambda_d to 50 digits (engine/boin.intervals gives them as floats).

    >>> [f"{x:.4f}" for x in lambdas(em.Boin(None, Decimal("0.2")))]
    ['0.1572', '0.2385']
    """
    phi1, phi2, _, _ = B.intervals(boin.target, boin.phi1, boin.phi2)
    with localcontext() as ctx:
        ctx.prec = PRECISION
        phi, one = boin.target, Decimal(1)
        lambda_e = (((one - phi1) / (one - phi)).ln()
                    / (phi * (one - phi1) / (phi1 * (one - phi))).ln())
        lambda_d = (((one - phi) / (one - phi2)).ln()
                    / (phi2 * (one - phi) / (phi * (one - phi2))).ln())
    return lambda_e, lambda_d


def p_tilde(target: Decimal, n: int, dlt: int, pending: int) -> Fraction:
    """The DLT rate estimated from the completed patients, beta(target/2, 1 - target/2) prior.

    >>> p_tilde(Decimal("0.2"), 9, 1, 3)
    Fraction(11, 70)
    """
    return (dlt + Fraction(target) / 2) / (n - pending + 1)


def imputed_rate(target: Decimal, n: int, dlt: int, pending: int, stft: Fraction) -> Fraction:
    """The imputed DLT rate p_hat, exactly (the report shows it beside the decision).

    >>> imputed_rate(Decimal("0.2"), 9, 1, 3, Fraction(6, 7))
    Fraction(578, 3717)
    """
    tilde = p_tilde(target, n, dlt, pending)
    return (dlt + tilde / (1 - tilde) * (pending - stft)) / n


@dataclass(frozen=True)
class Cell:
    """The decision for n patients, y DLTs and c >= 1 pending, the DLTs below BOIN's
    de-escalation boundary: `move` always, or `move` when the follow-up passes `days` (at least,
    for ESCALATE; at most, for DE-ESCALATE) and STAY otherwise. `stft` is the threshold as the
    published tables print it."""

    move: str  # ESCALATE, STAY, DE-ESCALATE or SUSPEND
    days: int | None = None
    stft: Decimal | None = None


def cell(boin: em.Boin, n: int, dlt: int, pending: int, window: int,
         bounds: tuple[Decimal, Decimal] | None = None) -> Cell:
    """TITE-BOIN's decision for a state with outcomes pending (the elimination and a DLT count
    at BOIN's de-escalation boundary decide before this).

    >>> cell(em.Boin(None, Decimal("0.2")), 9, 1, 3, 28)
    Cell(move='ESCALATE', days=22, stft=Decimal('0.7731...'))
    """
    if 2 * pending > n:
        return Cell("SUSPEND")
    lambda_e, lambda_d = bounds or lambdas(boin)
    rate, target = Fraction(dlt, n), Fraction(boin.target)
    if rate == target:
        return Cell("STAY")
    odds_ = (1 - p_tilde(boin.target, n, dlt, pending)) / p_tilde(boin.target, n, dlt, pending)
    with localcontext() as ctx:
        ctx.prec = PRECISION
        odds = Decimal(odds_.numerator) / Decimal(odds_.denominator)
        if rate < target:  # escalate if p_hat <= lambda_e, i.e. STFT >= t
            t = pending - odds * (n * lambda_e - dlt)
            days = int((t * window).to_integral_value(ROUND_CEILING))
            if days <= 0:
                return Cell("ESCALATE")
            return Cell("STAY") if days > pending * window else Cell("ESCALATE", days, t)
        t = pending - odds * (n * lambda_d - dlt)  # de-escalate if p_hat >= lambda_d: STFT <= t
        days = int((t * window).to_integral_value(ROUND_FLOOR))
    if days < 0:
        return Cell("STAY")
    return Cell("DE-ESCALATE") if days >= pending * window else Cell("DE-ESCALATE", days, t)


def followup(infused: date, as_of: date, window: int) -> int:
    """Days a pending patient has been followed, at most the window (a window kept open past
    its end, `"window_complete": false`, counts whole)."""
    return min((as_of - infused).days, window)


def stft(days: int, window: int) -> Fraction:
    return Fraction(days, window)


# --- the rules ------------------------------------------------------------------------------------


def design(boin: em.Boin, maximum: int, window: int
           ) -> tuple[em.Design, dict[str, dict[str, object]]]:
    """TITE-BOIN as escalation rules, and the boundary each uses (by rule id) for the trail."""
    bounds = B.boundaries(boin, maximum)
    exact = lambdas(boin)
    span = boin.span
    rules = [
        B._rule(span, "TITE.full", f"The maximum sample size ({maximum}) is reached and every "
                "outcome is known: stop; the MTD is selected by isotonic regression.",
                [B._flag(span, "full")], "STOP", "select"),
        B._rule(span, "TITE.cohort", "The current cohort is not complete: treat the next "
                "patient at this level.",
                [B._flag(span, "full", False), B._flag(span, "cohort_complete", False)], "STAY"),
    ]
    used: dict[str, dict[str, object]] = {}
    for n in range(1, maximum + 1):
        base = [B._count(span, "counted", "==", n), B._flag(span, "full", False),
                B._flag(span, "cohort_complete")]
        cases = _earlystop(span, B._options(bounds, n, span, _cases(boin, bounds, exact, n,
                                                                     window, span)))
        for suffix, text, conditions, move, mtd in cases:
            rule = B._rule(span, f"TITE.n{n}.{suffix}", text, [*base, *conditions], move, mtd)
            rules.append(rule)
            used[rule.id] = {**bounds.at(n), "window_days": window}
    text = f"TITE-BOIN, target DLT rate {boin.target}"
    return em.Design(span, "tite-boin", text, tuple(rules), exclusive=True), used


def _cases(boin: em.Boin, bounds: B.Boundaries, exact: tuple[Decimal, Decimal], n: int,
           window: int, span) -> list[B.Case]:
    """BOIN's bands for n, with every outcome known; the bands DLTs alone decide, whatever is
    pending; and below the de-escalation boundary with outcomes pending, one case per number of
    DLTs and decision, its condition the pending counts and follow-up that lead to it."""
    none_pending, some = B._count(span, "pending", "==", 0), B._count(span, "pending", ">", 0)
    cases: list[B.Case] = []
    de = bounds.deescalate[n - 1]
    for suffix, text, conditions, move, mtd in B._cases(bounds, n, span):
        text = text.replace(f"{n} evaluable", f"{n} patients")
        if suffix in ("stop", "eliminate", "de-escalate"):  # the DLTs alone decide
            cases.append((suffix, text, conditions, move, mtd))
        elif suffix == "stay-lowest":
            cases.append((suffix, text.replace("level:", "level, every outcome known:"),
                          [*conditions, none_pending], move, mtd))
            cases.append(("suspend-lowest", f"{n} patients, at least {de} with a DLT at the "
                          "lowest level, outcomes pending: suspend accrual until they are known "
                          "(they may eliminate it).", [*conditions, some], "SUSPEND", mtd))
        else:
            cases.append((suffix, text.replace(": ", ", every outcome known: ", 1),
                          [*conditions, none_pending], move, mtd))
    cases.append(("suspend", f"{n} patients, fewer than {de} with a DLT and more than half of "
                  "the outcomes pending: suspend accrual until more are known.",
                  [B._count(span, "pending", ">", n // 2), B._count(span, "dlt", "<", de)],
                  "SUSPEND", None))
    for y in range(min(de, n)):
        cases += _pending(boin, exact, n, y, window, span)
    return cases


def too_large(protocol: m.Protocol, per_n: dict[int, int]) -> ProtocolError:
    """TITE-BOIN's rules for one number of patients grow with its square: past what one ruleset
    holds, the design is refused with the largest maximum that compiles."""
    escalation = protocol.escalation
    assert escalation is not None and isinstance(escalation.design, em.Boin)
    fits = next(n for n in range(1, len(per_n) + 2) if per_n.get(n, 0) > RULES_PER_RULESET) - 1
    span = escalation.design.span
    message = (f"TITE-BOIN with target {escalation.design.target} generates more rules for "
               f"{fits + 1} patients at a level than the engine holds in one ruleset "
               f"({RULES_PER_RULESET}): 'maximum {fits} patients' at most")
    diagnostic = Diagnostic(span, Severity.ERROR, "tite-size", message)
    return ProtocolError([diagnostic], protocol.source_of(span.file))


def _pending(boin: em.Boin, exact: tuple[Decimal, Decimal], n: int, y: int, window: int,
             span) -> list[B.Case]:
    """The cases for n patients and y DLTs with 1 to n/2 outcomes pending."""
    cells = {c: cell(boin, n, y, c, window, exact) for c in range(1, min(n - y, n // 2) + 1)}
    if not cells:
        return []
    moving: list[m.Condition] = []  # pending counts and follow-up that leave the level
    staying: list[m.Condition] = []
    toward = "ESCALATE"
    for c, found in cells.items():
        at = B._count(span, "pending", "==", c)
        toward = found.move if found.move != "STAY" else toward
        if found.days is None:
            (staying if found.move == "STAY" else moving).append(at)
            continue
        op, other = (">=", "<") if found.move == "ESCALATE" else ("<=", ">")
        moving.append(m.And(span, (at, B._count(span, "followup", op, found.days))))
        staying.append(m.And(span, (at, B._count(span, "followup", other, found.days))))
    dlts = B._count(span, "dlt", "==", y)
    head = f"{n} patients, {y} with a DLT, outcomes pending"
    cases: list[B.Case] = []
    if staying:
        cases.append((f"y{y}.stay", f"{head}, the imputed DLT rate inside (lambda_e, lambda_d) "
                      "(the STFT thresholds per pending count in the rule): stay.",
                      [dlts, _any(span, staying)], "STAY", None))
    if not moving:
        return cases
    when = _any(span, moving)
    if toward == "DE-ESCALATE":
        rate = f"{head}, the imputed DLT rate >= lambda_d"
        return cases + [
            (f"y{y}.stay-lowest", f"{rate} at the lowest level: suspend accrual until the "
             "outcomes are known.", [dlts, when, B._flag(span, "lowest")], "SUSPEND", None),
            (f"y{y}.de-escalate", f"{rate}: de-escalate.",
             [dlts, when, B._flag(span, "lowest", False)], "DE-ESCALATE", None),
        ]
    rate = f"{head}, the imputed DLT rate <= lambda_e"
    higher_out = B._flag(span, B.ELIMINATED_ABOVE)
    return cases + [
        (f"y{y}.stay-top", f"{rate}, at the highest level: stay.",
         [dlts, when, B._flag(span, "highest")], "STAY", None),
        (f"y{y}.stay-below-eliminated", f"{rate}, below an eliminated level: stay.",
         [dlts, when, B._flag(span, "highest", False), higher_out], "STAY", None),
        (f"y{y}.escalate", f"{rate}: escalate.",
         [dlts, when, B._flag(span, "highest", False), m.Not(span, higher_out)], "ESCALATE",
         None),
    ]


def _any(span, items: list[m.Condition]) -> m.Condition:
    return items[0] if len(items) == 1 else m.Or(span, tuple(items))


def _earlystop(span, cases: list[B.Case]) -> list[B.Case]:
    """n.earlystop's stop selects the MTD, which waits for every outcome: with some pending
    (here or at another level), accrual is suspended instead."""
    known = [B._count(span, "pending", "==", 0), B._count(span, "pending_elsewhere", "==", 0)]
    found: list[B.Case] = []
    for suffix, text, conditions, move, mtd in cases:
        if move != "STOP" or mtd != "select":
            found.append((suffix, text, conditions, move, mtd))
            continue
        found.append((suffix, text, [*conditions, *known], move, mtd))
        found.append((f"{suffix}-waiting", text.removesuffix("selected by isotonic regression.")
                      + "selected when every pending outcome is known: suspend accrual.",
                      [*conditions, m.Not(span, m.And(span, tuple(known)))], "SUSPEND", None))
    return found


def table(boin: em.Boin, maximum: int, cohort_size: int, window: int) -> str:
    """The decision table as the published ones lay it out (one row per n, DLTs, pending count;
    the STFT thresholds to 2 decimals), at multiples of the cohort size.

    >>> print(table(em.Boin(None, Decimal("0.2")), 3, 3, 28))  # doctest: +NORMALIZE_WHITESPACE
    n  DLTs  pending  escalate      stay          de-escalate
    3  0     0-1      yes           no            no
    3  0     2-3      suspend accrual
    3  1     0-2      no            no            yes
    3  2-3   0-1      no            no            yes, eliminate
    """
    bounds = B.boundaries(boin, maximum)
    exact = lambdas(boin)
    rows = [("n", "DLTs", "pending", "escalate", "stay", "de-escalate")]
    for n in range(cohort_size, maximum + 1, cohort_size):
        esc, de, elim = bounds.escalate[n - 1], bounds.deescalate[n - 1], bounds.eliminate[n - 1]
        for y in range(min(de, n + 1)):
            cells = [(c, _words(cell(boin, n, y, c, window, exact), y, esc) if c else
                      _complete(y, esc, de)) for c in range(n - y + 1)]
            rows += _merged(n, str(y), cells)
        if de <= n:
            last = elim if elim is not None else n + 1
            if de < last:
                ys = str(de) if last - 1 == de else f"{de}-{last - 1}"
                rows.append((str(n), ys, f"0-{n - de}", "no", "no", "yes"))
            if elim is not None:
                ys = str(elim) if elim == n else f"{elim}-{n}"
                rows.append((str(n), ys, f"0-{n - elim}", "no", "no", "yes, eliminate"))
    widths = [3, 6, 9, 14, 14, 0]
    return "\n".join("".join(f"{v:<{w}}" if w else v for v, w in zip(row, widths)).rstrip()
                     if row[3] != "suspend accrual" else
                     "".join(f"{v:<{w}}" for v, w in zip(row[:3], widths)) + row[3]
                     for row in rows)


def _complete(y: int, esc: int, de: int) -> tuple[str, str, str]:
    return ("yes", "no", "no") if y <= esc else ("no", "yes", "no") if y < de else \
        ("no", "no", "yes")


def _words(found: Cell, y: int, esc: int) -> tuple[str, ...]:
    if found.move == "SUSPEND":
        return ("suspend accrual",)
    if found.days is None:
        return tuple("yes" if found.move == move else "no"
                     for move in ("ESCALATE", "STAY", "DE-ESCALATE"))
    t = f"{found.stft:.2f}"
    if found.move == "ESCALATE":
        return (f"STFT >= {t}", f"STFT < {t}", "no")
    return ("no", f"STFT > {t}", f"STFT <= {t}")


def _merged(n: int, ys: str, cells: list[tuple[int, tuple[str, ...]]]) -> list[tuple[str, ...]]:
    """Consecutive pending counts with the same words share a row (`0-2`)."""
    rows: list[tuple[str, ...]] = []
    start = 0
    for i, (c, words) in enumerate(cells):
        if i + 1 < len(cells) and cells[i + 1][1] == words and words[0].startswith(("yes", "no",
                                                                                     "suspend")):
            continue
        first = cells[start][0]
        pending = str(c) if first == c else f"{first}-{c}"
        rows.append((str(n), ys, pending, *words) if len(words) == 3 else
                    (str(n), ys, pending, words[0], "", ""))
        start = i + 1
    return rows



# --- what the report and the trail show -----------------------------------------------------------


def evidence(boin: em.Boin, state: dict[str, int], followups: list[tuple[str, int]],
             window: int) -> dict[str, object]:
    """The numbers behind a TITE-BOIN decision, exact, for the trail: each pending patient's
    follow-up, the STFT, p_tilde, the imputed DLT rate and the cell of the decision table.

    >>> e = evidence(em.Boin(None, Decimal("0.2")), {"counted": 9, "dlt": 1, "pending": 3},
    ...              [("A", 13), ("B", 8), ("C", 3)], 28)
    >>> e["stft"], e["imputed_dlt_rate"], e["cell"]
    ('6/7', '0.1555', {'move': 'ESCALATE', 'followup_days_at_least': 22, 'stft': '0.7731'})
    """
    n, y, c = state["counted"], state["dlt"], state["pending"]
    days = sum(d for _, d in followups)
    found: dict[str, object] = {
        "window_days": window,
        "followup": [{"patient": p, "days": d, "fraction": f"{d}/{window}"} for p, d in followups],
        "followup_days": days,
        "stft": str(stft(days, window)),
    }
    if c == 0 or n == 0:
        return found
    tilde = p_tilde(boin.target, n, y, c)
    rate = imputed_rate(boin.target, n, y, c, stft(days, window))
    found |= {"p_tilde": str(tilde), "imputed_dlt_rate": _decimal(rate),
              "imputed_dlt_rate_exact": str(rate)}
    bounds = B.boundaries(boin, n)
    if y < bounds.deescalate[n - 1]:
        here = cell(boin, n, y, c, window)
        found["cell"] = {"move": here.move} if here.days is None else {
            "move": here.move,
            ("followup_days_at_least" if here.move == "ESCALATE" else "followup_days_at_most"):
                here.days,
            "stft": f"{here.stft:.4f}"}
    return found


def lines(found: dict[str, object], level: str) -> list[str]:
    """The evidence as the explanation prints it."""
    patients: list[dict[str, object]] = found["followup"]  # type: ignore[assignment]
    followed = ", ".join(f"{f['patient']} {f['fraction']}" for f in patients)
    if not followed:
        return []
    text = [f"  follow-up at {level}: {followed}; STFT {found['followup_days']}/"
            f"{found['window_days']} = {_decimal(Fraction(str(found['stft'])))}"]
    if "imputed_dlt_rate" in found:
        text.append(f"  imputed DLT rate {found['imputed_dlt_rate']} (p~ {found['p_tilde']} "
                    "from the completed patients)")
    here = found.get("cell")
    if isinstance(here, dict) and "stft" in here:
        days = here.get("followup_days_at_least", here.get("followup_days_at_most"))
        op = ">=" if here["move"] == "ESCALATE" else "<="
        text.append(f"  {here['move'].lower()} if STFT {op} {here['stft']} (followup {op} {days} "
                    "days), stay otherwise")
    return text


def _decimal(value: Fraction) -> str:
    """A fraction to 4 decimals, rounded half-even in Decimal (no float)."""
    with localcontext() as ctx:
        ctx.prec = PRECISION
        return str((Decimal(value.numerator) / Decimal(value.denominator)).quantize(
            Decimal("0.0001")))
