"""Deviations from the design, through `proto-rules escalate` on real cohort files.

Each kind of deviation is one cohort, written the way a site would write it (tests/cohorts.py
follows the design's calendar unless a test writes a deviation in): the command's text, the
trail's `deviation` record, exit code 1, and `verify` on that trail. A cohort that follows the
design has none (exit 0).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import cli
from tests.cohorts import AS_OF, cohort, patients

SEED = "examples/cd19-ucart-sle.proto-rules"
BOIN = "examples/boin.proto-rules"

pytestmark = pytest.mark.usefixtures("at_root")


def escalate(capsys, protocol: str, path: str, tmp_path: Path) -> tuple[int, str, list[dict]]:
    """The exit code, the text, and the trail's deviation records; `verify` passes on it."""
    trail = tmp_path / "trail.jsonl"
    code = cli.main(["escalate", protocol, path, "--trail", str(trail)])
    out = capsys.readouterr().out
    records = [json.loads(line) for line in trail.read_text().splitlines()]
    assert cli.main(["verify", str(trail), "--protocol", protocol, "--facts", path]) == 0
    capsys.readouterr()
    decision = records[1]
    deviations = [r for r in records if r["type"] == "deviation"]
    assert decision["deviations"] == len(deviations)
    return code, out, deviations


def shown(out: str) -> list[str]:
    """The lines under DEVIATIONS, without their indent."""
    lines = out.splitlines()
    if not any(line.startswith("DEVIATIONS") for line in lines):
        return []
    start = next(i for i, line in enumerate(lines) if line.startswith("DEVIATIONS"))
    return [line.strip() for line in lines[start + 1:]]


def test_a_trial_that_follows_the_design_has_none(capsys, tmp_path):
    path = cohort(tmp_path, patients(("DL1", "000"), ("DL2", "010"), ("DL2", "000")))
    code, out, deviations = escalate(capsys, SEED, path, tmp_path)
    assert (code, deviations, shown(out)) == (0, [], [])


def test_the_bundled_cohort_follows_its_design(capsys, tmp_path):
    code, out, deviations = escalate(capsys, SEED, "examples/cohort.json", tmp_path)
    assert (code, deviations) == (0, [])


def test_the_example_with_deviations(capsys, tmp_path):
    code, out, deviations = escalate(capsys, SEED, "examples/cohort-deviations.json", tmp_path)
    assert code == 1
    assert [(d["patient"], d["rule"]) for d in deviations] == [
        ("S04", "dev:window"), ("S04", "dev:review-late"), ("S05", "dev:under-dosed")]
    assert shown(out) == [
        "window: S04 infused at DL2 on 2026-04-13, an escalation from DL1, while DLT windows were "
        "open: S02 at DL1 until 2026-04-14, S03 at DL1 until 2026-04-21 [dev:window]",
        "review: S04 infused at DL2 on 2026-04-13, an escalation from DL1, before the safety "
        "review of DL1 was signed on 2026-04-30 [dev:review-late]",
        "under-dosed: S05 infused at DL2 on 2026-04-28 received 2.1E+7 cells/kg of 3x10^7 "
        "cells/kg; not evaluable under 'partial dose not evaluable': to be replaced "
        "[dev:under-dosed]",
    ]


def test_a_skipped_level(capsys, tmp_path):
    path = cohort(tmp_path, patients(("DL1", "000"), ("DL3", "0")))
    code, out, deviations = escalate(capsys, SEED, path, tmp_path)
    assert code == 1
    text = ("S04 infused at DL3 on 2026-03-06; DL2, the level below, had no patient yet (the "
            "design escalates one level at a time)")
    assert shown(out) == [f"skipped: {text} [dev:skipped]"]
    assert deviations[0] == {**deviations[0], "kind": "skipped", "rule": "dev:skipped",
                             "patient": "S04", "level": "DL3", "infused": "2026-03-06",
                             "text": text}


def test_escalation_while_dlt_windows_are_open(capsys, tmp_path):
    records = patients(("DL1", "000"), ("DL2", "0"))
    records[3]["infused"] = "2026-02-14"  # S02's and S03's 28-day windows are open
    code, out, deviations = escalate(capsys, SEED, cohort(tmp_path, records), tmp_path)
    assert code == 1
    assert shown(out) == [
        "window: S04 infused at DL2 on 2026-02-14, an escalation from DL1, while DLT windows "
        "were open: S02 at DL1 until 2026-02-17, S03 at DL1 until 2026-03-04 [dev:window]"
    ]
    assert [(d["kind"], d["patient"]) for d in deviations] == [("window", "S04")]


def test_a_dlt_closes_the_window(capsys, tmp_path):
    records = patients(("DL1", "001"), ("DL1", "000"), ("DL2", "0"))
    records[2]["dlt"]["date"] = "2026-02-05"  # S03's DLT the day after its infusion
    code, _, deviations = escalate(capsys, SEED, cohort(tmp_path, records), tmp_path)
    assert (code, deviations) == (0, [])


def test_escalation_before_the_review_was_signed(capsys, tmp_path):
    reviews = [{"level": "DL1", "date": "2026-03-10", "signed_by": "SRC"},
               {"level": "DL2", "date": AS_OF.isoformat(), "signed_by": "SRC"}]
    path = cohort(tmp_path, patients(("DL1", "000"), ("DL2", "000")), reviews)
    code, out, deviations = escalate(capsys, SEED, path, tmp_path)
    assert code == 1
    assert shown(out) == [
        "review: S04 infused at DL2 on 2026-03-06, an escalation from DL1, before the safety "
        "review of DL1 was signed on 2026-03-10 [dev:review-late]"
    ]
    assert deviations[0]["kind"] == "review"


def test_escalation_without_a_review(capsys, tmp_path):
    reviews = [{"level": "DL1", "date": "2026-02-10", "signed_by": "SRC"},  # before S03's result
               {"level": "DL2", "date": AS_OF.isoformat(), "signed_by": "SRC"}]
    path = cohort(tmp_path, patients(("DL1", "000"), ("DL2", "000")), reviews)
    code, out, deviations = escalate(capsys, SEED, path, tmp_path)
    assert code == 1
    assert shown(out) == [
        "review: S04 infused at DL2 on 2026-03-06, an escalation from DL1, with no safety review "
        "of DL1 signed on or after its last DLT assessment (2026-03-04) [dev:review-missing]"
    ]


def test_no_review_deviation_without_the_review_rule(capsys, tmp_path):
    protocol = tmp_path / "no-review.proto-rules"
    text = Path(SEED).read_text(encoding="utf-8")
    protocol.write_text(text.replace("    safety review before escalation\n", ""),
                        encoding="utf-8")
    (tmp_path / "three-plus-three.proto-rules").write_text(
        Path("protocol/designs/three-plus-three.proto-rules").read_text(encoding="utf-8"),
        encoding="utf-8")
    path = cohort(tmp_path, patients(("DL1", "000"), ("DL2", "000")), reviews=[])
    code, _, deviations = escalate(capsys, str(protocol), path, tmp_path)
    assert (code, deviations) == (0, [])


def test_an_under_dosed_patient_under_not_evaluable(capsys, tmp_path):
    records = patients(("DL1", "000"))
    records[2]["dose_received"] = {"value": 6e6, "unit": "cells/kg"}
    code, out, deviations = escalate(capsys, SEED, cohort(tmp_path, records), tmp_path)
    assert code == 1
    assert shown(out) == [
        "under-dosed: S03 infused at DL1 on 2026-02-04 received 6000000.0 cells/kg of 1x10^7 "
        "cells/kg; not evaluable under 'partial dose not evaluable': to be replaced "
        "[dev:under-dosed]"
    ]
    assert "STAY at DL1" in out  # the cohort is completed with a replacement
    assert deviations[0]["kind"] == "under-dosed"


def test_an_under_dosed_patient_counted_at_the_dose_received(capsys, tmp_path):
    records = patients(("DL1", "000"), ("DL2", "000"))
    records[5]["dose_received"] = {"value": 1.5e7, "unit": "cells/kg"}
    code, out, deviations = escalate(capsys, BOIN, cohort(tmp_path, records), tmp_path)
    assert code == 1
    assert shown(out) == [
        "under-dosed: S06 infused at DL2 on 2026-04-05 received 15000000.0 cells/kg of 3e7 "
        "cells/kg; counted at DL1 under 'partial dose counted at dose received' "
        "[dev:under-dosed]"
    ]


ELIMINATED = [("DL1", "000"), ("DL2", "111"), ("DL1", "000"), ("DL2", "000000")]


def test_an_eliminated_level_stays_eliminated(capsys, tmp_path):
    """BOIN eliminates DL2 after 3 of 3 DLTs; six more patients infused there without a DLT make
    its counts 3 of 9, which alone would keep the trial at DL2 (0.2365 < 1/3 < 0.3585): the
    level stays out, the next cohort goes to DL1, and each infusion at DL2 is a deviation."""
    path = cohort(tmp_path, patients(*ELIMINATED))
    code, out, deviations = escalate(capsys, BOIN, path, tmp_path)
    assert code == 1
    assert "ELIMINATE DL2, DL3, DL4; DE-ESCALATE to DL1 (1e7 cells/kg)" in out
    assert '  rule ELIMINATED: "the current level was eliminated by an earlier decision' in out
    assert [(d["kind"], d["patient"]) for d in deviations] == [
        ("eliminated", f"S{n}") for n in range(10, 16)
    ]
    assert shown(out)[0] == (
        "eliminated: S10 infused at DL2 on 2026-07-04; DL2 and the levels above were "
        "eliminated on 2026-05-05, and an eliminated level stays out [dev:eliminated]"
    )


def test_the_level_above_an_eliminated_one_is_never_recommended(capsys, tmp_path):
    """Back at DL1 with 9 patients and no DLT, BOIN would escalate; DL2 is out, so it stays."""
    groups = [*ELIMINATED, ("DL1", "000")]
    trail = tmp_path / "trail.jsonl"
    code = cli.main(["escalate", BOIN, cohort(tmp_path, patients(*groups)), "--trail", str(trail)])
    out = capsys.readouterr().out
    assert code == 1
    assert "STAY at DL1 (1e7 cells/kg)" in out
    decision = json.loads(trail.read_text().splitlines()[1])
    assert decision["eliminated"] == ["DL2", "DL3", "DL4"]
    assert "esc:out-above" in decision["rule"]["fired"]


def test_the_lowest_level_eliminated_stops_the_trial(capsys, tmp_path):
    """BOIN's extrasafe-free example: 3 of 3 at the lowest level DL0 stops the trial; a site
    that goes on at DL0 with clean patients does not revive it."""
    groups = [("DL1", "000"), ("DL1", "111"), ("DL0", "111"), ("DL0", "000000")]
    code, out, deviations = escalate(capsys, BOIN, cohort(tmp_path, patients(*groups)), tmp_path)
    assert code == 1
    assert "STOP: no MTD: the lowest dose level is too toxic" in out
    assert {d["kind"] for d in deviations} == {"eliminated"}


def test_deviations_are_the_same_bytes_each_time(capsys, tmp_path):
    path = cohort(tmp_path, patients(*ELIMINATED))
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    for trail in (first, second):
        assert cli.main(["escalate", BOIN, path, "--trail", str(trail)]) == 1
    assert first.read_bytes() == second.read_bytes()


def test_a_what_if_has_no_history(capsys):
    code = cli.main(["escalate", SEED, "--outcomes", "1NNN 3NNN"])
    out = capsys.readouterr().out
    assert code == 0 and "DEVIATIONS" not in out


def test_a_tampered_deviation_is_caught(capsys, tmp_path):
    path = cohort(tmp_path, patients(("DL1", "000"), ("DL3", "0")))
    trail = tmp_path / "trail.jsonl"
    assert cli.main(["escalate", SEED, path, "--trail", str(trail)]) == 1
    lines = trail.read_text().splitlines()
    lines[2] = lines[2].replace('"patient":"S04"', '"patient":"S05"')
    trail.write_text("\n".join(lines) + "\n")
    capsys.readouterr()
    assert cli.main(["verify", str(trail)]) == 1


def test_tite_boin_escalates_with_windows_open(capsys, tmp_path):
    """The TITE-BOIN example escalates to DL2 (T04) while DL1's windows are open, as the design
    allows: not a deviation."""
    code, _, deviations = escalate(capsys, "examples/tite-boin.proto-rules",
                                   "examples/tite-cohort.json", tmp_path)
    assert (code, deviations) == (0, [])
