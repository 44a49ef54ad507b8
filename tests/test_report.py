"""The HTML report (`proto-rules report`): built from the trail alone, escaped, deterministic,
and checked in a real headless Chromium (the DOM after the page's script ran, and a screenshot).

The demo run (`proto-rules run` on examples/patients.jsonl, from the repository root) is made once
per module. The browser tests need Debian's `chromium`; `make test` installs it when missing, and
they skip, saying so, only when it is still absent. `UPDATE_GOLDEN=1 make test` also refreshes the
README's screenshot, docs/report.png, from the README's own commands (out/trail.jsonl).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import struct
import subprocess
from html import escape
from html.parser import HTMLParser
from pathlib import Path

import pytest

import cli
from engine.audit import report, report_source
from engine.audit.trail import read
from engine.audit.verify import Verification
from protocol.errors import UsageError

ROOT = Path(__file__).resolve().parents[1]
SEED = "examples/cd19-ucart-sle.proto-rules"
PATIENTS = "examples/patients.jsonl"
BAD_FACTS = "examples/bad/facts.jsonl"
SCREENSHOT = ROOT / "docs" / "report.png"
LIVER_TEXT = ("Liver function: Asparagus cochinchinensis transase (AST) and Alanine "
              "Aminotransferase (ALT)≤3.0 ULN, Total Bilirubin (TBIL) in serum ≤2.0×ULN;")
DECIDED = {"P01-eligible": "ELIGIBLE", "P05-tbil-mg-dL": "INELIGIBLE",
           "P09-judgment-pending": "NEEDS_REVIEW", "P13-hiv-result-missing": "NEEDS_REVIEW",
           "P22-investigator-unsuitable": "INELIGIBLE"}
HOSTILE = '<script>document.title="pwned"</script><img src=x onerror="document.title=1">'


pytestmark = pytest.mark.usefixtures("at_root")


def run_trail(path: Path, facts: str = PATIENTS) -> Path:
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(ROOT)
        assert cli.main(["run", SEED, facts, "--trail", str(path)]) in (0, 2)
    return path


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    return run_trail(tmp_path_factory.mktemp("report") / "trail.jsonl")


@pytest.fixture(scope="module")
def page(demo) -> str:
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(ROOT)
        return report.build(str(demo)).html


def records_of(path: Path) -> list[dict]:
    """The trail's records as the report reads them."""
    return read(str(path))


def write_records(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n"
                            for r in records), encoding="utf-8")
    return path


class Tree(HTMLParser):
    """The page's elements: tag, attributes and the text directly inside, in document order."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.source = text
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)

    def all(self, tag: str, **match: str) -> list[dict[str, str | None]]:
        return [a for t, a in self.elements if t == tag
                and all(a.get(k.replace("_", "-")) == v for k, v in match.items())]


def test_page_has_the_attrition_of_the_attrition_command(demo, page, capsys):
    """The attrition section says what `proto-rules attrition` says: the same rows, in protocol
    order, each criterion linked to its patients."""
    from engine.attrition import attrition

    table = attrition(records_of(demo))
    section = page.split('<section id="attrition"', 1)[1].split("</section>", 1)[0]
    assert f"{table.patients} patients decided" in section
    rows = re.findall(r'<tr><td><a href="#criterion=([^"]+)"[^>]*>[^<]+</a></td><td>(\w+)</td>'
                      r"<td>(\d+)</td><td>(\d+)</td><td>(\d+)</td><td>(\d+)</td></tr>", section)
    assert rows == [(r.criterion, r.role, str(r.fails), str(r.alone), str(r.remaining),
                     str(r.open)) for r in table.rows]
    assert len(rows) == 23 and rows[0][0] == "I1"


# -- content ---------------------------------------------------------------------------------------

def test_page_holds_the_run_the_cohort_and_every_patient(demo, page):
    records = records_of(demo)
    run = records[0]
    assert run["protocol"]["sha256"] in page and records[-2]["facts_sha256"] in page
    assert hashlib.sha256(demo.read_bytes()).hexdigest() in page
    stored = len(demo.read_bytes().splitlines())
    assert f"Trail verification: intact ({stored - 1} records)" in page
    tree = Tree(page)
    patients = tree.all("section", **{"class": "patient"})
    assert [p["data-patient"] for p in patients] == [r["patient"] for r in records
                                                     if r["type"] == "patient"]
    decided = {p["data-patient"]: p["data-decision"] for p in patients}
    assert {k: decided[k] for k in DECIDED} == DECIDED
    (summary,) = [r for r in records if r["type"] == "summary"]
    for decision, count in summary["decisions"].items():
        assert f'<div class="card {decision.lower()}"><span class="count">{count}</span>' in page
    crit = [a for t, a in tree.elements if t == "article" and a["class"].startswith("crit")]
    assert len(crit) == 23 * 23  # every patient, every criterion, with its verdict
    assert {a["data-verdict"] for a in crit} == {"MET", "NOT_MET", "UNKNOWN", "NEEDS_REVIEW",
                                                 "NOT_APPLICABLE"}
    assert LIVER_TEXT in page  # the protocol's sentence, verbatim (no character needs escaping)


def test_chart_counts_the_criteria_that_excluded(demo, page):
    """One bar per criterion that excluded a patient (inclusion NOT_MET, exclusion MET), most first,
    each linking to the filter that lists those patients."""
    excluded: dict[str, int] = {}
    for r in records_of(demo):
        if r["type"] == "criterion" and (r["role"], r["verdict"]) in (("inclusion", "NOT_MET"),
                                                                      ("exclusion", "MET")):
            excluded[r["criterion"]] = excluded.get(r["criterion"], 0) + 1
    bars = [a for t, a in Tree(page).elements
            if t == "a" and (a.get("class") or "").startswith("bar")]
    assert {b["data-criterion"]: int(b["data-count"]) for b in bars} == excluded
    counts = [int(b["data-count"]) for b in bars]
    assert counts == sorted(counts, reverse=True)
    liver = next(b for b in bars if b["data-criterion"] == "I4.liver")
    assert liver["href"] == "#criterion=I4.liver&verdict=NOT_MET"
    assert '<svg id="chart"' in page


def test_criterion_shows_source_lines_facts_and_why_not(page):
    """P05's I4.liver: the rule's source lines with their numbers (the parent I4's header, the part,
    its condition), the evidence, the facts it read, and why it is not met."""
    start = page.index('data-patient="P05-tbil-mg-dL"')
    article = page[page.index('data-criterion="I4.liver"', start):]
    article = article[:article.index("</article>")]
    seed = (ROOT / SEED).read_text(encoding="utf-8").splitlines()
    part = next(n for n, line in enumerate(seed, 1) if line.lstrip().startswith("part liver"))
    parent = next(n for n, line in enumerate(seed, 1) if line.startswith("inclusion I4 "))
    assert f'<span class="ln">{parent}</span>inclusion I4 ' in article
    assert f'<span class="ln">{part}</span>    part liver ' in article
    assert f'<span class="ln">{part + 1}</span>' in article
    assert "not met: these parts do not hold: <code>tbil &lt;= 2.0 x ULN</code>" in article
    assert "<td>tbil</td><td>2.6</td><td>mg/dL</td>" in article
    assert "rules fired: v:I4.liver:NOT_MET#0" in article


def test_why_not_for_open_verdicts(page):
    start = page.index('data-patient="P13-hiv-result-missing"')
    e8 = page[page.index('data-criterion="E8"', start):]
    # HCV RNA is missing too, but cannot change E8: the HCV antibody is negative
    assert "cannot be decided: missing hiv_antibody (no fact given)</p>" in e8[:e8.index(
        "</article>")]
    assert "would be NOT_MET with: <code>not (hiv_antibody is positive)</code>" in e8
    start = page.index('data-patient="P11-stale-lvef"')
    assert "to be eligible, I4.cardiac needs <code>lvef &gt;= 55 %</code>" in page[start:]
    start = page.index('data-patient="P09-judgment-pending"')
    e13 = page[page.index('data-criterion="E13"', start):]
    assert "awaiting an investigator's judgment: investigator_deems_unsuitable" in \
        e13[:e13.index("</article>")]


def test_rejected_records_are_listed(tmp_path):
    trail = run_trail(tmp_path / "bad.jsonl", BAD_FACTS)
    html = report.build(str(trail)).html
    rejected = Tree(html).all("section", data_decision="REJECTED")
    assert rejected
    assert "the facts could not be used" in html


def test_self_contained(page):
    """No request can leave the page: no external URL anywhere, and the policy allows only the
    page's own script and style."""
    tree = Tree(page)
    assert not tree.all("link") and not tree.all("img") and not tree.all("iframe")
    assert [a.get("src") for a in tree.all("script")] == [None]
    assert "http://" not in page and "https://" not in page and "//cdn" not in page
    (policy,) = [a["content"] for a in tree.all("meta") if a.get("http-equiv")]
    assert policy.startswith("default-src 'none'; style-src 'sha256-")


# -- escaping, determinism, errors -----------------------------------------------------------------

def hostile_trail(demo: Path, path: Path) -> Path:
    """The demo trail with a script and an image tag in a patient id, a sentence, a fact value, a
    warning and a rule's file name."""
    records = records_of(demo)
    for record in records:
        if record.get("patient") == "P05-tbil-mg-dL":
            record["patient"] = HOSTILE
        if record["type"] == "protocol":
            record["criteria"][0]["text"] = HOSTILE
            record["criteria"][1]["rule"] = HOSTILE + ":3"
        if record["type"] == "patient" and record["patient"] == HOSTILE:
            record["facts"][0]["value"] = "</table></details>" + HOSTILE
            record["warnings"] = [HOSTILE]
    return write_records(path, records)


def test_hostile_strings_are_text(demo, tmp_path):
    html = report.build(str(hostile_trail(demo, tmp_path / "hostile.jsonl"))).html
    tree = Tree(html)
    assert len(tree.all("script")) == 1 and not tree.all("img")
    assert html.count("<script>") == 1
    assert "&lt;script&gt;document.title=&quot;pwned&quot;&lt;/script&gt;" in html
    assert HOSTILE in "".join(tree.text)  # shown as text, where the trail has it
    assert [p["data-patient"] for p in tree.all("section", **{"class": "patient"})][4] == HOSTILE


def test_same_trail_same_bytes(demo, tmp_path):
    first = report.build(str(demo)).html
    assert report.build(str(demo)).html == first
    again = run_trail(tmp_path / "again.jsonl")
    digest = hashlib.sha256(demo.read_bytes()).hexdigest()
    assert hashlib.sha256(again.read_bytes()).hexdigest() == digest
    assert report.build(str(again)).html == first.replace(str(demo), str(again))
    assert again.read_bytes() == demo.read_bytes()


def test_verification_status(demo, tmp_path):
    assert "Trail verification: not verified" in report.render(records_of(demo))
    lines = demo.read_text(encoding="utf-8").splitlines(keepends=True)
    assert report.check(str(demo)) == report.Status(
        "intact", f"intact ({len(lines) - 1} records)", report.check(str(demo)).detail)
    # a verdict edited on line n breaks the chain at line n + 1
    n = next(i for i, line in enumerate(lines, 1) if '"verdict":"NOT_MET"' in line)
    lines[n - 1] = lines[n - 1].replace('"verdict":"NOT_MET"', '"verdict":"MET"')
    edited = tmp_path / "edited.jsonl"
    edited.write_text("".join(lines), encoding="utf-8")
    built = report.build(str(edited))
    assert built.status.state == "tampered"
    assert built.status.text.startswith("TAMPERED: ")
    assert built.status.text.endswith(f" at line {n + 1}")
    assert '<body data-verification="tampered">' in built.html
    assert f"<strong>Trail verification: {escape(built.status.text)}</strong>" in built.html
    # what the page shows for any Verification engine/audit/verify.py returns
    records = records_of(demo)
    status = report.status_of(Verification(False, 56, "the seal does not match the records", 57))
    html = report.render(records, status=status)
    assert "Trail verification: TAMPERED: the seal does not match the records at line 57" in html


@pytest.mark.parametrize("content, message", [
    (None, "cannot read trail {path}: No such file or directory"),
    (b"\xff\xfe not text", "cannot read trail {path}: line 1: not UTF-8 text"),
    (b'{"type": "run"\n', "cannot read trail {path}: line 1: not JSON"),
    (b'[1, 2]\n', "cannot read trail {path}: line 1: not a trail record"),
    (b'{"type": "run", "protocol": {}, "facts": {}, "tool": "t", "engine": "e"}\n',
     "cannot read trail {path}: line 1: the run record has no valid 'network'"),
    (b"", "cannot read trail {path}: the file is empty"),
    (b"\n\n", "cannot read trail {path}: it holds no record"),
    (b'{"type": "summary", "decisions": {}}\n',
     "cannot read trail {path}: not the decision trail of `proto-rules run --trail`"),
])
def test_unreadable_trail(tmp_path, capsys, content, message):
    path = tmp_path / "trail.jsonl"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(UsageError) as caught:
        report.build(str(path))
    assert str(caught.value).startswith(message.format(path=path))
    out = tmp_path / "report.html"
    assert cli.main(["report", str(path), "-o", str(out)]) == 2
    assert capsys.readouterr().err.startswith("proto-rules: " + message.format(path=path))
    assert not out.exists()


def test_escalation_trail_is_not_a_decision_trail(tmp_path, capsys):
    trail = tmp_path / "escalation.jsonl"
    assert cli.main(["escalate", SEED, "examples/cohort.json", "--trail", str(trail)]) == 0
    capsys.readouterr()
    assert cli.main(["report", str(trail), "-o", str(tmp_path / "r.html")]) == 2
    assert "it is the trail of `proto-rules escalate`" in capsys.readouterr().err


def test_cli_writes_the_page(demo, tmp_path, capsys):
    out = tmp_path / "sub" / "report.html"
    assert cli.main(["report", str(demo), "-o", str(out)]) == 0
    lines = len(demo.read_text(encoding="utf-8").splitlines())
    assert capsys.readouterr().out == (f"report: {out}: 23 patients; trail intact "
                                       f"({lines - 1} records)\n")
    assert out.read_text(encoding="utf-8") == report.build(str(demo)).html


def test_unknown_records_and_fields_are_ignored(demo, tmp_path):
    records = records_of(demo)
    records.insert(5, {"type": "from-the-future", "anything": [1, 2]})
    records[2]["novel"] = "<b>x</b>"
    html = report.render(records)
    assert "from-the-future" not in html and "novel" not in html
    assert html.count('class="patient"') == 23


def test_summary_that_disagrees_is_shown(demo):
    records = records_of(demo)
    (summary,) = [r for r in records if r["type"] == "summary"]
    summary["decisions"]["ELIGIBLE"] = 5
    assert ("The trail's summary record says ELIGIBLE 5, INELIGIBLE 15, NEEDS_REVIEW 4, but its "
            "patient records give ELIGIBLE 4, INELIGIBLE 15, NEEDS_REVIEW 4"
            ) in report.render(records)
    records.remove(summary)
    assert "The trail has no summary record" in report.render(records)


def test_protocol_file_not_beside_the_trail(demo, tmp_path, monkeypatch):
    """Away from the protocol file (or with a different one) the page shows the conditions the trail
    records, and says why."""
    monkeypatch.chdir(tmp_path)
    html = report.build(str(demo)).html
    assert "Rule conditions, as the trail records them" in html
    assert "not found from the current directory" in html
    changed = tmp_path / SEED
    changed.parent.mkdir(parents=True)
    changed.write_text((ROOT / SEED).read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    assert "differs from the run header" in report.build(str(demo)).html


def test_excerpt_of_a_criterion_with_comments_and_continuation():
    lines = (ROOT / SEED).read_text(encoding="utf-8").splitlines()
    header = next(n for n, line in enumerate(lines, 1) if line.startswith("exclusion E4 "))
    shown = report_source.excerpt(lines, header, [header + 1])
    assert lines[shown[0] - 1].startswith("#") and shown[-1] == header + 6
    assert lines[shown[-1] - 1].strip().startswith("or unstable_vital_signs")
    define = next(n for n, line in enumerate(lines, 1) if line.startswith("define refractory_sle"))
    assert lines[report_source.excerpt(lines, define, [define + 2])[-1] - 1].strip() == "}"


# -- in a real browser -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def chromium() -> str:
    found = shutil.which("chromium") or ("/usr/bin/chromium" if os.path.exists("/usr/bin/chromium")
                                         else None)
    if found is None:
        pytest.skip("chromium is not installed and `make test` could not install it "
                    "(apt-get install chromium needs root and Debian's archive): the report's "
                    "browser tests need a real headless Chromium")
    return found


def browse(chromium: str, tmp: Path, url: str, *options: str) -> str:
    profile = tmp / f"profile-{len(list(tmp.glob('profile-*')))}"
    done = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--hide-scrollbars", f"--user-data-dir={profile}", *options, url],
        capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def rendered(chromium: str, tmp: Path, page: Path, fragment: str = "") -> Tree:
    """The DOM after the page's script ran (it marks <body data-ready>)."""
    dom = browse(chromium, tmp, page.as_uri() + fragment, "--dump-dom")
    tree = Tree(dom)
    (body,) = tree.all("body")
    assert body.get("data-ready") == "true", "the page's script did not run to its end"
    return tree


def visible(tree: Tree) -> dict[str, list[str]]:
    """Shown patients, each with the criteria shown inside it (hidden ones left out)."""
    shown: dict[str, list[str]] = {}
    current = None
    for tag, attrs in tree.elements:
        if tag == "section" and "patient" in (attrs.get("class") or ""):
            current = None if "hidden" in attrs else attrs["data-patient"]
            if current is not None:
                shown[current] = []
        elif tag == "article" and current is not None and "data-criterion" in attrs \
                and "hidden" not in attrs:
            shown[current].append(attrs["data-criterion"])
    return shown


@pytest.fixture(scope="module")
def page_file(demo, page, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("browser") / "report.html"
    path.write_text(page, encoding="utf-8")
    return path


def test_browser_shows_the_report(chromium, page_file, tmp_path, demo):
    tree = rendered(chromium, tmp_path, page_file)
    text = "".join(tree.text)
    shown = visible(tree)
    assert list(shown) == [r["patient"] for r in records_of(demo) if r["type"] == "patient"]
    assert all(len(criteria) == 23 for criteria in shown.values())
    for patient, decision in DECIDED.items():
        assert patient in text
        assert tree.all("section", data_patient=patient)[0]["data-decision"] == decision
    assert "Trail verification: intact" in text and LIVER_TEXT in text
    assert "23 of 23 patients shown" in text
    assert len(tree.all("svg", id="chart")) == 1
    assert len([a for t, a in tree.elements if t == "rect"]) == 23


ALL = ["I1", "I2", "I3", "I4.cardiac", "I4.renal", "I4.liver", "I4.lung", "I5", "I6", "I7",
       *(f"E{n}" for n in range(1, 14))]


@pytest.mark.parametrize("fragment, expected", [
    ("#criterion=I4.liver&verdict=NOT_MET", {"P05-tbil-mg-dL": ["I4.liver"]}),
    # a NEEDS_REVIEW verdict, whatever the decision (P10 is INELIGIBLE on I4.lung)
    ("#verdict=NEEDS_REVIEW", {"P09-judgment-pending": ["E13"],
                               "P10-lung-lesions-spo2-90": ["E13"]}),
    ("#q=P13-hiv", {"P13-hiv-result-missing": ALL}),
    # the search reads the evidence too; every E8 has the condition, only P13's lacks the fact
    ("#q=hiv_antibody%3A%20no%20fact", {"P13-hiv-result-missing": ["E8"]}),
    ("#q=hiv_antibody%20is%20positive&decision=NEEDS_REVIEW",
     {p: ["E8"] for p in ("P09-judgment-pending", "P11-stale-lvef", "P13-hiv-result-missing",
                          "P23-weight-missing-dose-per-kg")}),
    ("#decision=NEEDS_REVIEW&criterion=I2", {"P09-judgment-pending": ["I2"],
                                             "P11-stale-lvef": ["I2"],
                                             "P13-hiv-result-missing": ["I2"],
                                             "P23-weight-missing-dose-per-kg": ["I2"]}),
])
def test_browser_filters_from_the_fragment(chromium, page_file, tmp_path, fragment, expected):
    """The script reads the filter from the URL fragment: only matching patients and criteria
    show, the matching patients are opened, and the count says how many."""
    tree = rendered(chromium, tmp_path, page_file, fragment)
    assert visible(tree) == expected
    (body,) = tree.all("body")
    assert body["data-shown"] == str(len(expected))
    assert f"{len(expected)} of 23 patients shown" in "".join(tree.text)
    opened = [attrs for tag, attrs in tree.elements if tag == "details" and "open" in attrs]
    assert len(opened) == len(expected)


def test_browser_runs_no_injected_script(chromium, demo, tmp_path):
    """A script or an image tag in the trail stays text: the DOM has neither, the title is the
    page's own, and the page's script (allowed by its hash) still ran."""
    page = tmp_path / "hostile.html"
    page.write_text(report.build(str(hostile_trail(demo, tmp_path / "hostile.jsonl"))).html,
                    encoding="utf-8")
    tree = rendered(chromium, tmp_path, page)
    assert len(tree.all("script")) == 1 and not tree.all("img")
    (title,) = re.findall(r"<title>([^<]*)</title>", tree.source.split("<body")[0])
    assert title == "Decision trail report: cd19-ucart-sle version 1.0"
    assert HOSTILE in "".join(tree.text)


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_browser_screenshot(chromium, page_file, tmp_path):
    """A screenshot of the report filtered to one excluding criterion: header, verification,
    cohort, chart, the filter and one patient's criterion in full. With UPDATE_GOLDEN=1 it is
    taken of the README's own `out/report.html` and kept as docs/report.png."""
    shot = tmp_path / "report.png"
    target = page_file
    if os.environ.get("UPDATE_GOLDEN"):
        (ROOT / "out").mkdir(exist_ok=True)
        assert cli.main(["run", SEED, PATIENTS, "--trail", "out/trail.jsonl"]) == 0
        assert cli.main(["report", "out/trail.jsonl", "-o", "out/report.html"]) == 0
        target = ROOT / "out" / "report.html"
    browse(chromium, tmp_path, target.as_uri() + "#criterion=I4.liver&verdict=NOT_MET",
           f"--screenshot={shot}", "--window-size=1280,1600")
    data = shot.read_bytes()
    assert png_size(data) == (1280, 1600)
    assert len(data) > 50_000, "the screenshot looks blank"
    if os.environ.get("UPDATE_GOLDEN"):
        SCREENSHOT.parent.mkdir(exist_ok=True)
        SCREENSHOT.write_bytes(data)
    assert png_size(SCREENSHOT.read_bytes()) == (1280, 1600)


def test_a_page_that_cannot_be_written(demo, tmp_path, capsys):
    """An output under a file, not a directory: one line naming it, exit 2, nothing left."""
    (tmp_path / "file").write_text("x", encoding="utf-8")
    out = tmp_path / "file" / "report.html"
    assert cli.main(["report", str(demo), "-o", str(out)]) == 2
    assert capsys.readouterr().err == f"proto-rules: cannot write report {out}: File exists\n"
    assert list(tmp_path.iterdir()) == [tmp_path / "file"]


def test_a_trail_unreadable_halfway_leaves_no_page(demo, tmp_path, capsys):
    """The page is written as the trail streams: a record found unreadable on the way stops it,
    exit 2, and neither the page nor its part is left."""
    lines = demo.read_text(encoding="utf-8").splitlines(keepends=True)
    record = json.loads(lines[10])
    record["criteria"][0]["verdict"] = None
    lines[10] = json.dumps(record) + "\n"
    trail = tmp_path / "broken.jsonl"
    trail.write_text("".join(lines), encoding="utf-8")
    out = tmp_path / "report.html"
    assert cli.main(["report", str(trail), "-o", str(out)]) == 2
    assert capsys.readouterr().err.endswith("line 11: the decided record has no valid "
                                            "'criteria[1].verdict' (not string)\n")
    assert list(tmp_path.iterdir()) == [trail]
