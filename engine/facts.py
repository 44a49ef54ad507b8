"""Patient facts normalised into what the rule network matches (the record, `engine/record.py`).

A record read from a fact file (`engine/factfile.py`) becomes one flat JSON object with one field
per concept the protocol references: values converted to the concept's declared unit in exact
decimals (or their bounds, for a result known only as "< 20"), dates as day numbers (or their
earliest and latest, for a date known to the month), and the window bounds of the protocol (`w__60d`
= the screening date minus 60 days, calendar-aware: `engine/dates.py`). The network compares; this
module only converts and selects, by rules written down in the README:

- a measured concept uses its most recent value on or before the screening date; if the concept is
  declared `valid for N`, an older value is stale and the concept is UNKNOWN;
- an event or medication is the list of its occurrences; `"present": false` records that the
  patient has none; no fact at all is missing data, never "absent";
- facts dated after the screening date are set aside with a warning;
- a problem in a patient's facts sets that patient aside (reported with record, fact index and
  field); the other patients are still decided.

The per-patient builder has one method per concept kind: concepts of one value (measured,
category, flag, date) are read in `engine/values.py`, events' occurrences and what every history
shares in `engine/occurrences.py`, medications' courses in `engine/courses.py`, and what every
kind shares (grouping, window bounds, the facts used) here.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from fractions import Fraction
from typing import Any

from engine import record as R
from engine.dates import (FIRST_DAY, LAST_DAY, ages, calendar_problem, date_problem,
                          day_of, day_written, days_of, days_of_text, shift)
from engine.atoms.filters import Kept, kept_by
from engine.courses import Courses
from engine.duplicates import Seen, identity
from engine.factfile import array_problem, patient_id, plain, quoted, schema_problems
from engine.occurrences import Occurrences
from engine.record import ONGOING, Layout, Patient, UsedFact, used_fact
from engine.values import Values
from protocol import model as m
from protocol.errors import FactError, FactProblem, Severity, hint
from protocol.units import Affine, UnitProblem, factor


class Normaliser:
    """Turns one patient's JSON into a `Patient` for one protocol; built once per protocol."""

    def __init__(self, protocol: m.Protocol, layout: Layout) -> None:
        self.protocol = protocol
        self.referenced = layout.concepts
        # Each bound with the fields of its anchor's and its own earliest and latest days
        # (`R.spread`), named once here rather than per patient.
        self.bounds = [(name, anchor, duration, _duration_key(duration),
                        1 if direction == "after" else -1, R.spread(anchor), R.spread(name))
                       for name, (anchor, duration, direction) in sorted(layout.bounds.items())]
        self.edges: dict[str, list[tuple[str, str]]] = {}  # by list concept
        for field_name, (name, edge) in sorted(layout.edges.items()):
            self.edges.setdefault(name, []).append((field_name, edge))
        self.dated = layout.dated
        self.runs = layout.runs
        self.days = layout.days
        self.lengths = layout.lengths
        self.run_days = layout.run_days
        self.steady = layout.steady
        self.means = layout.means
        self.confirmed = layout.confirmed
        self.reaches = layout.reaches
        self.spans = {name: [(key, R.between(key)[0], duration) for key, duration in
                             sorted(spans.items())] for name, spans in layout.spans.items()}
        self.concepts = {c.name: c for c in protocol.concepts}
        self.aliases = protocol.aliases
        # by medication: each dose's field, its anchor, and which courses it sums (`kept_by`)
        self.doses: dict[str, list[tuple[str, str, Kept]]] = {}
        for field_name, (name, anchor, filters) in sorted(layout.doses.items()):
            self.doses.setdefault(name, []).append(
                (field_name, anchor, kept_by(filters, self.concepts[name])))
        self.cumulatives: dict[str, list[tuple[str, str | None, m.Duration | None, str, Kept]]] = {}
        for field_name, (name, *summed, filters) in sorted(layout.cumulatives.items()):
            self.cumulatives.setdefault(name, []).append(
                (field_name, *summed, kept_by(filters, self.concepts[name])))
        # The lists with a dose on a day or a cumulative dose the network compares (0 for none).
        self.tallied = frozenset(self.doses) | frozenset(self.cumulatives)
        # The histories others count as (`methotrexate: medication {...} counts as csdmard`):
        # their items are its items, beside its own record (`_Builder._narrowed`).
        self.narrowed = protocol.narrowed
        # How each declared concept's facts are filed, read once here rather than per fact: the
        # concepts they are facts of, where a rule reads them (itself, what it counts as, and
        # either read as of a named day: the first, None for none, and the others) and whether
        # it is a history (whose dates may be partial). Derived values take no facts, nor do
        # values read as of a named day: their facts are those of the concept they read.
        read_at: dict[str, list[str]] = {}  # by the concept read, its readings that rules read
        for concept in protocol.concepts:
            if concept.reads is not None and concept.name in self.referenced:
                read_at.setdefault(concept.reads.name, []).append(concept.name)
        self.readings: dict[str, tuple[str | None, tuple[str, ...], bool]] = {}
        for concept in protocol.concepts:
            if concept.kind is m.Kind.DERIVED or concept.reads is not None or concept.sides:
                continue
            broader = concept.counts_as.name if concept.counts_as else None
            homes = [h for h in (concept.name, broader) if h and h in self.referenced]
            homes += read_at.get(concept.name, []) + read_at.get(broader or "", [])
            self.readings[concept.name] = (homes[0] if homes else None, tuple(homes[1:]),
                                           concept.kind in m.LISTED)
        self.attribute_keys = {c.name: frozenset(a.name for a in c.attributes)
                               for c in protocol.concepts if c.attributes}
        # A value per side given as the family's fact with its side (`"ankle": "left"`, as SDTM's
        # --LAT and FHIR's laterality give it): by family, the field and each side's concept.
        self.sides = {c.name: (c.per, {side: f"{c.name}_{side}" for side in c.sides})
                      for c in protocol.concepts if c.sides}
        self.attribute_keys.update({name: frozenset({word}) for name, (word, _) in
                                    self.sides.items()})
        # Measured concepts first: a dose per kg reads the weight; of them, those read as of a
        # named day after that day's concept; the lowest or highest result in a window counted
        # from a history's start or end after the histories.
        def order(name: str) -> tuple[bool, bool, bool, str]:
            concept = self.concepts[name]
            edged = concept.extreme is not None and concept.extreme.window.anchor is not None \
                and concept.extreme.window.anchor.edge is not None
            return concept.kind in m.LISTED or edged, edged, concept.reads is not None, name
        names = sorted(self.referenced, key=order)
        self.readers = [Reader(self, self.concepts[n]) for n in names]
        self.ages = [n for n in names if self.concepts[n].kind is m.Kind.AGE]
        self._dose_factors: dict[tuple[str, str], Decimal | None] = {}
        self._equivalents: dict[tuple[str, str], m.EquivalenceEntry | None] = {}

    def dose_factor(self, unit: str, dosed_in: str) -> Decimal | None:
        """The exact factor from a dose's unit to the unit its medication is dosed in, or None when
        they do not convert directly (mg/d into mg/kg/d needs the weight): once per pair of units,
        because `units.factor` caches only successes, and pint's failure costs as much as a
        success."""
        key = (unit, dosed_in)
        if key not in self._dose_factors:
            try:
                self._dose_factors[key] = factor(unit, dosed_in, aliases=self.aliases)
            except UnitProblem:
                self._dose_factors[key] = None
        return self._dose_factors[key]

    def equivalent(self, concept: m.Concept, table: m.Equivalence, drug: str
                   ) -> m.EquivalenceEntry | None:
        """The entry of an equivalence table for a course's drug, or None: once per (concept,
        drug), a drug being one of the concept's declared values."""
        key = (concept.name, drug)
        if key not in self._equivalents:
            self._equivalents[key] = next(
                (e for e in table.entries if concept.canonical(e.drug) == drug), None)
        return self._equivalents[key]

    def patient(self, data: Any, path: str, line: int, screening: date | None,
                where: tuple[str, int] | None = None) -> Patient:
        """Validate and normalise one patient, the record `line` of `path`; raise `FactError`
        with every problem found, each said at `where` (a folder's record: its file and its
        line there), else at `path:line`."""
        file, at = where or (path, line)
        problems: list[FactProblem] = []
        if not isinstance(data, dict):
            raise FactError([FactProblem(file, at, None, None, None, array_problem(len(data))
                                         if isinstance(data, list) else
                                         "a patient must be a JSON object")])
        pid = patient_id(data)
        problems.extend(schema_problems(data, file, at, pid, self.attribute_keys))
        if problems:
            raise FactError(problems)
        given = data.get("screening_date")
        if given is not None:  # a date-time: its day, as the outputs show it
            given = data["screening_date"] = day_written(given)
        day = day_of(given) if given is not None else screening
        if given is not None and day is None:
            raise FactError([FactProblem(file, at, pid, None, "screening_date",
                                         date_problem(given))])
        if given is None and day is not None and not FIRST_DAY <= day <= LAST_DAY:
            raise FactError([FactProblem(file, at, pid, None, "screening_date",
                                         "--screening-date " + calendar_problem(day.isoformat()))])
        if day is None:
            raise FactError(
                [FactProblem(file, at, pid, None, "screening_date",
                             "no screening date: give it in the record or with --screening-date")]
            )
        builder = _Builder(self, line, (file, at), pid or "?", day, data)
        return builder.build()


class Reader:
    """One referenced concept as a patient's facts of it are read, worked out once per protocol,
    as the network is compiled once: its kind's method of `_Builder` and all that depends on the
    concept alone (its unit as shown, the record fields it writes, whether a date is needed,
    whether it is tallied or has edges), so that per patient only the work on the facts runs."""

    __slots__ = ("age", "attributes", "bound_unit", "bounds", "concept", "cumulatives", "dated",
                 "doses", "edges",
                 "factors", "first_day_key", "graded", "judgment", "lab", "measured", "runs_on",
                 "name", "needs_date", "none_field", "planned", "read", "references", "runs",
                 "days", "lengths", "run_days", "steady",
                 "steps", "titre", "whole",
                 "table", "tallied", "uln", "unit_shown", "unitless", "valid_for", "day",
                 "reaches", "spans", "as_of", "sources", "missing", "previous", "whole_field",
                 "said")

    def __init__(self, normaliser: Normaliser, concept: m.Concept) -> None:
        kind, name = concept.kind, concept.name
        self.concept, self.name = concept, name
        # the concept a fact's problems are said of: the facts' own, for a reading of another
        # (a bad unit on `lvef` is lvef's, not `lvef_at_randomisation`'s)
        self.said = name if concept.reads is None else concept.reads.name
        self.read = getattr(_Builder, "_" + ("extreme" if concept.extreme else kind.value))
        # Read as of a named day (`uacr at visit_1`): that day's concept and the validity, counted
        # back from it (`_Builder._as_of`; none: that day's results only), not from screening.
        self.as_of = None if concept.at is None or concept.reads is None else \
            (concept.at.name, concept.valid_for)
        self.valid_for = concept.valid_for if self.as_of is None else None
        # the concepts whose facts it reads, by name: a source may say one's value is open
        self.sources = (name,) if concept.reads is None else (name, concept.reads.name)
        self.missing = "no fact given" if concept.reads is None else \
            f"no {concept.reads.name} given"
        self.first_day_key = _duration_key(concept.valid_for) if self.valid_for else None
        # every fact needs a date, even one alone (`Values._chosen`): `valid for`, a lab, a
        # quantity, a value read as of a day
        self.needs_date = concept.valid_for is not None or kind in _MEASURED or \
            self.as_of is not None
        self.unitless, self.age = kind in m.UNITLESS, kind is m.Kind.AGE
        self.lab = kind is m.Kind.LAB
        # several results of one day that differ bound the value (`Values._between`)
        self.measured = kind in _SPREAD
        self.steps = concept.steps
        self.titre = kind is m.Kind.TITRE  # read as `1:160` (`Values._dilution`)
        # the whole values a bound allows: a scale's steps, a titre's dilutions from 1:1 up
        self.whole = concept.steps if concept.steps is not None else \
            (Decimal(1), None) if self.titre else None
        # the field of its latest day's results, when a formula averages them (`mean(...)`)
        self.day = R.day_field(name) if name in normaliser.means else None
        # the field of the day before the latest's value, for `confirmed on another day`
        self.previous = R.previous_field(name) if name in normaliser.confirmed else None
        # a value as the trail shows it: `30 U/L` (`plain_number` and the unit), `< 20 IU/mL`
        self.unit_shown = f" {concept.unit or ''}".rstrip()
        self.bound_unit = f" {concept.unit}" if concept.unit and not self.unitless else ""
        # by a fact's unit, once each (an `Affine` between temperatures): `Values._converted`
        self.factors: dict[str, Decimal | Affine] = {}
        self.bounds = R.bounds(name)
        self.references = tuple((bound, field, R.bounds(field)) for bound, field in (
            ("high", R.reference_field(name, "upper")), ("low", R.reference_field(name, "lower"))))
        self.uln = f"{name} x ULN"
        self.none_field = R.none_field(name)
        self.tallied = name in normaliser.tallied
        # a history others count as: whether its own facts make its record whole
        self.whole_field = R.whole_field(name) if name in normaliser.narrowed else None
        self.edges = normaliser.edges.get(name, ())
        self.dated = normaliser.dated.get(name)
        self.runs = name in normaliser.runs
        self.days = name in normaliser.days
        self.lengths = name in normaliser.lengths
        self.run_days = name in normaliser.run_days
        self.steady = name in normaliser.steady
        self.doses = normaliser.doses.get(name, ())
        self.cumulatives = normaliser.cumulatives.get(name, ())
        self.attributes = tuple((a, R.attribute_field(a.name)) for a in concept.attributes)
        #: By attribute, the days each item reaches by it (`m.Reach`): the item field, the
        #: field from the earliest end, the multiple, and whether strictly.
        self.reaches: dict[str, list[tuple[str, str, Fraction, bool]]] = {}
        for key, (attribute, times, strict) in sorted(normaliser.reaches.get(name, {}).items()):
            self.reaches.setdefault(attribute, []).append(
                (key, R.between(key)[0], Fraction(times), strict))
        #: The spans each item needs (`R.span_field`): its field, the field from the earliest
        #: end, the duration.
        self.spans = normaliser.spans.get(name, ())
        self.graded, self.planned = concept.graded, concept.planned
        self.runs_on, self.judgment = concept.runs_on, kind is m.Kind.JUDGMENT
        self.table = normaliser.protocol.equivalence(concept.equivalence) \
            if concept.equivalence else None


class _Builder(Values, Occurrences, Courses):
    """Collects one patient's record and problems; one method per concept kind: those of one
    value in `Values` (engine/values.py), events and what every history shares in `Occurrences`
    (engine/occurrences.py), medications in `Courses` (engine/courses.py)."""

    def __init__(self, normaliser: Normaliser, line: int, where: tuple[str, int], pid: str,
                 day: date, data) -> None:
        self.n = normaliser
        self.where, self.pid = where, pid  # where its problems are said
        self.screening = day
        self.screening_day = day.toordinal()
        self.data = data
        self.problems: list[FactProblem] = []
        self._first_days: dict[tuple[int, str], date] = {}
        self.patient = Patient(pid, line, day, {"t": "p"}, raw=data)
        self.used = self.patient.used
        #: By concept, the date of a fact set aside for being dated after the screening date:
        #: what the trail says of a concept given only so ("no fact given" would say otherwise).
        self._late: dict[str, str] = {}
        self._by_concept: dict[str, list[tuple[int, dict]]] = {}  # the facts, by concept

    def problem(self, index: int | None, fieldname: str | None, message: str, warning=False) -> None:
        """A fact's field is wrong once: a narrower concept's fact, read in its own home and in
        the broader one's (`counts as`), is said in its own concept's words (methotrexate's
        unit in mg/week, not csdmard's in mg/d)."""
        severity = Severity.WARNING if warning else Severity.ERROR
        entry = FactProblem(*self.where, self.pid, index, fieldname, message, severity)
        if warning:
            self.patient.warnings.append(entry)
            return
        said = None if not fieldname or index is None or index < 0 else next(
            (i for i, p in enumerate(self.problems) if (p.fact, p.field) == (index, fieldname)),
            None)
        if said is None:
            self.problems.append(entry)
        elif message.startswith(f"{self.data['facts'][index]['concept']} "):
            self.problems[said] = entry

    def build(self) -> Patient:
        record = self.patient.record
        record[R.SCREENING] = self.screening_day
        grouped = self._grouped()
        used, unusable = self.patient.used, self.patient.unusable
        withheld = self.data.get("unknown", {})
        for entry in self.data.get("set_aside", ()):
            self.problem(None, entry["resource"], entry["reason"], warning=True)
        for reader in self.n.readers:
            name = reader.name
            facts = grouped.get(name)
            held = next((withheld[n] for n in reader.sources if n in withheld), None) \
                if withheld else None
            if held is not None:  # the source says its value is open: none of its facts counts
                unusable[name] = held
            elif facts and (reader.as_of is None or (facts := self._as_of(reader, facts))):
                reader.read(self, reader, facts)
                if reader.dated is not None:
                    self._dated(reader)
            if name not in used and name not in unusable:
                unusable[name] = reader.missing if name not in self._late else \
                    f"given only dated after the screening date ({self._late[name]}): set aside"
        self._bounds()
        if self.problems:
            raise FactError(self.problems)
        return self.patient

    def _as_of(self, r: Reader, facts: list[tuple[int, dict]]) -> list[tuple[int, dict]]:
        """Of a concept read as of a named day (`uacr_at_visit_1: uacr at visit_1`), the facts
        dated on or before that day (each fact needs a date: an undated one is left to
        `_chosen`, which reports it); none, with why, when that day is not usable, no fact is
        dated by then, or the most recent of those is older than the validity, counted back
        from that day (without one, of another day). A measured value's every result is read
        first, whichever day it is of: a bad one refuses the record, as it would were the
        concept read itself."""
        name, (at, valid_for) = r.name, r.as_of
        if r.read is _Builder._measured and not self._sound(r, facts):
            return []
        record, unusable = self.patient.record, self.patient.unusable
        day = record.get(at)
        if day is None:
            unusable[name] = f"no usable {at} to read it at" + (
                f" ({unusable[at]})" if at in unusable else "")
            return []
        dated = [(days_of_text(f[1]["date"])[0].toordinal(), f) for f in facts
                 if isinstance(f[1].get("date"), str)]
        if len(dated) < len(facts):
            return facts
        kept = [f for on, f in dated if on <= day]
        written = date.fromordinal(day).isoformat()
        if not kept:
            unusable[name] = f"no {r.concept.reads.name} on or before {at} ({written})"
            return []
        latest = date.fromordinal(max(on for on, _ in dated if on <= day))
        first = shift(date.fromordinal(day), valid_for) if valid_for else date.fromordinal(day)
        if latest < first:
            read = r.concept.reads.name
            unusable[name] = (
                f"stale: latest {read} by {at} ({written}) is from {latest}, before {first} "
                f"(valid for {valid_for} before {at})" if valid_for else
                f"no {read} of {at}'s day ({written}): the latest by then is from {latest}")
            return []
        return kept

    def _dated(self, r: Reader) -> None:
        """The day of the result that counts, for windows counted from it (`the date of anc`);
        none while its value is not usable (missing, stale, unclear), whose reason the window
        then gives, or undated."""
        name = r.name
        used = self.used.get(name)
        if not used or name in self.patient.unusable:
            return
        when = used[-1].date
        if when is None:
            self.patient.unusable[r.dated] = f"the {name} that counts has no date"
        else:
            self.patient.record[r.dated] = days_of_text(when)[0].toordinal()

    def _bounds(self) -> None:
        """Each window bound the network compares with: the anchor day shifted by the window's
        calendar duration. An anchor the record lacks (a missing first-dose date) has no bound:
        the network then finds the window UNKNOWN. An anchor known only within days (`R.spread`)
        gives its bound's earliest and latest day alike: the shift keeps the order of days."""
        record = self.patient.record
        for name, anchor, duration, key, sign, (early, late), spread in self.n.bounds:
            if anchor == R.SCREENING and sign < 0:
                record[name] = self._first_day(duration, key).toordinal()
                continue
            if anchor in record:
                record[name] = _shifted(record[anchor], duration, sign)
            if early in record:
                for field_name, day in zip(spread, (record[early], record[late])):
                    record[field_name] = _shifted(day, duration, sign)

    def _first_day(self, duration: m.Duration, key: tuple[int, str]) -> date:
        """The screening date minus `duration` (its `key`, `_duration_key`), once per duration
        for this patient: windows and `valid for` checks mostly share a few (28 days, 3
        months)."""
        found = self._first_days.get(key)
        if found is None:
            found = self._first_days[key] = shift(self.screening, duration)
        return found

    def _grouped(self) -> dict[str, list[tuple[int, dict]]]:
        grouped: dict[str, list[tuple[int, dict]]] = {}
        # The first fact of each concept and date: only a fact of the same concept and date can
        # be a duplicate, so only those are compared in full (see `identity`), each by a look-up
        # among the earlier ones of its day (a day may hold thousands: a monitor's readings).
        earlier: dict[tuple[str, Any], tuple[int, dict]] = {}
        seen: dict[tuple[str, Any], Seen] = {}
        # A fact dated with a time is told from another by its time as written: three equal
        # results of a triplicate ECG at 09:00, 09:05 and 09:10 are three results, not duplicates.
        timed: dict[int, Any] = {}
        concepts, readings, screening = self.n.concepts, self.n.readings, self.screening
        sides = self.n.sides
        for index, fact in enumerate(self.data.get("facts", [])):
            name, when, end = fact["concept"], fact.get("date"), fact.get("end")
            if type(when) is str and len(when) > 10 or type(end) is str and len(end) > 10:
                timed[index] = identity(fact)
                if type(when) is str and len(when) > 10:  # its day, for all that follows
                    when = fact["date"] = day_written(when)
                if type(end) is str and len(end) > 10:
                    end = fact["end"] = day_written(end)
            entry = (index, fact)
            # a date that is not text is reported below; as a key it is None (a dict is no key)
            text = when if isinstance(when, str) else None
            key = (name, text)
            first = earlier.setdefault(key, entry)
            if first is not entry:
                known = seen.get(key)
                if known is None:
                    known = seen[key] = Seen()
                    known.first(timed.get(first[0]) or identity(first[1]), first[0])
                same = known.first(timed.get(index) or identity(fact), index)
                if same != index:
                    self.problem(index, None, f"duplicate of fact #{same + 1}" + (
                        "" if index in timed or name not in concepts or concepts[name].kind
                        not in m.RESULTS else "; if they are two results of one day (a "
                        "triplicate ECG), give each its time: \"date\": \"YYYY-MM-DDTHH:MM\""))
                    continue
            reading = readings.get(name)
            if name in sides:  # a family's fact: its side's
                word, named = sides[name]
                side = fact.get(word)
                if side is not None and (not isinstance(side, str) or side not in named):
                    self.problem(index, word, f"{name} is measured per {word}: its {word} is one "
                                 f"of {{{', '.join(named)}}}, not {quoted(side)}")
                    continue
                name = named[side] if side is not None else name  # none: set aside below
                reading = readings.get(name) if name != fact["concept"] else None
            if reading is None:
                self.problem(index, "concept", _not_read(name, concepts), warning=True)
                continue
            home, others, listed = reading
            if home is None:
                self.problem(index, "concept", f"'{name}' is declared but no rule uses it", warning=True)
                continue
            if when is not None and "value" not in fact and concepts[home].kind is m.Kind.DATE:
                self.problem(index, "value", f"{home} is a date: its day is the fact's \"value\""
                             f" (\"value\": {quoted(when)}), not its \"date\"")
                continue
            if when is not None:
                # a measurement's date is a day (as `day_of` reads it), not a month or a year
                days = days_of_text(text) if text is not None else None
                day = days[0] if days and (listed or len(text) == 10) else None
                if day is None:
                    self.problem(index, "date", f"not a day (YYYY-MM-DD): {when!r}; a fact "
                                 f"of {name} is dated to its day (only an event's or a course's "
                                 "dates may be known to the month or the year)" if days else
                                 date_problem(when, _form(listed)))
                    continue
                if day > screening and not concepts[name].planned:
                    self.problem(index, "date", f"dated {when}, after the screening date "
                                 f"{screening}: set aside", warning=True)
                    self._late[home] = when
                    continue
            if end is not None and (days_of(end) if listed else day_of(end)) is None:
                self.problem(index, "end", date_problem(end, _form(listed)))
                continue
            facts = grouped.get(home)
            if facts is None:
                grouped[home] = [entry]
            else:
                facts.append(entry)
            for other in others:  # a narrower concept's fact is the broader one's too; a
                grouped.setdefault(other, []).append(entry)  # concept's, its readings at a day's
        if "birth_date" in self.data:
            self._birth_date(grouped)
        self._by_concept = grouped  # for an age fact's own day (`Values._ages`)
        return grouped

    def _birth_date(self, grouped) -> None:
        """Each age concept from the birth date, in completed years at its day. A birth date
        known only to the month or the year (a registry often keeps no more: OMOP's year of
        birth) is any day of it, as the day an age is counted at may be: the age is then the
        youngest and the oldest those days allow (`45 or 46`), decided wherever both agree."""
        given = self.data["birth_date"] = day_written(self.data["birth_date"])  # as the trail
        born = days_of(given)  # notes it
        if born is None:
            self.problem(None, "birth_date", date_problem(given, _form(True)))
            return
        if born[0] > self.screening:
            self.problem(None, "birth_date", f"born {given}, after the screening date "
                         f"{self.screening}")
            return
        for name in self.n.ages:
            if name in grouped:
                self.problem(grouped[name][0][0], "concept",
                             f"'{name}' is given both as a fact and by birth_date")
            at = self._age_day(self.n.concepts[name], grouped)
            if at is None:
                continue
            days, on = at
            if days[1] < born[0]:
                self.problem(None, "birth_date", f"born {given}, after {name}'s day {on}")
                continue
            youngest, oldest = ages(born, days)
            fact = {"concept": name, "value": Decimal(youngest), "unit": "years",
                    "from_birth_date": on}
            if oldest != youngest:
                fact["oldest"] = Decimal(oldest)
            grouped[name] = [(-1, fact)]

    def _age_day(self, concept: m.Concept, grouped) -> tuple[tuple[date, date], str] | None:
        """The days an age is counted at, and the day as written: the screening date, or the
        day of its date concept (`age at enrolment`), which may be known only to the month or
        the year; None when that day is not given."""
        if concept.at is None:
            return (self.screening, self.screening), self.screening.isoformat()
        given = [f for _, f in grouped.get(concept.at.name, ())]
        value = given[-1].get("value") if given else None
        days = days_of(value)
        if days is None:
            self.patient.unusable[concept.name] = f"no usable {concept.at.name} to count it at"
            return None
        return days, value

    def _use(self, r: Reader, index: int, fact: dict, shown: str | None, note=None,
             value: Any = None) -> None:
        """Record a fact the network was given, as the trail shows it: `shown` what the network
        was given, `value` in words, or else the fact's own value."""
        name = r.name
        if fact["concept"] != name:  # a narrower concept's fact
            recorded = f"recorded as {fact['concept']}"
            note = f"{note}; {recorded}" if note else recorded
        if value is None:
            value = fact.get("value")
            if type(value) not in _PLAIN:
                value = plain(value)
        used = used_fact((index, name, value, fact.get("unit"), fact.get("date"), shown, note))
        entries = self.used.get(name)
        if entries is None:
            self.used[name] = [used]
        else:
            entries.append(used)

#: Values `plain` returns as they are: a fact's value of these types is shown without the call.
_PLAIN = frozenset({str, int, bool, type(None)})
#: Measured kinds whose every fact needs a date when there are several or any is undated.
_MEASURED = frozenset({m.Kind.LAB, m.Kind.QUANTITY})
#: The kinds whose value may be known only within bounds: a measured value, not an age.
_SPREAD = frozenset({m.Kind.LAB, m.Kind.QUANTITY, m.Kind.SCORE, m.Kind.SCALE, m.Kind.TITRE})


def _not_read(name: str, concepts: dict[str, m.Concept]) -> str:
    """Why a fact naming `name` is set aside: no such concept (with the declared name it may
    mean: `hsCRP` for `hscrp`, `creatinin` for `creatinine`), or one that takes no facts."""
    concept = concepts.get(name)
    if concept is None:
        hidden = [c for c in dict.fromkeys(name) if not (c.isascii() and c.isprintable())]
        shown = "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in name)
        cased = next((n for n in concepts if n.casefold() == name.casefold()), None)
        return f"unknown concept '{shown}': not declared by the protocol" + (
            f" (it holds {', '.join(f'U+{ord(c):04X}' for c in hidden)}, which no declared "
            "name does: a lookalike or an invisible character)" if hidden else
            f"; did you mean '{cased}'? (names are lower case)" if cased else
            hint(name, concepts))
    if concept.reads is not None:
        return (f"'{name}' is {concept.read_as}: give "
                f"{concept.reads.name}'s results; this fact is set aside")
    if concept.sides:
        return (f"'{name}' is measured per {concept.per}: give its {concept.per} "
                f"(\"{concept.per}\": \"{concept.sides[0]}\"), or name "
                f"{' or '.join(f'{name}_{side}' for side in concept.sides)}; this fact is set "
                "aside")
    return f"'{name}' is derived: the network computes it from its formula; this fact is set aside"


def _duration_key(duration: m.Duration) -> tuple[int, str]:
    """A duration as a key of the first days worked out per patient: equal durations of two
    concepts share it (a frozen dataclass hashes in Python, a tuple in C)."""
    return duration.amount, duration.unit


def _form(listed: bool) -> str:
    """The date forms a fact may take: a history's dates may be partial."""
    return "YYYY-MM-DD, YYYY-MM or YYYY" if listed else "YYYY-MM-DD"


def _shifted(day: int, duration: m.Duration, sign: int) -> int:
    """The day (an ordinal) `duration` after (`sign` 1) or before it; a course still going on
    (`ONGOING`) ends no sooner for it (`during or within 60 days after X`)."""
    if day >= ONGOING:
        return ONGOING
    return shift(date.fromordinal(day), duration, sign).toordinal()


__all__ = ["Normaliser", "Patient", "UsedFact", "ONGOING"]
