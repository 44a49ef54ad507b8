"""Seeded synthetic patients for EMPA-REG OUTCOME (examples/empa-reg-outcome.proto-rules).

Why: the differential test against bench/baseline_empa.py needs patients on, just beside and far
from every threshold and window edge of that protocol: HbA1c at 7.0 / 9.0 / 10.0 %, BMI exactly 45
from weight and height (also in lb and m), ABI 0.9, glucose 240 mg/dL also in mmol/L (13.3 and 13.4
by the declared 18), enzymes at 3 x ULN also in ukat/L, MDRD eGFR just over and just under 30 (by
creatinine, also in umol/L, sex and race), the 18th birthday (a 29 February one too), results known only as
bounds or "not detected", windows counted from the informed-consent date (often a month's end, so
"2 months before" clamps) with occurrences on, the day before and the day after each edge, dates
known only to the month or year, occurrences with no date, courses with no end, stale results and
unattested judgments.

Each patient draws from its own `random.Random(f"{seed}:{index}")`: deterministic, and the first k
patients do not depend on n. A patient starts from an eligible profile and perturbs each concept
with probability 0.15 (a fifth of the patients: none), so all three decisions occur.

usage: python bench/generate_empa.py N [--seed S] > patients.jsonl
"""

from __future__ import annotations

import argparse
import random
import sys
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from dateutil.relativedelta import relativedelta

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script, as its usage says
    sys.path.insert(0, str(ROOT))

from bench.generate import to_json  # noqa: E402

D = Decimal
#: Screening dates, several at a month's end or on 29 February.
SCREENINGS = ("2026-06-01", "2026-05-31", "2026-03-31", "2024-02-29", "2026-08-31", "2025-12-31",
              "2026-03-01", "2026-07-15", "2026-02-28")


def d(day: date) -> str:
    return day.isoformat()


def months(day: date, n: int) -> date:
    return day + relativedelta(months=n)


#: Values of each measured concept: (value, unit), the value a number or a bound's text.
MEASURED: dict[str, list[tuple[Any, str | None]]] = {
    "hba1c": [(D(v), "%") for v in ("6.9", "7.0", "7.1", "8.1", "8.9", "9.0", "9.1", "9.9",
                                    "10.0", "10.1", "12.4", "5.2")]
    + [(t, "%") for t in ("< 7.0", "<= 7.0", "> 10.0", ">= 10.0", "> 9.0", "< 6.5", ">= 7.0",
                          "<= 9.0", "> 14")],
    "weight": [(D(v), "kg") for v in ("145.8", "145.80", "145.9", "146.2", "92", "160", "60")]
    + [(D(v), "lb") for v in ("321.4", "321.5", "203")] + [(D("145800"), "g")],
    "height": [(D(v), "cm") for v in ("180", "172", "165")] + [(D("1.8"), "m"), (D("1800"), "mm")],
    "abi": [(D(v), None) for v in ("0.89", "0.9", "0.90", "0.91", "1.1", "0.5")]
    + [(t, None) for t in ("< 0.9", "<= 0.9", "> 0.9", ">= 0.9", "< 0.7", "> 1.0")],
    "fasting_glucose": [(D(v), "mg/dL") for v in ("239", "240", "240.1", "241", "162", "310")]
    + [(D(v), "mmol/L") for v in ("13.3", "13.4", "13.33", "13.34", "9.0", "15")]
    + [("> 240", "mg/dL"), (">= 240", "mg/dL"), ("< 240", "mg/dL"), ("<= 240", "mg/dL"),
       ("> 13.3", "mmol/L"), ("> 13.4", "mmol/L"), ("< 13.4", "mmol/L"), ("not detected", "mg/dL")],
    # MDRD near 30 at 66 or 67 years: 2.2 / 2.21 mg/dL (male), 1.7 / 1.71 (female), 2.6 / 2.61
    # (Black, male); 194.5 umol/L is 2.200226 mg/dL.
    "creatinine": [(D(v), "mg/dL") for v in ("2.19", "2.2", "2.21", "1.69", "1.7", "1.71", "2.6",
                                             "2.61", "1.0", "0.9", "4.5")]
    + [(D(v), "umol/L") for v in ("194.5", "195.4", "150.3", "88.4")]
    + [(t, "mg/dL") for t in ("< 0.5", "> 2.2")],
}
#: Enzymes: (value, unit, upper reference); 3 x ULN on, beside and far, also in ukat/L.
ENZYMES = [(D(v), "U/L", D(h)) for v, h in (("120", "40"), ("119", "40"), ("121", "40"),
                                            ("105", "35"), ("106", "35"), ("360", "120"),
                                            ("361", "120"), ("30", "40"), ("400", "40"))] \
    + [(D(v), "ukat/L", D("0.6")) for v in ("1.8", "1.81", "1.79", "0.5", "2.5")] \
    + [(t, "U/L", D("40")) for t in ("> 120", ">= 120", "< 120", "<= 120", "> 200", "< 20")] \
    + [("not detected", "U/L", D("40"))]
GOOD = {"hba1c": (D("8.1"), "%"), "weight": (D("92"), "kg"), "height": (D("172"), "cm"),
        "abi": (D("1.1"), None), "fasting_glucose": (D("162"), "mg/dL"),
        "creatinine": (D("1.0"), "mg/dL")}

FLAGS_GOOD = {
    "informed_consent_signed": True, "drug_naive": False,
    "multivessel_stenosis": False, "revascularization_plus_stenosis": False,
    "single_vessel_stenosis_unrevascularized": False, "positive_stress_test": False,
    "peripheral_stenosis": False, "blood_dyscrasia_or_haemolysis": False,
    "uncontrolled_endocrine_disorder": False, "black_race": False,
}
VALID_28 = {"blood_dyscrasia_or_haemolysis", "uncontrolled_endocrine_disorder"}
JUDGMENTS = ("background_therapy_contraindicated", "abuse_interfering_with_participation",
             "jeopardizing_condition")

#: Histories: (anchor, kind, amount, unit) of the windows they are read in; "ever" none.
WINDOWS: dict[str, list[tuple[str, str, int, str]]] = {
    "t2dm_diagnosis": [("consent", "at_least", 1, "days")],
    "myocardial_infarction": [("consent", "more_than", 2, "months")],
    "multivessel_revascularization": [("consent", "more_than", 2, "months")],
    "unstable_angina_discharge": [("consent", "within", 12, "months")],
    "unstable_angina": [("consent", "more_than", 2, "months")],
    "stroke": [("consent", "more_than", 2, "months"), ("consent", "within", 2, "months")],
    "limb_revascularization": [],
    "amputation_circulatory": [],
    "bariatric_surgery": [("screening", "within", 2, "years")],
    "malabsorptive_gi_surgery": [],
    "cancer": [("screening", "within", 5, "years")],
    "cancer_treatment": [("screening", "within", 5, "years")],
    "weight_destabilizing_treatment": [("screening", "at", 0, "days")],
    "thyroid_hormone_dose_change": [("consent", "within", 6, "weeks")],
    "investigational_drug_trial": [("consent", "within", 30, "days")],
    "acute_coronary_syndrome": [("consent", "within", 2, "months")],
    "tia": [("consent", "within", 2, "months")],
    "anti_obesity_drug": [("consent", "within", 3, "months")],
    "systemic_steroid": [("consent", "at", 0, "days")],
    # a plan: read after screening too, its window from screening forward
    "planned_cardiac_procedure": [("screening", "within_after", 3, "months")],
}
#: The histories whose occurrences are plans (`planned event`): dated after screening as well.
PLANNED = {"planned_cardiac_procedure"}
MEDICATIONS = {
    "anti_obesity_drug": ("sibutramine", "Reductil", "Meridia", "orlistat", "Xenical", "alli",
                          "rimonabant", "phentermine", "lorcaserin", "ORLISTAT"),
    "systemic_steroid": ("prednisone", "prednisolone", "methylprednisolone", "dexamethasone",
                         "hydrocortisone", "betamethasone", "Prednisone"),
}
#: The eligible profile's histories: recorded as none, except these.
GOOD_HISTORY = {"t2dm_diagnosis": "2012-03-01", "myocardial_infarction": "2023-09-14"}


def _shift(day: date, amount: int, unit: str, sign: int) -> date:
    delta = {"days": relativedelta(days=amount), "weeks": relativedelta(weeks=amount),
             "months": relativedelta(months=amount), "years": relativedelta(years=amount)}[unit]
    return day + delta if sign > 0 else day - delta


def _partial(rng: random.Random, day: date) -> str:
    """The day, or only its month or year now and then."""
    r = rng.random()
    return d(day) if r < 0.7 else d(day)[:7] if r < 0.88 else d(day)[:4]


def _occurrence(rng: random.Random, name: str, pivots: list[date], sd: date) -> dict[str, Any]:
    """One occurrence near an edge: its start, its end, or both beside a pivot day."""
    fact: dict[str, Any] = {"concept": name}
    if name in MEDICATIONS:
        fact["drug"] = rng.choice(MEDICATIONS[name])
    if name == "cancer":  # its type: another cancer, a basal cell carcinoma, or not recorded
        kind = rng.choice(("other", "other", "other", "basal_cell_carcinoma",
                           "basal cell carcinoma", None))
        if kind is not None:
            fact["type"] = kind
    if name in PLANNED:  # its type, or not recorded
        kind = rng.choice(("surgery", "angioplasty", None))
        if kind is not None:
            fact["type"] = kind
    pivot = rng.choice(pivots)
    r = rng.random()
    if r < 0.08 and name not in MEDICATIONS:  # no date: it happened on some day up to screening
        # (an undated course crashes the engine: see tests/test_differential_examples.py)
        if rng.random() < 0.3:
            fact["ongoing"] = True
        return fact
    near = rng.choice((-1, 0, 1, -1, 0, 1, -2, 2, -31, 31, -400))
    start = min(pivot + timedelta(days=near), sd) if rng.random() < 0.95 and \
        name not in PLANNED else pivot + timedelta(days=near)
    fact["date"] = _partial(rng, start)
    how = rng.random()
    if how < 0.4:
        pass  # an event: one day; a medication: end unknown
    elif how < 0.55:
        fact["ongoing"] = True
    else:  # an end beside a pivot, on or after the start
        end = max(start, rng.choice(pivots) + timedelta(days=rng.choice((-1, 0, 1, 5, -40))))
        fact["end"] = _partial(rng, end) if rng.random() < 0.8 else d(end)
    return fact


def _pivots(name: str, sd: date, consent: date) -> list[date]:
    """The days where the windows a history is read in begin or end."""
    days = [sd - timedelta(days=3000)]
    for anchor, kind, amount, unit in WINDOWS[name]:
        a = sd if anchor == "screening" else consent
        days.append(a)
        if kind != "at":
            days.append(_shift(a, amount, unit, 1 if kind == "within_after" else -1))
    return days


def _history(rng: random.Random, name: str, sd: date, consent: date, perturb: bool) -> list[dict]:
    if not perturb:
        if name in GOOD_HISTORY:
            return [{"concept": name, "date": GOOD_HISTORY[name]}]
        return [{"concept": name, "present": False}]
    r = rng.random()
    if r < 0.12:
        return []  # nothing recorded
    if r < 0.22:
        return [{"concept": name, "present": False, "recorded_by": "Dr Site"}]
    pivots = _pivots(name, sd, consent)
    found: list[dict] = []
    for _ in range(rng.choice((1, 1, 1, 2, 3))):
        fact = _occurrence(rng, name, pivots, sd)
        if fact not in found:  # the same fact twice is an input error
            found.append(fact)
    return found


def _dated(rng: random.Random, sd: date, perturb: bool) -> str:
    """A measurement date: fresh, or (perturbed) on the last valid day, stale, after screening."""
    if not perturb:
        return d(sd - timedelta(days=rng.randint(0, 12)))
    return d(sd - timedelta(days=rng.choice((0, 5, 27, 28, 28, 29, 40, -1))))


def _measured(rng: random.Random, name: str, sd: date, perturb: bool) -> list[dict]:
    if perturb and rng.random() < 0.12:
        return []
    value, unit = rng.choice(MEASURED[name]) if perturb else GOOD[name]
    fact: dict[str, Any] = {"concept": name}
    if isinstance(value, str) and rng.random() < 0.3 and value[0] in "<>":
        op = value.split()[0]
        fact.update(value=D(value.split()[1]), comparator=op)  # FHIR's comparator
    else:
        fact["value"] = value
    if value == "not detected" and rng.random() < 0.6:
        fact["limit"] = D("20")
    if unit is not None:
        fact["unit"] = unit
    fact["date"] = _dated(rng, sd, perturb)
    facts = [fact]
    if name == "fasting_glucose" and perturb and rng.random() < 0.6:
        facts.insert(0, _confirming(rng, fact, sd))
    elif perturb and rng.random() < 0.15:  # an older value the newer one replaces
        older = dict(fact, value=GOOD[name][0], date=d(sd - timedelta(days=20)))
        older.pop("comparator", None)
        older.pop("limit", None)
        if GOOD[name][1] is not None:
            older["unit"] = GOOD[name][1]
        if older["date"] != fact["date"]:
            facts.insert(0, older)
    return facts


def _ankles(facts: list[dict], index: int, sd: date) -> list[dict]:
    """The ABI drawn as one ankle's (left for an odd patient, right for an even one: no draw of
    its own, so the other values stay as they were), and the other ankle's a good 1.1."""
    side, other = ("left", "right") if index % 2 else ("right", "left")
    return [{**fact, "concept": f"abi_{side}"} for fact in facts] + [
        {"concept": f"abi_{other}", "value": GOOD["abi"][0], "date": d(sd - timedelta(days=6))}]


def _confirming(rng: random.Random, latest: dict[str, Any], sd: date) -> dict[str, Any]:
    """E1's second measurement (`confirmed on another day`): a value near 240 mg/dL on an
    earlier day than the latest's, within the 28 days, on their last day, or a day too old."""
    value, unit = rng.choice(MEASURED["fasting_glucose"])
    day = min(date.fromisoformat(latest["date"]) - timedelta(days=rng.choice((1, 1, 6))),
              sd - timedelta(days=rng.choice((1, 10, 28, 29))))
    fact: dict[str, Any] = {"concept": "fasting_glucose", "value": value, "date": d(day)}
    if isinstance(value, str) and value[0] in "<>":
        fact.update(value=D(value.split()[1]), comparator=value.split()[0])
    if unit is not None:
        fact["unit"] = unit
    return fact


def _enzyme(rng: random.Random, name: str, sd: date, perturb: bool) -> list[dict]:
    if not perturb:
        return [{"concept": name, "value": D(30), "unit": "U/L", "date": d(sd - timedelta(days=8)),
                 "reference_range": {"high": D(40)}}]
    if rng.random() < 0.1:
        return []
    value, unit, high = rng.choice(ENZYMES)
    fact: dict[str, Any] = {"concept": name, "value": value, "unit": unit}
    if value == "not detected" and rng.random() < 0.6:
        fact["limit"] = D(5)
    if rng.random() < 0.9:
        fact["reference_range"] = {"high": high} if rng.random() < 0.7 else \
            {"low": high / 4, "high": high}
    fact["date"] = _dated(rng, sd, rng.random() < 0.3)
    return [fact]


def _age(rng: random.Random, sd: date, perturb: bool) -> tuple[str | None, list[dict]]:
    """A birth date (the 18th birthday on, before or after screening; a 29 February), or an age
    fact in years or months."""
    if not perturb:
        return d(sd - relativedelta(years=67, days=rng.randint(0, 300))), []
    r = rng.random()
    if r < 0.1:
        return None, []
    if r < 0.3:
        value, unit = rng.choice(((D(18), "years"), (D("17.9"), "years"), (D("18.0"), "years"),
                                  (D(216), "months"), (D(215), "months"), (D(17), "years"),
                                  (D(45), "years")))
        return None, [{"concept": "age", "value": value, "unit": unit, "date": d(sd)}]
    if r < 0.4:  # a 29 February birthday clamps to 28 February (18 on 2026-02-28)
        return rng.choice(("2008-02-29", "2008-02-28", "2008-03-01", "2004-02-29")), []
    born = sd - relativedelta(years=18) + timedelta(days=rng.choice((-1, 0, 1, 0)))
    return d(born), []


#: The antidiabetic drugs, as facts may name them.
ANTIDIABETIC = ("metformin", "glimepiride", "gliclazide", "sitagliptin", "pioglitazone",
                "insulin glargine", "insulin_glargine", "Metformin")


def _background(rng: random.Random, sd: date, randomisation: date | None,
                perturb: bool) -> list[dict]:
    """Antidiabetic courses: metformin for years (unchanged), or (perturbed) none recorded, none at
    all, or courses that start or end on, before or after the first day of the 12 weeks before
    randomisation (or its day), with dates known to the month now and then."""
    if not perturb:
        return [{"concept": "antidiabetic", "drug": "metformin", "date": "2015-04-01",
                 "ongoing": True}]
    r = rng.random()
    if r < 0.1:
        return []
    if r < 0.2:
        return [{"concept": "antidiabetic", "present": False}]
    a = randomisation or sd + timedelta(days=14)
    pivots = [a - relativedelta(weeks=12), a, sd - timedelta(days=2000)]
    found: list[dict] = []
    for _ in range(rng.choice((1, 1, 2, 2, 3))):
        pivot = rng.choice(pivots)
        start = min(pivot + timedelta(days=rng.choice((-1, 0, 1, -40, 2))), sd)
        fact: dict[str, Any] = {"concept": "antidiabetic", "drug": rng.choice(ANTIDIABETIC),
                                "date": _partial(rng, start)}
        how = rng.random()
        if how < 0.45:
            fact["ongoing"] = True
        elif how < 0.9:  # an end beside a pivot, on or after the start, by screening
            end = min(max(start, rng.choice(pivots) + timedelta(days=rng.choice((-1, 0, 1, -2)))),
                      sd)
            fact["end"] = _partial(rng, end) if rng.random() < 0.8 else d(end)
        if fact not in found:
            found.append(fact)
    return found


def _consent(rng: random.Random, sd: date, perturb: bool) -> date | None:
    if perturb and rng.random() < 0.3:
        return None
    r = rng.random()
    if r < 0.4:  # a month's end or the 29th/30th: "2 months before" clamps
        first = date(sd.year, sd.month, 1)
        choices = [first - timedelta(days=1), months(first, -1) - timedelta(days=1)]
        if sd.month == 3:
            choices.append(date(sd.year, 2, 28 if sd.year % 4 else 29))
        day = rng.choice(choices)
    else:
        day = sd - timedelta(days=rng.choice((0, 1, 7, 14, 30)))
    return day


def patient(index: int, seed: int) -> dict[str, Any]:
    rng = random.Random(f"{seed}:{index}")
    clean = rng.random() < 0.2
    p = 0.0 if clean else 0.15

    def perturb() -> bool:
        return rng.random() < p

    sd = date.fromisoformat(rng.choice(SCREENINGS))
    consent = _consent(rng, sd, perturb())
    facts: list[dict[str, Any]] = []
    if consent is not None:
        facts.append({"concept": "informed_consent", "value": d(consent)})
    born, age_facts = _age(rng, sd, perturb())
    facts += age_facts
    for name, good in FLAGS_GOOD.items():
        if not perturb():
            facts.append({"concept": name, "value": good, "date": d(sd - timedelta(days=6))})
        elif rng.random() > 0.2:
            when = sd - timedelta(days=rng.choice((0, 28, 29) if name in VALID_28 else (0, 400)))
            facts.append({"concept": name, "value": rng.random() < 0.5, "date": d(when)})
    for name in JUDGMENTS:
        fact: dict[str, Any] = {"concept": name, "value": False, "date": d(sd - timedelta(days=6)),
                                "recorded_by": "Dr Site"}
        if perturb():
            r = rng.random()
            if r < 0.25:
                continue
            fact["value"] = rng.random() < 0.5
            if r < 0.5:
                del fact["recorded_by"]
        facts.append(fact)
    for name in MEASURED:
        measured = _measured(rng, name, sd, perturb())
        facts += _ankles(measured, index, sd) if name == "abi" else measured
    if not perturb():
        facts.append({"concept": "sex", "value": "male", "date": d(sd - timedelta(days=6))})
    elif rng.random() < 0.7:
        facts.append({"concept": "sex", "value": "female", "date": d(sd - timedelta(days=6))})
    for name in ("alt", "ast", "alp"):
        facts += _enzyme(rng, name, sd, perturb())
    randomisation = None if perturb() and rng.random() < 0.3 else \
        sd + timedelta(days=rng.choice((14, 14, 15, 0, 1)))
    if randomisation is not None:
        facts.append({"concept": "randomisation", "value": d(randomisation)})
    facts += _background(rng, sd, randomisation, perturb())
    anchor = consent if consent is not None else sd - timedelta(days=7)
    for name in WINDOWS:
        facts += _history(rng, name, sd, anchor, perturb())
    rng.shuffle(facts)
    record: dict[str, Any] = {"patient": f"G{index:05d}", "screening_date": d(sd)}
    if born is not None:
        record["birth_date"] = born
    record["facts"] = facts
    return record


def generate(n: int, seed: int = 1) -> Iterator[dict[str, Any]]:
    """`n` patients, deterministic in `seed`; the first k do not depend on n."""
    for index in range(n):
        yield patient(index, seed)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", type=int)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    for record in generate(args.n, args.seed):
        sys.stdout.write(to_json(record) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
