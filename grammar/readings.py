"""Concepts read at a named day (`uacr_at_visit_1: uacr at visit_1`), resolved once a file's
concepts are all read: the concept read may be declared after its reading.

A derived value read at a day (`egfr_at_visit_1: egfr at visit_1`) is its formula over its inputs
read at that day: each measured input as a reading of its own (`creatinine_at_visit_1`, the one
the file declares under that name or one made so), an age as the age at that day, a derived
input read at the day in turn; a category or a flag (sex, race) as it is. With `valid for N`,
each input's reading takes the most recent result back to N before the day.

Apart from the parser, which calls `resolved` with its list of declarations and its way of
failing at a span, because resolving a reading is a question of the file's other declarations,
not of the text one rule matched.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import NamedTuple

from protocol import expressions as x
from protocol import model as m
from protocol.errors import ProtocolError, Span, hint

#: The inputs of derived values read at a day, made as they are read: by name, the concept and
#: the validity it was read with.
Made = dict[str, tuple[m.Concept, "m.Duration | None"]]
#: How deep derived inputs of a derived value read at a day may nest (BSA in a dose per m2 is 1).
READ_DEPTH = 16


class ReadAt(NamedTuple):
    """`uacr_at_visit_1: uacr at visit_1` as written."""

    span: Span
    name: str
    base: m.Ref
    at: m.Ref
    validity: m.Duration | None
    label: str | None


class ExtremeOf(NamedTuple):
    """`psa_nadir: lowest psa on or after adt_start` as written."""

    span: Span
    name: str
    which: str
    base: m.Ref
    window: m.Window
    label: str | None


def resolved(declared: list[m.Concept | ReadAt | ExtremeOf],
             fail: Callable[[Span, str], ProtocolError]) -> tuple[m.Concept, ...]:
    """Each concept read as of a named day as the concept it reads, under its own name, label
    and validity (none: a result of that day only; the read concept's is counted from the
    screening date), with that concept and the day's concept named, so that every later step
    sees a concept of a kind; the lowest or highest of a concept's results in a window likewise.
    A reading of what cannot be read so raises `fail`'s error at the name read."""
    concepts = {c.name: c for c in declared if isinstance(c, m.Concept)}
    readings = {c.name: c for c in declared if isinstance(c, ReadAt)}
    extremes = {c.name for c in declared if isinstance(c, ExtremeOf)}
    made: Made = {}
    for read in readings.values():
        if read.base.name in extremes:
            raise fail(read.base.span, f"'{read.name}' reads '{read.base.name}' at "
                       f"{read.at.name}, but '{read.base.name}' is the lowest or highest of "
                       "results in a window already: count that window from the day instead")
    out = [_reading(c, concepts, readings, fail, made) if isinstance(c, ReadAt) else
           _extreme(c, concepts, {*readings, *extremes}, fail) if isinstance(c, ExtremeOf) else c
           for c in declared]
    return tuple(out + [c for name, (c, _) in made.items() if name not in concepts
                        and name not in readings])


def _reading(read: ReadAt, concepts: dict[str, m.Concept], readings: dict[str, ReadAt],
             fail: Callable[[Span, str], ProtocolError], made: Made
             ) -> m.Concept:
    base = concepts.get(read.base.name)
    if read.base.name in readings:
        first = readings[read.base.name]
        raise fail(read.base.span, f"'{read.name}' reads '{first.name}', which is "
                   f"'{first.base.name}' read at {first.at.name} already: read "
                   f"'{first.base.name}' at {read.at.name}")
    if base is None:
        raise fail(read.base.span, f"'{read.name}' reads '{read.base.name}', which is not "
                   f"declared{hint(read.base.name, [*concepts, *readings])}")
    if base.kind is m.Kind.DERIVED and base.formula is not None:
        return _derived(read, base, concepts, readings, fail, made)
    if base.sides:
        raise fail(read.base.span, f"'{read.name}' reads '{base.name}', which is measured per "
                   f"{base.per}: read a side's value, '{base.name}_{base.sides[0]} at "
                   f"{read.at.name}'")
    if base.kind not in m.DATED_RESULTS:
        how = {m.Kind.AGE: f"declare '{read.name}: age at {read.at.name}'",
               m.Kind.EVENT: f"compare it in a window: 'within ... before {read.at.name}'",
               m.Kind.MEDICATION: f"compare its dose on the day: '{base.name} dose at "
                                  f"{read.at.name} ...' or a window"}.get(
            base.kind, "name a measured, category or flag concept")
        raise fail(read.base.span, f"'{read.name}' reads '{base.name}' at {read.at.name}, but "
                   f"'{base.name}' is {base.kind.said}: {how}")
    return replace(base, span=read.span, name=read.name, label=read.label,
                   valid_for=read.validity, counts_as=None, at=read.at, reads=read.base,
                   side=None, per=None)


def _extreme(read: ExtremeOf, concepts: dict[str, m.Concept], read_otherwise: set[str],
             fail: Callable[[Span, str], ProtocolError]) -> m.Concept:
    """The lowest or highest of a measured concept's results in a window: a concept of the same
    kind, unit and scale under its own name, its window counted from screening, a date concept,
    or a history's start or end. What has no results of days (a derived value, an age, a
    history), a family of sides, a concept itself read from another's results, and a window that
    is not a span of days so counted (`during` a history, from a result's date) are refused."""
    base = concepts.get(read.base.name)
    if base is None:
        found = "read from another concept's results: name that concept" \
            if read.base.name in read_otherwise else \
            f"not declared{hint(read.base.name, [*concepts, *read_otherwise])}"
        raise fail(read.base.span, f"'{read.name}' is the {read.which} '{read.base.name}', "
                   f"which is {found}")
    if base.sides:
        raise fail(read.base.span, f"'{read.name}' is the {read.which} '{base.name}', which is "
                   f"measured per {base.per}: name a side's, '{base.name}_{base.sides[0]}'")
    if base.kind not in m.RESULTS:
        what = "a derived value, one value" if base.kind is m.Kind.DERIVED else base.kind.said
        raise fail(read.base.span, f"'{read.name}' is the {read.which} '{base.name}', but "
                   f"'{base.name}' is {what}: the {read.which} of the results of "
                   "a measured concept (a quantity, lab, score, scale or titre) is read so")
    window = read.window
    anchor = window.anchor
    if window.reach is not None:
        raise fail(window.reach.span, f"'{read.name}': a window of results is a span of days; "
                   f"'{window.reach}' is each course's own length: write the days")
    if window.kind == "during" or (anchor is not None and anchor.edge == "date"):
        raise fail(window.span, f"'{read.name}': the {read.which} result is read in a span of "
                   "days counted from screening, a date concept or the start or end of a "
                   "history (`within 6 months before screening`, `on or after adt_start`, `on "
                   "or after the start of adt`, `ever`)")
    day = concepts.get(anchor.ref.name) if anchor is not None and anchor.ref else None
    wanted = m.LISTED if anchor is not None and anchor.edge else (m.Kind.DATE,)
    if anchor is not None and anchor.ref is not None and (day is None or day.kind not in wanted):
        what = "an event or medication" if anchor.edge else "a date concept"
        raise fail(anchor.span, f"'{read.name}': its window counts from '{anchor}', but "
                   f"'{anchor.ref.name}' is {'not declared' if day is None else day.kind.said}: "
                   f"count from {what}, or from screening")
    return replace(base, span=read.span, name=read.name, label=read.label, valid_for=None,
                   counts_as=None, at=None, reads=read.base, side=None, per=None,
                   extreme=m.Extreme(read.which, window))


def _derived(read: ReadAt, base: m.Concept, concepts: dict[str, m.Concept],
             readings: dict[str, ReadAt], fail: Callable[[Span, str], ProtocolError],
             made: Made, chain: tuple[str, ...] = (), name: str | None = None) -> m.Concept:
    """`base` (a derived value) under `read`'s name (or `name`, for a derived input of one), its
    formula reading each input at the day; `chain`, the derived values read at the day on the
    way to it."""
    assert base.formula is not None
    chain = (*chain, base.name)
    if len(chain) > READ_DEPTH:
        raise fail(read.base.span, f"'{read.name}' reads '{chain[0]}' at {read.at.name}, whose "
                   f"derived inputs nest deeper than {READ_DEPTH} ({' -> '.join(chain[:3])} -> "
                   f"...): read its measured inputs at {read.at.name} and derive from them")
    for node in x.subexpressions(base.formula):
        if isinstance(node, x.Choice):
            for atom in m.atoms(node.condition):
                kind = concepts[atom.ref.name].kind if atom.ref.name in concepts else None
                if kind in (*m.RESULTS, m.Kind.AGE, m.Kind.DERIVED):
                    raise fail(read.base.span, f"'{read.name}' reads '{base.name}' at "
                               f"{read.at.name}, but a condition of its formula (line "
                               f"{atom.span.line}) reads '{atom.ref.name}', {kind.said}: read "
                               f"'{atom.ref.name}' at {read.at.name} there, and derive from it")

    def at_day(node: x.Reading) -> x.Reading:
        input_name = node.ref.name
        if input_name in readings:
            raise fail(read.base.span, f"'{read.name}' reads '{base.name}' at {read.at.name}, "
                       f"whose formula reads '{input_name}', read at "
                       f"{readings[input_name].at.name} already: derive '{read.name}' from "
                       "inputs not read at a day")
        input_ = concepts.get(input_name)
        if input_ is None or not (input_.kind in m.RESULTS or input_.kind is m.Kind.DERIVED
                                  or input_.kind is m.Kind.AGE and input_.at is None):
            return node  # a category, a flag, an age at a day of its own: as it is
        if input_name in chain:  # `check` says the cycle; reading it at a day would not end
            raise fail(read.base.span, f"'{input_name}' is derived from itself: "
                       f"{' -> '.join((*chain[chain.index(input_name):], input_name))}")
        own = f"{input_name}_at_{read.at.name}"
        wanted = _input_at(read, input_, own, concepts, readings, fail, made, chain)
        return replace(node, ref=replace(node.ref, name=wanted.name))

    return replace(base, span=read.span, name=name or read.name,
                   label=f"{base.name} at {read.at.name}" if name else read.label,
                   formula=_mapped(base.formula, at_day),
                   formula_of=replace(read.base, name=base.name))


def _input_at(read: ReadAt, input_: m.Concept, own: str, concepts: dict[str, m.Concept],
              readings: dict[str, ReadAt], fail: Callable[[Span, str], ProtocolError],
              made: Made, chain: tuple[str, ...]) -> m.Concept:
    """`input_` read at `read`'s day under the name `own`: the concept the file declares so,
    where it is that reading; else one made here (once, whoever reads it)."""
    if own in made:
        concept, validity = made[own]
        if validity != read.validity:
            raise fail(read.base.span, f"'{read.name}' reads '{input_.name}' at "
                       f"{read.at.name}{_validity(read)} as '{own}', which another derived "
                       f"value read at {read.at.name} reads "
                       f"{'valid for ' + str(validity) if validity else 'of that day only'}: "
                       "read them with one validity")
        return concept
    if input_.kind is m.Kind.AGE:
        wanted = replace(input_, span=read.span, name=own, label=f"{input_.name} at "
                         f"{read.at.name}", at=read.at)
    elif input_.kind is m.Kind.DERIVED:
        wanted = _derived(read, input_, concepts, readings, fail, made, chain, own)
    else:
        wanted = replace(input_, span=read.span, name=own, label=f"{input_.name} at "
                         f"{read.at.name}", valid_for=read.validity, counts_as=None, at=read.at,
                         reads=m.Ref(read.span, input_.name))
    declared = readings.get(own) or concepts.get(own)
    if declared is not None:
        if isinstance(declared, ReadAt):  # `own: input at day`, with which validity
            of_it = declared.base.name == input_.name and declared.at.name == read.at.name
            same = of_it and declared.validity == read.validity
            other = "something else" if not of_it else f"valid for {declared.validity}" \
                if declared.validity else "of that day only"
        else:  # `own: age at day`
            same = declared.kind is m.Kind.AGE is input_.kind and declared.at is not None and \
                declared.at.name == read.at.name
            other = "something else"
        if not same:
            raise fail(read.base.span, f"'{read.name}' reads '{input_.name}' at "
                       f"{read.at.name}{_validity(read)} as '{own}', but '{own}' is declared as "
                       f"{other} (line {declared.span.line}): declare it as '{own}: "
                       f"{input_.name} at {read.at.name}{_validity(read)}'")
    made[own] = (wanted, read.validity)  # the file's own, where it declares it, is kept
    return wanted


def _validity(read: ReadAt) -> str:
    return f" valid for {read.validity}" if read.validity else ""


def _mapped(expr: x.Expr, reading: Callable[[x.Reading], x.Reading]) -> x.Expr:
    """`expr` with each value it reads (not a condition's) as `reading` gives it."""
    if isinstance(expr, x.Reading):
        return reading(expr)
    if isinstance(expr, x.Arithmetic):
        return replace(expr, left=_mapped(expr.left, reading),
                       right=_mapped(expr.right, reading))
    if isinstance(expr, x.Power):
        return replace(expr, base=_mapped(expr.base, reading),
                       exponent=_mapped(expr.exponent, reading))
    if isinstance(expr, x.Choice):
        return replace(expr, then=_mapped(expr.then, reading),
                       otherwise=_mapped(expr.otherwise, reading))
    if isinstance(expr, x.Call):
        return replace(expr, args=tuple(_mapped(a, reading) for a in expr.args))
    return expr
