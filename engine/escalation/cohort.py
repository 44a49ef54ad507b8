"""Cohort fact files for dose escalation: read and validate them, then count per dose level.

A cohort file is one JSON object: the date the decision is taken on (`as_of`: nothing reads the
wall clock), every patient infused so far with the level they were allocated to, the infusion date
and the DLT observed (if any, with its date), and the safety reviews signed. This module only
checks and counts; the rule network decides (engine/escalation/network.py). What it counts, by rules
written down in the README:

- a patient with a DLT inside the window is evaluable, with a DLT, whether or not the window
  is over;
- a patient without a DLT is evaluable once the window is over (`as_of` on or after the infusion
  date plus the window, and not marked `"window_complete": false`); before that, pending;
- `"evaluable": false` (withdrawn for another reason) is treated but not evaluable;
- a patient who received less than the level's dose follows the protocol's partial-dose policy:
  counted at the highest level whose dose they did receive (none: not evaluable), or not evaluable.
- a patient's `grade`, the worst toxicity grade (CTCAE) in the DLT window, counts towards
  `total_grade2` (accelerated titration); a DLT counts there without one.

Inconsistent facts (a DLT before the infusion, an undeclared level, more patients than the
maximum, ...) are input errors naming the patient's line, the patient and the field; protocol
deviations that do not change the counts (a stagger not kept) are warnings.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal, DecimalException
from typing import Any

from dateutil.relativedelta import relativedelta

from engine.escalation import tite as T
from engine.dates import day_written
from engine.factfile import once
from protocol import escalation_model as em
from protocol import model as m
from protocol.errors import FactError, FactProblem, Severity
from protocol.units import UnitProblem, convert

TOP_FIELDS = {"protocol", "as_of", "patients", "reviews"}
PATIENT_FIELDS = {
    "patient",
    "level",
    "infused",
    "dlt",
    "window_complete",
    "evaluable",
    "reason",
    "dose_received",
    "grade",
    "note",
}
DLT_FIELDS = {"date", "event", "grade"}
REVIEW_FIELDS = {"level", "date", "signed_by", "note"}
PATIENT_KEY = re.compile(r'"patient"\s*:')


@dataclass(frozen=True)
class Treated:
    """One infused patient as counted: where, and whether evaluable, with a DLT, or pending."""

    id: str
    line: int  # in the cohort file (0 for an outcome string)
    level: str  # allocated
    counted_at: str  # the level the patient counts at (differs only for a partial dose)
    infused: date | None  # None for an outcome string (`outcomes_cohort`)
    window_end: date | None
    status: str  # "dlt" | "evaluable" | "pending" | "not evaluable"
    dlt: date | None = None
    event: str | None = None
    reason: str | None = None
    partial: str | None = None  # a dose received below the level's, as written ("2.1e7 cells/kg")
    grade: int | None = None  # the worst toxicity grade (CTCAE) in the DLT window, when recorded


@dataclass
class Count:
    """The patients of one level: infused, evaluable, with a DLT, and with the window open."""

    treated: int = 0
    evaluable: int = 0
    dlt: int = 0
    pending: int = 0


@dataclass
class Cohort:
    """A validated cohort file, counted per level (in the order the levels are declared)."""

    path: str
    sha256: str
    as_of: date | None  # None for a what-if from outcome strings
    patients: list[Treated]
    counts: list[Count]
    current: int  # index of the level of the most recent infusion (the start level if none)
    reviewed: bool  # a safety review of the current level signed after its last result
    warnings: list[FactProblem] = field(default_factory=list)
    reviews: list[tuple[str, date]] = field(default_factory=list)  # (level, signed), file order

    def state(self, escalation: em.Escalation, out: frozenset[int] = frozenset()) -> dict[str, int]:
        """The state fact the network decides on: the counts at the current level and its
        neighbours, and the yes/no facts (0/1) that escalation rules may test; `out` the
        levels an earlier decision eliminated."""
        return state_of(
            [(c.treated, c.evaluable, c.dlt, c.pending) for c in self.counts],
            self.current,
            escalation,
            self.reviewed,
            sum(days for _, days in self.followup(escalation)),
            eliminated=self.current >= min(out, default=len(self.counts)),
            grade2=sum(p.status == "dlt" or (p.grade or 0) >= 2 for p in self.patients),
        )

    def pending(self) -> list[Treated]:
        return [p for p in self.patients if p.status == "pending"]

    def followup(self, escalation: em.Escalation) -> list[tuple[Treated, int]]:
        """TITE-BOIN: the current level's pending patients and their days of follow-up (none
        for other designs, or a what-if without dates)."""
        window = T.window_days(escalation.dlt_window)
        if not _tite(escalation) or window is None or self.as_of is None:
            return []
        level = escalation.levels[self.current].id
        return [(p, T.followup(p.infused, self.as_of, window)) for p in self.pending()
                if p.counted_at == level and p.infused is not None]


def state_of(
    counts: list[tuple[int, int, int, int]],
    current: int,
    escalation: em.Escalation,
    reviewed: bool = True,
    followup: int = 0,
    eliminated: bool = False,
    grade2: int | None = None,
) -> dict[str, int]:
    """The state fact from (treated, evaluable, dlt, pending) per level (the simulation
    calls it too); for TITE-BOIN also n (evaluable or pending) here and above, and `followup`,
    the days the current level's pending patients have been followed; `eliminated`: an earlier
    decision eliminated the current level; `grade2`: patients with a toxicity of grade 2 or
    worse (without grades, those with a DLT).

    >>> from grammar.parser import parse
    >>> e = parse('escalation: level A1 1 mg level A2 2 mg cohort size 3').escalation
    >>> s = state_of([(3, 3, 0, 0), (1, 0, 0, 1)], 1, e)
    >>> s["treated"], s["lower_dlt"], s["highest"], s["cohort_complete"], s["pending"]
    (1, 0, 1, 0, 1)
    """

    def at(index: int) -> tuple[int, int, int, int]:
        return counts[index] if 0 <= index < len(counts) else (0, 0, 0, 0)

    treated, evaluable, dlt, pending = at(current)
    lower, higher = at(current - 1), at(current + 1)
    total = sum(c[0] for c in counts)
    counted = evaluable + pending
    cohort = escalation.cohort_size or 1
    tite = {"counted": counted, "higher_counted": higher[1] + higher[3], "followup": followup} \
        if _tite(escalation) else {}
    return {
        "t": "s",
        **tite,
        "treated": treated,
        "evaluable": evaluable,
        "dlt": dlt,
        "pending": pending,
        "lower_treated": lower[0],
        "lower_evaluable": lower[1],
        "lower_dlt": lower[2],
        "higher_treated": higher[0],
        "higher_evaluable": higher[1],
        "higher_dlt": higher[2],
        "total": total,
        "total_dlt": sum(c[2] for c in counts),
        "total_grade2": sum(c[2] for c in counts) if grade2 is None else grade2,
        "lowest": int(current == 0),
        "highest": int(current == len(counts) - 1),
        "full": int(escalation.maximum is not None and total >= escalation.maximum),
        "cohort_complete": int(counted > 0 and counted % cohort == 0),
        "pending_elsewhere": sum(c[3] for i, c in enumerate(counts) if i != current),
        "review_required": int(escalation.review),
        "reviewed": int(reviewed),
        "eliminated": int(eliminated),
    }


def _tite(escalation: em.Escalation) -> bool:
    return isinstance(escalation.design, em.Boin) and escalation.design.tite


#: `1NNN 2NTT`: a dose level's number (1 the lowest declared) and one letter per patient.
OUTCOME_GROUP = re.compile(r"([0-9]+)(\S*)")  # ASCII digits: `１` is no level


def parse_outcomes(text: str, levels: int) -> list[tuple[int, str]]:
    """Outcome strings as the R packages `escalation` and `BOIN` take them: groups separated by
    spaces, each a dose level's number (1 the lowest declared level) and N (no DLT) or T (a DLT)
    per patient, in the order they were treated. A ValueError says what is wrong, and where.

    >>> parse_outcomes("1NNN 2NTT", 3)
    [(0, 'NNN'), (1, 'NTT')]
    """
    groups, position = [], 0
    for word in text.split():
        position = text.index(word, position)
        found = OUTCOME_GROUP.fullmatch(word)
        if found is None:
            raise ValueError(f"outcomes {text!r}: {word!r} at column {position + 1} does not "
                             "start with a dose level's number, as in 1NNN")
        number, letters = int(found.group(1)), found.group(2)
        if not 1 <= number <= levels:
            raise ValueError(f"outcomes {text!r}: dose level {number} at column {position + 1}; "
                             f"the protocol declares {levels} (1 is the lowest)")
        wrong = next((i for i, c in enumerate(letters) if c not in "NT"), None)
        if not letters:
            raise ValueError(f"outcomes {text!r}: {word!r} at column {position + 1} names no "
                             "patient; each is N (no DLT) or T (a DLT) after the level")
        if wrong is not None:
            where = position + 1 + len(found.group(1)) + wrong
            raise ValueError(f"outcomes {text!r}: {letters[wrong]!r} at column {where}; each "
                             "patient is N (no DLT) or T (a DLT)")
        groups.append((number - 1, letters))
        position += len(word)
    return groups


def outcomes_cohort(text: str, escalation: em.Escalation) -> Cohort:
    """A what-if cohort from outcome strings: every patient evaluable, no dates, no reviews
    needed (the review rule is the trial's, not the what-if's). The current level is the last
    group's.

    >>> from grammar.parser import parse
    >>> e = parse('escalation: level A1 1 mg level A2 2 mg cohort size 3').escalation
    >>> c = outcomes_cohort("1NNN 2NT", e)
    >>> [(k.treated, k.dlt) for k in c.counts], c.current
    ([(3, 0), (2, 1)], 1)
    """
    groups = parse_outcomes(text, len(escalation.levels))
    counts = [Count() for _ in escalation.levels]
    patients = []
    for level, letters in groups:
        for letter in letters:
            ident = f"P{len(patients) + 1}"
            at = escalation.levels[level].id
            status = "dlt" if letter == "T" else "evaluable"
            patients.append(Treated(ident, 0, at, at, None, None, status))
            count = counts[level]
            count.treated, count.evaluable = count.treated + 1, count.evaluable + 1
            count.dlt += letter == "T"
    if escalation.maximum is not None and len(patients) > escalation.maximum:
        raise ValueError(f"outcomes {text!r}: {len(patients)} patients, more than the maximum "
                         f"sample size ({escalation.maximum})")
    start = [lv.id for lv in escalation.levels].index(escalation.start.name) \
        if escalation.start is not None else 0
    current = groups[-1][0] if groups else start
    digest = hashlib.sha256(text.encode()).hexdigest()
    return Cohort(f"--outcomes {' '.join(text.split())}", digest, None, patients, counts,
                  current, True)


def window_end(infused: date, window: m.Duration) -> date:
    """The last day of the DLT window: the infusion date plus the window, calendar-aware."""
    if window.unit in ("days", "weeks"):
        return infused + timedelta(days=window.amount * (7 if window.unit == "weeks" else 1))
    return infused + relativedelta(**{window.unit: window.amount})


def read_cohort(path: str, protocol: m.Protocol) -> Cohort:
    """Read, validate and count a cohort file; every problem at once as a `FactError`."""
    escalation = protocol.escalation
    assert escalation is not None and escalation.dlt_window is not None
    try:
        raw = open(path, "rb").read()
        text = raw.decode("utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise FactError(
            [FactProblem(path, 1, None, None, None, f"cannot read: {reason}")]
        ) from None
    try:
        data = json.loads(text, parse_float=Decimal, object_pairs_hook=once)
    except json.JSONDecodeError as error:
        problem = FactProblem(path, error.lineno, None, None, None, f"not valid JSON: {error.msg}")
        raise FactError([problem]) from None
    except ValueError as error:  # a key given twice (`once`)
        raise FactError([FactProblem(path, 1, None, None, None, str(error))]) from None
    reader = _Reader(path, text, protocol, escalation)
    cohort = reader.read(data, hashlib.sha256(raw).hexdigest())
    if reader.problems:
        raise FactError(reader.problems)
    assert cohort is not None
    return cohort


class _Reader:
    def __init__(self, path: str, text: str, protocol: m.Protocol, escalation: em.Escalation):
        self.path = path
        self.protocol = protocol
        self.escalation = escalation
        self.levels = [level.id for level in escalation.levels]
        self.problems: list[FactProblem] = []
        self.warnings: list[FactProblem] = []
        self.signed: list[tuple[str, date]] = []
        self.lines = [
            text.count("\n", 0, match.start()) + 1 for match in PATIENT_KEY.finditer(text)
        ]

    def problem(
        self,
        line: int,
        patient: str | None,
        where: str | None,
        message: str,
        severity: Severity = Severity.ERROR,
    ) -> None:
        found = FactProblem(self.path, line, patient, None, where, message, severity)
        (self.warnings if severity is Severity.WARNING else self.problems).append(found)

    def read(self, data: Any, sha256: str) -> Cohort | None:
        if not isinstance(data, dict):
            self.problem(
                1, None, None, "a cohort file is one JSON object with 'as_of' and 'patients'"
            )
            return None
        for name in sorted(set(data) - TOP_FIELDS):
            self.problem(1, None, name, f"unknown field{_hint(name, TOP_FIELDS)}")
        if "protocol" in data and data["protocol"] != self.protocol.id:
            self.problem(
                1,
                None,
                "protocol",
                f"the file is for protocol {data['protocol']!r}, not {self.protocol.id!r}",
            )
        as_of = self.date(data.get("as_of"), 1, None, "as_of")
        patients = data.get("patients")
        if not isinstance(patients, list):
            self.problem(1, None, "patients", "a list of the patients infused is required")
            return None
        if self.escalation.maximum is not None and len(patients) > self.escalation.maximum:
            self.problem(
                1,
                None,
                "patients",
                f"{len(patients)} patients, more than the maximum "
                f"sample size of {self.escalation.maximum}",
            )
        if as_of is None:
            return None
        treated = []
        seen: dict[str, int] = {}
        for index, record in enumerate(patients):
            line = self.lines[index] if index < len(self.lines) else 1
            patient = self.patient(record, line, as_of)
            if patient is None:
                continue
            if patient.id in seen:
                self.problem(
                    line,
                    patient.id,
                    "patient",
                    f"patient {patient.id} is already listed on line {seen[patient.id]}",
                )
            seen.setdefault(patient.id, line)
            treated.append(patient)
        self.staggers(treated)
        counts = [Count() for _ in self.levels]
        for patient in treated:
            count = counts[self.levels.index(patient.counted_at)]
            count.treated += 1
            count.evaluable += patient.status in ("dlt", "evaluable")
            count.dlt += patient.status == "dlt"
            count.pending += patient.status == "pending"
        current = self.current(treated)
        reviewed = self.reviewed(data.get("reviews", []), treated, current, as_of)
        return Cohort(self.path, sha256, as_of, treated, counts, current, reviewed, self.warnings,
                      self.signed)

    def date(self, value: Any, line: int, patient: str | None, where: str) -> date | None:
        """A date of the file (a date-time: the day written in it, as in fact files), with room
        after it for the DLT window and the stagger, which are counted from it (the calendar ends
        on 9999-12-31)."""
        if value is None:
            self.problem(line, patient, where, "a date (YYYY-MM-DD) is required")
            return None
        value = day_written(value)
        found = None
        try:
            if isinstance(value, str) and len(value) == 10:
                found = date.fromisoformat(value)
        except ValueError:
            pass
        if found is None:
            self.problem(line, patient, where, f"not a date (YYYY-MM-DD): {value!r}")
            return None
        for span in (self.escalation.dlt_window, self.escalation.stagger):
            try:
                if span is not None:
                    window_end(found, span)
            except OverflowError:
                self.problem(line, patient, where, f"{value}: no date of the calendar lies "
                             f"{span} after it (the DLT window and stagger count from it)")
                return None
        return found

    def patient(self, record: Any, line: int, as_of: date) -> Treated | None:
        if not isinstance(record, dict):
            self.problem(line, None, None, "each patient is a JSON object")
            return None
        pid = record.get("patient")
        if not isinstance(pid, str) or not pid:
            self.problem(line, None, "patient", "a patient id (text) is required")
            return None
        errors = len(self.problems)
        for name in sorted(set(record) - PATIENT_FIELDS):
            self.problem(line, pid, name, f"unknown field{_hint(name, PATIENT_FIELDS)}")
        level = record.get("level")
        if level not in self.levels:
            self.problem(
                line,
                pid,
                "level",
                f"{level!r} is not a declared dose level"
                f"{_hint(str(level), self.levels) or '; the levels are ' + ', '.join(self.levels)}",
            )
        infused = self.date(record.get("infused"), line, pid, "infused")
        if infused is not None and infused > as_of:
            self.problem(line, pid, "infused", f"infused on {infused}, after as_of {as_of}")
        if len(self.problems) > errors or infused is None:
            return None
        assert self.escalation.dlt_window is not None
        end = window_end(infused, self.escalation.dlt_window)
        dlt, event = self.dlt(record.get("dlt"), line, pid, infused, end, as_of)
        complete = record.get("window_complete")
        if complete is not None and not isinstance(complete, bool):
            self.problem(line, pid, "window_complete", "true or false")
        elif complete and as_of < end:
            self.problem(
                line,
                pid,
                "window_complete",
                f"the DLT window ends {end}, after as_of {as_of}: it cannot be complete",
            )
        evaluable = record.get("evaluable", True)
        if evaluable is not True and evaluable is not False:
            self.problem(line, pid, "evaluable", "true or false")
        elif evaluable is False and dlt is not None:
            self.problem(line, pid, "evaluable", "a patient with a DLT is evaluable")
        grade = record.get("grade")
        if grade is not None and (type(grade) is not int or not 0 <= grade <= 5):
            self.problem(line, pid, "grade", f"{grade!r}: the worst toxicity grade (CTCAE) in "
                         "the DLT window is a whole number from 0 to 5")
        counted_at, partial = self.dose(record.get("dose_received"), line, pid, level)
        dose = record.get("dose_received")
        under = (f"{dose['value']} {dose['unit']}"
                 if counted_at != level or partial is not None else None)
        if len(self.problems) > errors:
            return None
        reason = record.get("reason") if isinstance(record.get("reason"), str) else None
        if dlt is not None:
            status = "dlt"
        elif evaluable is False:
            status = "not evaluable"
        elif partial is not None:
            status, reason = "not evaluable", partial
        elif as_of >= end and complete is not False:
            status = "evaluable"
        else:
            status = "pending"
        return Treated(pid, line, level, counted_at, infused, end, status, dlt, event, reason,
                       under, grade)

    def dlt(
        self, value: Any, line: int, pid: str, infused: date, end: date, as_of: date
    ) -> tuple[date | None, str | None]:
        if value is None:
            return None, None
        if not isinstance(value, dict):
            self.problem(line, pid, "dlt", 'an object like {"date": "2026-05-06", "event": "..."}')
            return None, None
        for name in sorted(set(value) - DLT_FIELDS):
            self.problem(line, pid, f"dlt.{name}", f"unknown field{_hint(name, DLT_FIELDS)}")
        when = self.date(value.get("date"), line, pid, "dlt.date")
        if when is None:
            return None, None
        if when < infused:
            self.problem(
                line, pid, "dlt.date", f"DLT dated {when}, before the infusion on {infused}"
            )
        elif when > end:
            self.problem(
                line,
                pid,
                "dlt.date",
                f"DLT dated {when}, after the DLT window ended on "
                f"{end}: record it as an adverse event, not a DLT",
            )
        elif when > as_of:
            self.problem(line, pid, "dlt.date", f"DLT dated {when}, after as_of {as_of}")
        event = value.get("event")
        return when, event if isinstance(event, str) else None

    def dose(self, value: Any, line: int, pid: str, level: str) -> tuple[str, str | None]:
        """Where a patient counts, and why not evaluable when a partial dose makes them so."""
        if value is None:
            return level, None
        declared = self.escalation.level(level)
        assert declared is not None
        amount, unit = (
            (value.get("value"), value.get("unit")) if isinstance(value, dict) else (None, None)
        )
        if (
            not isinstance(amount, (int, Decimal))
            or isinstance(amount, bool)
            or not isinstance(unit, str)
        ):
            self.problem(
                line, pid, "dose_received", 'an object like {"value": 0.8e7, "unit": "cells/kg"}'
            )
            return level, None
        if amount <= 0:
            self.problem(line, pid, "dose_received.value",
                         f"{amount} {unit}: a dose received is more than 0 (a patient who "
                         "received none was not infused)")
            return level, None
        try:
            received = convert(Decimal(amount), unit, declared.unit)
        except UnitProblem as error:
            self.problem(line, pid, "dose_received.unit", str(error))
            return level, None
        except (DecimalException, OverflowError):
            self.problem(line, pid, "dose_received.value",
                         f"not a dose that can be compared with {level}'s exactly (too large, "
                         "or too many digits)")
            return level, None
        if received > declared.amount:
            self.problem(
                line,
                pid,
                "dose_received",
                f"{amount} {unit} is more than the dose of {level} ({declared.written})",
            )
        if received >= declared.amount:
            return level, None
        policy = self.escalation.partial_dose
        if policy is None:
            self.problem(
                line,
                pid,
                "dose_received",
                "a partial dose, but the protocol declares no "
                "partial-dose policy ('partial dose not evaluable' or 'partial dose "
                "counted at dose received')",
            )
            return level, None
        if policy == "not_evaluable":
            return level, f"partial dose ({amount} {unit} of {declared.written})"
        below = [
            lv
            for lv in self.escalation.levels
            if convert(lv.amount, lv.unit, declared.unit) <= received
        ]
        if not below:
            return level, f"partial dose ({amount} {unit}), below the lowest level"
        return below[-1].id, None

    def staggers(self, treated: list[Treated]) -> None:
        """The second patient of a level must wait `stagger` after the first: a warning if not."""
        stagger = self.escalation.stagger
        if stagger is None:
            return
        for level in self.levels:
            at = sorted((p for p in treated if p.level == level), key=lambda p: p.infused)
            if len(at) >= 2 and at[1].infused < window_end(at[0].infused, stagger):
                self.problem(
                    at[1].line,
                    at[1].id,
                    "infused",
                    f"infused {(at[1].infused - at[0].infused).days} days after the first "
                    f"patient of {level} ({at[0].id}); the protocol staggers by {stagger}",
                    Severity.WARNING,
                )

    def current(self, treated: list[Treated]) -> int:
        """The level of the most recent infusion (the later in the file on the same day)."""
        if not treated:
            start = self.escalation.start
            return self.levels.index(start.name) if start is not None else 0
        latest = max(range(len(treated)), key=lambda i: (treated[i].infused, i))
        return self.levels.index(treated[latest].level)

    def reviewed(self, reviews: Any, treated: list[Treated], current: int, as_of: date) -> bool:
        """A sign-off counts for the current level if dated on or after its last result."""
        if not isinstance(reviews, list):
            self.problem(
                1,
                None,
                "reviews",
                'a list like [{"level": "DL1", "date": "...", "signed_by": "..."}]',
            )
            return False
        level = self.levels[current]
        results = [
            p.dlt or p.window_end
            for p in treated
            if p.counted_at == level and p.status in ("dlt", "evaluable")
        ]
        last = max(results, default=None)
        signed = False
        stale: list[tuple[str, date]] = []
        for index, review in enumerate(reviews):
            where = f"reviews[{index}]"
            if not isinstance(review, dict):
                self.problem(1, None, where, "each review is a JSON object")
                continue
            for name in sorted(set(review) - REVIEW_FIELDS):
                self.problem(
                    1, None, f"{where}.{name}", f"unknown field{_hint(name, REVIEW_FIELDS)}"
                )
            if review.get("level") not in self.levels:
                self.problem(
                    1,
                    None,
                    f"{where}.level",
                    f"{review.get('level')!r} is not a declared dose level",
                )
                continue
            when = self.date(review.get("date"), 1, None, f"{where}.date")
            if not isinstance(review.get("signed_by"), str):
                self.problem(1, None, f"{where}.signed_by", "who signed the review is required")
            if when is not None and when <= as_of:
                self.signed.append((review["level"], when))
            if when is None or review["level"] != level:
                continue
            if when > as_of:
                self.problem(1, None, f"{where}.date", f"signed {when}, after as_of {as_of}")
            elif last is not None and when < last:
                stale.append((where, when))
            else:
                signed = True
        for where, when in [] if signed else stale:  # reviews of earlier steps need no word
            self.problem(1, None, f"{where}.date", f"the review of {level} on {when} predates "
                         f"its last DLT assessment ({last}); it does not count", Severity.WARNING)
        return signed


def _hint(word: str, choices) -> str:
    close = difflib.get_close_matches(word, sorted(choices), n=1)
    return f"; did you mean '{close[0]}'?" if close else ""
