"""`proto-rules report TRAIL -o DIR/` (issue 10, section 5): a summary page and pages of patients.

The demo trail (23 patients) is paged 5 a page, so that the last page is short; every patient is on
exactly one page, every link resolves, the summary's numbers are the `attrition` command's and
the run's tally, and the protocol's source lines are stated once a page, not once a patient. The
index the summary searches is `tests/test_report_index.py`'s.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

import cli
from engine.audit import report, report_pages
from engine.attrition import attrition
from tests.conftest import cut_trail, run_cli
from tests.test_report import (HOSTILE, Tree, chromium, hostile_trail,  # noqa: F401
                               records_of, rendered, run_trail)
from tests.test_report_index import contents, index_file

pytestmark = pytest.mark.usefixtures("at_root")


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    return run_trail(tmp_path_factory.mktemp("pages") / "trail.jsonl")


@pytest.fixture(scope="module")
def paged(demo, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("paged") / "report"
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(Path(__file__).resolve().parents[1])
        assert cli.main(["report", str(demo), "-o", f"{out}/", "--page-size", "5"]) == 0
    return out


def files(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes()
            for p in sorted(directory.rglob("*")) if p.is_file()}


def test_every_patient_is_on_exactly_one_page(demo, paged):
    trail = [r["patient"] for r in records_of(demo) if r["type"] == "patient"]
    assert [name for name in files(paged) if not name.startswith("index/")] == \
        ["index.html"] + [f"patients/page-000{n}.html" for n in range(1, 6)]
    on_pages = []
    index = Tree((paged / "index.html").read_text(encoding="utf-8"))
    rows = index.all("tr", **{"class": "page"})
    assert len(rows) == 5
    for n in range(1, 6):
        tree = Tree((paged / "patients" / f"page-000{n}.html").read_text(encoding="utf-8"))
        ids = [p["data-patient"] for p in tree.all("section", **{"class": "patient"})]
        assert len(ids) == (5 if n < 5 else 3)
        on_pages += ids
    assert on_pages == trail
    # the summary's row of each page names its first and last patient
    ends = [cell.split(" \u2026 ") for cell in re.findall(r'<td class="ids">([^<]*)</td>',
                                                          index.source)]
    assert ends == [[trail[k], trail[min(k + 4, 22)]] for k in range(0, 23, 5)]


def test_every_link_resolves(paged):
    """Every href of every file: a page that exists, and a fragment that is a filter (it holds
    `=`) or the id of an element of the page it names."""
    ids: dict[Path, set[str]] = {}
    for path in [paged / "index.html", *sorted((paged / "patients").iterdir())]:
        ids[path.resolve()] = {a["id"] for _, a in Tree(path.read_text(encoding="utf-8")).elements
                               if a.get("id")}
    checked = 0
    for path in ids:
        for tag, attrs in Tree(path.read_text(encoding="utf-8")).elements:
            for key in ("href", "data-page"):
                if tag != "a" or not attrs.get(key):
                    continue
                link = urlsplit(attrs[key])
                target = (path.parent / link.path).resolve() if link.path else path
                assert target in ids, (path.name, attrs[key])
                fragment = unquote(link.fragment)
                assert not fragment or "=" in fragment or fragment in ids[target], \
                    (path.name, attrs[key])
                checked += 1
    assert checked > 23 * 23  # each criterion of each patient links to its statement


def test_the_summary_has_the_tally_the_attrition_and_the_verdicts(demo, paged):
    records = records_of(demo)
    page = (paged / "index.html").read_text(encoding="utf-8")
    (summary,) = [r for r in records if r["type"] == "summary"]
    for decision, count in summary["decisions"].items():
        assert f'<div class="card {decision.lower()}"><span class="count">{count}</span>' in page
    table = attrition(records)
    section = page.split('<section id="attrition"', 1)[1].split("</section>", 1)[0]
    rows = re.findall(r'<tr><td><a href="#criterion=([^"]+)"[^>]*>[^<]+</a></td><td>(\w+)</td>'
                      r"<td>(\d+)</td><td>(\d+)</td><td>(\d+)</td><td>(\d+)</td></tr>", section)
    assert rows == [(r.criterion, r.role, str(r.fails), str(r.alone), str(r.remaining),
                     str(r.open)) for r in table.rows]
    verdicts = Counter((r["criterion"], r["verdict"]) for r in records if r["type"] == "criterion")
    section = page.split('<section id="verdicts"', 1)[1].split("</section>", 1)[0]
    shown = {}
    for criterion, cells in re.findall(r'<tr><td><a href="#criterion=([^"]+)"[^>]*>[^<]+</a>'
                                       r"</td><td>\w+</td>(.*?)</tr>", section):
        for verdict, cell in zip(report.VERDICTS, re.findall(r"<td>(.*?)</td>", cells)):
            shown[unquote(criterion), verdict] = int(re.sub(r"<[^>]+>", "", cell))
    assert {k: v for k, v in shown.items() if v} == dict(verdicts)
    # the index's counts add up to the tally, decision by decision, and to the verdicts
    table = contents(paged)
    counted: Counter[tuple[str, str, str]] = Counter()
    for number, (criterion, verdict) in enumerate(table["matches"], start=1):
        flat = index_file(paged, f"match-{number:04d}")
        for page, decision, n in zip(flat[::3], flat[1::3], flat[2::3]):
            assert 1 <= page <= 5
            counted[table["decisions"][decision], criterion, verdict] += n
    assert {d: n for (d, c, _), n in counted.items() if not c} == summary["decisions"]
    by_verdict: Counter[tuple[str, str]] = Counter()
    for (_, criterion, verdict), n in counted.items():
        if criterion:
            by_verdict[criterion, verdict] += n
    assert by_verdict == verdicts
    # and so do the pages' rows
    rows = index_file(paged, "pages-0001")
    assert [sum(row[2][k] for row in rows) for k in range(4)] == \
        [summary["decisions"].get(d, 0) for d in report.DECISIONS]


def test_source_lines_are_stated_once_a_page(demo, paged):
    """The one page repeats each criterion's source lines for every patient; a page of patients
    states them once, and its patients link to them: far fewer bytes a patient."""
    one = report.build(str(demo)).html
    entries = 23 + len(records_of(demo)[1]["definitions"])
    assert one.count('<pre class="dsl">') == 23 * 23 + one.count('<article class="def"')
    page = (paged / "patients" / "page-0001.html").read_text(encoding="utf-8")
    assert page.count('<pre class="dsl">') == entries
    assert page.count('href="#rule-I4.liver"') >= 5
    paged_bytes = sum(len(b) for name, b in files(paged).items() if name != "index.html")
    assert paged_bytes < 0.75 * len(one.encode())


def test_same_trail_same_bytes(demo, paged, tmp_path):
    again = tmp_path / "again"
    assert cli.main(["report", str(demo), "-o", str(again), "--page-size", "5"]) == 0
    assert files(again) == files(paged)


def test_hostile_strings_are_text_on_every_page(demo, tmp_path):
    """A script or an image tag in a patient id, a sentence, a fact, a warning or a rule's file
    name stays text on the summary (its list of ids, its rejected records) and on the pages."""
    trail = hostile_trail(demo, tmp_path / "hostile.jsonl")  # not chained anew: tampered, 1
    assert cli.main(["report", str(trail), "-o", str(tmp_path / "r"), "--page-size", "5"]) == 1
    pages = sorted((tmp_path / "r").rglob("*.html"))
    assert len(pages) == 6
    for path in pages:
        html = path.read_text(encoding="utf-8")
        tree = Tree(html)
        assert html.count("<script>") == 1 and not tree.all("img"), path.name
    index = (tmp_path / "r" / "index.html").read_text(encoding="utf-8")
    assert HOSTILE in "".join(Tree(index).text)
    page = (tmp_path / "r" / "patients" / "page-0001.html").read_text(encoding="utf-8")
    assert HOSTILE in [p["data-patient"] for p in Tree(page).all("section", **{"class": "patient"})]


def test_a_compressed_trail_gives_the_same_pages(demo, paged, tmp_path):
    zst = run_trail(tmp_path / "trail.jsonl.zst")
    out = tmp_path / "zst"
    assert cli.main(["report", str(zst), "-o", str(out), "--page-size", "5"]) == 0
    for name, data in files(paged).items():
        text = data.decode()
        for old, new in ((str(demo), str(zst)), (report.check(str(demo)).text,
                                                  report.check(str(zst)).text)):
            text = text.replace(old, new)
        mine = (out / name).read_text(encoding="utf-8")
        strip = re.compile(r"sha256 [0-9a-f]{64}")
        assert strip.sub("", mine) == strip.sub("", text), name


def test_a_cut_trail_says_so(seed_network, tmp_path, capsys):
    trail = cut_trail(seed_network, tmp_path / "trail.jsonl")
    code, out, _ = run_cli(capsys, "report", str(trail), "-o", str(tmp_path / "r"))
    assert code == 0 and "incomplete: the run was cut (interrupted) after 2 patients" in out
    page = (tmp_path / "r" / "index.html").read_text(encoding="utf-8")
    assert "incomplete: the run was cut (interrupted) after 2 patients" in page
    assert "2 patients in trail order on 1 pages" in page


def test_a_tampered_trail_is_shown_and_exits_1(demo, tmp_path, capsys):
    lines = demo.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[5] = lines[5].replace('"verdict":"NOT_MET"', '"verdict":"MET"', 1)
    edited = tmp_path / "edited.jsonl"
    edited.write_text("".join(lines), encoding="utf-8")
    code, out, _ = run_cli(capsys, "report", str(edited), "-o", str(tmp_path / "r"))
    assert code == 1 and out.startswith("trail TAMPERED: ")
    for path in (tmp_path / "r").rglob("*.html"):
        assert '<body data-verification="tampered">' in path.read_text(encoding="utf-8")


def test_rejected_records_are_in_the_summary(tmp_path, capsys):
    trail = run_trail(tmp_path / "bad.jsonl", "examples/bad/facts.jsonl")
    code, _, _ = run_cli(capsys, "report", str(trail), "-o", str(tmp_path / "r"))
    assert code == 0
    page = (tmp_path / "r" / "index.html").read_text(encoding="utf-8")
    rejected = [r for r in records_of(trail) if r["type"] == "rejected"]
    assert rejected and f"<p class=\"hint\">{len(rejected)} records whose facts" in page
    section = page.split('<section id="rejected"', 1)[1].split("</section>", 1)[0]
    assert section.count("<tr><td>") == len(rejected)


def test_a_report_written_again_replaces_its_pages(demo, tmp_path, capsys):
    out = tmp_path / "r"
    assert run_cli(capsys, "report", str(demo), "-o", str(out), "--page-size", "2")[0] == 0
    assert len(list((out / "patients").iterdir())) == 12
    assert contents(out)["pages"] == 12
    (out / "notes.txt").write_text("mine", encoding="utf-8")
    assert run_cli(capsys, "report", str(demo), "-o", str(out))[0] == 0
    assert sorted(p.name for p in out.iterdir()) == ["index", "index.html", "notes.txt",
                                                     "patients"]
    assert [p.name for p in (out / "patients").iterdir()] == ["page-0001.html"]
    assert contents(out)["pages"] == 1 and index_file(out, "ids-0001")[-1][1] == 1


@pytest.mark.parametrize("setup, output, message", [
    ("file", "{tmp}/report", "cannot write report {tmp}/report: a file is there, and a paged "
     "report is a directory (or give -o NAME.html for one page)"),
    ("file", "{tmp}/report/pages/", "cannot write report {tmp}/report/pages/: Not a directory"),
    ("patients", "{tmp}/out", "cannot write report {tmp}/out: {tmp}/out/patients holds other "
     "files than the pages of a report; not replaced"),
    ("index", "{tmp}/out", "cannot write report {tmp}/out: {tmp}/out/index holds other "
     "files than the index of a report; not replaced"),
])
def test_bad_outputs_are_one_line(demo, tmp_path, capsys, setup, output, message):
    if setup == "file":
        (tmp_path / "report").write_text("x", encoding="utf-8")
    else:
        (tmp_path / "out" / setup).mkdir(parents=True)
        (tmp_path / "out" / setup / "mine.csv").write_text("x", encoding="utf-8")
    before = files(tmp_path)
    code, out, err = run_cli(capsys, "report", str(demo), "-o", output.format(tmp=tmp_path))
    assert (code, out, err) == (2, "", f"proto-rules: {message.format(tmp=tmp_path)}\n")
    assert files(tmp_path) == before


def test_a_trail_unreadable_halfway_leaves_nothing(demo, tmp_path, capsys):
    lines = demo.read_text(encoding="utf-8").splitlines(keepends=True)
    record = json.loads(lines[10])
    record["criteria"][0]["verdict"] = None
    lines[10] = json.dumps(record) + "\n"
    trail = tmp_path / "broken.jsonl"
    trail.write_text("".join(lines), encoding="utf-8")
    code, _, err = run_cli(capsys, "report", str(trail), "-o", str(tmp_path / "r"))
    assert code == 2 and err.endswith("(not string)\n") and err.count("\n") == 1
    assert list(tmp_path.iterdir()) == [trail]


def test_one_page_of_too_many_patients_is_refused(demo, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(report_pages, "ONE_PAGE", 20)
    out = tmp_path / "report.html"
    code, _, err = run_cli(capsys, "report", str(demo), "-o", str(out))
    assert (code, err) == (2, f"proto-rules: {demo} holds 23 patients, more than one page shows "
                              "(20): give a directory (-o DIR/) for a summary page and pages of "
                              "patients\n")
    assert list(tmp_path.iterdir()) == []


def test_a_page_size_must_be_a_whole_number(demo, tmp_path, capsys):
    with pytest.raises(SystemExit) as stopped:
        cli.main(["report", str(demo), "-o", str(tmp_path / "r"), "--page-size", "0"])
    assert stopped.value.code == 2
    assert "a whole number from 1 to 100,000, not 0" in capsys.readouterr().err


# -- in a real browser -----------------------------------------------------------------------------

@pytest.mark.parametrize("fragment, pages, match", [
    ("", 5, None),
    ("#criterion=I4.liver&verdict=NOT_MET", 1, "1 patients"),
    ("#decision=NEEDS_REVIEW", 3, None),
    ("#q=P13", 1, "P13-hiv-result-missing"),
])
def test_browser_filters_the_pages(chromium, paged, demo, tmp_path, fragment, pages, match):
    """The summary's script reads the same fragment as a page: the pages that hold such patients
    stay, and each links to its page filtered alike."""
    tree = rendered(chromium, tmp_path, paged / "index.html", fragment)
    (body,) = tree.all("body")
    assert body["data-shown"] == str(pages)
    shown = [a for t, a in tree.elements if t == "tr" and a.get("class") == "page"
             and "hidden" not in a]
    assert len(shown) == pages
    links = [a["href"] for t, a in tree.elements if t == "a" and a.get("class") == "page"]
    assert all(link.endswith(fragment) for link in links)
    if match:
        assert match in "".join(tree.text)
    if fragment:
        page = rendered(chromium, tmp_path, paged / "patients" / "page-0001.html", fragment)
        assert page.all("body")[0]["data-ready"] == "true"


def test_a_page_size_for_one_page_is_refused(demo, tmp_path, capsys):
    """It was taken and ignored: one page holds every patient."""
    page = tmp_path / "one.html"
    assert cli.main(["report", str(demo), "-o", str(page), "--page-size", "5"]) == 2
    assert capsys.readouterr().err == (f"proto-rules: --page-size is for a directory of pages "
                                       f"(-o DIR/); {page} is one page\n")
    assert not page.exists()
