"""Boundary cases of what the most recent item records: `response of the latest mm_therapy is
refractory`, `cycles of the latest mm_therapy >= 4`.

The item's fields come from `filters.item_values` (it passes the clause; then each change: a value
that fails it, its threshold's neighbours, the field left unrecorded), each worked out there. The
cases place them in time, each item from the base's own latest course (its fields beside those
the clause reads; a dose clause names its drug, as `filters` chooses it): one item
alone, passing and changed; an earlier item and a later one, each way round (the later decides);
two that started on one day (the one that ended later decides); a later one known only to the
month that holds the other's first day (either may be the most recent: decided where both agree,
unknown where they do not), and one known to the month before (surely the earlier); recorded as
none (false) and nothing recorded (unknown). The most recent is the one that started last, of two
on one day the one that ended last, as the README says; the status of a pair is worked out from
which of them may be it.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING

from engine.edgecases.base import Variant
from engine.edgecases.filters import Changed, item_values
from engine.edgecases.windows import _occurrence
from protocol import model as m

if TYPE_CHECKING:
    from engine.edgecases import EdgeCases


def most_recent(gen: EdgeCases, atom: m.OfLatest) -> list[Variant]:
    """The cases of one `X of the latest Y ...` (see the module's docstring)."""
    occurred, name = atom.occurred, atom.ref.name
    passing, changes = item_values(gen, occurred)
    attribute, rest = str(atom.clause).split(" ", 1)
    written = f"{attribute} of the latest {name} {rest}"
    screening: date = gen.screening
    early, late = screening - timedelta(days=200), screening - timedelta(days=100)
    first = late.replace(day=10)  # a first day inside its month, with days on either side

    def item(start: date | str, fields: dict, end: date | None = None) -> dict:
        fact = _occurrence(gen, occurred, start if isinstance(start, str) else
                           start.isoformat(), None, fields)
        if end is not None:
            fact["end"] = end.isoformat()
        return fact

    def case(what: str, how: str, status: str, *facts: dict) -> Variant:
        return Variant(f"{what}: {written}", f"{how}: {status}", atom, status, replace=facts)

    passed = Changed("passing", {}, "true", "it passes")
    out = [case(f"one {name} passing", "the only one passes", "true", item(late, passing))]
    for change in changes:
        what = change.what if change.recorded else f"no {change.what}"
        changed = {**passing, **change.fields}
        out.append(case(f"one {name} with {what}", f"the only one: {change.why}", change.held,
                        item(late, changed)))
        out.append(case(f"an earlier {name} with {what}, a later one passing",
                        f"the later passes; the earlier ({change.why}) is not the most recent",
                        "true", item(early, changed), item(late, passing)))
        out.append(case(f"an earlier {name} passing, a later one with {what}",
                        f"the later decides: {change.why}", change.held,
                        item(early, passing), item(late, changed)))
        out.append(case(f"two {name} from {late}, the one with {what} ending later",
                        f"the one that ended later decides: {change.why}", change.held,
                        item(late, passing, late + timedelta(days=5)),
                        item(late, changed, late + timedelta(days=10))))
        for month, both in ((f"{first:%Y-%m}", True),
                            (f"{first.replace(day=1) - timedelta(days=1):%Y-%m}", False)):
            status = _either(passed, change) if both else "true"
            how = f"either may be the most recent: {change.why}" if both else \
                f"the one known to {month} surely started first"
            out.append(case(f"a {name} from {first} passing, one known to {month} with {what}",
                            how, status, item(first, passing, first + timedelta(days=30)),
                            item(month, changed, first + timedelta(days=60))))
    out.append(case(f"{name} recorded as none", "none: no latest one", "false",
                    {"concept": name, "present": False}))
    if any(f.get("concept") == name for f in gen.base["facts"]):
        out.append(Variant(f"no {name}: {written}", "nothing recorded: unknown", atom, "unknown",
                           remove=(name,)))
    return out


def _either(*items: Changed) -> str:
    """Of items that each may be the most recent: what they all say, or unknown."""
    said = {item.held for item in items}
    return said.pop() if len(said) == 1 else "unknown"
