"""EMPA-REG OUTCOME (examples/empa-reg-outcome.proto-rules) hand-written in plain Python.

Why: an independent second implementation of the protocol whose criteria use most of the language's
newer constructs, for tests/test_differential_examples.py. It reads the raw patient dict and imports
nothing from engine/, grammar/ or protocol/: concepts, units, synonyms and criteria are written out
again from the protocol text and the README ("The language", "Histories", "Meaning", "Fact files"):

- `cancer other than {basal_cell_carcinoma}` counts a cancer whose type is recorded and is not a
  basal cell carcinoma; one whose type is not recorded may count;
- `fasting_glucose > 240 mg/dL confirmed on another day`: the latest day's value and the value of
  the day before it with a result both pass, each valid for 28 days; no earlier day, or a stale
  one, leaves it open (README "Definitions and criteria");
- `antidiabetic dose stable for at least 12 weeks before randomisation`: some course covers the 12
  weeks up to the randomisation date, and no course starts after their first day or ends before
  their last (README "A stable dose");
- ranges count both ends (`hba1c 7.0 to 10.0 %`); `X at least 1 day before A` and `more than 2
  months before A` test the occurrence's start against A minus the duration (`<=`, `<`); `within N
  before A` asks the occurrence to overlap A - N .. A; `at A` to overlap A itself; months and years
  are calendar months that clamp to the month's end (relativedelta);
- an anchor (the informed-consent date) that is missing leaves a window open when occurrences are
  recorded; a history recorded as none makes it false whatever the anchor;
- results known only as bounds ("< 20", "<= 20", "> 1000", comparator, "not detected" with or
  without a limit) are sets of values: a comparison is decided only when all of them agree; a
  measured value is never negative;
- dates known to the month or year cover their days; an occurrence with no date happened on some day
  up to screening; a course with neither end nor ongoing may still be going on; nothing recorded
  started after screening (facts whose earliest day is after it are set aside), but a planned
  event's occurrences are plans, read whatever their date, one without a date planned for some
  day from screening on (README "Histories": a planned event). Unlike the engine,
  a course's start is also bounded by its end: "started 2026-02, ended 2026-02-10" surely started
  by 2026-02-10;
- values are converted to the declared unit in exact decimals and rounded once, half to even, to 6
  places (a tiny unit table below); ratios to the upper reference are value / high in the fact's own
  unit, rounded the same way;
- BMI and eGFR are worked out from their inputs' converted values: BMI exactly, MDRD's fractional
  powers to 50 significant digits, each result rounded like a value; an input that is missing or
  stale leaves the result open, one known only as bounds bounds it (each formula is monotonic in
  each input: its ends are at the inputs' ends, each rounded, and reached);
- strong Kleene logic. Every criterion except the three judgments can be open only for missing data
  (UNKNOWN); a judgment not given or not attested (no `recorded_by`) is NEEDS_REVIEW.

Records are assumed valid (as bench/generate_empa.py makes them): no checking beyond units.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import ROUND_FLOOR, ROUND_HALF_EVEN, Decimal, DivisionByZero, localcontext
from functools import partial
from typing import Any

from dateutil.relativedelta import relativedelta

#: A Kleene value: True, False or None (open).
K = bool | None
Q = Decimal("0.000001")
FAR = date.max  # "still going on"

DAYS28 = timedelta(days=28)
#: Measured concepts: {unit as written: factor into the declared unit}; None for a unitless score.
UNITS: dict[str, dict[str, Decimal] | None] = {
    "hba1c": {"%": Decimal(1)},
    "weight": {"kg": Decimal(1), "lb": Decimal("0.45359237"), "g": Decimal("0.001")},
    "height": {"cm": Decimal(1), "m": Decimal(100), "mm": Decimal("0.1")},
    "creatinine": {"mg/dL": Decimal(1), "umol/L": Decimal(1) / Decimal("88.4")},
    "abi_left": None,
    "abi_right": None,
    "fasting_glucose": {"mg/dL": Decimal(1), "mmol/L": Decimal(18)},
    "alt": {"U/L": Decimal(1), "ukat/L": Decimal(60)},
    "ast": {"U/L": Decimal(1), "ukat/L": Decimal(60)},
    "alp": {"U/L": Decimal(1), "ukat/L": Decimal(60)},
    "age": {"years": Decimal(1), "months": Decimal(1) / Decimal(12)},
}
LABS = ("alt", "ast", "alp", "fasting_glucose")
#: Flags and judgments: declared `valid for 28 days` or not.
FLAGS = {
    "informed_consent_signed": False, "drug_naive": False,
    "multivessel_stenosis": False, "revascularization_plus_stenosis": False,
    "single_vessel_stenosis_unrevascularized": False, "positive_stress_test": False,
    "peripheral_stenosis": False, "blood_dyscrasia_or_haemolysis": True,
    "uncontrolled_endocrine_disorder": True, "black_race": False,
}
JUDGMENTS = ("background_therapy_contraindicated", "abuse_interfering_with_participation",
             "jeopardizing_condition")
VALID_28 = {"hba1c", "weight", "creatinine", "abi_left", "abi_right", "fasting_glucose", "alt",
            "ast", "alp",
            *(n for n, v in FLAGS.items() if v)}
EVENTS = (
    "t2dm_diagnosis", "myocardial_infarction", "multivessel_revascularization",
    "unstable_angina_discharge", "unstable_angina", "stroke", "limb_revascularization",
    "amputation_circulatory", "bariatric_surgery", "malabsorptive_gi_surgery", "cancer",
    "cancer_treatment", "weight_destabilizing_treatment", "thyroid_hormone_dose_change",
    "investigational_drug_trial", "acute_coronary_syndrome", "tia", "planned_cardiac_procedure",
)
#: The events whose occurrences are plans (`planned event`).
PLANNED = frozenset({"planned_cardiac_procedure"})
DRUGS = {
    "anti_obesity_drug": {s.casefold() for s in (
        "sibutramine", "Reductil", "Meridia", "orlistat", "Xenical", "alli", "rimonabant",
        "phentermine", "lorcaserin")},
    "systemic_steroid": {s.casefold() for s in (
        "prednisone", "prednisolone", "methylprednisolone", "dexamethasone", "hydrocortisone",
        "betamethasone")},
    "antidiabetic": {s.casefold() for s in (
        "metformin", "glimepiride", "gliclazide", "sitagliptin", "pioglitazone",
        "insulin_glargine", "insulin glargine")},
}
ROLES = {**{f"I{i}": "inclusion" for i in range(1, 8)},
         **{f"E{i}": "exclusion" for i in (*range(1, 11), 12, 13, 14, 15)}}
NONE = "none"


def q(value: Decimal) -> Decimal:
    return value.quantize(Q, rounding=ROUND_HALF_EVEN)


# -- Kleene ---------------------------------------------------------------------------------------
def k_and(*items: K) -> K:
    return False if False in items else None if None in items else True


def k_or(*items: K) -> K:
    return True if True in items else None if None in items else False


def k_not(item: K) -> K:
    return None if item is None else not item


def k_if(choice: K, then: K, otherwise: K) -> K:
    """`A if C else B` by cases: the rule C picks, and where C is unknown what both rules say
    when they agree."""
    if choice is None:
        return then if then == otherwise else None
    return then if choice else otherwise


def at_least(count: int, items: list[K]) -> K:
    if items.count(True) >= count:
        return True
    return False if items.count(False) > len(items) - count else None


# -- measured values as intervals -----------------------------------------------------------------
def _hull(intervals: list[Interval | None]) -> Interval | None:
    """The least interval holding every one of `intervals`; None when one is (an input missing)."""
    if any(i is None for i in intervals):
        return None
    high = None if any(i.high is None for i in intervals) else max(i.high for i in intervals)
    return Interval(min(i.low for i in intervals), high)


class Interval:
    """The values a result may have: low .. high (None: no limit), each end open or closed."""

    def __init__(self, low: Decimal, high: Decimal | None, low_open=False, high_open=False):
        self.low, self.high, self.low_open, self.high_open = low, high, low_open, high_open

    def test(self, op: str, t: Decimal) -> K:
        """Every possible value passes: True; none does: False; else None."""
        lo, hi = self.low, self.high
        all_ge = lo >= t
        all_gt = lo > t or (lo == t and self.low_open)
        all_le = hi is not None and hi <= t
        all_lt = hi is not None and (hi < t or (hi == t and self.high_open))
        yes, no = {">=": (all_ge, all_lt), ">": (all_gt, all_le), "<=": (all_le, all_gt),
                   "<": (all_lt, all_ge)}[op]
        return True if yes else False if no else None


def reading(fact: dict) -> tuple[str, Decimal | None]:
    """("=", 30), a bound ("<", 20), or ("nd", None)."""
    value = fact["value"]
    if isinstance(value, str):
        text = " ".join(value.split())
        if text.casefold() in ("not detected", "undetectable", "undetected",
                               "below detection limit"):
            return ("nd", None) if fact.get("limit") is None else ("<", Decimal(fact["limit"]))
        text = text.replace("≤", "<=").replace("≥", ">=")
        for op in ("<=", ">=", "<", ">"):
            if text.startswith(op):
                return op, Decimal(text[len(op):].strip())
        raise ValueError(f"unreadable value {value!r}")
    return fact.get("comparator", "="), Decimal(value)


def _converted(name: str, fact: dict) -> Decimal | None:
    """A result's number in the concept's unit, rounded once (an age in completed years)."""
    number, units = reading(fact)[1], UNITS[name]
    if number is None:
        return None
    number = number if units is None else q(number * units[fact["unit"]])
    if name == "age":
        number = number.to_integral_value(rounding=ROUND_FLOOR)
    return q(number)


def interval(op: str, number: Decimal | None) -> Interval:
    if op == "=":
        return Interval(number, number)
    if op in ("<", "<=", "nd"):
        return Interval(Decimal(0), number, False, op == "<")
    return Interval(number, None, op == ">", False)


# -- dates and histories --------------------------------------------------------------------------
def days_of(text: str) -> tuple[date, date]:
    """First and last day a (partial) date may be."""
    if len(text) == 10:
        d = date.fromisoformat(text)
        return d, d
    if len(text) == 7:
        first = date(int(text[:4]), int(text[5:]), 1)
        return first, first + relativedelta(months=1) - timedelta(days=1)
    return date(int(text), 1, 1), date(int(text), 12, 31)


class Occurrence:
    """An occurrence's start and end, each a range of possible days, consistent (start <= end)."""

    def __init__(self, fact: dict, screening: date, medication: bool,
                 planned: bool = False) -> None:
        if fact.get("date") is None:
            s_lo, s_hi = (screening, FAR) if planned else (date.min, screening)
        else:
            s_lo, s_hi = days_of(fact["date"])
        if not planned:
            s_hi = min(s_hi, screening)  # nothing recorded started after screening
        if fact.get("ongoing"):
            e_lo, e_hi = FAR, FAR
        elif fact.get("end"):
            e_lo, e_hi = days_of(fact["end"])
        elif medication:
            e_lo, e_hi = s_lo, FAR  # may still be going on
        else:
            e_lo, e_hi = s_lo, s_hi  # a single day
        # the start is on or before the end, whatever their precision
        self.s_lo, self.s_hi = s_lo, min(s_hi, e_hi)
        self.e_lo, self.e_hi = max(e_lo, s_lo), e_hi
        self.drug = fact.get("drug")
        self.type = fact.get("type")

    def not_basal_cell(self) -> K:
        """`cancer other than {basal_cell_carcinoma}`: a type not recorded may be one."""
        if self.type is None:
            return None
        return self.type.casefold() not in ("basal_cell_carcinoma", "basal cell carcinoma")

    def overlaps(self, first: date, last: date) -> K:
        """Does [start, end] meet [first, last]? (single-day events: start == end, and then the
        two tests below are the same as asking whether the day lies in [first, last])"""
        sure = self.e_lo >= first and self.s_hi <= last
        possible = self.e_hi >= first and self.s_lo <= last
        return True if sure else None if possible else False

    def started_by(self, bound: date, strict: bool) -> K:
        sure = self.s_hi < bound if strict else self.s_hi <= bound
        possible = self.s_lo < bound if strict else self.s_lo <= bound
        return True if sure else None if possible else False


def history(items: Any, test) -> K:
    """Some occurrence counts: true; none recorded or none can count: false; else open.
    `test` is None when the window's anchor is missing."""
    if items is None:
        return None
    if items is NONE:
        return False
    if test is None:
        return None
    return k_or(*(test(o) for o in items))


def span(n: int, unit: str) -> relativedelta:
    """N days, weeks, months or years on the calendar (months clamp to the month's end)."""
    return {"days": relativedelta(days=n), "weeks": relativedelta(weeks=n),
            "months": relativedelta(months=n), "years": relativedelta(years=n)}[unit]


def minus(day: date, n: int, unit: str) -> date:
    return day - span(n, unit)


# -- the patient ----------------------------------------------------------------------------------
class Facts:
    """A patient's facts as the criteria read them."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.sd = sd = date.fromisoformat(data["screening_date"])
        grouped: dict[str, list[dict]] = {}
        for fact in data.get("facts", ()):
            when = fact.get("date")
            if when is None or days_of(when)[0] <= sd or fact["concept"] in PLANNED:
                grouped.setdefault(fact["concept"], []).append(fact)
        self.measured: dict[str, Interval | None] = {}
        self.uln: dict[str, Interval | None] = {}
        for name in UNITS:
            fact = self._latest(grouped.get(name), name in VALID_28)
            self.measured[name] = self.uln[name] = None
            if fact is None:
                continue
            op, given = reading(fact)
            self.measured[name] = interval(op, _converted(name, fact))
            high = (fact.get("reference_range") or {}).get("high")
            if name in LABS and high is not None:
                ratio = None if given is None else q(given / Decimal(high))
                self.uln[name] = interval(op, ratio)
        if "birth_date" in data:
            born, k = date.fromisoformat(data["birth_date"]), 0
            while born + relativedelta(years=k + 1) <= sd:
                k += 1
            self.measured["age"] = interval("=", Decimal(k))
        self.flags: dict[str, K] = {}
        for name, valid in FLAGS.items():
            fact = self._latest(grouped.get(name), valid)
            self.flags[name] = None if fact is None else fact["value"]
        self.judgments: dict[str, K] = {}
        for name in JUDGMENTS:
            fact = self._latest(grouped.get(name), False)
            ok = fact is not None and fact.get("recorded_by")
            self.judgments[name] = fact["value"] if ok else None
        fact = self._latest(grouped.get("sex"), False)
        self.sex = None if fact is None else fact["value"]
        #: `fasting_glucose > 240 mg/dL confirmed on another day`: the value of the day before
        #: the latest with a result, as the latest is read (valid for 28 days).
        self.earlier = self._earlier(grouped.get("fasting_glucose"))
        self.measured["bmi"] = self._derived(self._bmi, {"weight": True, "height": False})
        # sex or race not recorded: the least and greatest over each they may be (README
        # "Derived values": a conditional term whose condition is open reads both branches)
        black = self.flags["black_race"]
        self.measured["egfr"] = _hull([
            self._derived(partial(self._mdrd, sex=sex, black=race),
                          {"creatinine": False, "age": False})
            for sex in ([self.sex] if self.sex is not None else ["female", "male"])
            for race in ([black] if black is not None else [True, False])])
        fact = self._latest(grouped.get("informed_consent"), False)
        self.consent = None if fact is None else date.fromisoformat(fact["value"])
        fact = self._latest(grouped.get("randomisation"), False)
        self.randomisation = None if fact is None else date.fromisoformat(fact["value"])
        self.lists: dict[str, Any] = {}
        for name in (*EVENTS, *DRUGS):
            facts = grouped.get(name)
            if not facts:
                self.lists[name] = None
            elif any(f.get("present") is False for f in facts):
                self.lists[name] = NONE
            else:
                for f in facts:
                    if name in DRUGS and f["drug"].casefold() not in DRUGS[name]:
                        raise ValueError(f"{name}: drug {f['drug']} not handled")
                self.lists[name] = [Occurrence(f, sd, name in DRUGS, name in PLANNED)
                                    for f in facts]

    def _derived(self, formula, rises: dict[str, bool]) -> Interval | None:
        """A formula monotonic in each measured input (`rises`: whether it grows with it), so
        its least and greatest values are at the inputs' ends; an input known only as bounds
        gives bounds (closed: each end is rounded to), an end at 0 or unbounded the formula's
        limit there (Decimal's infinity, its division by zero not trapped)."""
        ends = []
        for least in (True, False):
            values = {}
            for name, rises_with in rises.items():
                value = self.measured[name]
                if value is None:
                    return None
                low = least == rises_with
                values[name] = value.low if low else (
                    Decimal("Infinity") if value.high is None else value.high)
            with localcontext() as context:
                context.prec = 50
                context.traps[DivisionByZero] = False
                end = formula(**values)
            ends.append(None if end is None or end.is_infinite() else q(end))
        if ends[0] is None and ends[1] is None:
            return None
        if ends[0] == ends[1]:
            return Interval(ends[0], ends[0])
        return Interval(ends[0], ends[1])

    def _bmi(self, weight: Decimal, height: Decimal) -> Decimal | None:
        return weight / (height / 100) ** 2

    @staticmethod
    def _mdrd(creatinine: Decimal, age: Decimal, sex: str, black: bool) -> Decimal:
        value = 175 * creatinine ** Decimal("-1.154") * age ** Decimal("-0.203")
        return value * (Decimal("0.742") if sex == "female" else 1) * (
            Decimal("1.212") if black else 1)

    def _earlier(self, facts: list[dict] | None) -> Interval | None:
        days = sorted({f["date"] for f in facts or () if f.get("date")})
        if len(days) < 2:
            return None  # no earlier day
        fact = self._latest([f for f in facts or () if f.get("date") == days[-2]], True)
        return None if fact is None else interval(reading(fact)[0],
                                                  _converted("fasting_glucose", fact))

    def _latest(self, facts: list[dict] | None, valid_28: bool) -> dict | None:
        if not facts:
            return None
        chosen = max(enumerate(facts), key=lambda p: (p[1].get("date") or "", p[0]))[1]
        when = chosen.get("date")
        if valid_28 and when is not None and date.fromisoformat(when) < self.sd - DAYS28:
            return None  # stale
        return chosen

    # -- atoms --
    def cmp(self, name: str, op: str, threshold: str) -> K:
        value = self.measured[name]
        return None if value is None else value.test(op, Decimal(threshold))

    def confirmed(self, op: str, threshold: str) -> K:
        """`fasting_glucose <op> T confirmed on another day`: the latest day's value and the
        earlier day's both pass (Kleene and); no earlier day, or a stale one, is open."""
        earlier = None if self.earlier is None else self.earlier.test(op, Decimal(threshold))
        return k_and(self.cmp("fasting_glucose", op, threshold), earlier)

    def in_range(self, name: str, low: str, high: str) -> K:
        return k_and(self.cmp(name, ">=", low), self.cmp(name, "<=", high))

    def ratio(self, name: str, op: str, factor: str) -> K:
        value = self.uln[name]
        return None if value is None else value.test(op, Decimal(factor))

    def ever(self, name: str) -> K:
        return history(self.lists[name], lambda o: True)

    def within_before(self, name: str, n: int, unit: str, anchor: str, where=None) -> K:
        """`where`, a filter on each occurrence: it counts when it passes and falls in the
        window, surely or perhaps (Kleene and)."""
        day = self.sd if anchor == "screening" else self.consent
        test = None if day is None else (
            lambda o: k_and(o.overlaps(minus(day, n, unit), day),
                            True if where is None else where(o)))
        return history(self.lists[name], test)

    def within_after(self, name: str, n: int, unit: str) -> K:
        """`within N after screening`: the occurrence overlaps screening .. screening + N."""
        return history(self.lists[name], lambda o: o.overlaps(self.sd, self.sd + span(n, unit)))

    def at(self, name: str, anchor: str) -> K:
        day = self.sd if anchor == "screening" else self.consent
        return history(self.lists[name], None if day is None else lambda o: o.overlaps(day, day))

    def unchanged(self, name: str, n: int, unit: str) -> K:
        """`dose stable for at least N before randomisation`: with A that day and B = A - N, some
        course covers B..A, and no course starts in B+1..A or ends in B..A-1."""
        items, day = self.lists[name], self.randomisation
        if items is None or items is NONE:
            return None if items is None else False
        if day is None:
            return None
        b = minus(day, n, unit)

        def some(sure, maybe) -> K:
            return True if any(sure(o) for o in items) else \
                False if not any(maybe(o) for o in items) else None

        covered = some(lambda o: o.s_hi <= b and o.e_lo >= day,
                       lambda o: o.s_lo <= b and o.e_hi >= day)
        changed = some(lambda o: b < o.s_lo and o.s_hi <= day or b <= o.e_lo and o.e_hi < day,
                       lambda o: b < o.s_hi and o.s_lo <= day or b <= o.e_hi and o.e_lo < day)
        return k_and(covered, k_not(changed))

    def started_before(self, name: str, n: int, unit: str, strict: bool) -> K:
        """`at least` (strict False) / `more than` (True) N before the informed consent."""
        day = self.consent
        test = None if day is None else (
            lambda o: o.started_by(minus(day, n, unit), strict))
        return history(self.lists[name], test)


# -- the protocol ---------------------------------------------------------------------------------
def definitions(f: Facts) -> dict[str, K]:
    fl = f.flags
    cad_multivessel = k_or(fl["multivessel_stenosis"],
                           f.started_before("multivessel_revascularization", 2, "months", True),
                           fl["revascularization_plus_stenosis"])
    cad_single_vessel = k_and(
        fl["single_vessel_stenosis_unrevascularized"],
        at_least(1, [fl["positive_stress_test"],
                     f.within_before("unstable_angina_discharge", 12, "months", "consent")]))
    pad = k_or(f.ever("limb_revascularization"), f.ever("amputation_circulatory"),
               fl["peripheral_stenosis"], f.cmp("abi_left", "<", "0.9"),
               f.cmp("abi_right", "<", "0.9"))  # "ABI < 0.9 in >= 1 ankle"
    high_risk = at_least(1, [
        f.started_before("myocardial_infarction", 2, "months", True),
        cad_multivessel,
        cad_single_vessel,
        k_and(f.started_before("unstable_angina", 2, "months", True),
              k_or(cad_multivessel, fl["single_vessel_stenosis_unrevascularized"])),
        f.started_before("stroke", 2, "months", True),
        pad,
    ])
    return {"cad_multivessel": cad_multivessel, "cad_single_vessel": cad_single_vessel,
            "peripheral_artery_disease": pad, "high_cardiovascular_risk": high_risk}


def conditions(f: Facts) -> dict[str, K]:
    fl, naive = f.flags, f.flags["drug_naive"]
    return {
        "I1": f.started_before("t2dm_diagnosis", 1, "days", False),
        "I2": k_or(naive, f.unchanged("antidiabetic", 12, "weeks")),
        "I3": k_if(naive, f.in_range("hba1c", "7.0", "9.0"), f.in_range("hba1c", "7.0", "10.0")),
        "I4": f.cmp("age", ">=", "18"),
        "I5": f.cmp("bmi", "<=", "45"),
        "I6": fl["informed_consent_signed"],
        "I7": definitions(f)["high_cardiovascular_risk"],
        "E1": f.confirmed(">", "240"),
        "E2": k_or(f.ratio("alt", ">", "3"), f.ratio("ast", ">", "3"), f.ratio("alp", ">", "3")),
        "E3": f.within_after("planned_cardiac_procedure", 3, "months"),
        "E4": f.cmp("egfr", "<", "30"),
        "E5": k_or(f.within_before("bariatric_surgery", 2, "years", "screening"),
                   f.ever("malabsorptive_gi_surgery")),
        "E6": fl["blood_dyscrasia_or_haemolysis"],
        "E7": k_or(f.within_before("cancer", 5, "years", "screening",
                                   where=Occurrence.not_basal_cell),
                   f.within_before("cancer_treatment", 5, "years", "screening")),
        "E8": f.judgments["background_therapy_contraindicated"],
        "E9": k_or(f.within_before("anti_obesity_drug", 3, "months", "consent"),
                   f.at("weight_destabilizing_treatment", "screening")),
        "E10": k_or(f.at("systemic_steroid", "consent"),
                    f.within_before("thyroid_hormone_dose_change", 6, "weeks", "consent"),
                    fl["uncontrolled_endocrine_disorder"]),
        "E12": f.judgments["abuse_interfering_with_participation"],
        "E13": f.within_before("investigational_drug_trial", 30, "days", "consent"),
        "E14": f.judgments["jeopardizing_condition"],
        "E15": k_or(*(f.within_before(n, 2, "months", "consent")
                      for n in ("acute_coronary_syndrome", "stroke", "tia"))),
    }


def verdict(criterion: str, value: K) -> str:
    if value is not None:
        return "MET" if value else "NOT_MET"
    return "NEEDS_REVIEW" if criterion in ("E8", "E12", "E14") else "UNKNOWN"


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
    verdicts = {c: verdict(c, v) for c, v in conditions(Facts(data)).items()}
    return verdicts, decide(verdicts)
