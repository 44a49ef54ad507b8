"""Cohort files for the escalation tests, written the way a site would write them.

`patients` spells a trial's history compactly, level by level; `cohort` writes it as a cohort fact
file (with a signed safety review of every level treated, unless told otherwise). By default the
history follows the design's calendar: a new group starts after the DLT windows of the one before
closed, and each escalation is preceded by a review of the level it leaves, signed that day, so
that only what a test writes in is a deviation.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

AS_OF = date(2027, 6, 1)
FIRST = date(2026, 1, 5)


def patients(*groups: tuple[str, str]) -> list[dict]:
    """Patients from (level, outcomes): per patient '0' no DLT, '1' a DLT on day 7, 'n' not
    evaluable, 'p' window still open (infused a few days before as_of); 15 days apart, and a
    group 30 days after the group before (its 28-day DLT windows closed)."""
    days = 15 * (sum(len(outcomes) for _, outcomes in groups) + len(groups)) + 30
    found, day, number = [], min(FIRST, AS_OF - timedelta(days=days)), 0  # long ones fit too
    for group, (level, outcomes) in enumerate(groups):
        if group:
            day += timedelta(days=15)
        for outcome in outcomes:
            number += 1
            infused = AS_OF - timedelta(days=20 - number) if outcome == "p" else day
            record = {"patient": f"S{number:02}", "level": level, "infused": infused.isoformat()}
            if outcome == "1":
                record["dlt"] = {
                    "date": (infused + timedelta(days=7)).isoformat(),
                    "event": "grade 3 CRS",
                }
            if outcome == "n":
                record |= {"evaluable": False, "reason": "withdrew before day 28"}
            found.append(record)
            day += timedelta(days=15)
    return found


def cohort(tmp_path: Path, records: list[dict], reviews: list[dict] | None = None) -> str:
    """The cohort file's path, as of AS_OF."""
    if reviews is None:
        levels = dict.fromkeys(r["level"] for r in records)
        reviews = [{"level": lv, "date": AS_OF.isoformat(), "signed_by": "SRC"} for lv in levels]
        reviews += [{"level": before["level"], "date": after["infused"], "signed_by": "SRC"}
                    for before, after in zip(records, records[1:])
                    if after["level"] > before["level"]]
    path = tmp_path / "cohort.json"
    data = {"as_of": AS_OF.isoformat(), "patients": records, "reviews": reviews}
    path.write_text(json.dumps(data, indent=1), encoding="utf-8")
    return str(path)
