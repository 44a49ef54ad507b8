"""Seeded synthetic patients for the seed protocol (examples/cd19-ucart-sle.proto-rules).

Why: the differential test and the benchmark need many patients that reach every branch of every
criterion, above all the edges where an off-by-one hides: values exactly at thresholds, windows
whose first day is a month end, stale results one day past `valid for`, drugs named by synonyms,
doses that are exactly 1 mg/kg/d prednisone-equivalent only after the equivalence table and the
weight.

Each patient draws from its own `random.Random(f"{seed}:{index}")`, so `generate(n, seed)` is
deterministic and its first k patients do not depend on n. Nothing reads the wall clock. A
quarter of the patients are "clean" (almost every concept on the eligible side, nothing dropped) so
that ELIGIBLE occurs; the others drop each concept with probability 0.10 and pick its variant at
random.

usage: python bench/generate.py N [--seed S] > patients.jsonl
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from dateutil.relativedelta import relativedelta

D = Decimal
DAYS28 = relativedelta(days=28)
MONTHS3 = relativedelta(months=3)
#: Screening dates that make `- N months` clamp to a shorter month.
MONTH_ENDS = ((8, 31), (5, 31), (3, 31), (12, 31), (10, 31), (2, 28), (7, 31), (11, 30))

#: mg/kg/d of each glucocorticoid that equals 1 mg/kg/d prednisone, and the names a site may use.
GLUCOCORTICOIDS = {
    "prednisone": (D(1), ("prednisone", "Prednisone")),
    "prednisolone": (D(1), ("prednisolone",)),
    "methylprednisolone": (D("0.8"), ("methylprednisolone", "methyl-prednisolone", "Medrol")),
    "triamcinolone": (D("0.8"), ("triamcinolone",)),
    "hydrocortisone": (D(4), ("hydrocortisone",)),
    "dexamethasone": (D("0.15"), ("dexamethasone", "Dexamethasone")),
    "betamethasone": (D("0.12"), ("betamethasone",)),
}
IMMUNOSUPPRESSANTS = (
    ("cyclophosphamide", "CTX", "CYC"), ("MMF", "mycophenolate mofetil", "mycophenolate", "mmf"),
    ("azathioprine", "AZA"), ("methotrexate", "MTX"),
    ("cyclosporin", "ciclosporin", "cyclosporine"),
    ("tacrolimus",), ("sirolimus",), ("leflunomide",), ("telitacicept",),
    ("belimumab", "Beliumab", "Benlysta"), ("rituximab",),
)
#: Events: window ("ever", "at" screening, or a duration before screening) and whether graded.
EVENTS: dict[str, tuple[Any, bool]] = {
    "car_t_therapy": ("ever", False), "cns_lupus_intervention": (relativedelta(days=60), False),
    "active_tuberculosis": ("at", False), "congenital_heart_disease": ("ever", False),
    "acute_myocardial_infarction": (relativedelta(months=6), False),
    "severe_arrhythmia": ("at", False), "pericardial_effusion": ("at", True),
    "serious_myocarditis": ("at", False), "unstable_vital_signs_needing_pressors": ("at", False),
    "uncontrolled_infection": ("at", False),
    "infection_needing_systemic_treatment": (relativedelta(weeks=1), False),
    "organ_transplant": ("ever", False), "hsct": ("ever", False),
    "gvhd": (relativedelta(weeks=2), True), "live_vaccine": (relativedelta(weeks=4), False),
    "malignancy": ("ever", False), "clinical_study_participation": (relativedelta(months=3), False),
}


class _Patient:
    """One patient being built: its random source, screening date, facts and how messy it is."""

    def __init__(self, rng: random.Random, index: int, seed: int) -> None:
        self.rng = rng
        self.sd = _screening_date(rng)
        self.clean = rng.random() < 0.25
        self.drop = 0.0 if self.clean else 0.10
        self.facts: list[dict[str, Any]] = []
        self.data: dict[str, Any] = {"patient": f"S{seed}-{index:06d}",
                                     "screening_date": self.sd.isoformat()}
        self.weight: Decimal | None = None  # the weight the engine will use, for exact mg/d doses

    def variant(self, *others: str) -> str:
        """'good' (eligible side), 'missing' or one of `others`, by how messy the patient is."""
        r = self.rng.random()
        if self.clean:
            return "good" if r < 0.97 else self.rng.choice(others)
        if r < self.drop:
            return "missing"
        return "good" if r < self.drop + 0.45 else self.rng.choice(others)

    def add(self, concept: str, day: date | None, **fields: Any) -> None:
        dated = {"date": day.isoformat()} if day else {}
        self.facts.append({"concept": concept, **dated, **fields})

    def between(self, first: date, last: date) -> date:
        """A day in [first, last], each end a fifth of the time (the edges are what matter)."""
        r = self.rng.random()
        if r < 0.2 or last <= first:
            return first
        if r < 0.4:
            return last
        return first + timedelta(days=self.rng.randint(0, (last - first).days))


def _screening_date(rng: random.Random) -> date:
    if rng.random() < 0.2:
        year = rng.randint(2019, 2027)
        month, day = rng.choice(MONTH_ENDS)
        if month == 2 and year % 4 == 0:
            day = 29
        return date(year, month, day)
    return date(2019, 1, 1) + timedelta(days=rng.randint(0, 9 * 365))


# -- measured values, categories, flags ------------------------------------------------------------
def _dated(p: _Patient, concept: str, valid: relativedelta | None, variant: str,
           good: list[dict], bad: list[dict], undated_ok: bool = False) -> None:
    """The latest fact (fresh or stale), maybe an older and a future one with the other value."""
    rng = p.rng
    pool = bad if variant == "bad" else good if variant == "good" else rng.choice((good, bad))
    other = bad if pool is good else good
    first = p.sd - (valid or relativedelta(years=2))
    if variant == "stale" and valid is not None:
        extra = 0 if rng.random() < 0.5 else rng.randint(1, 90)
        latest: date | None = first - timedelta(days=1 + extra)
    elif undated_ok and variant == "good" and rng.random() < 0.5:
        latest = None  # a single undated fact is allowed when the concept has no `valid for`
    else:
        latest = p.between(first, p.sd)
    p.add(concept, latest, **rng.choice(pool))
    if latest is not None and variant == "history":
        p.add(concept, latest - timedelta(days=rng.randint(1, 200)), **rng.choice(other))
    if latest is not None and variant == "future":  # dated after screening: set aside
        p.add(concept, p.sd + timedelta(days=rng.randint(1, 30)), **rng.choice(other))


def measured(p: _Patient, concept: str, good: list, bad: list, valid: relativedelta | None,
             unit: str | None = None) -> None:
    """A quantity or score; values are Decimals or (Decimal, unit) pairs."""
    variant = p.variant("bad", "bad", "stale", "history", "future")
    if variant == "missing":
        return

    def spec(v: Any) -> dict:
        value, u = v if isinstance(v, tuple) else (v, unit)
        return {"value": D(value)} | ({"unit": u} if u else {})

    _dated(p, concept, valid, variant, [spec(v) for v in good], [spec(v) for v in bad])


def lab(p: _Patient, concept: str, good: list, bad: list) -> None:
    """A lab result with the laboratory's reference range; values are (value, high, unit)."""
    variant = p.variant("bad", "bad", "stale", "history", "future", "noref")
    if variant == "missing":
        return

    def spec(v: tuple) -> dict:
        value, high, unit = v
        fact: dict[str, Any] = {"value": D(value), "unit": unit}
        if variant != "noref":
            fact["reference_range"] = {"high": D(high)}
            if p.rng.random() < 0.3:
                fact["reference_range"]["low"] = D(0)
        return fact

    _dated(p, concept, DAYS28, variant, [spec(v) for v in good], [spec(v) for v in bad])


def category(p: _Patient, concept: str, good: list, bad: list,
             valid: relativedelta | None = None) -> None:
    """A category or flag: good/bad are value lists (strings in any case, or booleans)."""
    variant = p.variant("bad", "bad", "history", "future", *(("stale",) if valid else ()))
    if variant == "missing":
        return
    _dated(p, concept, valid, variant, [{"value": v} for v in good], [{"value": v} for v in bad],
           undated_ok=valid is None)


def judgment(p: _Patient, concept: str) -> None:
    variant = p.variant("bad", "pending", "pending")
    if variant in ("missing", "pending"):
        return
    fact: dict[str, Any] = {"value": variant == "bad", "recorded_by": "Dr. Zhou"}
    if variant == "bad":
        fact["reason"] = "poor venous access"
    p.add(concept, p.sd if p.rng.random() < 0.5 else None, **fact)


def age(p: _Patient) -> None:
    """Age from birth_date (adult, 5 today, one day short of 5, born on Feb 29) or as a fact."""
    variant = p.variant("five", "four", "leap", "fact", "fact_young")
    rng = p.rng
    if variant == "missing":
        return
    if variant == "fact":
        p.add("age", p.sd if rng.random() < 0.5 else None, value=rng.randint(5, 70), unit="years")
    elif variant == "fact_young":
        p.add("age", p.sd, value=rng.choice((3, 4)), unit="years")
    elif variant == "five":
        p.data["birth_date"] = (p.sd - relativedelta(years=5)).isoformat()
    elif variant == "four":
        p.data["birth_date"] = (p.sd - relativedelta(years=5) + timedelta(days=1)).isoformat()
    elif variant == "leap":
        year = rng.choice((2000, 2004, 2008, 2012, 2016))
        p.data["birth_date"] = min(date(year, 2, 29), p.sd).isoformat()
    else:
        p.data["birth_date"] = (p.sd - timedelta(days=rng.randint(18 * 365, 70 * 365))).isoformat()


def weight(p: _Patient) -> None:
    variant = p.variant("stale", "history", "future")
    if variant == "missing":
        return
    value = D(p.rng.randint(400, 900)) / 10
    before = len(p.facts)
    _dated(p, "weight", MONTHS3, variant, [{"value": value, "unit": "kg"}],
           [{"value": value + 3, "unit": "kg"}])
    if variant != "stale":
        p.weight = p.facts[before]["value"]


# -- events and medications -----------------------------------------------------------------------
def _span(start: date, end: date | None = None, ongoing: bool = False) -> dict[str, Any]:
    """An occurrence's or a course's dates as a fact carries them."""
    return ({"date": start.isoformat()} | ({"end": end.isoformat()} if end else {})
            | ({"ongoing": True} if ongoing else {}))


def _occurrence(p: _Patient, window: Any, inside: bool) -> dict[str, Any]:
    """One occurrence inside or outside the window (`ever` has no outside), edges favoured."""
    rng, sd = p.rng, p.sd

    def before(day: date, most: int, least: int = 0) -> date:
        return day - timedelta(days=rng.randint(least, most))

    if window == "ever":
        return _span(before(sd, 4000), ongoing=rng.random() < 0.2)
    first = sd if window == "at" else sd - window
    pick = rng.randint(0, 3)
    if inside:
        if pick == 0:  # ends exactly on the window's first day ("at screening": on screening day)
            return _span(before(first, 40), first)
        if pick == 1:  # starts on that day, no end
            return _span(first)
        if pick == 2:  # still going
            return _span(before(first, 400, 1), ongoing=True)
        return _span(before(first, 30), sd + timedelta(days=rng.randint(1, 20)))  # ends after
    last = first - timedelta(days=1)
    if pick <= 1:  # ends the day before the window opens
        return _span(before(last, 40), last)
    if pick == 2:  # one day only, the day before
        return _span(last)
    return _span(before(last, 900, 1))


def event(p: _Patient, concept: str, window: Any, graded: bool) -> None:
    variant = p.variant("bad", "bad", "outside", "future", "graded_low")
    rng = p.rng
    if variant == "missing":
        return
    if variant == "good" or (window == "ever" and variant in ("outside", "graded_low")):
        p.add(concept, None, present=False)
        return
    occurrences: list[dict[str, Any]] = []
    if variant == "future":  # only an occurrence after screening (set aside), maybe with "none"
        occurrences.append({"date": (p.sd + timedelta(days=rng.randint(1, 60))).isoformat()})
        if rng.random() < 0.5:
            p.add(concept, None, present=False)
    else:
        for i in range(rng.randint(1, 3)):
            inside = i == 0 and (variant == "bad" or (graded and variant == "graded_low"))
            occurrences.append(_occurrence(p, window, inside))
    for i, occurrence in enumerate(occurrences):
        if graded:  # the first "bad" one is grade >= 2; a "graded_low" one inside the window is 1
            low = variant == "graded_low" or (variant == "bad" and i > 0 and rng.random() < 0.7)
            occurrence["grade"] = 1 if low else rng.randint(2, 3)
        p.add(concept, None, **occurrence)


def _course_span(p: _Patient, long_enough: bool) -> dict[str, Any]:
    """Course dates: 3 completed months (or more) versus one day short, month ends clamped."""
    rng, sd = p.rng, p.sd
    three, months = sd - MONTHS3, lambda n: sd - relativedelta(months=n)
    if long_enough:
        return rng.choice((
            _span(three, ongoing=True),
            _span(three, sd + timedelta(days=rng.randint(0, 30))),
            _span(months(9), months(5)),
            _span(sd - timedelta(days=rng.randint(100, 900)), ongoing=True),
        ))
    return rng.choice((
        _span(three + timedelta(days=1), ongoing=True),
        _span(three, sd - timedelta(days=1)),
        _span(months(8)),  # no end, not ongoing: one day
        _span(months(7), months(5)),
    ))


def _gc_course(p: _Patient, qualifies: bool | None) -> dict[str, Any]:
    """A glucocorticoid course meeting >= 1 mg/kg/d for 3 months, not, or with no usable dose."""
    rng = p.rng
    drug = rng.choice(list(GLUCOCORTICOIDS))
    per_kg, names = GLUCOCORTICOIDS[drug]
    course: dict[str, Any] = {"drug": rng.choice(names)}
    high = qualifies is True or (qualifies is False and rng.random() < 0.5)
    # qualifying and unknown-dose courses are long enough; a non-qualifying one is low or short
    long_enough = qualifies is not False or (not high and rng.random() < 0.5)
    course |= _course_span(p, long_enough)
    if qualifies is None:  # long enough, dose unknown: none recorded, or mg/d and no usable weight
        if p.weight is None and rng.random() < 0.6:
            course |= {"dose": per_kg * 60, "unit": "mg/d"}
        return course
    factor = rng.choice((D(1), D(1), D("1.25"), D(2))) if high else rng.choice((D("0.9"), D("0.5")))
    if p.weight is not None and rng.random() < 0.4:
        course |= {"dose": per_kg * factor * p.weight, "unit": rng.choice(("mg/d", "mg/day"))}
    else:
        course |= {"dose": per_kg * factor, "unit": rng.choice(("mg/kg/d", "mg/kg/d", "mg/kg/day"))}
    return course


def glucocorticoid(p: _Patient) -> None:
    variant = p.variant("bad", "unknown", "unknown", "none")
    if variant == "missing":
        return
    if variant == "none":
        p.add("glucocorticoid", None, present=False)
        return
    courses = [_gc_course(p, {"good": True, "bad": False}.get(variant))]
    for _ in range(p.rng.randint(0, 2)):
        extra = p.rng.choice((True, False, None)) if variant == "good" else False
        courses.append(_gc_course(p, extra))
    for course in courses:
        p.add("glucocorticoid", None, **course)


def antimalarial(p: _Patient) -> None:
    variant = p.variant("bad", "none")
    if variant == "missing":
        return
    if variant == "none":
        p.add("antimalarial", None, present=False)
        return
    hcq = p.rng.choice(("hydroxychloroquine", "HCQ", "Plaquenil"))
    names = ["chloroquine"] if variant == "bad" else [hcq]
    if variant == "good" and p.rng.random() < 0.3:
        names.append("chloroquine")
    for i, name in enumerate(names):
        p.add("antimalarial", None, drug=name, **_course_span(p, long_enough=i == 0))


def immunosuppressant(p: _Patient) -> None:
    """0..4 distinct drugs, named by any synonym, sometimes the same drug twice under two names."""
    variant = p.variant("one", "synonym_twice", "none")
    rng = p.rng
    if variant == "missing":
        return
    count = {"good": rng.randint(2, 4), "one": 1, "synonym_twice": 1, "none": 0}[variant]
    if count == 0:
        p.add("immunosuppressant", None, present=False)
        return
    for names in rng.sample(IMMUNOSUPPRESSANTS, count):
        repeats = 2 if variant == "synonym_twice" or rng.random() < 0.15 else 1
        for name in rng.sample(names, min(repeats, len(names))):
            p.add("immunosuppressant", None, drug=name, **_course_span(p, rng.random() < 0.5))


# -- the patient --------------------------------------------------------------------------------
def patient(index: int, seed: int) -> dict[str, Any]:
    """One patient, from its own random source."""
    p = _Patient(random.Random(f"{seed}:{index}"), index, seed)
    rng = p.rng
    age(p)
    weight(p)
    category(p, "sex", ["female", "Female"], ["male"])
    category(p, "childbearing_potential", [False], [True])
    category(p, "sle_classification_2019", [True], [False])
    category(p, "disease_activity", ["severe", "moderate", "Moderate"], ["mild"], MONTHS3)
    category(p, "intolerant_to_standard_treatment", [True, False], [False])
    measured(p, "sledai_2k", [8, 8, 12, D("8.0")], [7, D("7.5"), 2], MONTHS3)
    glucocorticoid(p)
    antimalarial(p)
    immunosuppressant(p)
    measured(p, "lvef", [55, D("55.0"), 62], [D("54.9"), 40], DAYS28, "%")
    category(p, "ecg", ["no obvious abnormality", "No Obvious Abnormality"], ["abnormal"], DAYS28)
    per_s = "mL/s/1.73m2"  # 0.5 mL/s is 30 mL/min exactly
    measured(p, "egfr", [30, 95, (D("0.5"), per_s)], [D("29.9"), 12, (D("0.4983"), per_s)],
             DAYS28, "mL/min/1.73m2")
    for name in ("ast", "alt"):
        lab(p, name, [(120, 40, "U/L"), (25, 40, "U/L"), (105, 35, "U/L")],
            [(121, 40, "U/L"), (D("105.1"), 35, "U/L"), (300, 40, "U/L")])
    lab(p, "tbil", [(42, 21, "umol/L"), (D("2.4"), D("1.2"), "mg/dL"), (10, 21, "umol/L")],
        [(D("42.1"), 21, "umol/L"), (D("2.5"), D("1.2"), "mg/dL"), (D("1.17"), D("0.5"), "mg/dL")])
    category(p, "serious_lung_lesions", [False], [True], DAYS28)
    measured(p, "spo2", [92, 98, D("92.0")], [D("91.9"), 85], DAYS28, "%")
    category(p, "leukapheresis_standards_met", [True], [False])
    category(p, "cell_collection_contraindication", [False], [True])
    category(p, "pregnancy_test", ["negative"], ["positive"], DAYS28)
    category(p, "blood_pregnancy_test", ["negative", "Negative"], ["positive"], DAYS28)
    category(p, "agrees_to_contraception", [True], [False])
    category(p, "informed_consent_signed", [True], [False])
    category(p, "long_term_steroid_or_immunosuppressant_disease", [False], [True])
    for name, (window, graded) in EVENTS.items():
        event(p, name, window, graded)
    for name in ("hbsag", "hbcab", "hcv_antibody", "hiv_antibody", "syphilis_test", "cmv_dna"):
        category(p, name, ["negative"], ["positive"], DAYS28)
    iu = "IU/mL"
    lab(p, "hbv_dna", [(20, 20, iu), (0, 20, iu)], [(21, 20, iu), (5000, 20, iu)])
    lab(p, "hcv_rna", [(15, 15, iu), (0, 15, iu)], [(16, 15, iu), (900, 15, iu)])
    judgment(p, "investigator_deems_unsuitable")
    rng.shuffle(p.facts)
    # identical facts are an error in a fact file: keep the first of each
    unique: dict[str, dict[str, Any]] = {}
    for fact in p.facts:
        unique.setdefault(to_json(fact, normal=True), fact)
    p.data["facts"] = list(unique.values())
    return p.data


def generate(n: int, seed: int = 1) -> Iterator[dict[str, Any]]:
    """`n` patients as dicts with exact Decimals, as `json.loads(parse_float=Decimal)` gives."""
    for index in range(n):
        yield patient(index, seed)


def to_json(value: Any, normal: bool = False) -> str:
    """Compact JSON, Decimals written exactly (`normal`: 1.0 and 1 the same, as the engine sees)."""
    if isinstance(value, dict):
        items = sorted(value.items()) if normal else value.items()
        return "{" + ",".join(f"{json.dumps(k)}:{to_json(v, normal)}" for k, v in items) + "}"
    if isinstance(value, list):
        return "[" + ",".join(to_json(v, normal) for v in value) + "]"
    if isinstance(value, Decimal):
        return format(value.normalize() if normal else value, "f")
    return json.dumps(value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Synthetic patients for the seed protocol, JSONL.")
    parser.add_argument("n", type=int, help="number of patients")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    sys.stdout.writelines(to_json(data) + "\n" for data in generate(args.n, args.seed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
