"""Counted histories: `at least 2 chemo where line is one of {2, 3} ever`, `at least 3
infection with grade >= 3 within 1 year before screening`: at least N distinct items (each
occurrence or course once) meet the occurrence condition, filter, grade and window included.

Decided in the network, never counted by the normaliser: a count of items that meet a condition
is itself a condition. Each item of a counted list is a fact of its own, and a rule joins N item
facts in increasing index (`Build.counted`). True when N items surely meet; false when the list is
recorded as none or fewer than N items may meet (an item with a date known only to the month, or
without a filtered attribute, may); UNKNOWN otherwise.
"""

from __future__ import annotations

from engine.atoms.base import Atom, Build, Judged, Reader
from engine.atoms.filters import filtered_tests
from engine.atoms.history import _occurred
from engine.kleene import Kleene
from engine.record import Patient
from protocol import model as m


class Counted(Atom):
    """`at least N X [where ...] [with grade ...] <window>`; see the module's docstring."""

    handles = m.Counted

    def compile(self, atom: m.Counted, build: Build) -> Kleene:
        return build.counted(atom, *filtered_tests(atom.occurred, build))

    def judge(self, atom: m.Counted, reader: Reader, patient: Patient) -> Judged:
        by = atom.attribute(reader.concepts[atom.ref.name])
        return _occurred(atom.occurred).judge(atom.occurred, reader, patient, count=atom.count,
                                              by=by)

    def listed(self, atom: m.Counted) -> tuple[str, ...]:
        return (atom.ref.name,)
