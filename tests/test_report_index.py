"""The index a paged report's summary searches (`engine/audit/report_index.py`, issue 10 section 5):
the summary's size does not grow with the patients, and the files of ids lead from an id to its
page, found as the summary's script finds them.

The large trails are of a protocol of one criterion, so that 20,000 patients are reported, pages
and all, in seconds: its four patients decided once, then copied under other ids and chained
anew (`multiplied`, as `tests/test_stream.py` makes its large trails).
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any

import pytest

import cli
from engine.audit import report_index
from engine.audit.report import Patient
from engine.audit.report_index import Index
from tests.test_report import chromium, rendered  # noqa: F401
from tests.test_stream import multiplied

ONE_CRITERION = """protocol "one-criterion" version "1"
concepts:
  age: age
inclusion I1 "adults": age >= 18 years
"""
BORN = ("1990-01-01", "2015-01-01", None, "1960-07-01")  # eligible, not, unknown, eligible


def contents(directory: Path) -> dict[str, Any]:
    """The index's table of contents, as the summary keeps it."""
    page = (directory / "index.html").read_text(encoding="utf-8")
    (found,) = re.findall(r"data-index='([^']*)'", page)
    return json.loads(html.unescape(found))


def index_file(directory: Path, name: str) -> Any:
    """The data of one file of the index: the script hands it to the summary by name."""
    text = (directory / "index" / f"{name}.js").read_text(encoding="utf-8")
    head = f"{report_index.CALLBACK}({json.dumps(name)},"
    assert text.startswith(head) and text.endswith(");\n"), text[:80]
    return json.loads(text[len(head):-3])


def _units(text: str) -> bytes:
    """A string as JavaScript compares it: UTF-16 code units."""
    return text.encode("utf-16-be", "surrogatepass")


def lookup(table: dict[str, Any], folder: Path, patient_id: str) -> list[int]:
    """The pages of the patients whose id is `patient_id`, found as the summary's script finds
    ids starting so: only the files of ids whose first id (cut to `units`) does not rule them
    out are read."""
    q = _units(patient_id.lower())
    cut = q[:2 * table["units"]]
    firsts = [_units(first) for first in table["ids"]]
    pages = []
    for n, first in enumerate(firsts):
        after = firsts[n + 1] if n + 1 < len(firsts) else None
        if (after is None or after >= cut or cut.startswith(after)) and \
                (n == 0 or first <= cut or first.startswith(cut)):
            name = f"ids-{n + 1:04d}"
            text = (folder / f"{name}.js").read_text(encoding="utf-8")
            rows = json.loads(text[len(f'{report_index.CALLBACK}("{name}",'):-3])
            pages += [page for found, page, _ in rows if found == patient_id]
    return pages


@pytest.fixture(scope="module")
def decided(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("one-criterion")
    protocol = folder / "one.proto-rules"
    protocol.write_text(ONE_CRITERION, encoding="utf-8")
    facts = folder / "patients.jsonl"
    facts.write_text("".join(json.dumps({"patient": f"A{n}", "screening_date": "2026-06-30",
                                         "facts": [], **({"birth_date": born} if born else {})})
                             + "\n" for n, born in enumerate(BORN)), encoding="utf-8")
    assert cli.main(["run", str(protocol), str(facts), "--trail", str(folder / "trail.jsonl"),
                     "--quiet"]) == 0
    return folder / "trail.jsonl"


@pytest.fixture(scope="module")
def reports(decided, tmp_path_factory) -> dict[int, Path]:
    """Reports of 1,000 and 20,000 patients, 10 a page: both have more pages than the summary
    draws at once (`BLOCK`)."""
    folder = tmp_path_factory.mktemp("reports")
    made = {}
    for patients in (1000, 20_000):
        trail = multiplied(decided, patients // len(BORN), folder / f"{patients}.jsonl")
        made[patients] = folder / f"r{patients}"
        assert cli.main(["report", str(trail), "-o", f"{made[patients]}/", "--page-size",
                         "10"]) == 0
    return made


def test_the_summary_does_not_grow_with_the_patients(reports):
    """20 times the patients: the summary gains the first id of each file of ids (1 then 20
    files), well under a kilobyte, where it used to list every id and each page's counts."""
    small, large = ((reports[n] / "index.html").stat().st_size for n in (1000, 20_000))
    assert large - small < 1024, (small, large)
    assert large < 64 * 1024
    assert [len(contents(reports[n])["ids"]) for n in (1000, 20_000)] == [1, 20]
    assert [contents(reports[n])["pages"] for n in (1000, 20_000)] == [100, 2000]
    # the summary draws the first block of pages, the rest are in the index
    assert (reports[20_000] / "index.html").read_text(encoding="utf-8").count(
        '<tr class="page">') == report_index.BLOCK
    assert len(list((reports[20_000] / "index").glob("pages-*.js"))) == 20


def test_an_id_is_found_on_its_page(reports):
    """Every 997th patient, the first and the last: the files of ids that can hold the id name
    one page, and that page holds the patient."""
    report = reports[20_000]
    table = contents(report)
    ids = [f"A{n % 4}-{n // 4}" for n in range(20_000)]
    for n in [*range(0, 20_000, 997), 19_999]:
        (page,) = lookup(table, report / "index", ids[n])
        assert page == n // 10 + 1
        name = f"page-{page:04d}.html"
        assert f'data-patient="{ids[n]}"' in (report / "patients" / name).read_text(
            encoding="utf-8")
    # the files hold every id once, sorted as the script compares, each with its decision
    rows = [row for k in range(1, 21) for row in index_file(report, f"ids-{k:04d}")]
    assert sorted(row[0] for row in rows) == sorted(ids)
    assert [row[0] for row in rows] == sorted(ids, key=report_index.key)
    assert {table["decisions"][d] for _, _, d in rows} == {"ELIGIBLE", "INELIGIBLE",
                                                          "NEEDS_REVIEW"}


def test_long_and_astral_ids_are_found(tmp_path):
    """Ids that share more than the 64 code units the summary keeps of a file's first id, and a
    character outside the BMP cut in half there: every id is still found, on its page."""
    long = "Registry-" + "x" * 54 + "\U0001F600"  # the emoji's units are the 64th and 65th
    ids = [f"{long}-{n:04d}" if n % 2 else f"{long[:30]}-{n:04d}" for n in range(2500)]
    index = Index(tmp_path / "index", len(ids), 7)
    for patient_id in ids:
        index.add(Patient(patient_id, decision={"decision": "ELIGIBLE"}))
    table = index.close()
    assert len(table["ids"]) == 3 and table["ids"][2] == long.lower()[:-1]
    assert not (tmp_path / "index.runs").exists()
    for n, patient_id in enumerate(ids):
        assert lookup(table, tmp_path / "index", patient_id) == [n // 7 + 1], patient_id


def test_browser_finds_a_patient_in_a_later_file(chromium, reports, tmp_path):
    """A search on the summary of 20,000 patients loads the file of ids that holds the id (the
    13th of 20) and links to the patient on its page."""
    report = reports[20_000]
    wanted = index_file(report, "ids-0013")[500]
    tree = rendered(chromium, tmp_path, report / "index.html", f"#q={wanted[0]}")
    assert tree.all("body")[0]["data-shown"] == "1"
    page = f"patients/page-{wanted[1]:04d}.html"
    assert tree.all("a", href=f"{page}#q={wanted[0]}")
    assert "1 of 2000 pages hold such patients, 1 patients match" in "".join(tree.text)
