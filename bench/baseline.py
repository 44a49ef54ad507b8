"""The seed protocol (examples/cd19-ucart-sle.proto-rules) hand-written in plain Python.

Why: an independent second implementation. The differential test runs it beside the rule network
on thousands of generated patients and the two must agree on every verdict; the benchmark uses it
as the fair "no rule engine" speed baseline. It reads the patient dict directly and imports nothing
from engine/, grammar/ or protocol/: concepts, synonyms, units, equivalences and criteria are
written out again below, from the protocol text and the semantics documented in engine/facts.py
and engine/compile.py:

- a measured concept, category or flag uses its most recent fact on or before screening; one
  older than `valid for` makes the concept unknown; facts dated after screening are set aside;
- converted values, ratios to the upper reference and equivalent doses are exact decimals
  rounded once, half to even, to 6 places;
- an event or medication is its occurrences; `"present": false` is "none"; no fact is missing
  data; an occurrence counts in `within N before screening` if its end (its start when it has
  no end; never, when ongoing) is on or after screening minus N (calendar-aware); `at
  screening` is within 0 days;
- a course lasts its completed calendar months from start to min(end, screening); a course with
  neither end nor `ongoing` may still be going on: it lasts from none to all of those months;
- strong Kleene logic; an open verdict is UNKNOWN when some atom the criterion (or its
  applies-when) reads has missing data or a definition it uses is unknown, else NEEDS_REVIEW (a
  pending judgment); NOT_APPLICABLE when applies-when is false; an applies-when left open beside
  a condition that passes (an inclusion's true, an exclusion's false) passes either way.

Input records are assumed valid (as the generator makes them): no error checking beyond units.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from dateutil.relativedelta import relativedelta

#: A Kleene value (True, False or None = open) with "reads missing data" beside it.
K = tuple[bool | None, bool]
Q = Decimal("0.000001")
ONGOING = 10**7
DAYS28, MONTHS3 = timedelta(days=28), relativedelta(months=3)
NONE = "none"  # an event or medication recorded as absent

#: Measured concepts: (valid for, {unit: factor into the declared unit}); None: a score, no unit.
MEASURED: dict[str, tuple[Any, dict[str, Decimal] | None]] = {
    "age": (None, {"years": Decimal(1)}),
    "weight": (MONTHS3, {"kg": Decimal(1)}),
    "sledai_2k": (MONTHS3, None),
    "lvef": (DAYS28, {"%": Decimal(1)}),
    "egfr": (DAYS28, {"mL/min/1.73m2": Decimal(1), "mL/s/1.73m2": Decimal(60)}),
    "spo2": (DAYS28, {"%": Decimal(1)}),
}
#: Labs (valid for 28 days): units they may come in. Only the ratio to the upper reference is
#: compared, so the factor is not used, but a unit the network cannot convert must not pass here.
LABS = {"ast": {"U/L": 1}, "alt": {"U/L": 1}, "tbil": {"umol/L": 1, "mg/dL": Decimal("17.1")},
        "hbv_dna": {"IU/mL": 1}, "hcv_rna": {"IU/mL": 1}}
#: Categories and flags: valid for (or None). Category values are compared case-insensitively.
CATEGORIES = {
    "sex": None, "disease_activity": MONTHS3, "ecg": DAYS28, "pregnancy_test": DAYS28,
    "blood_pregnancy_test": DAYS28, "hbsag": DAYS28, "hbcab": DAYS28, "hcv_antibody": DAYS28,
    "hiv_antibody": DAYS28, "syphilis_test": DAYS28, "cmv_dna": DAYS28,
}
#: What "a pregnancy test" reads: either kind.
PREGNANCY_TESTS = ("pregnancy_test", "blood_pregnancy_test")
FLAGS = {
    "childbearing_potential": None, "sle_classification_2019": None,
    "intolerant_to_standard_treatment": None, "serious_lung_lesions": DAYS28,
    "leukapheresis_standards_met": None, "cell_collection_contraindication": None,
    "agrees_to_contraception": None, "informed_consent_signed": None,
    "long_term_steroid_or_immunosuppressant_disease": None,
    "investigator_deems_unsuitable": None,
}
EVENTS = (
    "car_t_therapy", "cns_lupus_intervention", "active_tuberculosis", "congenital_heart_disease",
    "acute_myocardial_infarction", "severe_arrhythmia", "pericardial_effusion",
    "serious_myocarditis", "unstable_vital_signs_needing_pressors", "uncontrolled_infection",
    "infection_needing_systemic_treatment", "organ_transplant", "hsct", "gvhd", "live_vaccine",
    "malignancy", "clinical_study_participation",
)


def _synonyms(*groups: tuple[str, ...]) -> dict[str, str]:
    return {name.casefold(): group[0] for group in groups for name in group}


DRUGS = {
    "glucocorticoid": _synonyms(("prednisone",), ("prednisolone",),
                                ("methylprednisolone", "methyl-prednisolone", "Medrol"),
                                ("dexamethasone",), ("hydrocortisone",), ("betamethasone",),
                                ("triamcinolone",)),
    "antimalarial": _synonyms(("hydroxychloroquine", "HCQ", "Plaquenil"), ("chloroquine",)),
    "immunosuppressant": _synonyms(
        ("cyclophosphamide", "CTX", "CYC"), ("MMF", "mycophenolate mofetil", "mycophenolate"),
        ("azathioprine", "AZA"), ("methotrexate", "MTX"),
        ("cyclosporin", "ciclosporin", "cyclosporine"), ("tacrolimus",), ("sirolimus",),
        ("leflunomide",), ("telitacicept",), ("belimumab", "Beliumab", "Benlysta"),
        ("rituximab",)),
}
#: Prednisone-equivalent table: (mg of the drug, = mg of prednisone).
EQUIVALENT = {
    "prednisone": (Decimal(5), Decimal(5)), "prednisolone": (Decimal(5), Decimal(5)),
    "methylprednisolone": (Decimal(4), Decimal(5)), "triamcinolone": (Decimal(4), Decimal(5)),
    "hydrocortisone": (Decimal(20), Decimal(5)), "dexamethasone": (Decimal("0.75"), Decimal(5)),
    "betamethasone": (Decimal("0.6"), Decimal(5)),
}
PER_KG_DAY, PER_DAY = {"mg/kg/d", "mg/kg/day"}, {"mg/d", "mg/day"}
IMMUNOSUPPRESSANTS = tuple(dict.fromkeys(DRUGS["immunosuppressant"].values()))
ROLES = {
    "I1": "inclusion", "I2": "inclusion", "I3": "inclusion", "I4.cardiac": "inclusion",
    "I4.renal": "inclusion", "I4.liver": "inclusion", "I4.lung": "inclusion", "I5": "inclusion",
    "I6": "inclusion", "I7": "inclusion", **{f"E{i}": "exclusion" for i in range(1, 14)},
}

def q(value: Decimal) -> Decimal:
    """Round once, half to even, to 6 places (the engine's `quantize`)."""
    return value.quantize(Q, rounding=ROUND_HALF_EVEN)


# -- Kleene logic -------------------------------------------------------------------------------
def k_and(*items: K) -> K:
    values = [v for v, _ in items]
    value = False if False in values else None if None in values else True
    return value, any(d for _, d in items)


def k_or(*items: K) -> K:
    values = [v for v, _ in items]
    value = True if True in values else None if None in values else False
    return value, any(d for _, d in items)


def k_not(item: K) -> K:
    return (None if item[0] is None else not item[0]), item[1]


def k_at_least(count: int, items: list[K]) -> K:
    values = [v for v, _ in items]
    trues, falses = values.count(True), values.count(False)
    value = True if trues >= count else False if falses > len(items) - count else None
    return value, any(d for _, d in items)


def compare(value: Decimal | None, op: str, threshold: Decimal) -> K:
    if value is None:
        return None, True
    return {">=": value >= threshold, "<=": value <= threshold, ">": value > threshold}[op], False


def truth(value: bool | None) -> K:
    return (None, True) if value is None else (value, False)


def is_(value: str | None, *wanted: str) -> K:
    return (None, True) if value is None else (value in wanted, False)


def occurred(items: Any, first: int | None, grade: int | None = None) -> K:
    """`first` None means ever; an occurrence is (start, last day, grade)."""
    if items is None:
        return None, True
    if items is NONE:
        return False, False
    if first is None:
        return True, False
    hit = any(e >= first and (grade is None or g >= grade) for _, e, g in items)
    return hit, False


def includes(courses: Any, drug: str) -> K:
    if courses is None:
        return None, True
    if courses is NONE:
        return False, False
    return any(c[0] == drug for c in courses), False


def course(courses: Any, dose: Decimal, months: int) -> K:
    """Some course at `dose` or more for `months` or more; a long course without a dose is open."""
    if courses is None:
        return None, True
    if courses is NONE:
        return False, False
    unknown = any((d is None or d >= dose) and most >= months for _, _, most, d in courses)
    if any(d is not None and d >= dose and least >= months for _, least, _, d in courses):
        return True, unknown
    if all((d is not None and d < dose) or most < months for _, _, most, d in courses):
        return False, unknown
    return None, unknown


def verdict(condition: K, applies: K = (True, False), unknown_use: bool = False,
            passes: bool = True) -> str:
    """`passes`: the condition's value that passes the criterion (an inclusion's true, an
    exclusion's false), which it does whether or not an open applies-when applies."""
    if applies[0] is False:
        return "NOT_APPLICABLE"
    if applies[0] is True and condition[0] is not None or condition[0] is passes:
        return "MET" if condition[0] else "NOT_MET"
    return "UNKNOWN" if applies[1] or condition[1] or unknown_use else "NEEDS_REVIEW"


# -- facts -----------------------------------------------------------------------------------
class Facts:
    """One patient's facts as the criteria read them: values in declared units or None."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.sd = sd = date.fromisoformat(data["screening_date"])
        self.sd_ord = sd.toordinal()
        today = data["screening_date"]
        grouped: dict[str, list[dict]] = {}
        for fact in data.get("facts", ()):
            when = fact.get("date")
            if when is None or when <= today:
                grouped.setdefault(fact["concept"], []).append(fact)
        self.v: dict[str, Any] = {}
        for name, (valid, units) in MEASURED.items():
            fact = self._latest(grouped.get(name), valid)
            self.v[name] = None
            if fact is not None:
                value = Decimal(fact["value"])
                self.v[name] = q(value) if units is None else q(value * units[fact["unit"]])
        if "birth_date" in data:
            self.v["age"] = Decimal(relativedelta(sd, date.fromisoformat(data["birth_date"])).years)
        for name, units in LABS.items():
            fact = self._latest(grouped.get(name), DAYS28)
            high = fact.get("reference_range", {}).get("high") if fact is not None else None
            if fact is not None and fact["unit"] not in units:
                raise ValueError(f"{name}: unit {fact['unit']} not handled")
            ratio = None if high is None else q(Decimal(fact["value"]) / Decimal(high))
            self.v[name + "__uln"] = ratio
        for name, valid in CATEGORIES.items():
            fact = self._latest(grouped.get(name), valid)
            self.v[name] = None if fact is None else fact["value"].casefold()
        # I6's "pregnancy test, urine or blood": a blood test is a pregnancy test too (the
        # protocol's `counts as`); two of one day that disagree leave it unknown.
        either = [f for f in data.get("facts", ()) if f["concept"] in PREGNANCY_TESTS
                  and (f.get("date") is None or f["date"] <= today)]
        fact = self._latest(either, DAYS28)
        said = None if fact is None else fact["value"].casefold()
        if any(f.get("date") == fact.get("date") and f["value"].casefold() != said
               for f in either if fact is not None):
            said = None
        self.v["pregnancy_test"] = said
        for name, valid in FLAGS.items():
            fact = self._latest(grouped.get(name), valid)
            self.v[name] = None if fact is None else fact["value"]
        for name in EVENTS:
            self.v[name] = self._occurrences(grouped.get(name))
        for name in DRUGS:
            self.v[name] = self._courses(name, grouped.get(name))

    def _latest(self, facts: list[dict] | None, valid: Any) -> dict | None:
        if not facts:
            return None
        chosen = facts[0] if len(facts) == 1 else max(
            enumerate(facts), key=lambda pair: (pair[1].get("date") or "", pair[0]))[1]
        when = chosen.get("date")
        if valid is not None and when is not None and date.fromisoformat(when) < self.sd - valid:
            return None
        return chosen

    def _occurrences(self, facts: list[dict] | None) -> Any:
        if not facts:
            return None
        if any(f.get("present") is False for f in facts):
            return NONE
        items = []
        for fact in facts:
            start = date.fromisoformat(fact["date"])
            end = fact.get("end")
            last = (ONGOING if fact.get("ongoing")
                    else (date.fromisoformat(end) if end else start).toordinal())
            items.append((start.toordinal(), last, fact.get("grade")))
        return items

    def _courses(self, concept: str, facts: list[dict] | None) -> Any:
        """(drug, completed months at least and at most, prednisone-equivalent mg/kg/d or None)
        per course."""
        items = self._occurrences(facts)
        if items is None or items is NONE:
            return items
        synonyms, courses = DRUGS[concept], []
        for fact, (start, last, _) in zip(facts, items):
            drug = synonyms[fact["drug"].casefold()]
            end = date.fromordinal(min(last, self.sd_ord))
            most = end if fact.get("end") or fact.get("ongoing") else self.sd
            dose = self._dose(drug, fact) if concept == "glucocorticoid" else None
            courses.append((drug, _months(date.fromordinal(start), end),
                            _months(date.fromordinal(start), most), dose))
        return courses

    def _dose(self, drug: str, fact: dict) -> Decimal | None:
        if fact.get("dose") is None:
            return None
        amount, equals = EQUIVALENT[drug]
        dose = Decimal(fact["dose"]) * equals / amount
        if fact["unit"] in PER_KG_DAY:
            return q(dose)
        if fact["unit"] not in PER_DAY:
            raise ValueError(f"dose unit {fact['unit']} not handled")
        weight = self.v.get("weight")
        # the network is given the weight as a float and divides by Decimal(str(weight))
        return None if weight is None else q(dose / Decimal(str(float(weight))))


# -- the protocol -----------------------------------------------------------------------------
def refractory_sle(f: Facts) -> str:
    """The definition's value: T, F, or open: U (missing data) or R (pending judgment only)."""
    v = f.v
    value, missing = k_and(
        is_(v["disease_activity"], "moderate", "severe"),
        course(v["glucocorticoid"], Decimal(1), 3),
        includes(v["antimalarial"], "hydroxychloroquine"),
        k_at_least(2, [includes(v["immunosuppressant"], d) for d in IMMUNOSUPPRESSANTS]),
    )
    return "T" if value is True else "F" if value is False else "U" if missing else "R"


def criteria(f: Facts) -> dict[str, str]:
    """Every leaf criterion's verdict, in protocol order."""
    v, sd = f.v, f.sd
    at = f.sd_ord
    within = {k: (sd - d).toordinal() for k, d in (
        ("60d", timedelta(days=60)), ("6m", relativedelta(months=6)), ("1w", timedelta(weeks=1)),
        ("2w", timedelta(weeks=2)), ("4w", timedelta(weeks=4)), ("3m", MONTHS3))}
    refractory = refractory_sle(f)
    female_cbp = k_and(is_(v["sex"], "female"), truth(v["childbearing_potential"]))
    positive = {name: is_(v[name], "positive") for name in
                ("hbsag", "hbcab", "hcv_antibody", "hiv_antibody", "syphilis_test", "cmv_dna",
                 "blood_pregnancy_test")}
    judgment = v["investigator_deems_unsuitable"]
    return {
        "I1": verdict(compare(v["age"], ">=", Decimal(5))),
        "I2": verdict(k_and(truth(v["sle_classification_2019"]), k_or(
            ({"T": True, "F": False}.get(refractory), False),
            truth(v["intolerant_to_standard_treatment"]))), unknown_use=refractory == "U"),
        "I3": verdict(compare(v["sledai_2k"], ">=", Decimal(8))),
        "I4.cardiac": verdict(k_and(compare(v["lvef"], ">=", Decimal(55)),
                                    is_(v["ecg"], "no obvious abnormality"))),
        "I4.renal": verdict(compare(v["egfr"], ">=", Decimal(30))),
        "I4.liver": verdict(k_and(compare(v["ast__uln"], "<=", Decimal(3)),
                                  compare(v["alt__uln"], "<=", Decimal(3)),
                                  compare(v["tbil__uln"], "<=", Decimal(2)))),
        "I4.lung": verdict(k_and(k_not(truth(v["serious_lung_lesions"])),
                                 compare(v["spo2"], ">=", Decimal(92)))),
        "I5": verdict(k_and(truth(v["leukapheresis_standards_met"]),
                            k_not(truth(v["cell_collection_contraindication"])))),
        "I6": verdict(k_and(is_(v["pregnancy_test"], "negative"),
                            truth(v["agrees_to_contraception"])), female_cbp),
        "I7": verdict(truth(v["informed_consent_signed"])),
        "E1": verdict(occurred(v["car_t_therapy"], None)),
        "E2": verdict(occurred(v["cns_lupus_intervention"], within["60d"])),
        "E3": verdict(occurred(v["active_tuberculosis"], at)),
        "E4": verdict(k_or(occurred(v["congenital_heart_disease"], None),
                           occurred(v["acute_myocardial_infarction"], within["6m"]),
                           occurred(v["severe_arrhythmia"], at),
                           occurred(v["pericardial_effusion"], at, grade=2),
                           occurred(v["serious_myocarditis"], at),
                           occurred(v["unstable_vital_signs_needing_pressors"], at))),
        "E5": verdict(truth(v["long_term_steroid_or_immunosuppressant_disease"])),
        "E6": verdict(k_or(occurred(v["uncontrolled_infection"], at),
                           occurred(v["infection_needing_systemic_treatment"], within["1w"]))),
        "E7": verdict(k_or(occurred(v["organ_transplant"], None), occurred(v["hsct"], None),
                           occurred(v["gvhd"], within["2w"], grade=2))),
        "E8": verdict(k_or(
            k_and(k_or(positive["hbsag"], positive["hbcab"]),
                  compare(v["hbv_dna__uln"], ">", Decimal(1))),
            k_and(positive["hcv_antibody"], compare(v["hcv_rna__uln"], ">", Decimal(1))),
            positive["hiv_antibody"], positive["syphilis_test"], positive["cmv_dna"])),
        "E9": verdict(occurred(v["live_vaccine"], within["4w"])),
        "E10": verdict(positive["blood_pregnancy_test"], female_cbp, passes=False),
        "E11": verdict(occurred(v["malignancy"], None)),
        "E12": verdict(occurred(v["clinical_study_participation"], within["3m"])),
        # a judgment never counts as missing data: pending is NEEDS_REVIEW
        "E13": verdict((judgment, False)),
    }


def decide(verdicts: dict[str, str]) -> str:
    bad = {"inclusion": "NOT_MET", "exclusion": "MET"}
    if any(bad[ROLES[c]] == v for c, v in verdicts.items()):
        return "INELIGIBLE"
    if any(v in ("UNKNOWN", "NEEDS_REVIEW") for v in verdicts.values()):
        return "NEEDS_REVIEW"
    return "ELIGIBLE"


def evaluate(data: dict[str, Any]) -> tuple[dict[str, str], str]:
    """({criterion id: verdict}, decision) for one patient record.

    >>> evaluate({"patient": "x", "screening_date": "2026-06-01", "facts": []})[1]
    'NEEDS_REVIEW'
    """
    verdicts = criteria(Facts(data))
    return verdicts, decide(verdicts)


def _months(start: date, end: date) -> int:
    """Completed calendar months: the most k with start + k months (day clamped) on or before end."""
    k = 0
    while start + relativedelta(months=k + 1) <= end:
        k += 1
    return k
