"""What the most recent item of a history records: `response of the latest mm_therapy is
refractory` ("refractory to the last line of therapy"), `cycles of the latest mm_therapy >= 2`,
`dose of the latest glucocorticoid > 10 mg/d`.

The most recent item is the one that started last; of two that started on one day, the one that
ended last (one still going on ends last), as for windows on a history's start or end. Where
dates known only to the month (or an end not recorded) leave it open which item that is, every
item that may be it is asked: an item may be the most recent unless another surely follows it,
that is when its latest (start, end) is not before the latest of every item's earliest (start,
end) (`R.latest_fields`). So the atom is true when every item that may be the most recent surely
passes the clause, false when the patient has none or every such item surely fails it, and
UNKNOWN otherwise: the clause undecided on such an item (not recorded), or two such items that
disagree, or nothing recorded, or a history given only through narrower ones (an item not
recorded may have come last).

The network (`Build.agreed`): two hidden nodes over the items, each true when some item that may
be the most recent may fail the clause, or may pass it; the atom is true when the first is false
and the second true, false when the second is false, and unknown otherwise. Each item test
compares the item's days with the record's fields (`$m`), one rule per alternative (no `$or`
spans item fields inside `$iany`).
"""

from __future__ import annotations

from engine import patterns as P
from engine import record as R
from engine.atoms.base import Atom, Build, Judged, Reader
from engine.atoms.filters import clause_open, clause_test, filter_patterns
from engine.kleene import Kleene, lacking, present
from engine.record import Patient
from protocol import model as m


class OfLatest(Atom):
    """`response of the latest mm_therapy is refractory`; see the module's docstring."""

    handles = m.OfLatest

    def compile(self, atom: m.OfLatest, build: Build) -> Kleene:
        name = atom.ref.name
        first, last = build.layout.most_recent(name)
        may_be_it = P.any_of(
            P.test(">", R.ITEM[R.START_LATEST], {"$m": first}),
            P.all_of(P.test("==", R.ITEM[R.START_LATEST], {"$m": first}),
                     P.test(">=", R.ITEM[R.END], {"$m": last})))
        _, maybe, fails = filter_patterns(atom.occurred, build)
        needs = present(first, last)
        decided = P.any_of(P.test("==", R.none_field(name), 1), needs)
        undecided = lacking(name, needs, P.FALSE)
        return build.agreed(atom, P.all_of(may_be_it, *fails),
                            P.all_of(may_be_it, *maybe), undecided, decided, needs)

    def judge(self, atom: m.OfLatest, reader: Reader, patient: Patient) -> Judged:
        name = atom.ref.name
        items, text = reader.items(name, patient)
        if items == []:
            return "false", text
        if items is None:
            return "unknown", text
        unsettled = patient.unusable.get(f"{name}__latest")
        if unsettled is not None:  # an open list: an item not recorded may have come last
            return "unknown", f"{text}; {unsettled}"
        test, left = reader.constant(atom, _tests)
        _, candidates = R.most_recent(items)
        each = reader.each(name, patient)
        held = [test(items[i]) for i in candidates]
        verdict = held[0] if len(set(held)) == 1 else "unknown"
        clause = str(atom.clause)
        if len(candidates) == 1 or len(each) != len(items):
            shown = each[candidates[0]] if len(each) == len(items) else f"{name}"
            said = f"; the most recent: {shown}: {clause} is {held[0]}"
        else:
            said = f"; which {name} is the most recent is not settled (dates known only to the " \
                f"month or year, or an end not recorded): " + "; ".join(
                    f"{each[i]}: {clause} is {h}" for i, h in zip(candidates, held))
        open_on = list(dict.fromkeys(read for i in candidates for read in left(items[i])))
        if verdict == "unknown" and open_on:
            said += f" (the most recent does not record its {' or '.join(open_on)})"
        return verdict, f"{text}{said}"

    def listed(self, atom: m.OfLatest) -> tuple[str, ...]:
        return (atom.ref.name,)


def _tests(atom: m.OfLatest, reader: Reader) -> tuple:
    """The clause as a test of one item, and what an item leaves it open on."""
    concept = reader.concepts[atom.ref.name]
    return clause_test(atom.clause, concept), clause_open(atom.clause, concept)
