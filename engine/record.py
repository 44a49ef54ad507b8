"""The patient record: its layout, the one place that names the fields the network matches, and
the normalised patient (`Patient`, `UsedFact`) that the network and the trail read, and how a used
fact reads in the trail.

The normaliser (`engine/facts.py`) writes a record, the atoms (`engine/atoms/`) compile patterns
that read it and judge evidence from it; both take every field name from here, so a field is spelt
once.

A record is one flat JSON object per patient:

- `sd`: the screening date as a day number (`date.toordinal()`);
- `<concept>`: a measured value as a float of its exact decimal in the concept's unit, a category
  value, 1/0 for a flag or an attested judgment, or the list of occurrences of an event or
  medication;
- `<field>__lo`, `<field>__hi`, `<field>__lx`, `<field>__hx`: for a value known only within
  bounds ("< 20 IU/mL", "> 1000", "not detected"), in place of `<field>`: the lower and upper bound
  (an absent upper bound is unbounded) and 1 where a bound is open (not itself possible);
- `<concept>__none`: 1 when the patient is recorded as having none of a listed concept;
- `<concept>__whole`: 1 when a history others count as is recorded by its own facts (items or
  none); absent where its items come only from narrower histories (an open list, `whole_field`);
- `<concept>__day`: for a concept a formula averages (`mean(qtcf)`), the list of its latest day's
  results, each a float in its unit, when every one is a number (none a bound like "< 20");
- `<lab>__uln`, `<lab>__lln`: the value as a multiple of the laboratory's upper / lower reference;
- `<concept>__previous`: the value of the day before the latest that has a result, within
  validity, as the latest's (or its `bounds`), for a comparison confirmed on another day;
- `<medication>__undosed`: the courses whose dose could not be worked out (their lengths only);
- `<date concept>`: a day number, when the date is a day; beside it, or alone for a date known
  only to the month or year, its earliest and latest day (`spread`), which windows compare with;
- `<list>__latest__s`, `<list>__latest__el`: the latest of the items' earliest (first, last)
  days, which every item that may be the most recent reaches (`latest_fields`);
- `<list>__start`, `<list>__end`: first and last day of the list's most recent occurrence, for
  windows anchored on it (absent while it is still going on, and when that day is not exact);
  beside it, `__early` and `__late` after the name (`spread`), the earliest and latest day it may
  be: a day known only to the month, or the days of every occurrence that may be the most recent
  (absent while the most recent may still be going on); the same two for each bound counted from
  it (`b__<list>__end__6m+__early`), which windows on it compare with;
- `w__<n><u>`: the first day of a window `within <n> <unit>s before screening` (calendar-aware), and
  `b__<anchor>__<n><u>-` / `+` the day `<n> <unit>s` before / after another anchor day;
- for a list whose items are counted (`at least 2 ...`, `X includes at least 2 of {...}`), each
  item is also a fact of its own:
  `t` `ITEM_FACT`, its group in `LIST` (`<list>#<n>`: the counting nodes that read it, few
  enough for the engine's alpha stack), its position in `INDEX`, its own fields, and the record
  fields the group's tests compare with (see `item_fact`);
- `<medication>__dose_at_<anchor>`: the daily dose on the anchor day, summed over the courses
  covering it (0 when none does), or its `bounds` when a course may or may not cover it (an end
  known only to the month) or has no dose (no upper bound);
- `<medication>__cumulative` (or `__cumulative__<n><u>_before_<anchor>`): each course's daily
  dose times its days (up to screening; or from `<n> <unit>s` before the anchor day to it), summed,
  in the daily dose's unit times a day, or its `bounds`; `__average__<n><u>_before_<anchor>`: that
  sum divided by the window's days up to screening, in the daily dose's unit;
  `__highest__<n><u>_before_<anchor>`: the most of those days' daily doses, each summed over the
  courses of its day, in the daily dose's unit.

An occurrence (an item of a list) holds its first day as the earliest and latest it can be, `s` and
`sl`, and its last day likewise, `el` and `e` (equal for exact dates; a date known to the month
spans its days; `e` is `ONGOING` for a course still running or whose end is not recorded), `g`
(grade, graded events; `ng` 1 instead when the fact gives none) and, for medications, `drug`, `dose` (daily, in the unit the medication is
dosed in; a course of a dosed medication whose dose could not be worked out has `nd` 1 instead),
each declared attribute as `a_<name>` (its declared value, or `UNRECORDED` when the fact does not
say; a number as a float in its declared unit, absent with `n_<name>` 1 when not recorded), and its length up to screening, at least `months` / `days` and at most `months_most` /
`days_most`; for a medication asked `for at least` (`Layout.runs`), the same four lengths of the
run of consecutive courses it belongs to, prefixed `run_` (see `engine/facts.py`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import partial
from typing import Any, NamedTuple

from protocol import model as m
from protocol.errors import FactProblem

SCREENING = "sd"
#: Stands for "still going" in an occurrence's end day: later than any screening date.
ONGOING = 10**7

# Item fields of an occurrence, as patterns name them inside `$iany` / `$iall` ...
START, START_LATEST, END, END_EARLIEST = "s", "sl", "e", "el"
GRADE, DRUG, DOSE = "g", "drug", "dose"
MONTHS, DAYS, MONTHS_MOST, DAYS_MOST = "months", "days", "months_most", "days_most"
#: The same lengths of the run of consecutive courses a course belongs to (`runs` in `Layout`).
RUN = {key: f"run_{key}" for key in (MONTHS, DAYS, MONTHS_MOST, DAYS_MOST)}
#: The first and last day of the run of consecutive courses a course belongs to, for `X for at
#: least D before A` (`run_days` in `Layout`): the run of the days each course surely covers
#: (`run_first`, `run_last`) and of those it may (`run_first_may`, `run_last_may`); a course
#: going on, or whose end is not recorded, may run on (`ONGOING`).
RUN_FIRST, RUN_LAST, RUN_FIRST_MAY, RUN_LAST_MAY = "run_first", "run_last", "run_first_may", \
    "run_last_may"
#: For `X dose stable for at least D before A` (`steady` in `Layout`): a course that renews
#: another at the same daily dose (it starts on that one's last day or the day after, both days
#: exact) changes no dose: `carries_on` 1 at its start (0 else), `goes_on` 1 at the renewed
#: one's end; the first and last day of the chain of such renewals a course belongs to, surely
#: (`steady_first`, `steady_last`) and possibly (`..._may`), as for runs.
CARRIES_ON, GOES_ON = "carries_on", "goes_on"
STEADY_FIRST, STEADY_LAST, STEADY_FIRST_MAY, STEADY_LAST_MAY = "steady_first", "steady_last", \
    "steady_first_may", "steady_last_may"
UNDOSED_ITEM = "nd"
#: 1 in an occurrence of a graded event whose fact gives no grade: it may or may not pass a
#: grade test (its `g` is absent, which no comparison in the engine passes).
UNGRADED_ITEM = "ng"
#: An item's attribute the fact does not give: it may or may not pass a filter on it.
UNRECORDED = "?"
# ... and as a pattern on one item writes them.
ITEM = {key: f"$i.{key}" for key in (START, START_LATEST, END, END_EARLIEST, GRADE, DRUG, DOSE,
                                     MONTHS, DAYS, MONTHS_MOST, DAYS_MOST, UNDOSED_ITEM,
                                     UNGRADED_ITEM, *RUN.values(), RUN_FIRST, RUN_LAST,
                                     RUN_FIRST_MAY, RUN_LAST_MAY, CARRIES_ON, GOES_ON,
                                     STEADY_FIRST, STEADY_LAST, STEADY_FIRST_MAY,
                                     STEADY_LAST_MAY)}
#: An item's first and last day each lie between two fields (equal when the dates are exact):
#: (earliest, latest).
BETWEEN = {START: (START, START_LATEST), END: (END_EARLIEST, END)}


def reach_field(attribute: str, times: Decimal, strict: bool = False) -> str:
    """The item field of the last day `times` x the time an item records (`with half_life in
    h`) reaches from its last day, counted in whole days (`m.Reach`; `strict`, the last day less
    than that); `between` gives the same from the earliest its last day may be.

    >>> reach_field("half_life", Decimal("2.5")), between(reach_field("half_life", Decimal(5)))
    ('r2p5_half_life', ('r5_half_life_el', 'r5_half_life'))
    >>> reach_field("half_life", Decimal(5), strict=True)
    'r5_half_life_lt'
    """
    return f"r{plain_number(times).replace('.', 'p')}_{attribute}" + ("_lt" if strict else "")


def span_field(duration: m.Duration) -> str:
    """The item field of the last day `duration` after an item's last day (`during or within D
    after any X`: each X's span); `between` gives the same from the earliest its last day may be.

    >>> span_field(m.Duration(None, 60, "days")), between(span_field(m.Duration(None, 3, "months")))
    ('u__60d', ('u__3m_el', 'u__3m'))
    """
    return f"u__{duration.amount}{duration.unit[0]}"


def between(key: str) -> tuple[str, str]:
    """The item fields a day an item key names lies between (`BETWEEN`, or a reach's)."""
    return BETWEEN.get(key) or (f"{key}_el", key)


ITEM_FACT, LIST, INDEX = "i", "l", "k"


def item_fact(sid: str, group: str, index: int, item: dict, record: dict,
              fields: tuple[str, ...]) -> dict:
    """An item of a list as a fact of its own for one `group`, with the record `fields` it reads.

    >>> item_fact("s", "chemo#0", 0, {"s": 5, "e": 9}, {"sd": 10, "w__4w": 3}, ("w__4w",))
    {'t': 'i', 'l': 'chemo#0', 'sid': 's', 'k': 0, 's': 5, 'e': 9, 'w__4w': 3}
    """
    fact = {"t": ITEM_FACT, LIST: group, "sid": sid, INDEX: index, **item}
    for read in fields:
        if read in record:
            fact[read] = record[read]
    return fact


def attribute_field(attribute: str) -> str:
    """The item field holding a declared attribute; a medication's drug and dose keep their own."""
    return attribute if attribute in (DRUG, DOSE) else f"a_{attribute}"


def unrecorded_field(attribute: str) -> str:
    """Set to 1 in an item whose fact does not give a number it may record (`with diameter in
    mm`): the number's own field is then absent, which no comparison in the engine passes (a
    text such as `UNRECORDED` would pass every one)."""
    return f"n_{attribute}"


def bounds(field: str) -> tuple[str, str, str, str]:
    """The fields of a value known only within bounds: lower, upper, lower open, upper open."""
    return f"{field}__lo", f"{field}__hi", f"{field}__lx", f"{field}__hx"


def day_count_field(concept: str) -> str:
    """The record field holding how many results the latest day of `concept` has, for a mean
    that needs some (`mean(qtcf, at least 3)`)."""
    return f"{concept}__day_n"


def day_field(concept: str) -> str:
    """The results of a measured concept's latest day, each in its unit, for `mean(concept)`."""
    return f"{concept}__day"


def previous_field(concept: str) -> str:
    """The record field holding a measured concept's value on the day before its latest that has
    a result (with `bounds`), for a comparison confirmed on another day."""
    return f"{concept}__previous"


def none_field(concept: str) -> str:
    """Set to 1 when the patient is recorded as having no occurrence of `concept`."""
    return f"{concept}__none"


def whole_field(concept: str) -> str:
    """Set to 1 when the record of a history others count as (`Protocol.narrowed`) is whole:
    its own facts give its items, or say it has none. Absent beside items given only through
    narrower histories: the list is open, and no condition is false for want of an item in it."""
    return f"{concept}__whole"


def open_list(record: dict, wholes: dict[str, str], name: str) -> bool:
    """Whether the list `name` is open in `record`: recorded, but only through narrower lists
    (`wholes`: the whole field of each list others count as)."""
    whole = wholes.get(name)
    return whole is not None and whole not in record and name in record


def reference_field(concept: str, bound: str) -> str:
    """The value as a multiple of its upper (`bound="upper"`) or lower reference limit."""
    return concept + ("__uln" if bound == "upper" else "__lln")


def undosed_field(concept: str) -> str:
    """The courses of a medication whose daily dose could not be worked out."""
    return f"{concept}__undosed"


def window_field(duration: m.Duration) -> str:
    """The record field holding the first day of `within <duration> before screening`."""
    return f"w__{duration.amount}{duration.unit[0]}"


def anchor_field(anchor: m.Anchor | None) -> str:
    """The record field holding a window's anchor day."""
    if anchor is None or anchor.ref is None:
        return SCREENING
    return f"{anchor.ref.name}__{anchor.edge}" if anchor.edge else anchor.ref.name


def bound_field(anchor: str, duration: m.Duration, direction: str) -> str:
    """The record field holding the day `duration` before or after the day in field `anchor`."""
    if anchor == SCREENING and direction == "before":
        return window_field(duration)
    sign = "-" if direction == "before" else "+"
    return f"b__{anchor}__{duration.amount}{duration.unit[0]}{sign}"


def spread(field: str) -> tuple[str, str]:
    """The record fields holding the earliest and the latest day the day in field `field` may
    be, for an anchor on another history's start or end (and a bound counted from it), which may
    be known only within days: a window is decided where every one of them gives one answer.

    >>> spread("adjuvant__end")
    ('adjuvant__end__early', 'adjuvant__end__late')
    """
    return f"{field}__early", f"{field}__late"


def latest_fields(concept: str) -> tuple[str, str]:
    """The record fields holding the first and last day the most recent occurrence of `concept`
    surely reaches: the latest of every item's earliest (start, end). An item may be the most
    recent when its own latest (start, end) is not before them (`response of the latest x is
    ...`), as `engine/occurrences.py` finds the anchor's candidates.

    >>> latest_fields("mm_therapy")
    ('mm_therapy__latest__s', 'mm_therapy__latest__el')
    """
    return f"{concept}__latest__s", f"{concept}__latest__el"


def most_recent(items: list[dict]) -> tuple[tuple[int, int], list[int]]:
    """Which items may be the most recent occurrence (the one that started last; of two on one
    day, the one that ended last): the latest of every item's earliest (first, last) days, which
    each such item reaches (`latest_fields`), and their indexes. With dates known only to the
    month or year, or an end not recorded, an item may be it unless another surely follows it.

    >>> most_recent([{"s": 5, "sl": 5, "el": 9, "e": 9}, {"s": 1, "sl": 31, "el": 40, "e": 40},
    ...              {"s": 2, "sl": 2, "el": 3, "e": 3}])  # the second may start after the first
    ((5, 9), [0, 1])
    """
    surest = max((item[START], item[END_EARLIEST]) for item in items)
    return surest, [i for i, item in enumerate(items) if (item[START_LATEST], item[END]) >= surest]


def dose_field(concept: str, anchor: str, filters: tuple = ()) -> str:
    """The record field holding a medication's daily dose on the day in field `anchor`, summed
    over the courses that cover it (with `bounds` when some course may or may not cover it), of
    those a filter keeps (`kept`)."""
    return f"{concept}__dose_at_{anchor}{kept(filters)}"


def cumulative_field(concept: str, anchor: str | None, duration: m.Duration | None,
                     reading: str = m.TOTAL, filters: tuple = ()) -> str:
    """The record field holding a medication's cumulative dose (with `bounds` when some course's
    days or dose are not known): up to screening, or within `duration` before the day in field
    `anchor`; or (`reading`) that sum divided by the window's days, or the highest daily dose of
    a day of the window (`m.CumulativeDose`); of the courses a filter keeps (`kept`)."""
    summed = "cumulative" if reading == m.TOTAL else reading
    if anchor is None or duration is None:
        return f"{concept}__{summed}{kept(filters)}"
    return f"{concept}__{summed}__{duration.amount}{duration.unit[0]}_before_{anchor}" \
        f"{kept(filters)}"


def kept(filters: tuple) -> str:
    """A summed dose's field's part that names the courses a filter keeps: none without one,
    else the filter as written, hashed (two filters written alike are one field).

    >>> kept(())
    ''
    """
    if not filters:
        return ""
    written = " and ".join(str(clause) for clause in filters)
    return f"__where_{hashlib.sha256(written.encode()).hexdigest()[:12]}"


@dataclass
class Layout:
    """What a compiled network needs in each record beyond the screening date.

    The compiler fills it while atoms compile (each atom asks for the fields it reads); the
    normaliser reads it to know which concepts to normalise and which derived numbers (window
    first days, counts of drugs) to work out per patient.
    """

    concepts: set[str] = field(default_factory=set)
    bounds: dict[str, tuple[str, m.Duration, str]] = field(default_factory=dict)
    edges: dict[str, tuple[str, str]] = field(default_factory=dict)
    dated: dict[str, str] = field(default_factory=dict)  # the field, by the concept it dates
    #: The doses on a day, by field: the medication, the anchor's field, the filter's clauses.
    doses: dict[str, tuple[str, str, tuple]] = field(default_factory=dict)
    #: Cumulative, average and highest daily doses, by field: the medication, the anchor's field
    #: and the duration before it (None and None: every day up to screening), how the daily
    #: doses are read (`m.CumulativeDose.reading`), and the filter's clauses.
    cumulatives: dict[str, tuple[str, str | None, m.Duration | None, str, tuple]] = \
        field(default_factory=dict)
    runs: set[str] = field(default_factory=set)
    #: The medications a filter measures a course of in days (`where duration >= 12 weeks`): the
    #: trail gives each course's days beside its completed months.
    days: set[str] = field(default_factory=set)
    #: The events a filter measures an occurrence of (`fever where duration >= 2 weeks`): each
    #: occurrence carries its length, as every course of a medication does.
    lengths: set[str] = field(default_factory=set)
    #: The medications taken through a span (`X for at least D before A`): each course carries
    #: the first and last day of its run of consecutive courses.
    run_days: set[str] = field(default_factory=set)
    #: The medications asked for a stable dose (`X dose stable for at least D before A`): each
    #: course says whether it renews another at its dose, and the days its renewals span.
    steady: set[str] = field(default_factory=set)
    #: The measured concepts whose latest day's results a formula averages (`mean(...)`).
    means: set[str] = field(default_factory=set)
    #: The measured concepts compared on another day too (`confirmed on another day`).
    confirmed: set[str] = field(default_factory=set)
    #: The reaches each item of a history needs (`reach_field`), by concept: each field's
    #: attribute, multiple, and whether the anchor must lie strictly within it.
    reaches: dict[str, dict[str, tuple[str, Decimal, bool]]] = field(default_factory=dict)
    #: The spans each item of a history needs (`span_field`), by concept: each field's duration.
    spans: dict[str, dict[str, m.Duration]] = field(default_factory=dict)

    def read(self, concept: m.Concept) -> None:
        """Ask for a concept's value, and for the day it is read at (`age at enrolment`, `uacr
        at visit_1`) or its window of results counts from (`lowest psa on or after the start of
        adt`): the normaliser reads that day's concept first."""
        self.concepts.add(concept.name)
        if concept.at is not None:
            self.concepts.add(concept.at.name)
        if concept.extreme is not None:
            self.anchor(concept.extreme.window.anchor)

    def anchor(self, anchor: m.Anchor | None) -> str:
        """Ask for a window's anchor day; return its field."""
        name = anchor_field(anchor)
        if anchor is not None and anchor.ref is not None:
            self.concepts.add(anchor.ref.name)
            if anchor.occurrence:
                self.edges[name] = (anchor.ref.name, anchor.edge)
            elif anchor.result:
                self.dated[anchor.ref.name] = name
        return name

    def most_recent(self, concept: str) -> tuple[str, str]:
        """Ask for the first and last day the most recent item of `concept` surely reaches
        (`latest_fields`); return their fields."""
        self.concepts.add(concept)
        self.edges[f"{concept}__latest"] = (concept, "latest")
        return latest_fields(concept)

    def bound(self, anchor: str, duration: m.Duration, direction: str) -> str:
        """Ask for the day `duration` before or after the anchor day in field `anchor`."""
        name = bound_field(anchor, duration, direction)
        self.bounds[name] = (anchor, duration, direction)
        return name

    def reach(self, concept: m.Concept, reach: m.Reach) -> str:
        """Ask for the day each item of `concept` reaches by `reach`; return its item field."""
        attribute = reach.of(concept)
        assert attribute is not None  # checked
        name = reach_field(reach.attribute.name, reach.times, reach.strict)
        self.reaches.setdefault(concept.name, {})[name] = (attribute.name, reach.times,
                                                           reach.strict)
        return name

    def span(self, concept: str, duration: m.Duration) -> str:
        """Ask for the day `duration` after each item's last day of `concept`; return its item
        field."""
        name = span_field(duration)
        self.spans.setdefault(concept, {})[name] = duration
        self.concepts.add(concept)
        return name

    def cumulative(self, concept: str, window: m.Window, reading: str = m.TOTAL,
                   filters: tuple = ()) -> str:
        """Ask for a medication's cumulative dose over a window (`ever`, or `within D before
        A`), or its average or highest daily dose over the window's days, of the courses
        `filters` keep; return its field."""
        anchor = None if window.kind == "ever" else self.anchor(window.anchor)
        name = cumulative_field(concept, anchor, window.duration, reading, filters)
        self.cumulatives[name] = (concept, anchor, window.duration, reading, filters)
        self.concepts.add(concept)
        return name

    def dose(self, concept: str, anchor: m.Anchor | None, filters: tuple = ()) -> str:
        """Ask for a medication's daily dose on an anchor day, of the courses `filters` keep;
        return its field."""
        day = self.anchor(anchor)
        name = dose_field(concept, day, filters)
        self.doses[name] = (concept, day, filters)
        self.concepts.add(concept)
        return name



class UsedFact(NamedTuple):
    """A fact as the trail shows it: what the file said, and what the network was given.

    A named tuple, not a frozen dataclass: a patient has dozens, and a frozen dataclass costs
    several times as much to build."""

    index: int
    concept: str
    value: Any
    unit: str | None
    date: str | None
    converted: str | None
    note: str | None = None


#: A `UsedFact` made from a tuple of its seven fields, in order, without the named tuple's own
#: constructor (a function in Python): a patient has dozens.
used_fact = partial(tuple.__new__, UsedFact)


@dataclass
class Patient:
    """One patient's facts, normalised: the record for the network plus what the trail needs."""

    id: str
    line: int
    screening: date
    record: dict[str, Any]
    used: dict[str, list[UsedFact]] = field(default_factory=dict)
    unusable: dict[str, str] = field(default_factory=dict)
    warnings: list[FactProblem] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)


def plain_number(value: Any) -> str:
    """A decimal as people write it: 30, 20.007, 0.5 (no exponent, no trailing zeros)."""
    if not isinstance(value, Decimal):
        return str(value)
    text = format(value.normalize(), "f")
    return text


def dilution(reciprocal: Decimal) -> str:
    """A titre's value as laboratories write the dilution: 160 is `1:160`."""
    return m.DILUTION + plain_number(reciprocal)


def attributes_text(concept: m.Concept, item: dict) -> str:
    """An item's declared attributes as the trail shows them: `, route intravenous`,
    `, diameter 12 mm`."""
    return "".join(f", {a.name} {_attribute_text(a, item.get(attribute_field(a.name)))}"
                   for a in concept.attributes)


def _attribute_text(attribute: m.Attribute, value: Any) -> str:
    if value is None or value == UNRECORDED:
        return "not recorded"
    if attribute.numeric:
        number = plain_number(Decimal(repr(value)))
        return f"{number} {attribute.unit}" if attribute.unit else number
    return str(value)


def length_text(least: int, most: int, undated: bool) -> str:
    """A length its dates leave between `least` and `most`, as the trail says it ("2 to 3";
    "0 or more" where a start is not dated).

    >>> length_text(3, 3, False), length_text(2, 3, False), length_text(0, 151, True)
    ('3', '2 to 3', '0 or more')
    """
    return f"{least}" if least == most else f"{least} or more" if undated else \
        f"{least} to {most}"


def period_text(fact: dict, course: bool = False) -> str:
    """How long an occurrence or course lasted, as recorded: an occurrence with one date is one
    day, one day of the month or year when that is all its date gives.

    >>> period_text({"date": "2024-06-03"}), period_text({"date": "2024-06"}), period_text({})
    ('single day', 'a single day of it', 'date unknown')
    """
    if fact.get("end"):
        return f"to {fact['end']}"
    if fact.get("ongoing"):
        return "ongoing"
    when = fact.get("date")
    if course or not when:
        return "end not recorded" if course else "date unknown"
    return "single day" if len(str(when)) == 10 else "a single day of it"
