"""The dose-escalation part of a protocol's model: dose levels, cohorts, the DLT definition, and
designs (escalation rules read top to bottom, a decision table, BOIN), as `grammar/parser.py`
builds them and `protocol/escalation_checks.py` checks them.

Kept apart from the eligibility model (`protocol/model.py`), whose `Protocol` holds both; an
escalation rule's condition is written in the eligibility model's terms (`model.Condition`).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from protocol.errors import Span

if TYPE_CHECKING:
    from protocol.model import Condition, Duration, Ref

#: The names an escalation rule's condition may use: counts of patients at the current dose level
#: (the level the most recent patient was allocated to) and its neighbours, and a few yes/no facts.
#: The engine builds one state fact with these fields; a condition compares them with numbers.
ESCALATION_COUNTS: dict[str, str] = {
    "treated": "patients infused at the current level",
    "evaluable": "patients at the current level evaluable for DLT (a DLT, or the window completed)",
    "dlt": "patients at the current level with a DLT",
    "pending": "patients at the current level whose DLT window is still open",
    "lower_treated": "patients infused at the next lower level (0 if there is none)",
    "lower_evaluable": "patients evaluable at the next lower level",
    "lower_dlt": "patients with a DLT at the next lower level",
    "higher_treated": "patients infused at the next higher level (0 if there is none)",
    "higher_evaluable": "patients evaluable at the next higher level",
    "higher_dlt": "patients with a DLT at the next higher level",
    "total": "patients infused in the trial",
    "total_dlt": "patients with a DLT in the trial",
    "total_grade2": "patients in the trial with a toxicity of grade 2 or worse in the DLT window "
                    "(their `grade`, or a DLT)",
}
ESCALATION_FLAGS: dict[str, str] = {
    "lowest": "the current level is the lowest declared level",
    "highest": "the current level is the highest declared level",
    "full": "the maximum sample size has been reached",
    "cohort_complete": "the current cohort has all its patients (evaluable or pending)",
}

#: What a STOP says about the MTD, by the key `Move.mtd` holds.
MTD_OUTCOMES = {
    "this": "MTD is this level",
    "lower": "MTD is the lower level",
    "not_reached": "MTD not reached",
    "none": "no MTD",
    "undetermined": "MTD not determined",
    "select": "MTD by isotonic regression",
}


@dataclass(frozen=True)
class Move:
    """What an escalation rule decides: `escalate`, `expand`, `stop, MTD is the lower level`, ..."""

    span: Span
    kind: str  # ESCALATE, STAY, EXPAND, DE-ESCALATE, ELIMINATE or STOP
    mtd: str | None = None  # for STOP: a key of MTD_OUTCOMES

    def __str__(self) -> str:
        word = self.kind.lower()
        return f"{word}, {MTD_OUTCOMES[self.mtd]}" if self.mtd else word


@dataclass(frozen=True)
class EscalationRule:
    """`rule R5 "1 of 3 with a DLT: treat 3 more": evaluable == 3 and dlt == 1 -> expand`."""

    span: Span
    id: str
    text: str | None
    condition: Condition
    move: Move


@dataclass(frozen=True)
class TableRow:
    """`n 3: E S D DU`: the decision for 0, 1, ..., n DLTs of n evaluable patients."""

    span: Span
    n: int
    cells: tuple[str, ...]  # "E", "S", "D" or "DU", for y = 0..n


@dataclass(frozen=True)
class DecisionTable:
    """`escalation table i3plus3 "..." target 0.3 interval 0.25 0.35:` and its rows: a design
    decided by the DLTs at the current level alone (i3+3, mTPI-2), as its paper tabulates it.
    The target is the MTD selection's, the interval what the table was computed for."""

    target: Decimal
    interval: tuple[Decimal, Decimal]
    rows: tuple[TableRow, ...]


@dataclass(frozen=True)
class Design:
    """A named set of escalation rules, read top to bottom: the first rule that holds decides.

    `exclusive` designs (generated ones, like BOIN's) have rules that never overlap by construction,
    so the compiler need not exclude earlier rules from later ones. A design written as a decision
    table has no rules of its own: the engine generates them from `table`.
    """

    span: Span
    name: str
    text: str | None
    rules: tuple[EscalationRule, ...]
    exclusive: bool = False
    table: DecisionTable | None = None


@dataclass(frozen=True)
class DoseLevel:
    """`level DL1 1x10^7 cells/kg`: a level's id and dose; `backup` levels lie below the start."""

    span: Span
    id: str
    amount: Decimal
    unit: str
    written: str  # the dose as written, for messages and tables
    backup: bool = False


@dataclass(frozen=True)
class Boin:
    """`design boin target 0.3 phi1 0.18 phi2 0.42 n.earlystop 12 cutoff.eli 0.95 extrasafe
    offset 0.05`: the BOIN design by its target DLT rate, with the reference software's options."""

    span: Span
    target: Decimal
    phi1: Decimal | None = None
    phi2: Decimal | None = None
    n_earlystop: int | None = None  # stop when this many are at the current level and it stays
    cutoff_eli: Decimal | None = None  # the elimination's posterior cut-off (default 0.95)
    extrasafe: bool = False  # stop when P(lowest level's rate > target) > cutoff_eli - offset
    offset: Decimal | None = None  # default 0.05
    #: TITE-BOIN: pending patients count by their follow-up (engine/escalation/tite.py)
    tite: bool = False


@dataclass(frozen=True)
class Escalation:
    """The `escalation` section: dose levels, cohorts, the DLT definition and the design.

    A setting written twice is kept once (the first) and its repeat listed in `repeated` (setting,
    where, line of the first), for the checker to report.
    """

    span: Span
    text: str | None
    levels: tuple[DoseLevel, ...]
    start: Ref | None = None
    cohort_size: int | None = None
    maximum: int | None = None
    dlt_text: str | None = None
    dlt_window: Duration | None = None
    stagger: Duration | None = None
    review: bool = False
    partial_dose: str | None = None  # "received" | "not_evaluable"
    design: Ref | Boin | None = None
    repeated: tuple[tuple[str, Span, int], ...] = ()

    def level(self, ident: str) -> DoseLevel | None:
        return next((lv for lv in self.levels if lv.id == ident), None)
