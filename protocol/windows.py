"""Windows of days and the days they count from, as the parser builds them: a window's anchor (the
screening date, a date concept, a history's start or end, a result's date), a half-life reach, the
window itself, and the lowest or highest result in one. Apart from the rest of the model
(`protocol/model.py`, which reads them under the same names: `m.Window`), so that neither grows
past what one reads at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from protocol.errors import Span

if TYPE_CHECKING:
    from protocol.model import Attribute, Concept, Duration, Ref

#: The windows that order two days (`before A`, `on or after A`): a date concept's, never a
#: history's (whose items span days).
ORDER = ("order", "order_or_on")


@dataclass(frozen=True)
class Anchor:
    """The day a window counts from: the screening date (`ref` None), a date concept (`first_dose`),
    the start or end of the most recent occurrence of an event or medication (`edge`), or the
    date of the result that counts for a measured or recorded value (`the date of anc`: "no growth
    factor in the 7 days before the laboratory test")."""

    span: Span
    ref: Ref | None = None
    edge: str | None = None  # "start" | "end" of a listed concept's most recent occurrence; "date"

    @property
    def occurrence(self) -> bool:
        """Counted from the start or end of an occurrence: a day that may be known only within
        days, or may not have come yet (`until`: the end of a window `during` it, which runs to
        now while the occurrence goes on)."""
        return self.edge in ("start", "end", "until")

    @property
    def ranged(self) -> bool:
        """A day that may be known only within days, which windows compare through its earliest
        and latest (`record.spread`): an occurrence's edge, or a date concept's day given only to
        the month or the year (a diagnosis "2024-02"); a result's date is always a day."""
        return self.ref is not None and self.edge != "date"

    @property
    def result(self) -> bool:
        """Counted from the date of the result that counts (`the date of anc`)."""
        return self.edge == "date"

    def __str__(self) -> str:
        if self.ref is None:
            return "screening"
        if self.edge == "until":
            return f"the end of {self.ref.name} (or now, while it goes on)"
        return f"the {self.edge} of {self.ref.name}" if self.edge else self.ref.name


@dataclass(frozen=True)
class Reach:
    """`or 5 half_life, whichever is shorter`: a second length for a window `within` a duration
    before an anchor, a multiple of a time each item records (a drug's half-life: `anticancer:
    medication with half_life in h`), so that each item has its own ("within 28 days or 5
    half-lives, whichever is shorter, before the first dose"). An item falls within it when the
    anchor day is no more than `times` x its time after the item's last day, counted in whole
    days (a part of a day is not a day: 5 x 20 h is 4 days). Whichever is shorter: the item
    falls in both; longer: in either. `less than D or N half_life` (`strict`): the anchor day is
    less than N x its time after the last day (5 x 24 h reaches 4 days, not 5)."""

    span: Span
    times: Decimal
    attribute: Ref
    longer: bool = False
    strict: bool = False
    #: The word as written: "shorter", "longer", "less" or "greater".
    written: str = ""

    @property
    def which(self) -> str:
        return self.written or ("longer" if self.longer else "shorter")

    def of(self, concept: Concept) -> Attribute | None:
        """The attribute named, as written or in the plural (`half_lives` for `half_life`); a
        medication's drug is none."""
        from protocol.model import DRUG  # noqa: PLC0415 -- the model imports this module
        found = concept.attribute_written(self.attribute.name)
        return found if found is not None and found.name != DRUG else None

    def __str__(self) -> str:
        return f"or {self.times} {self.attribute.name}, whichever is {self.which},"


@dataclass(frozen=True)
class Extreme:
    """Which of a measured concept's results a concept reads: the `lowest` or `highest` of those
    dated in `window` up to the screening date (every day the window names, both ends counted as
    written: `within 6 months before screening` from that day 6 months back to screening; `on or
    after adt_start` from that day on; `ever` all of them)."""

    which: str  # "lowest" | "highest"
    window: Window

    def __str__(self) -> str:
        return f"{self.which} {self.window}"


#: Window kinds and how they read; `at` is on the anchor's day.
WINDOW_WORDS = {"within": "within", "less_than": "less than", "at_least": "at least",
                "more_than": "more than"}


@dataclass(frozen=True)
class Window:
    """When an occurrence must have happened, relative to an anchor day (the screening date unless
    another is named): `ever`; `at` the anchor's day; `within` (inclusive) or `less than` (strict) a
    duration before or after it, which an occurrence meets by overlapping that span; `at least`
    (inclusive) or `more than` (strict) a duration before or after it, which an occurrence meets by
    its start; `during` X (or `during or within` a duration `after` it) the span of the most
    recent X, from its start (`anchor`) to its end (`until`) plus the duration, both counted, or
    to now while X goes on, which an occurrence meets by overlapping it ("progression on or
    within 12 months of the last line of therapy"); `during_any` X the same span of each X, any
    one of which the occurrence may overlap ("progression on or within 60 days of the last dose"
    of any lenalidomide course). Durations are calendar-aware (see
    `engine/dates.shift`). A date concept's day may also be ordered against the anchor: `order`
    (`before`, `after`: strictly; two days that are one are undecided, the order within a day
    not being recorded) or `order_or_on` (`on or before`, `on or after`)."""

    span: Span
    kind: str  # "ever" | "at" | "within" | "less_than" | "at_least" | "more_than" | "during" |
    #            "during_any" | "order" | "order_or_on"
    duration: Duration | None = None
    direction: str = "before"  # "before" | "after"
    anchor: Anchor | None = None  # None: the screening date
    #: `within D or N half_life, whichever is shorter`; alone (no `duration`), the window of
    #: N half-lives only, one half of a longer one (`engine.atoms.history.Occurred.halves`).
    reach: Reach | None = None
    #: `during any nha where setting is mcrpc`: the clauses an item of the history the window
    #: spans must pass to count ("progression on a prior NHA given for mCRPC").
    kept: tuple = ()

    @property
    def until(self) -> Anchor:
        """The end of a window `during` X: the end of the most recent X, or now while it goes
        on."""
        assert self.kind == "during" and self.anchor is not None
        return Anchor(self.anchor.span, self.anchor.ref, "until")

    def __str__(self) -> str:
        anchor = str(self.anchor) if self.anchor else "screening"
        if self.kind == "ever":
            return "ever"
        if self.kind == "at":
            return f"at {anchor}"
        if self.kind in ("order", "order_or_on"):
            return f"{'on or ' if self.kind == 'order_or_on' else ''}{self.direction} {anchor}"
        if self.kind in ("during", "during_any"):
            assert self.anchor is not None and self.anchor.ref is not None
            name = ("any " if self.kind == "during_any" else "") + self.anchor.ref.name
            return f"during or within {self.duration} after {name}" if self.duration else \
                f"during {name}"
        if self.reach is not None and self.duration is None:
            reach = self.reach
            return f"{WINDOW_WORDS[self.kind]} {reach.times} {reach.attribute.name} " \
                f"{self.direction} {anchor}"
        length = f"{self.duration} {self.reach}" if self.reach else str(self.duration)
        return f"{WINDOW_WORDS[self.kind]} {length} {self.direction} {anchor}"


def window_day(concept: Concept) -> Ref | None:
    """The concept a window of results counts from (`lowest psa on or after adt_start`, a date
    concept; `... on or after the start of adt`, a history), None for the screening date."""
    anchor = concept.extreme.window.anchor if concept.extreme else None
    return anchor.ref if anchor is not None else None
