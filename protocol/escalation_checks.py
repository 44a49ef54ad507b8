"""Static checks on the dose-escalation part of a protocol: the `escalation` section and the
escalation rules it uses (declared in the file or in an imported module).

A wrong escalation setting would not show until a trial is running: a start level that is not
declared, doses listed out of order, a rule comparing a name the engine never counts. Like the
eligibility checks (protocol/checks.py, which runs `check` here as one of its passes), these collect
every problem and never raise; each kind has one message template in `TEMPLATES`.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

from protocol import limits
from protocol import escalation_model as em
from protocol import model as m
from protocol import units
from protocol.errors import Diagnostic, Severity, Span, hint, templated

TEMPLATES: dict[str, str] = {
    "escalation-repeated": "'{setting}' is already given at line {line}",
    "escalation-repeated/section": "a protocol has one escalation section; the first is at line "
    "{line}",
    "escalation-missing": "the escalation section needs {what}",
    "duplicate-level": "dose level '{name}' is already declared at line {line}",
    "duplicate-rule": "escalation rule id '{name}' is already used at line {line}",
    "duplicate-design": "escalation rules '{name}' are already declared at {where}",
    "undefined-name/level": "unknown dose level '{name}'{hint}",
    "undefined-name/design": "unknown escalation rules '{name}'{hint}",
    "undefined-name/state": "'{name}' is not something the engine counts{hint}",
    "level-order": "dose levels are listed from the lowest dose up: {name} ({dose}) is not above "
    "{previous} ({previous_dose})",
    "level-unit": "{name} is dosed in {unit}, {first} in {first_unit}: the levels must be "
    "comparable",
    "backup-level": "{name} is {where} the start level {start}: {advice}",
    "escalation-count": "{what} must be a whole number of at least {least}, not {value}",
    "escalation-atom": "an escalation rule compares counts and tests yes/no facts; {advice}",
    "boin-target": "{advice}",
    "missing-text/rule": "escalation rule {name} has no text; auditors need the design's own "
    "sentence",
    "boin-option": "{advice}",
    "tite-window": "TITE-BOIN counts follow-up in days: the DLT window ({window}) must be in days "
    "or weeks, as in 'within 28 days after infusion'",
    "boin-earlystop": "n.earlystop {early} is too low to ensure good operating characteristics; "
    "the reference software recommends 9 to 18",
    "table-row": "{advice}",
    "table-short": "the decision table '{name}' stops at {last} patients, the escalation allows "
    "{maximum}: write it for {maximum} ('proto-rules design-table ... --patients {maximum}')",
    "table-target": "{advice}",
}
WARNING_CODES = frozenset(("missing-text", "boin-earlystop"))

#: What must be written for the engine to decide, in the words the message uses.
REQUIRED = (
    ("levels", "at least one dose level: 'level DL1 1x10^7 cells/kg'"),
    ("start", "the starting level: 'start at DL1'"),
    ("cohort_size", "a cohort size: 'cohort size 3'"),
    ("maximum", "a maximum sample size: 'maximum 18 patients'"),
    ("dlt_window", "the DLT window: 'dlt \"...\" within 28 days after infusion'"),
    ("design", "a design: 'design three_plus_three' or 'design boin target 0.3'"),
)
SETTING_WORDS = {
    "start": "start at",
    "cohort_size": "cohort size",
    "maximum": "maximum",
    "dlt": "dlt",
    "stagger": "stagger",
    "review": "safety review",
    "partial_dose": "partial dose",
    "design": "design",
}


def check(protocol: m.Protocol) -> Iterator[Diagnostic]:
    """Every problem of the escalation section and of every set of escalation rules.

    >>> from grammar.parser import parse
    >>> text = 'escalation: level DL1 1e7 cells/kg start at DL2 cohort size 3 maximum 9 patients'
    >>> text += ' dlt within 28 days after infusion design boin target 0.3'
    >>> [d.message for d in check(parse(text, "t.pr"))]
    ["unknown dose level 'DL2'; did you mean 'DL1'?"]
    """
    yield from _designs(protocol.designs)
    for later in protocol.escalations[1:]:
        line = protocol.escalations[0].span.line
        yield _diag("escalation-repeated/section", later.span, line=line)
    if protocol.escalation is not None:
        yield from _section(protocol.escalation, protocol)


def _diag(kind: str, span: Span, /, **info: object) -> Diagnostic:
    return templated(TEMPLATES, WARNING_CODES, kind, span, **info)


_hint = hint


# --- the escalation section -----------------------------------------------------------------------


def _section(section: em.Escalation, protocol: m.Protocol) -> Iterator[Diagnostic]:
    for setting, span, first in section.repeated:
        yield _diag("escalation-repeated", span, setting=SETTING_WORDS[setting], line=first)
    for field, what in REQUIRED:
        if getattr(section, field) in (None, ()):
            yield _diag("escalation-missing", section.span, what=what)
    yield from _levels(section)
    for field, least in (("cohort_size", 1), ("maximum", 1)):
        value = getattr(section, field)
        if value is not None and value < least:
            what = SETTING_WORDS[field]
            yield _diag("escalation-count", section.span, what=what, least=least, value=value)
    if section.cohort_size and section.maximum and section.maximum < section.cohort_size:
        yield _diag(
            "escalation-count",
            section.span,
            what="the maximum sample size",
            least=section.cohort_size,
            value=section.maximum,
        )
    design = section.design
    if isinstance(design, m.Ref) and protocol.design(design.name) is None:
        hint = _hint(design.name, [d.name for d in protocol.designs])
        yield _diag("undefined-name/design", design.span, name=design.name, hint=hint)
    elif isinstance(design, em.Boin):
        yield from _boin(design)
        window = section.dlt_window
        if design.tite and window is not None and window.unit not in ("days", "weeks"):
            yield _diag("tite-window", window.span, window=window)
    found = protocol.design(design.name) if isinstance(design, m.Ref) else None
    if found is not None and found.table is not None and section.maximum is not None:
        last = _table_rows(found.table)
        if last < section.maximum:
            yield _diag("table-short", design.span, name=found.name, last=last,
                        maximum=section.maximum)


def _levels(section: em.Escalation) -> Iterator[Diagnostic]:
    """Levels are listed lowest dose first, in one comparable unit; backups lie below the start."""
    seen: dict[str, em.DoseLevel] = {}
    for level in section.levels:
        if level.id in seen:
            yield _diag("duplicate-level", level.span, name=level.id, line=seen[level.id].span.line)
        else:
            seen[level.id] = level
    levels = list(seen.values())
    yield from _doses(levels)
    start = section.start
    if start is None:
        return
    if start.name not in seen:
        yield _diag(
            "undefined-name/level", start.span, name=start.name, hint=_hint(start.name, seen)
        )
        return
    below = True
    for level in levels:
        if level.id == start.name:
            below = False
            if level.backup:
                yield _diag(
                    "backup-level",
                    level.span,
                    name=level.id,
                    where="itself",
                    start=start.name,
                    advice="the start level cannot be a backup",
                )
        elif below and not level.backup:
            yield _diag(
                "backup-level",
                level.span,
                name=level.id,
                where="below",
                start=start.name,
                advice="declare a level below the start 'backup'",
            )
        elif not below and level.backup:
            yield _diag(
                "backup-level",
                level.span,
                name=level.id,
                where="above",
                start=start.name,
                advice="a backup level lies below the start",
            )


def _doses(levels: list[em.DoseLevel]) -> Iterator[Diagnostic]:
    previous: em.DoseLevel | None = None
    for level in levels:
        try:
            units.parse_unit(level.unit)
        except units.UnitProblem:
            yield Diagnostic(
                level.span, Severity.ERROR, "unit-unknown", f"unknown unit '{level.unit}'"
            )
            continue
        if previous is not None:
            if not units.same_dimension(level.unit, previous.unit):
                yield _diag(
                    "level-unit",
                    level.span,
                    name=level.id,
                    unit=level.unit,
                    first=previous.id,
                    first_unit=previous.unit,
                )
                continue
            comparable = limits.representable(level.amount) and limits.representable(
                previous.amount)  # a dose beyond the limits is reported there
            if comparable and units.convert(level.amount, level.unit, previous.unit) \
                    <= previous.amount:
                yield _diag(
                    "level-order",
                    level.span,
                    name=level.id,
                    dose=level.written,
                    previous=previous.id,
                    previous_dose=previous.written,
                )
        previous = level


def _boin(design: em.Boin) -> Iterator[Diagnostic]:
    """The ranges the BOIN reference software accepts: the boundaries are undefined outside them."""
    target = design.target
    phi1 = design.phi1 if design.phi1 is not None else Decimal("0.6") * target
    phi2 = design.phi2 if design.phi2 is not None else Decimal("1.4") * target
    if not Decimal("0.05") <= target <= Decimal("0.6"):
        yield _diag(
            "boin-target",
            design.span,
            advice=f"the target DLT rate {target} must lie between 0.05 and 0.6",
        )
    elif not (0 < phi1 < target < phi2 < 1):
        yield _diag(
            "boin-target",
            design.span,
            advice=f"phi1 ({phi1}) < target ({target}) < "
            f"phi2 ({phi2}) must hold, all between 0 and 1",
        )
    elif target - phi1 < Decimal("0.1") * target or phi2 - target < Decimal("0.1") * target:
        yield _diag(
            "boin-target",
            design.span,
            advice="phi1 and phi2 must differ from the target by at least a tenth of it",
        )
    yield from _boin_options(design)


def _boin_options(design: em.Boin) -> Iterator[Diagnostic]:
    """cutoff.eli and offset as the reference accepts them; n.earlystop as it warns."""
    cutoff = design.cutoff_eli if design.cutoff_eli is not None else Decimal("0.95")
    if not 0 < cutoff < 1:
        yield _diag("boin-option", design.span,
                    advice=f"cutoff.eli ({cutoff}) is a probability between 0 and 1")
    offset = design.offset
    if offset is not None and not (0 < offset < Decimal("0.5") and offset < cutoff):
        yield _diag("boin-option", design.span, advice=f"offset ({offset}) must lie between 0 "
                    "and 0.5, and below cutoff.eli")
    early = design.n_earlystop
    if early is not None and early < 1:
        yield _diag("boin-option", design.span, advice=f"n.earlystop ({early}) must be at "
                    "least 1")
    elif early is not None and early <= 6:
        yield _diag("boin-earlystop", design.span, early=early)


# --- escalation rules -----------------------------------------------------------------------------


def _designs(designs: tuple[em.Design, ...]) -> Iterator[Diagnostic]:
    first: dict[str, em.Design] = {}
    for design in designs:
        if design.name in first:
            yield _diag(
                "duplicate-design",
                design.span,
                name=design.name,
                where=f"{first[design.name].span.file}:{first[design.name].span.line}",
            )
            continue
        first[design.name] = design
        if design.table is not None:
            yield from _table(design)
        ids: dict[str, Span] = {}
        for rule in design.rules:
            if rule.id in ids:
                yield _diag("duplicate-rule", rule.span, name=rule.id, line=ids[rule.id].line)
            ids.setdefault(rule.id, rule.span)
            if not rule.text:
                yield _diag("missing-text/rule", rule.span, name=rule.id)
            yield from _condition(rule.condition)


#: A decision table's letters, in the order they must appear along a row (more DLTs, never a
#: bolder move).
TABLE_ORDER = ("E", "S", "D", "DU")


def _table(design: em.Design) -> Iterator[Diagnostic]:
    """A row per number of patients from 1 up, each with a letter for 0..n DLTs, in the order
    E, S, D, DU: then the table is boundaries, like BOIN's, and the engine generates its rules."""
    table = design.table
    assert table is not None
    low, high = table.interval
    if not 0 < low < table.target < high < 1:
        yield _diag("table-target", design.span, advice=f"the interval ({low} to {high}) must "
                    f"hold the target ({table.target}), all between 0 and 1")
    for expected, row in enumerate(table.rows, start=1):
        if row.n != expected:
            yield _diag("table-row", row.span, advice=f"row n {row.n} where row n {expected} "
                        "belongs: rows go from 1 patient up, one for each number")
            return
        if len(row.cells) != row.n + 1:
            yield _diag("table-row", row.span, advice=f"row n {row.n} needs {row.n + 1} letters "
                        f"(for 0 to {row.n} DLTs), not {len(row.cells)}")
        ranks = [TABLE_ORDER.index(cell) for cell in row.cells]
        if ranks != sorted(ranks):
            yield _diag("table-row", row.span, advice=f"row n {row.n} goes back from a bolder "
                        "move to a milder one: more DLTs must read E, S, D, DU in that order")


def _table_rows(table: em.DecisionTable) -> int:
    """The patients the table's consecutive rows cover."""
    return next((i for i, row in enumerate(table.rows) if row.n != i + 1), len(table.rows))


def _condition(condition: m.Condition) -> Iterator[Diagnostic]:
    """Counts compare with whole numbers; yes/no facts stand alone; nothing else is counted."""
    if isinstance(condition, (m.And, m.Or, m.AtLeast)):
        for item in condition.items:
            yield from _condition(item)
        return
    if isinstance(condition, m.Not):
        yield from _condition(condition.item)
        return
    name = condition.ref.name
    known = [*em.ESCALATION_COUNTS, *em.ESCALATION_FLAGS]
    if name not in known:
        yield _diag("undefined-name/state", condition.ref.span, name=name, hint=_hint(name, known))
    elif isinstance(condition, m.Truth):
        if name in em.ESCALATION_COUNTS:
            yield _diag(
                "escalation-atom",
                condition.span,
                advice=f"'{name}' is a count: compare it, like '{name} >= 2'",
            )
    elif isinstance(condition, m.Compare):
        if name in em.ESCALATION_FLAGS:
            yield _diag(
                "escalation-atom",
                condition.span,
                advice=f"'{name}' is yes or no: write '{name}' or 'not {name}'",
            )
        threshold = condition.threshold
        if threshold.unit is not None or threshold.value != threshold.value.to_integral_value():
            yield _diag(
                "escalation-count",
                threshold.span,
                what=f"a count of {name}",
                least=0,
                value=threshold,
            )
    else:
        yield _diag(
            "escalation-atom", condition.span, advice=f"'{name}' cannot be used like this here"
        )
