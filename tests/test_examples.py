"""Seven public protocols encoded from their registry text, each with boundary patients.

examples/keynote-001-pembrolizumab (NCT01295827), ensign-ctl019-pediatric-all (NCT02228096),
bliss-sc-belimumab-sle (NCT01484496), empa-reg-outcome (NCT01131676), zuma-7-axicabtagene-lbcl
(NCT03391466), toasst-glucocorticoid-withdrawal (NCT03153527) and dapa-ckd-dapagliflozin
(NCT03036150): each protocol parses and
checks without a diagnostic, and each patient of its `.patients.jsonl` gets the decision and the
key verdicts written in the table below. The expected values were worked out by hand from the
protocol sentences and the language's meaning (README "Meaning"), not copied from a run: a
disagreement is a question about the tool or the encoding, to be investigated, not re-recorded.
Every patient's id says what it tests; examples/<name>.md says it in a sentence, and its rows must
agree with this table. Running an example twice gives byte-identical trails.
"""

from __future__ import annotations

import json
from decimal import Decimal
import re
from pathlib import Path

import pytest

import cli
from engine import pipeline
from engine.factfile import read_records
from engine.run import Decision

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"

YES, NO, OPEN = "ELIGIBLE", "INELIGIBLE", "NEEDS_REVIEW"

#: Where the tool disagrees with the hand computation: the row keeps the hand value and is marked
#: as an expected failure (strict: the mark must be removed once the tool is fixed). None today:
#: the three found while encoding are fixed (an age fact of 21.5 years is 21 completed years; HbA1c
#: in mmol/mol is refused rather than converted to % by a factor; "< 2" on a scale of whole steps
#: allows only 0 and 1, so K24 and N31 are MET).

#: example name -> [(patient id, decision, {criterion: verdict, ...}[, tool disagreement]), ...]
#: in file order.
#: Screening 2026-06-01 unless a comment says otherwise.
EXPECTED: dict[str, list[tuple]] = {
    # first dose 2026-06-08: "within 4 weeks before" = 2026-05-11..06-08, "30 days" from 2026-05-09
    "keynote-001-pembrolizumab": [
        ("K01-eligible-part-f", YES, {"I1": "MET", "I3": "MET", "I4": "MET", "I5": "MET",
                                      "E1": "NOT_MET", "E2": "NOT_MET"}),
        ("K02-ecog-2-past-threshold", NO, {"I5": "NOT_MET"}),
        ("K03-ecog-missing", OPEN, {"I5": "UNKNOWN"}),
        ("K04-ecog-28-days-old-still-valid", YES, {"I5": "MET"}),
        ("K05-ecog-29-days-old-stale", OPEN, {"I5": "UNKNOWN"}),
        ("K06-chemo-ended-first-day-of-4-week-window", NO, {"E1": "MET"}),
        ("K07-chemo-ended-day-before-window", YES, {"E1": "NOT_MET"}),
        ("K08-radiotherapy-ongoing", NO, {"E1": "MET"}),
        ("K09-adverse-event-grade-2-unrecovered", NO, {"E1": "MET"}),
        ("K10-adverse-event-grade-1", YES, {"E1": "NOT_MET"}),
        ("K11-adverse-event-grade-2-resolved-day-before", YES, {"E1": "NOT_MET"}),
        ("K12-investigational-agent-30-days-before-dose", NO, {"E2": "MET"}),
        ("K13-investigational-agent-31-days-before-dose", YES, {"E2": "NOT_MET"}),
        ("K14-investigational-follow-up-phase-only", YES, {"E2": "NOT_MET"}),
        # therapy recorded but no first-dose day: E1 open; no investigational use at all: E2 false
        ("K15-first-dose-date-missing", OPEN, {"E1": "UNKNOWN", "E2": "NOT_MET"}),
        ("K16-pdl1-negative", NO, {"I4": "NOT_MET"}),
        ("K17-part-b-melanoma", YES, {"I1": "MET", "I3": "MET", "I4": "NOT_APPLICABLE"}),
        ("K18-part-a-carcinoma-not-measurable", YES, {"I1": "MET", "I3": "NOT_APPLICABLE",
                                                      "I4": "NOT_APPLICABLE"}),
        ("K19-part-b-nsclc-wrong-histology", NO, {"I1": "NOT_MET", "I4": "NOT_APPLICABLE"}),
        ("K20-part-f-stage-iv-first-line", YES, {"I1": "MET", "I2": "MET", "E1": "NOT_MET"}),
        ("K21-organ-function-inadequate", NO, {"I6": "NOT_MET"}),
        # in the window, but whether it is the follow-up phase is not recorded: true and unknown
        ("K22-investigational-agent-phase-not-recorded", OPEN, {"E2": "UNKNOWN"}),
        # ECOG is `scale 0 to 5`: whole steps, so a bound is the set of grades it allows
        ("K23-ecog-0-lowest-step", YES, {"I5": "MET"}),
        ("K24-ecog-reported-below-2", YES, {"I5": "MET"}),  # grades 0, 1
        ("K25-ecog-reported-2-or-worse", NO, {"I5": "NOT_MET"}),  # grades 2-5
        ("K26-ecog-reported-above-0", OPEN, {"I5": "UNKNOWN"}),  # grades 1-5: 1 passes, 2 fails
        # I2's Part F exception, "without prior systemic therapy": anticancer_therapy by scope
        ("K27-part-f-stage-iv-prior-radiotherapy-only", YES, {"I2": "MET", "E1": "NOT_MET"}),
        ("K28-part-f-stage-iv-prior-systemic-chemotherapy", NO, {"I2": "NOT_MET"}),
        ("K29-part-f-stage-iv-therapy-scope-not-recorded", OPEN, {"I2": "UNKNOWN"}),
        # the systemic course decides it; the unrecorded one cannot undo that
        ("K30-part-f-stage-iv-systemic-and-scope-not-recorded", NO, {"I2": "NOT_MET"}),
        # E2 by phase: a treatment phase on the window's first day beside a follow-up phase
        ("K31-investigational-treatment-30-days-and-follow-up", NO, {"E2": "MET"}),
        ("K32-investigational-phase-not-recorded-31-days-before", YES, {"E2": "NOT_MET"}),
        ("K33-investigational-treatment-31-days-then-follow-up", YES, {"E2": "NOT_MET"}),
        # uncertain dates (README "Uncertain data is decided where every possible value agrees"):
        # a course with no date happened on some day up to screening (ever true, E1's window
        # open); a month covers its days (04: all before 05-11; 05: 01-10 out, 11-31 in)
        ("K34-local-therapy-date-not-recorded", OPEN, {"I2": "MET", "E1": "UNKNOWN"}),
        ("K35-part-f-stage-iv-systemic-therapy-date-not-recorded", NO, {"I2": "NOT_MET",
                                                                        "E1": "UNKNOWN"}),
        ("K36-radiotherapy-in-2026-04-before-window", YES, {"E1": "NOT_MET"}),
        ("K37-radiotherapy-in-2026-05-straddles-window", OPEN, {"E1": "UNKNOWN"}),
    ],
    # first dose (infusion) 2026-06-15: "> 6 months from SCT" = the SCT started before 2025-12-15;
    # CD19 "within 3 months" = 2026-03-01..2026-06-01
    "ensign-ctl019-pediatric-all": [
        ("N01-eligible-second-relapse", YES, {"I1": "MET", "I2": "MET", "I3.renal": "MET",
                                              "I3.liver": "MET", "I3.bilirubin": "MET",
                                              "I3.lung": "MET", "I4": "MET"}),
        ("N02-age-3-on-screening-day", YES, {"I4": "MET"}),
        ("N03-age-2-turns-3-tomorrow", NO, {"I4": "NOT_MET"}),
        ("N04-age-21-day-before-22nd-birthday", YES, {"I4": "MET"}),
        ("N05-age-22-on-screening-day", NO, {"I4": "NOT_MET"}),
        ("N06-sct-6-months-and-1-day-before-infusion", YES, {"I1": "MET"}),
        ("N07-sct-exactly-6-months-before-infusion", NO, {"I1": "NOT_MET"}),
        ("N08-sct-infusion-date-missing", OPEN, {"I1": "UNKNOWN"}),
        ("N09-cd19-first-day-of-3-month-window", YES, {"I2": "MET"}),
        ("N10-cd19-day-before-window", NO, {"I2": "NOT_MET"}),
        ("N11-primary-refractory-cd19-not-applicable", YES, {"I1": "MET", "I2": "NOT_APPLICABLE"}),
        ("N12-gfr-60-at-threshold-creatinine-high", NO, {"I3.renal": "NOT_MET"}),
        ("N13-gfr-1.01-mL-s-is-60.6", YES, {"I3.renal": "MET"}),
        ("N14-gfr-missing-creatinine-normal", YES, {"I3.renal": "MET"}),
        ("N15-renal-results-missing", OPEN, {"I3.renal": "UNKNOWN"}),
        ("N16-alt-exactly-5x-uln", NO, {"I3.liver": "NOT_MET"}),
        ("N17-alt-just-under-5x-uln", YES, {"I3.liver": "MET"}),
        ("N18-bilirubin-34.2-umol-L-is-2.0-mg-dL", NO, {"I3.bilirubin": "NOT_MET"}),
        ("N19-bilirubin-34.1-umol-L-under-2.0", YES, {"I3.bilirubin": "MET"}),
        ("N20-bilirubin-missing", OPEN, {"I3.bilirubin": "UNKNOWN"}),
        ("N21-bilirubin-29-days-old-stale", OPEN, {"I3.bilirubin": "UNKNOWN"}),
        ("N22-dyspnea-grade-2", NO, {"I3.lung": "NOT_MET"}),
        ("N23-ph-positive-failed-2-tki-lines", YES, {"I1": "MET"}),
        ("N24-ph-positive-failed-1-tki-line", NO, {"I1": "NOT_MET"}),
        # screened 2026-05-31: 3 months back clamps to 2026-02-28, the month's end
        ("N25-cd19-month-end-clamp-first-day", YES, {"I2": "MET"}),
        ("N26-cd19-month-end-clamp-day-before", NO, {"I2": "NOT_MET"}),
        # An age fact instead of a birth date. "Age is completed years at the screening date": a
        # 21.5-year-old is 21, inside "3 Years - 21 Years". The tool compares 21.5 with 21 and
        # says NOT_MET: only an age from birth_date is floored to completed years.
        ("N27-age-fact-21.5-years-no-birth-date", YES, {"I4": "MET"}),
        ("N28-age-fact-36-months-no-birth-date", YES, {"I4": "MET"}),
        # dyspnoea is `scale 0 to 5` (CTCAE grade); "<= Grade 1"
        ("N29-dyspnea-grade-1-at-threshold", YES, {"I3.lung": "MET"}),
        ("N30-dyspnea-grade-missing", OPEN, {"I3.lung": "UNKNOWN"}),
        ("N31-dyspnea-reported-below-grade-2", YES, {"I3.lung": "MET"}),  # 0, 1
        # "failed 2 lines of TKI": at least 2 different lines among the failed tki courses (N23:
        # exactly 2, N24: 1); the other alternatives of I1 are false in N24 and N32-N35
        ("N32-ph-positive-1-failed-1-with-response", NO, {"I1": "NOT_MET"}),
        ("N33-ph-positive-1-failed-1-outcome-not-recorded", OPEN, {"I1": "UNKNOWN"}),
        ("N34-ph-positive-2-failed-1-outcome-not-recorded", YES, {"I1": "MET"}),
        ("N35-ph-positive-tki-recorded-as-none", NO, {"I1": "NOT_MET"}),
        # results known only as a bound: "< 2.0" is all below 2.0 (MET); "<= 2.0" may be 2.0
        # (fails) or 1.9 (passes); "< 45" is never "> 60" and creatinine is not normal
        ("N36-bilirubin-reported-below-2.0", YES, {"I3.bilirubin": "MET"}),
        ("N37-bilirubin-reported-at-most-2.0", OPEN, {"I3.bilirubin": "UNKNOWN"}),
        ("N38-gfr-reported-below-45-creatinine-high", NO, {"I3.renal": "NOT_MET"}),
        # SCT known to the month ("> 6 months" = before 2025-12-15): November is wholly before,
        # December straddles it (01-14 pass, 15-31 fail); the other alternatives of I1 are false
        ("N39-sct-in-2025-11-before-cutoff", YES, {"I1": "MET"}),
        ("N40-sct-in-2025-12-straddles-cutoff", OPEN, {"I1": "UNKNOWN"}),
        # CD19 flow with no date: on some day up to screening, the 3-month window is open
        ("N41-cd19-flow-date-not-recorded", OPEN, {"I2": "UNKNOWN"}),
        ("N42-second-sct-too-recent", NO, {"I1": "NOT_MET"}),
        ("N43-ph-positive-imatinib-restarted-in-line-1", NO, {"I1": "NOT_MET"}),
    ],
    # Day 0 2026-06-10: "within 90 days of Day 0" from 2026-03-12; "past year" from 2025-06-01;
    # "past 60 days" from 2026-04-02
    "bliss-sc-belimumab-sle": [
        ("B01-eligible", YES, {"I1": "MET", "I3": "MET", "E1": "NOT_MET", "E2": "NOT_MET",
                               "E4": "NOT_MET", "E9": "NOT_MET"}),
        ("B02-age-18-on-screening-day", YES, {"I1": "MET"}),
        ("B03-age-17-turns-18-tomorrow", NO, {"I1": "NOT_MET"}),
        ("B04-sledai-8-not-above-8", NO, {"I3": "NOT_MET"}),
        ("B05-sledai-9-just-above", YES, {"I3": "MET"}),
        ("B06-sledai-missing", OPEN, {"I3": "UNKNOWN"}),
        ("B07-sledai-29-days-old-stale", OPEN, {"I3": "UNKNOWN"}),
        ("B08-rituximab-ended-first-day-of-past-year", NO, {"E2": "MET"}),
        ("B09-rituximab-ended-day-before-past-year", YES, {"E2": "NOT_MET"}),
        ("B10-investigational-biologic-on-first-day-of-past-year", NO, {"E3": "MET"}),
        ("B11-iv-cyclophosphamide-90-days-before-day-0", NO, {"E4": "MET"}),
        ("B12-iv-cyclophosphamide-91-days-before-day-0", YES, {"E4": "NOT_MET"}),
        ("B13-iv-cyclophosphamide-day-0-not-set", OPEN, {"E4": "UNKNOWN"}),
        ("B14-infection-managed-60-days-before", NO, {"E7": "MET"}),
        ("B15-infection-managed-61-days-before", YES, {"E7": "NOT_MET"}),
        ("B16-male-pregnancy-not-applicable", YES, {"E1": "NOT_APPLICABLE"}),
        ("B17-pregnant", NO, {"E1": "MET"}),
        ("B18-nursing", NO, {"E1": "MET"}),
        ("B19-hepatitis-c-positive", NO, {"E9": "MET"}),
        ("B20-hepatitis-b-result-missing", OPEN, {"E9": "UNKNOWN"}),
        ("B21-autoantibody-negative", NO, {"I4": "NOT_MET"}),
        ("B22-alcohol-dependence-current", NO, {"E8": "MET"}),
        ("B23-alcohol-abuse-ended-2024", YES, {"E8": "NOT_MET"}),
        # E4 by route (window 2026-03-12..06-10)
        ("B24-oral-cyclophosphamide-within-90-days", YES, {"E4": "NOT_MET"}),
        ("B25-cyclophosphamide-route-not-recorded-within-90-days", OPEN, {"E4": "UNKNOWN"}),
        ("B26-route-not-recorded-and-iv-90-days-before-day-0", NO, {"E4": "MET"}),
        ("B27-oral-within-90-days-route-not-recorded-91-days-before", YES, {"E4": "NOT_MET"}),
        # E2 by class (window 2025-06-01..2026-06-01)
        ("B28-inebilizumab-b-cell-targeted-within-past-year", NO, {"E2": "MET"}),
        ("B29-abatacept-other-class-within-past-year", YES, {"E2": "NOT_MET"}),
        ("B30-rituximab-class-not-recorded-within-past-year", OPEN, {"E2": "UNKNOWN"}),
        ("B31-other-in-year-class-not-recorded-before-year", YES, {"E2": "NOT_MET"}),
        # uncertain data: a date known to the month or year covers its days (2025-05 is wholly
        # before 2025-06-01, 2025 straddles it); an event with no date happened on some day up
        # to screening (ever true, windows open); a course with neither end nor ongoing may still
        # be going on (from 2025-03-02 it may have ended before the past year or run into it;
        # from 2025-07-01 it is in the past year whatever its end; from 2026-01-05 it may have
        # ended before 2026-03-12 or not)
        ("B32-investigational-biologic-in-2025-05-before-past-year", YES, {"E3": "NOT_MET"}),
        ("B33-investigational-biologic-in-2025-straddles-past-year", OPEN, {"E3": "UNKNOWN"}),
        ("B34-infection-managed-date-not-recorded", OPEN, {"E7": "UNKNOWN"}),
        ("B35-hypersensitivity-date-not-recorded", NO, {"E10": "MET"}),
        ("B36-rituximab-from-2025-03-end-not-recorded", OPEN, {"E2": "UNKNOWN"}),
        ("B37-rituximab-from-2025-07-end-not-recorded", NO, {"E2": "MET"}),
        ("B38-iv-cyclophosphamide-from-2026-01-end-not-recorded", OPEN, {"E4": "UNKNOWN"}),
    ],
    # informed consent 2026-05-25: "> 2 months prior" = started before 2026-03-25, "within 2
    # months" from 2026-03-25, "30 days" from 2026-04-25, "6 weeks" from 2026-04-13, "3 months"
    # from 2026-02-25; from screening: "two years" from 2024-06-01, "5 years" from 2021-06-01
    "empa-reg-outcome": [
        ("E01-eligible", YES, {"I1": "MET", "I3": "MET", "I7": "MET", "E1": "NOT_MET",
                               "E15": "NOT_MET"}),
        ("E02-hba1c-7.0-at-lower-bound", YES, {"I3": "MET"}),
        ("E03-hba1c-6.9-under-lower-bound", NO, {"I3": "NOT_MET"}),
        ("E04-hba1c-10.0-background-upper-bound", YES, {"I3": "MET"}),
        ("E05-hba1c-10.1-background-over", NO, {"I3": "NOT_MET"}),
        ("E06-drug-naive-hba1c-9.0-upper-bound", YES, {"I3": "MET"}),
        ("E07-drug-naive-hba1c-9.1-over", NO, {"I3": "NOT_MET"}),
        ("E08-hba1c-missing", OPEN, {"I3": "UNKNOWN"}),
        ("E09-age-18-today-bmi-exactly-45", YES, {"I4": "MET", "I5": "MET"}),
        ("E10-age-17-bmi-45.123457", NO, {"I4": "NOT_MET", "I5": "NOT_MET"}),
        ("E11-t2dm-diagnosed-day-before-consent", YES, {"I1": "MET"}),
        ("E12-t2dm-diagnosed-on-consent-day", NO, {"I1": "NOT_MET"}),
        ("E13-stroke-2-months-and-1-day-before-consent", YES, {"I7": "MET", "E15": "NOT_MET"}),
        # the stroke branch of I7 is false, the other branches are not recorded: open
        ("E14-stroke-exactly-2-months-before-consent", NO, {"I7": "UNKNOWN", "E15": "MET"}),
        ("E15-abi-0.89-only-risk", YES, {"I7": "MET"}),
        ("E16-abi-0.90-no-other-risk", NO, {"I7": "NOT_MET"}),
        ("E17-glucose-241-mg-dL-confirmed", NO, {"E1": "MET"}),
        ("E18-glucose-240-mg-dL-confirmed", YES, {"E1": "NOT_MET"}),
        ("E19-glucose-13.3-mmol-L-is-239.4-mg-dL", YES, {"E1": "NOT_MET"}),
        ("E20-glucose-13.4-mmol-L-is-241.2-mg-dL", NO, {"E1": "MET"}),
        ("E21-alt-exactly-3x-uln", YES, {"E2": "NOT_MET"}),
        ("E22-alp-just-over-3x-uln", NO, {"E2": "MET"}),
        ("E23-creatinine-2.2-egfr-30.004686-not-under-30", YES, {"E4": "NOT_MET"}),
        ("E24-creatinine-196-umol-L-egfr-29.736323", NO, {"E4": "MET"}),
        ("E25-windows-first-day-inside", NO, {"E5": "MET", "E7": "MET", "E9": "MET",
                                              "E10": "MET", "E13": "MET", "E15": "NOT_MET"}),
        ("E26-windows-first-day-outside", YES, {"E5": "NOT_MET", "E7": "NOT_MET", "E9": "NOT_MET",
                                                "E10": "NOT_MET", "E13": "NOT_MET"}),
        ("E27-steroid-course-ends-on-consent-day", NO, {"E10": "MET"}),
        ("E28-last-day-inside-consent-day-events", NO, {"E13": "MET", "E15": "MET"}),
        # every consent-anchored window is open where something is recorded, false where the
        # history is recorded as none
        ("E29-consent-date-missing", OPEN, {"I1": "UNKNOWN", "I7": "UNKNOWN", "E9": "NOT_MET",
                                            "E13": "NOT_MET", "E15": "NOT_MET"}),
        ("E30-contraindication-not-attested", OPEN, {"E8": "NEEDS_REVIEW"}),
        ("E31-cancer-diagnosed-before-window-treated-into-it", NO, {"E7": "MET"}),
        # HbA1c 53 mmol/mol (IFCC) is 7.0 % (NGSP: 0.09148 x 53 + 2.152 = 7.0). The tool reads
        # both units as dimensionless and converts 53 mmol/mol to 5.3 %: I3 NOT_MET, INELIGIBLE.
        ("E33-alt-1.8-ukat-L-exactly-3x-uln", YES, {"E2": "NOT_MET"}),
        ("E34-alt-1.81-ukat-L-over-3x-uln", NO, {"E2": "MET"}),
        ("E35-female-creatinine-1.7-egfr-29.978556", NO, {"E4": "MET"}),
        ("E36-creatinine-missing", OPEN, {"E4": "UNKNOWN"}),
        ("E37-weight-321.4-lb-height-1.8-m-bmi-44.9952", YES, {"I5": "MET"}),
        ("E38-weight-stale", OPEN, {"I5": "UNKNOWN"}),
        ("E39-basal-cell-carcinoma-in-window-does-not-count", YES, {"E7": "NOT_MET"}),
        ("E40-cancer-type-not-recorded-in-window", OPEN, {"E7": "UNKNOWN"}),
        ("E41-regimen-changed-on-the-first-day-of-the-12-weeks", YES, {"I2": "MET"}),
        ("E42-regimen-changed-a-day-into-the-12-weeks", NO, {"I2": "NOT_MET"}),
        ("E43-sitagliptin-added-in-april", NO, {"I2": "NOT_MET"}),
        ("E44-randomisation-date-missing", OPEN, {"I2": "UNKNOWN"}),
        # a planned event read after screening: 3 months after 2026-06-01 is 2026-09-01
        ("E45-angioplasty-planned-on-the-last-day", NO, {"E3": "MET"}),
        ("E46-surgery-planned-the-day-after", YES, {"E3": "NOT_MET"}),
        ("E47-surgery-planned-in-september", OPEN, {"E3": "UNKNOWN"}),
        # confirmed on another day: the latest day's glucose and the day before it with one
        ("E48-glucose-241-mg-dL-not-confirmed", OPEN, {"E1": "UNKNOWN"}),
        ("E49-glucose-241-confirmation-too-old", OPEN, {"E1": "UNKNOWN"}),
        ("E50-glucose-241-second-measurement-240", YES, {"E1": "NOT_MET"}),
    ],
    # first-line therapy from 2025-09-01 (Z06, Z07, Z13, Z14: 2025-05-15): "≤ 12 months" after it
    "zuma-7-axicabtagene-lbcl": [
        ("Z01-eligible", YES, {"I1": "MET", "I2": "MET", "I3.anti_cd20": "MET",
                               "I3.anthracycline": "MET", "I4": "MET", "I6.platelets": "MET",
                               "I7.renal": "MET", "I8": "MET"}),
        ("Z02-age-18-on-screening-day", YES, {"I8": "MET"}),
        ("Z03-age-17-turns-18-tomorrow", NO, {"I8": "NOT_MET"}),
        ("Z04-transformed-follicular-lymphoma", YES, {"I1": "MET"}),
        ("Z05-other-histology", NO, {"I1": "NOT_MET"}),
        ("Z06-relapse-12-months-after-start-last-day", YES, {"I2": "MET"}),
        ("Z07-relapse-12-months-and-1-day-after-start", NO, {"I2": "NOT_MET"}),
        ("Z08-first-line-start-missing", OPEN, {"I2": "UNKNOWN"}),
        ("Z09-refractory-progressive-disease", YES, {"I2": "MET"}),
        ("Z10-progressive-disease-but-intolerant", NO, {"I2": "NOT_MET"}),
        ("Z11-stable-disease-after-4-cycles", YES, {"I2": "MET"}),
        ("Z12-stable-disease-after-3-cycles", NO, {"I2": "NOT_MET"}),
        ("Z13-partial-response-progression-on-12-month-day", YES, {"I2": "MET"}),
        ("Z14-partial-response-progression-12-months-and-1-day", NO, {"I2": "NOT_MET"}),
        ("Z15-partial-response-after-5-cycles-residual-disease", NO, {"I2": "NOT_MET"}),
        ("Z16-progressive-disease-tolerance-not-recorded", OPEN, {"I2": "UNKNOWN"}),
        ("Z17-cd20-negative-no-anti-cd20", YES, {"I3.anti_cd20": "MET"}),
        ("Z18-no-anti-cd20-cd20-positive", NO, {"I3.anti_cd20": "NOT_MET"}),
        ("Z19-no-anti-cd20-cd20-judgment-pending", OPEN, {"I3.anti_cd20": "NEEDS_REVIEW"}),
        ("Z20-obinutuzumab-brand-name-and-epirubicin", YES, {"I3.anti_cd20": "MET",
                                                             "I3.anthracycline": "MET"}),
        ("Z21-no-anthracycline", NO, {"I3.anthracycline": "NOT_MET"}),
        ("Z22-cns-lymphoma-history-recorded", NO, {"I4": "NOT_MET"}),
        ("Z23-cns-involvement-suspected", NO, {"I4": "NOT_MET"}),
        ("Z24-cns-recorded-as-none", YES, {"I4": "MET"}),
        ("Z25-ecog-2", NO, {"I5": "NOT_MET"}),
        ("Z26-ecog-missing", OPEN, {"I5": "UNKNOWN"}),
        ("Z27-anc-1000-at-threshold", YES, {"I6.anc": "MET"}),
        ("Z28-anc-999", NO, {"I6.anc": "NOT_MET"}),
        ("Z29-anc-1.0-x10^9-L-is-1000", YES, {"I6.anc": "MET"}),
        ("Z30-platelets-75,000-at-threshold", YES, {"I6.platelets": "MET"}),
        ("Z31-platelets-74-x10^3-uL", NO, {"I6.platelets": "NOT_MET"}),
        ("Z32-platelets-75-x10^9-L-is-75,000", YES, {"I6.platelets": "MET"}),
        ("Z33-platelets-missing", OPEN, {"I6.platelets": "UNKNOWN"}),
        ("Z34-alc-0.099-x10^9-L-is-99", NO, {"I6.alc": "NOT_MET"}),
        ("Z35-crcl-exactly-60-man-50-72-kg", YES, {"I7.renal": "MET"}),
        ("Z36-crcl-51-woman-50-72-kg", NO, {"I7.renal": "NOT_MET"}),
        ("Z37-creatinine-132.6-umol-L-crcl-60", YES, {"I7.renal": "MET"}),
        ("Z38-weight-missing-crcl-unknown", OPEN, {"I7.renal": "UNKNOWN"}),
        ("Z39-creatinine-35-days-old-stale", OPEN, {"I7.renal": "UNKNOWN"}),
        ("Z40-alt-exactly-2.5x-uln", YES, {"I7.liver": "MET"}),
        ("Z41-ast-2.514286x-uln", NO, {"I7.liver": "NOT_MET"}),
        ("Z42-bilirubin-1.5-mg-dL-at-threshold", YES, {"I7.bilirubin": "MET"}),
        ("Z43-bilirubin-25.7-umol-L-over", NO, {"I7.bilirubin": "NOT_MET"}),
        ("Z44-bilirubin-25.6-umol-L-under", YES, {"I7.bilirubin": "MET"}),
        ("Z45-bilirubin-missing", OPEN, {"I7.bilirubin": "UNKNOWN"}),
        ("Z46-lvef-50-at-threshold", YES, {"I7.cardiac": "MET"}),
        ("Z47-lvef-49", NO, {"I7.cardiac": "NOT_MET"}),
        ("Z48-pericardial-effusion", NO, {"I7.cardiac": "NOT_MET"}),
    ],
    # inclusion day 2026-06-01 (T15: 2026-06-15): "the 30 days preceding" = 2026-05-02..06-01
    "toasst-glucocorticoid-withdrawal": [
        ("T01-eligible", YES, {"I1": "MET", "I2": "MET", "I3": "MET", "I4": "MET", "I5": "MET",
                               "E1": "NOT_MET", "E2": "NOT_MET", "E5": "NOT_MET", "E7": "NOT_MET",
                               "E10": "NOT_MET"}),
        ("T02-age-18-on-the-day-of-inclusion", YES, {"I2": "MET"}),
        ("T03-age-17-turns-18-the-next-day", NO, {"I2": "NOT_MET"}),
        ("T04-birth-date-missing", OPEN, {"I2": "UNKNOWN"}),
        ("T05-dose-7.5-at-the-threshold", YES, {"I3": "MET", "I4": "MET"}),
        ("T06-dose-7.4-just-under", NO, {"I3": "NOT_MET"}),
        ("T07-methylprednisolone-6-mg-is-7.5-prednisone", YES, {"I3": "MET"}),
        ("T08-hydrocortisone-30-mg-is-7.5-prednisone", YES, {"I3": "MET"}),
        ("T09-two-courses-summed-to-7.5", YES, {"I3": "MET"}),
        ("T10-dose-in-grams-per-day", YES, {"I3": "MET"}),
        ("T11-course-ended-the-day-before-inclusion", NO, {"I3": "NOT_MET", "I4": "MET"}),
        ("T12-course-ends-on-the-day-of-inclusion", YES, {"I3": "MET"}),
        ("T13-glucocorticoid-recorded-as-none", NO, {"I3": "NOT_MET", "I4": "NOT_MET",
                                                     "E2": "NOT_MET"}),
        ("T14-glucocorticoid-not-recorded", OPEN, {"I3": "UNKNOWN", "I4": "UNKNOWN",
                                                   "E2": "UNKNOWN"}),
        ("T15-end-known-only-to-the-month", OPEN, {"I3": "UNKNOWN", "I4": "MET"}),
        ("T16-course-without-a-dose", OPEN, {"I3": "UNKNOWN"}),
        ("T17-undosed-course-beside-7.5", YES, {"I3": "MET"}),
        ("T18-run-of-exactly-28-days", YES, {"I4": "MET"}),
        ("T19-run-of-27-days", NO, {"I4": "NOT_MET"}),
        ("T20-dose-change-is-not-a-break", YES, {"I4": "MET"}),
        ("T21-a-day-without-a-course-breaks-the-run", NO, {"I4": "NOT_MET"}),
        ("T22-start-known-only-to-the-month-may", OPEN, {"I4": "UNKNOWN"}),
        ("T23-start-known-only-to-the-month-april", YES, {"I4": "MET"}),
        ("T24-cumulative-420-at-the-threshold", YES, {"I4": "MET"}),
        ("T25-cumulative-419-just-under", NO, {"I4": "NOT_MET"}),
        ("T26-cumulative-in-grams", YES, {"I4": "MET"}),
        ("T27-average-7.4-just-under", NO, {"I4": "NOT_MET"}),
        ("T28-cumulative-dose-missing", OPEN, {"I4": "UNKNOWN"}),
        ("T29-tapering-judgment-pending", OPEN, {"I5": "NEEDS_REVIEW"}),
        ("T30-tapering-still-mandatory", NO, {"I5": "NOT_MET"}),
        ("T31-primary-adrenal-failure", NO, {"E1": "MET"}),
        ("T32-adrenal-history-not-recorded", OPEN, {"E1": "UNKNOWN"}),
        ("T33-intramuscular-depot-now", NO, {"E2": "MET", "I3": "MET"}),
        ("T34-epidural-injection-before", YES, {"E2": "NOT_MET"}),
        ("T35-pregnancy-test-positive", NO, {"E5": "MET"}),
        ("T36-pregnancy-test-8-days-old-stale", OPEN, {"E5": "UNKNOWN"}),
        ("T37-pregnancy-test-7-days-old", YES, {"E5": "NOT_MET"}),
        ("T38-man", YES, {"E5": "NOT_APPLICABLE", "E6": "NOT_APPLICABLE",
                          "E7": "NOT_APPLICABLE"}),
        ("T39-no-reliable-contraception", NO, {"E7": "MET"}),
        ("T40-not-of-childbearing-potential", YES, {"E7": "NOT_APPLICABLE"}),
        ("T41-non-compliance-attested", NO, {"E8": "MET"}),
        ("T42-study-ended-30-days-before", NO, {"E10": "MET"}),
        ("T43-study-ended-31-days-before", YES, {"E10": "NOT_MET"}),
        ("T44-study-ongoing", NO, {"E10": "MET"}),
        ("T45-study-date-known-only-to-the-month", OPEN, {"E10": "UNKNOWN"}),
    ],
    # visit 1 and consent 2026-05-18, enrolment 2026-06-01 (the screening date): "3 months or more
    # before visit 1" = on or before 2026-02-18; "4 weeks before visit 1" from 2026-04-20; before
    # enrolment, "6 months" from 2025-12-01, "8 weeks" from 2026-04-06, "12 weeks" from 2026-03-09
    "dapa-ckd-dapagliflozin": [
        ("D01-eligible", YES, {"I1": "MET", "I2": "MET", "I3": "MET", "I4": "MET", "I5": "MET",
                               "E1": "NOT_MET", "E2": "NOT_MET", "E3": "NOT_MET", "E4": "NOT_MET",
                               "E5": "NOT_MET", "E6": "NOT_MET", "E7": "NOT_MET"}),
        ("D02-consent-not-signed", NO, {"I1": "NOT_MET"}),
        ("D03-age-18-on-consent-day", YES, {"I2": "MET"}),
        ("D04-age-17-turns-18-day-after-consent", NO, {"I2": "NOT_MET"}),
        # no age at consent, and none at visit 1 for the eGFR equation
        ("D05-birth-date-missing", OPEN, {"I2": "UNKNOWN", "I3": "UNKNOWN"}),
        ("D06-consent-date-missing", OPEN, {"I2": "UNKNOWN", "I3": "MET"}),
        # CKD-EPI values: see DAPA_EGFR below
        ("D07-egfr-exactly-25-woman-60", YES, {"I3": "MET"}),
        ("D08-egfr-24.999985-creatinine-a-millionth-more", NO, {"I3": "NOT_MET"}),
        ("D09-egfr-exactly-25-black-man-67", YES, {"I3": "MET"}),
        ("D10-egfr-exactly-75-man-52", YES, {"I3": "MET"}),
        ("D11-egfr-75.000081-creatinine-a-millionth-less", NO, {"I3": "NOT_MET"}),
        ("D12-egfr-exactly-75-black-woman-63", YES, {"I3": "MET"}),
        ("D13-creatinine-99.138832-umol-L-egfr-75", YES, {"I3": "MET"}),
        ("D14-creatinine-99-umol-L-egfr-75.127136", NO, {"I3": "NOT_MET"}),
        ("D15-creatinine-100-umol-L-egfr-74.219818", YES, {"I3": "MET"}),
        ("D16-woman-creatinine-under-k-egfr-114.015087", NO, {"I3": "NOT_MET"}),
        ("D17-man-90-creatinine-equal-to-k-egfr-74.929266", YES, {"I3": "MET"}),
        ("D18-creatinine-missing", OPEN, {"I3": "UNKNOWN"}),
        ("D19-creatinine-29-days-old-stale", OPEN, {"I3": "UNKNOWN"}),
        # sex not recorded: both sexes' eGFR (29.64 and 39.46) lie within 25 to 75
        ("D20-sex-missing", YES, {"I3": "MET"}),
        ("D21-black-race-not-recorded", OPEN, {"I3": "UNKNOWN"}),
        ("D22-albuminuria-exactly-3-months-before-visit-1", YES, {"I4": "MET"}),
        ("D23-albuminuria-3-months-less-a-day", NO, {"I4": "NOT_MET"}),
        # February 2026: the 1st to the 18th meet it, the 19th to the 28th do not
        ("D24-albuminuria-known-to-the-month-february", OPEN, {"I4": "UNKNOWN"}),
        ("D25-albuminuria-known-to-the-month-january", YES, {"I4": "MET"}),
        ("D26-albuminuria-history-not-recorded", OPEN, {"I4": "UNKNOWN"}),
        ("D27-uacr-200-at-lower-bound", YES, {"I4": "MET"}),
        ("D28-uacr-199.9", NO, {"I4": "NOT_MET"}),
        ("D29-uacr-5000-at-upper-bound", YES, {"I4": "MET"}),
        ("D30-uacr-5000.1", NO, {"I4": "NOT_MET"}),
        # 1 mg/mmol = 8.84 mg/g: 22.63 x 8.84 = 200.0492, 22.62 x 8.84 = 199.9608
        ("D31-uacr-22.63-mg-mmol-is-200.0492-mg-g", YES, {"I4": "MET"}),
        ("D32-uacr-22.62-mg-mmol-is-199.9608-mg-g", NO, {"I4": "NOT_MET"}),
        ("D33-uacr-200-ug-mg-is-200-mg-g", YES, {"I4": "MET"}),
        ("D34-uacr-565.7-mg-mmol-is-5000.788-mg-g", NO, {"I4": "NOT_MET"}),
        ("D35-uacr-missing", OPEN, {"I4": "UNKNOWN"}),
        ("D36-uacr-29-days-old-stale", OPEN, {"I4": "UNKNOWN"}),
        ("D37-ras-started-exactly-4-weeks-before-visit-1", YES, {"I5": "MET"}),
        # not stable, contraindication judged absent: false or false
        ("D38-ras-started-4-weeks-less-a-day", NO, {"I5": "NOT_MET"}),
        ("D39-dose-changed-on-the-first-day-of-the-4-weeks", YES, {"I5": "MET"}),
        ("D40-dose-changed-a-day-into-the-4-weeks", NO, {"I5": "NOT_MET"}),
        ("D41-dose-not-maximum-tolerated", NO, {"I5": "NOT_MET"}),
        ("D42-no-ras-inhibitor-contraindicated", YES, {"I5": "MET"}),
        # not on treatment, and nobody has judged the contraindication yet
        ("D43-no-ras-inhibitor-contraindication-not-judged", OPEN, {"I5": "NEEDS_REVIEW"}),
        # every visit 1 anchor is missing: age at visit 1, the albuminuria and stable-dose windows
        ("D44-visit-1-date-missing", OPEN, {"I2": "MET", "I3": "UNKNOWN", "I4": "UNKNOWN",
                                            "I5": "UNKNOWN"}),
        ("D45-adpkd", NO, {"E1": "MET"}),
        ("D46-anca-vasculitis-by-its-full-name", NO, {"E1": "MET"}),
        ("D47-kidney-disease-kind-not-recorded", OPEN, {"E1": "UNKNOWN"}),
        ("D48-mmf-for-renal-disease-ended-6-months-before-enrolment", NO, {"E2": "MET"}),
        ("D49-mmf-for-renal-disease-ended-a-day-earlier", YES, {"E2": "NOT_MET"}),
        ("D50-methotrexate-for-arthritis-ongoing", YES, {"E2": "NOT_MET"}),
        ("D51-rituximab-indication-not-recorded", OPEN, {"E2": "UNKNOWN"}),
        ("D52-kidney-transplant", NO, {"E3": "MET"}),
        ("D53-sglt2-inhibitor-ended-8-weeks-before-enrolment", NO, {"E4": "MET"}),
        ("D54-sglt2-inhibitor-ended-a-day-earlier", YES, {"E4": "NOT_MET"}),
        # an end in April 2026: from the 6th on inside the 8 weeks, before it outside
        ("D55-sglt2-inhibitor-end-known-to-the-month", OPEN, {"E4": "UNKNOWN"}),
        ("D56-sglt2-inhibitor-intolerance-in-2020", NO, {"E4": "MET"}),
        ("D57-type-1-diabetes", NO, {"E5": "MET"}),
        ("D58-nyha-iv-at-enrolment", NO, {"E6": "MET"}),
        ("D59-nyha-iv-ended-nyha-iii-at-enrolment", YES, {"E6": "NOT_MET"}),
        ("D60-mi-12-weeks-before-enrolment", NO, {"E7": "MET"}),
        ("D61-stroke-12-weeks-and-a-day-before", YES, {"E7": "NOT_MET"}),
        ("D62-tia-known-to-the-month-march", OPEN, {"E7": "UNKNOWN"}),
        ("D63-unstable-angina-known-to-the-month-february", YES, {"E7": "NOT_MET"}),
        # the enrolment windows are open where something is recorded, false where none is
        ("D64-enrolment-date-missing-mi-in-2020", OPEN, {"E2": "NOT_MET", "E4": "NOT_MET",
                                                         "E6": "NOT_MET", "E7": "UNKNOWN"}),
    ],
}

#: DAPA-CKD's eGFR by the CKD-EPI 2009 equation for the patients whose creatinine, sex, race and
#: age at visit 1 are all recorded, worked out apart from the tool: Python's decimal module at 80
#: digits, powers as exp(e x ln(b)), creatinine in umol/L first converted by 88.4 and rounded to 6
#: places as the record holds it, the result rounded half to even to 6 places
#: (examples/dapa-ckd-dapagliflozin.md shows the computation).
DAPA_EGFR = {
    "D01-eligible": "39.45729", "D03-age-18-on-consent-day": "53.747754",
    "D04-age-17-turns-18-day-after-consent": "54.12664",
    "D07-egfr-exactly-25-woman-60": "25",  # 24.99999978846906...
    "D08-egfr-24.999985-creatinine-a-millionth-more": "24.999985",
    "D09-egfr-exactly-25-black-man-67": "25",  # 25.00000029041040...
    "D10-egfr-exactly-75-man-52": "75",  # 75.00000027324398...
    "D11-egfr-75.000081-creatinine-a-millionth-less": "75.000081",
    "D12-egfr-exactly-75-black-woman-63": "75",  # 75.00000035415302...
    "D13-creatinine-99.138832-umol-L-egfr-75": "75",  # 1.12148 mg/dL, as D10
    "D14-creatinine-99-umol-L-egfr-75.127136": "75.127136",  # 1.119910 mg/dL
    "D15-creatinine-100-umol-L-egfr-74.219818": "74.219818",  # 1.131222 mg/dL
    "D16-woman-creatinine-under-k-egfr-114.015087": "114.015087",
    "D17-man-90-creatinine-equal-to-k-egfr-74.929266": "74.929266",  # 141 x 0.993^90
}

CASES = [pytest.param(name, row[0], row[1], row[2], id=row[0], marks=[
              pytest.mark.xfail(strict=True, reason=row[3])] if len(row) > 3 else [])
         for name, rows in EXPECTED.items() for row in rows]


def paths(name: str) -> tuple[Path, Path]:
    return EXAMPLES / f"{name}.proto-rules", EXAMPLES / f"{name}.patients.jsonl"


_decided: dict[str, dict[str, Decision]] = {}


def decisions(name: str) -> dict[str, Decision]:
    """Every patient of an example through the real pipeline, once per test session."""
    if name not in _decided:
        protocol_path, patients_path = paths(name)
        protocol, _ = pipeline.load(str(protocol_path))
        network = pipeline.compile(protocol)
        outcomes = list(pipeline.screen(network, read_records(str(patients_path)),
                                        str(patients_path)))
        rejected = [o for o in outcomes if not isinstance(o, Decision)]
        assert not rejected, rejected
        _decided[name] = {o.patient.id: o for o in outcomes}
    return _decided[name]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_protocol_checks_without_diagnostics(name: str):
    protocol, diagnostics = pipeline.load(str(paths(name)[0]))
    assert [str(d) for d in diagnostics] == []
    assert protocol.criteria


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_patient_is_in_the_table_in_file_order_without_fact_warnings(name: str):
    decided = decisions(name)
    assert list(decided) == [row[0] for row in EXPECTED[name]]
    for pid, decision in decided.items():
        assert [str(w) for w in decision.patient.warnings] == [], pid


@pytest.mark.parametrize("name, patient, decision, verdicts", CASES)
def test_patient(name: str, patient: str, decision: str, verdicts: dict[str, str]):
    outcome = decisions(name)[patient]
    got = {criterion: outcome.verdicts[criterion].verdict for criterion in verdicts}
    assert (outcome.decision, got) == (decision, verdicts)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_eligible_patients_have_no_open_criterion(name: str):
    """An ELIGIBLE decision (the tool's) settles everything: nothing is UNKNOWN or NEEDS_REVIEW."""
    for pid, outcome in decisions(name).items():
        if outcome.decision == YES:
            open_ = [c for c, v in outcome.verdicts.items()
                     if v.verdict in ("UNKNOWN", "NEEDS_REVIEW")]
            assert open_ == [], pid


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_markdown_table_agrees(name: str):
    """examples/<name>.md has one row per patient, in file order, with the same decision."""
    rows = re.findall(r"^\| *([A-Z]\d\d[^ |]*) *\| *(ELIGIBLE|INELIGIBLE|NEEDS_REVIEW) *\|",
                      (EXAMPLES / f"{name}.md").read_text(encoding="utf-8"), re.MULTILINE)
    assert rows == [(row[0], row[1]) for row in EXPECTED[name]]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_trail_is_byte_identical_across_runs(name: str, tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    protocol_path, patients_path = (str(p.relative_to(ROOT)) for p in paths(name))
    trails = []
    for run in ("first", "second"):
        trail = tmp_path / f"{run}.jsonl"
        assert cli.main(["run", protocol_path, patients_path, "--trail", str(trail)]) == 0
        trails.append(trail.read_bytes())
    assert trails[0] == trails[1]
    assert trails[0].count(b"\n") > len(EXPECTED[name])


@pytest.mark.parametrize("patient, value", DAPA_EGFR.items())
def test_dapa_ckd_egfr_as_worked_out_by_hand(patient: str, value: str):
    """The CKD-EPI equation in the network, at and beside 25 and 75 and in each branch."""
    assert decisions("dapa-ckd-dapagliflozin")[patient].derived["egfr"][0] == value


def test_hba1c_in_mmol_per_mol_is_refused_not_converted():
    """HbA1c 53 mmol/mol (IFCC) is 7.0 % (NGSP) by an affine relation, not a factor: pint would
    read both as dimensionless and make it 5.3 %. A ratio of amounts of substance is not a
    percentage: the record is an input error, never a guess."""
    protocol_path, _ = paths("empa-reg-outcome")
    network = pipeline.compile(pipeline.load(str(protocol_path))[0])
    text = (ROOT / "tests" / "data" / "hba1c-ifcc.json").read_text(encoding="utf-8")
    record = (1, json.loads(text, parse_float=Decimal))
    (outcome,) = pipeline.screen(network, [record], "e32.jsonl")
    assert not isinstance(outcome, Decision)
    assert [p.message for p in outcome.problems] == [
        "hba1c: cannot convert mmol/mol (a ratio of substance) to % (dimensionless)"]



@pytest.mark.parametrize("name, patient, concept, value, message", [
    ("keynote-001-pembrolizumab", "K01-eligible-part-f", "ecog", 1.5,
     "ecog is a scale of whole steps from 0 to 5: 1.5 is not one of them"),
    ("keynote-001-pembrolizumab", "K01-eligible-part-f", "ecog", 6,
     "ecog is a scale of whole steps from 0 to 5: 6 is not one of them"),
    ("ensign-ctl019-pediatric-all", "N01-eligible-second-relapse", "dyspnea_grade", 1.5,
     "dyspnea_grade is a scale of whole steps from 0 to 5: 1.5 is not one of them"),
])
def test_a_value_off_a_scale_is_an_input_error(name, patient, concept, value, message):
    """ECOG and the CTCAE dyspnoea grade are whole steps from 0 to 5: ECOG 1.5 or 6 is not a
    performance status, so the record is an input error (the patient set aside), never a verdict."""
    protocol_path, patients_path = paths(name)
    network = pipeline.compile(pipeline.load(str(protocol_path))[0])
    for line in patients_path.read_text(encoding="utf-8").splitlines():
        data = json.loads(line, parse_float=Decimal)
        if data["patient"] == patient:
            break
    for fact in data["facts"]:
        if fact["concept"] == concept:
            fact["value"] = Decimal(str(value))
    (outcome,) = pipeline.screen(network, [(1, data)], "off-scale.jsonl")
    assert not isinstance(outcome, Decision)
    assert any(message in p.message for p in outcome.problems), outcome.problems


def test_why_not_of_an_unless_exception_asks_for_its_negation(tmp_path, monkeypatch, capsys):
    """Z16 has progressive disease and no record of tolerating first-line therapy; refractory is
    `any of [...] unless intolerant_to_first_line`, so what would let I2 pass is the patient *not*
    being intolerant. An auditor reading "needs intolerant_to_first_line" is told the opposite."""
    monkeypatch.chdir(ROOT)
    protocol_path, patients_path = (str(p.relative_to(ROOT))
                                    for p in paths("zuma-7-axicabtagene-lbcl"))
    trail = tmp_path / "trail.jsonl"
    assert cli.main(["run", protocol_path, patients_path, "--trail", str(trail)]) == 0
    capsys.readouterr()
    assert cli.main(["explain", str(trail), "--patient",
                     "Z16-progressive-disease-tolerance-not-recorded", "--criterion", "I2"]) == 0
    assert "I2 needs not intolerant_to_first_line" in capsys.readouterr().out
