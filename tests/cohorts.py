"""Cohort files for the escalation tests, written the way a site would write them.

`patients` spells a trial's history compactly, level by level; `cohort` writes it as a cohort fact
file (with a signed safety review of every level treated, unless told otherwise).
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

AS_OF = date(2027, 6, 1)
FIRST = date(2026, 1, 5)


def patients(*groups: tuple[str, str]) -> list[dict]:
    """Patients from (level, outcomes): per patient '0' no DLT, '1' a DLT on day 7, 'n' not
    evaluable, 'p' window still open (infused a few days before as_of); 15 days apart."""
    found, day, number = [], FIRST, 0
    for level, outcomes in groups:
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
    path = tmp_path / "cohort.json"
    data = {"as_of": AS_OF.isoformat(), "patients": records, "reviews": reviews}
    path.write_text(json.dumps(data, indent=1), encoding="utf-8")
    return str(path)
