"""Boundary cases of a count of drugs on one list: `immunosuppressant includes at least 2 of
{cyclophosphamide, MMF, azathioprine, tacrolimus}`.

Each case replaces the list with one-day courses, one drug each, on the days before screening:
k-1, k and k+1 drugs of the set (as many as it has); k-1 beside a drug of the list that is not in
the set, and beside a second course of one of them; k with one named by a synonym the list
declares (`mycophenolate mofetil` for `MMF`); the list recorded as none; nothing recorded.

The status is the README's count: the distinct drugs of the set among the courses, a synonym
read as the drug it names, against k; false when the list is recorded as none (no drug), unknown
when nothing is recorded (the closed world). The dates do not matter: the count is over the
whole list.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from engine.edgecases.base import Skip, Variant
from protocol import model as m

if TYPE_CHECKING:
    from engine.edgecases import EdgeCases


def includes(gen: EdgeCases, atom: m.AtLeast) -> list[Variant]:
    """The cases of one count of drugs on a list (see the module's docstring); raises `Skip`."""
    first = atom.items[0]
    assert isinstance(first, m.Includes)
    concept, k = gen.concept(first), atom.count
    declared = {v.name: v for v in concept.values}
    members = list(dict.fromkeys(concept.canonical(i.drug.name) or i.drug.name
                                 for i in atom.items if isinstance(i, m.Includes)))
    if len(members) < k:  # a drug named twice in the set (once by a synonym)
        raise Skip(f"a set of {len(members)} distinct drugs, fewer than {k}")
    written = f"{concept.name} includes at least {k} of {{{', '.join(members)}}}"

    def case(what: str, drugs: list[str], named: dict[str, str] | None = None) -> Variant:
        """`drugs` as courses (each written as `named` says, else by its declared name)."""
        shown = [(named or {}).get(d, d) for d in drugs]
        taken = [d for d in dict.fromkeys(drugs) if d in members]
        held = len(taken) >= k
        how = (f"{', '.join(shown)}: {len(taken)} distinct "
               f"{'drug' if len(taken) == 1 else 'drugs'} of the set "
               f"({', '.join(taken) or 'none'}); needs at least {k}: {str(held).lower()}")
        day = gen.screening - timedelta(days=1)
        return Variant(f"{what}: {written}", how, atom, "true" if held else "false",
                       replace=tuple({"concept": concept.name, "drug": drug,
                                      "date": (day - timedelta(days=i)).isoformat(),
                                      "end": (day - timedelta(days=i)).isoformat()}
                                     for i, drug in enumerate(shown)))

    out = [case(f"{n} of the set", members[:n]) for n in (k - 1, k, k + 1)
           if 0 < n <= len(members)]
    outside = next((name for name in declared if name not in members), None)
    if outside is not None:
        out.append(case(f"{k - 1} of the set and {outside}", [*members[:k - 1], outside]))
    if k > 1:
        out.append(case(f"{k - 1} of the set, {members[0]} twice",
                        [*members[:k - 1], members[0]]))
    synonym = next(((d, s) for d in members[:k] if d in declared
                    for s in declared[d].synonyms), None)
    if synonym is not None:
        out.append(case(f"{k} of the set, {synonym[0]} written {synonym[1]}", members[:k],
                        dict([synonym])))
    out.append(Variant(f"no {concept.name} (recorded as none): {written}",
                       "recorded as none: no drug of the set; false", atom, "false",
                       replace=({"concept": concept.name, "present": False},)))
    if any(f.get("concept") == concept.name for f in gen.base["facts"]):
        out.append(Variant(f"no {concept.name}: {written}", "nothing recorded: unknown", atom,
                           "unknown", remove=(concept.name,)))
    return out
