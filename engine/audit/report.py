"""The decision trail as one self-contained HTML page, for an auditor.

`write(path, out)` reads a trail written by `proto-rules run --trail` (no engine run: the trail
holds everything) as a stream and writes the page a patient at a time (`build(path)`: the page as
one string), with the verification it shows: the run header
and whether the trail verifies (`engine/audit/verify.py`: its hash chain and seal), a cohort summary
(counts by decision, and the criteria that excluded most patients as an inline SVG bar chart),
then per patient every criterion with its verdict, the protocol's sentence, the rule's source lines
with their numbers, the evidence for each part of its condition, the facts it read and, when it
blocks or holds the decision open, why not.

Self-contained: inline CSS and JavaScript (vanilla), no fonts, images or requests; a
Content-Security-Policy allows only the page's own script and style (by hash), so nothing loads from
the network and a string that slipped through escaping could not run. Every string from the trail is
escaped with `html.escape`. The same trail (and the same protocol file beside it) gives the same
bytes: nothing reads the clock, and everything is emitted in trail order or a fixed order.

The script filters patients and criteria: a search box (patient id, criterion, sentence, evidence,
facts), a decision, a criterion and a verdict. The filter lives in the URL fragment
(`report.html#criterion=E8&verdict=MET`, also `q=` and `decision=`), so a filtered view is a link;
the chart's bars are such links.

The source lines come from the protocol file named in each rule's `file:line`, read relative to the
current directory, but only if its SHA-256 is the one the run header recorded; otherwise (moved,
edited) the page shows the condition parts the trail itself records, and says why
(`engine/audit/report_source.py`).

One page of every patient grows with the trail; a large trail's report is a summary page and pages
of patients (`engine/audit/report_pages.py`), which draw their sections with the functions here.
"""

from __future__ import annotations

import base64
import hashlib
import io
from collections import Counter
from dataclasses import dataclass
from html import escape
from typing import Any, Callable, Iterable, Iterator, TextIO
from urllib.parse import quote

from engine.audit.report_page import CSS, SCRIPT
from engine.audit.report_source import Sources, excerpt
from engine.attrition import Attrition, attrition
from engine.audit.explain import DERIVED_WORDS, NO_FACTS_SHA256, Outlined, outline
from engine.audit.trail import facts_sha256, opening, stream, would_pass
from engine.audit.verify import Verification, verify
from protocol.errors import UsageError

ROLES = ("inclusion", "exclusion")
DECISIONS = ("ELIGIBLE", "INELIGIBLE", "NEEDS_REVIEW", "REJECTED")
VERDICTS = ("MET", "NOT_MET", "UNKNOWN", "NEEDS_REVIEW", "NOT_APPLICABLE")
MARKS = {"true": ("+", "holds"), "false": ("\u2212", "does not hold"),
         "unknown": ("?", "cannot be judged")}

@dataclass(frozen=True)
class Status:
    """The trail's verification as the page shows it: `state` is intact, tampered or unverified."""

    state: str
    text: str
    detail: str


@dataclass(frozen=True)
class Report:
    html: str
    status: Status
    patients: int


def build(path: str) -> Report:
    """The report of the trail at `path` in one string (`write`); `UsageError` if it cannot be
    read as a decision trail."""
    out = io.StringIO()
    status, patients = write(path, out)
    return Report(out.getvalue(), status, patients)


def write(path: str, out: TextIO, limit: int | None = None) -> tuple[Status, int]:
    """Write the page of the trail at `path` to `out`, a patient at a time: the trail is read as
    a stream, twice (the cohort summary at the top counts the patients shown below it), so memory
    does not grow with the patients. Returns the verification the page shows and the number of
    patients. A file that is not a decision trail is refused before anything is written, and so
    is a trail of more than `limit` patients (a page of them would not open: `report_pages`)."""
    opening(path)
    with open(path, "rb") as handle:
        digest = hashlib.file_digest(handle, "sha256").hexdigest()
    status = check(path)
    page = Page(lambda: stream(path), trail=path, trail_sha256=digest, status=status,
                 limit=limit)
    for chunk in page.chunks():
        out.write(chunk)
    return status, page.patients


def check(path: str) -> Status:
    """Verify the trail's hash chain and seal (engine/audit/verify.py)."""
    return status_of(verify(path))


def status_of(result: Verification) -> Status:
    """What the page says for a verification: ok or not, how many records, where it broke."""
    if result.ok and result.cut:
        return Status("intact", f"intact ({result.records} records), incomplete: {result.cut}",
                      "every record is chained to the one before it by SHA-256 and the seal "
                      "counts them; the run itself stopped early")
    if result.ok:
        return Status("intact", f"intact ({result.records} records)",
                      "every record is chained to the one before it by SHA-256 and the seal "
                      "counts them: nothing was edited, inserted, deleted, reordered or cut off")
    return Status("tampered", f"TAMPERED: {result.problem} at line {result.line}",
                  "the trail is not as it was written: what follows is what the file says now, "
                  "and cannot be relied on")


UNVERIFIED = Status("unverified", "not verified", "the trail's integrity was not checked")


# -- the model of the page -------------------------------------------------------------------------

@dataclass
class Patient:
    id: str
    record: dict[str, Any] | None = None
    definitions: list[dict[str, Any]] | None = None
    criteria: list[dict[str, Any]] | None = None
    decision: dict[str, Any] | None = None
    rejected: dict[str, Any] | None = None

    @property
    def outcome(self) -> str:
        if self.rejected is not None:
            return "REJECTED"
        return str(self.decision["decision"]) if self.decision else "UNDECIDED"


def patients_of(records: Iterable[dict[str, Any]]) -> Iterator[Patient]:
    """Patients in trail order, each once its records are read; a patient's records follow its
    `patient` record."""
    current: Patient | None = None
    for record in records:
        kind = record["type"]
        if kind == "patient":
            if current is not None:
                yield current
            current = Patient(record["patient"], record, [], [], None)
        elif kind == "rejected":
            if current is not None:
                yield current
            current = None
            yield Patient(str(record.get("patient") or ""), rejected=record)
        elif kind in ("definition", "criterion", "decision"):
            if current is None or current.id != record["patient"]:
                if current is not None:
                    yield current
                current = Patient(record["patient"], None, [], [], None)
            if kind == "definition":
                current.definitions.append(record)
            elif kind == "criterion":
                current.criteria.append(record)
            else:
                current.decision = record
    if current is not None:
        yield current


def effect(role: str, verdict: str) -> str:
    """What a verdict does to the decision: blocks (inclusion NOT_MET, exclusion MET), open
    (UNKNOWN, NEEDS_REVIEW), na (NOT_APPLICABLE) or passes."""
    if verdict in ("UNKNOWN", "NEEDS_REVIEW"):
        return "open"
    if verdict == "NOT_APPLICABLE":
        return "na"
    blocking = "NOT_MET" if role == "inclusion" else "MET"
    return "blocks" if verdict == blocking else "passes"


# -- rendering -------------------------------------------------------------------------------------

def e(value: Any) -> str:
    """Any trail value as escaped HTML text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return escape(str(value), quote=True)


def render(records: list[dict[str, Any]], trail: str = "trail", trail_sha256: str | None = None,
           status: Status = UNVERIFIED) -> str:
    """The page for these trail records (as `engine.audit.trail.read` returns them)."""
    return "".join(Page(lambda: records, trail, trail_sha256, status).chunks())


#: Rejected records a summary page lists (the rest are on the pages of patients), so that a
#: registry whose records are all unusable still gets a summary that opens.
REJECTED_LISTED = 1000


@dataclass
class Cohort:
    """What the cohort summary counts, over every patient (the first pass of `Page`): the
    decisions, the criteria that excluded and held open, each criterion's verdicts, and the first
    `REJECTED_LISTED` rejected records with their patient numbers."""

    outcomes: Counter[str]
    excluded: Counter[str]
    held: Counter[tuple[str, str]]
    verdicts: Counter[tuple[str, str]]
    rejected: list[tuple[int, Patient]]


class Page:
    """The page, written in order from two passes over the records (`records()` gives them
    again each time): the first reads the run, protocol and summary records and counts the
    cohort; the second renders the patients one by one."""

    def __init__(self, records: Callable[[], Iterable[dict[str, Any]]], trail: str,
                 trail_sha256: str | None, status: Status, limit: int | None = None) -> None:
        self.records, self.trail, self.trail_sha256, self.status = \
            records, trail, trail_sha256, status
        self.patients, self.limit = 0, limit

    def chunks(self) -> Iterator[str]:
        run, protocol, summary = self.survey()
        if self.limit is not None and self.patients > self.limit:
            raise UsageError(f"{self.trail} holds {self.patients} patients, more than one page "
                             f"shows ({self.limit}): give a directory (-o DIR/) for a summary "
                             "page and pages of patients")
        entries = [x for x in protocol["definitions"] + protocol["criteria"] if isinstance(x, dict)]
        static = {str(entry.get("id")): entry for entry in entries}
        order = [str(entry.get("id")) for entry in protocol["criteria"] if isinstance(entry, dict)]
        sources = Sources(run)
        title = f"Decision trail report: {run['protocol'].get('id', '?')} " \
                f"version {run['protocol'].get('version', '?')}"
        yield page_head(title, CSS, SCRIPT, self.status)
        yield header(run, facts_sha256([run, *([summary] if summary else [])]), self.trail,
                      self.trail_sha256, self.status) + "\n"
        yield cohort_section(self.cohort, static, order, summary) + "\n"
        yield attrition_section(attrition(self.records()), static) + "\n"
        yield filters(order, static) + "\n"
        yield '<section id="patients" aria-label="patients">\n'
        for n, patient in enumerate(patients_of(self.records()), start=1):
            yield patient_section(n, patient, static, sources) + "\n"
        yield "</section>\n"
        yield files_note(sources)
        yield f"\n</main>\n<script>{SCRIPT}</script>\n</body>\n</html>\n"

    def survey(self) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any] | None]:
        """The first pass: the run, protocol and summary records, and the cohort's counts."""
        run = protocol = summary = None
        self.cohort = Cohort(Counter(), Counter(), Counter(), Counter(), [])

        def kept(records: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
            nonlocal run, protocol, summary
            for record in records:
                kind = record["type"]
                if kind == "run" and run is None:
                    run = record
                elif kind == "protocol" and protocol is None:
                    protocol = record
                elif kind == "summary" and summary is None:
                    summary = record
                self.patients += kind in ("patient", "rejected")
                yield record

        for n, patient in enumerate(patients_of(kept(self.records())), start=1):
            self.cohort.outcomes[patient.outcome] += 1
            if patient.rejected is not None and len(self.cohort.rejected) < REJECTED_LISTED:
                self.cohort.rejected.append((n, patient))
            for record in patient.criteria or []:
                self.cohort.verdicts[record["criterion"], record["verdict"]] += 1
                result = effect(record["role"], record["verdict"])
                if result == "blocks":
                    self.cohort.excluded[record["criterion"]] += 1
                elif result == "open":
                    self.cohort.held[record["criterion"], record["verdict"]] += 1
        if run is None or protocol is None:  # a report is drawn from them: nothing to show
            missing = "run" if run is None else "protocol"
            raise UsageError(f"cannot report {self.trail}: it has no {missing} record, which says "
                             "what was run (lines deleted?); `proto-rules verify` says where it "
                             "breaks")
        return run, protocol, summary


def page_head(title: str, css: str, script: str, status: Status, beside: bool = False) -> str:
    """A page's head, up to its `<main>`: the style inline, and a Content-Security-Policy that
    allows only this style and this script (by hash), so nothing loads from the network;
    `beside`: and the scripts of the page's own origin, the summary's index files beside it
    (`engine/audit/report_index.py`; for a page opened from a file, local files)."""
    own = " 'self'" if beside else ""
    policy = (f"default-src 'none'; style-src '{_csp_hash(css)}'; "
              f"script-src '{_csp_hash(script)}'{own}; img-src data:; base-uri 'none'; "
              "form-action 'none'")
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f'<meta http-equiv="Content-Security-Policy" content="{policy}">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{e(title)}</title>\n<style>{css}</style>\n</head>\n"
            f'<body data-verification="{status.state}">\n<main>\n')


def _csp_hash(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()


def header(run: dict[str, Any], facts_digest: str | None, trail: str, digest: str | None,
            status: Status) -> str:
    p, facts, network = run["protocol"], run["facts"], run["network"]
    rows = [
        ("protocol", f"{e(p.get('id'))} version {e(p.get('version'))}",
         f"{e(p.get('file'))}<br><code>sha256 {e(p.get('sha256'))}</code>"),
        ("facts", e(facts.get("file")),
         f"<code>sha256 {e(facts_digest)}</code>" if facts_digest else e(NO_FACTS_SHA256)),
        ("screening date", e(run.get("screening_date") or "from each patient record"), ""),
        ("engine", f"{e(run['tool'])}, {e(run['engine'])}",
         f"network {e(network.get('name'))}, {e(network.get('rules'))} rules<br>"
         f"<code>sha256 {e(network.get('sha256'))}</code>"),
        ("trail", e(trail), f"<code>sha256 {e(digest)}</code>" if digest else ""),
    ]
    table = "".join(f'<tr><th scope="row">{label}</th><td>{value}</td><td class="aside">{more}</td>'
                    "</tr>" for label, value, more in rows)
    return (f'<header>\n<h1>Eligibility decisions: {e(p.get("id"))} '
            f'<span class="version">version {e(p.get("version"))}</span></h1>\n'
            f'<p id="verification" class="verification {status.state}" role="status">'
            f'<strong>Trail verification: {e(status.text)}</strong>'
            f'<span>{e(status.detail)}</span></p>\n'
            f'<table class="run">{table}</table>\n</header>')


def cohort_section(cohort: Cohort, static: dict[str, dict[str, Any]], order: list[str],
                   summary: dict[str, Any] | None) -> str:
    counts, excluded, held = cohort.outcomes, cohort.excluded, cohort.held
    cards = "".join(f'<div class="card {d.lower()}"><span class="count">{counts.get(d, 0)}</span>'
                    f'<span class="label">{e(d.replace("_", " ").lower())}</span></div>'
                    for d in DECISIONS)
    decided = sum(counts.get(d, 0) for d in DECISIONS[:3])
    notes = []
    if summary is not None:
        claimed = {str(k): v for k, v in summary["decisions"].items()}
        found = {d: counts[d] for d in sorted(counts) if counts[d]}
        if claimed != found:
            notes.append('<p class="warning">The trail\'s summary record says '
                         f'{e(_counts(claimed))}, but its patient records give '
                         f'{e(_counts(found))}.</p>')
    else:
        notes.append('<p class="warning">The trail has no summary record: it may be cut '
                     "short.</p>")
    rank = {c: n for n, c in enumerate(order)}
    bars = sorted(excluded, key=lambda c: (-excluded[c], rank.get(c, len(rank)), c))
    chart = _chart(bars, excluded, static, decided)
    if held:
        items = "".join(f'<li><a href="#criterion={e(fragment(c))}&amp;verdict='
                        f'{e(fragment(v))}">{e(c)} {e(v)}</a>: {n}</li>' for (c, v), n in
                        sorted(held.items(), key=lambda i: (rank.get(i[0][0], len(rank)), i[0])))
        notes.append('<div class="held"><h3>Verdicts left open</h3><p class="hint">Patients '
                     f"whose criterion could not be decided, by verdict:</p><ul>{items}</ul></div>")
    return (f'<section id="cohort" aria-label="cohort summary">\n<h2>Cohort</h2>\n'
            f'<div class="cohort"><div class="counts"><div class="cards">{cards}</div>\n'
            f'<p class="decided">{decided} patients decided, {counts.get("REJECTED", 0)} '
            "records rejected (their facts could not be used).</p>\n"
            f'{"".join(notes)}</div>\n<div class="excluded">'
            "<h3>Criteria that excluded most patients</h3>\n"
            '<p class="hint">Inclusion criteria NOT_MET and exclusion criteria MET, counted over '
            "patients (one patient can be excluded by several). A bar links to its patients.</p>\n"
            f"{chart}</div></div>\n</section>")


def attrition_section(table: Attrition, static: dict[str, dict[str, Any]]) -> str:
    """The attrition table (`engine/attrition.py`, as `proto-rules attrition` prints it): the
    criteria in protocol order, the patients each turns away, alone, remaining after it, and the
    verdicts it leaves open; each criterion links to its patients."""
    rows = "".join(
        f'<tr><td><a href="#criterion={e(fragment(row.criterion))}" title="'
        f'{e(static.get(row.criterion, {}).get("text") or "")}">{e(row.criterion)}</a></td>'
        f"<td>{e(row.role)}</td><td>{row.fails}</td><td>{row.alone}</td>"
        f"<td>{row.remaining}</td><td>{row.open}</td></tr>" for row in table.rows)
    rejected = f", {table.rejected} records rejected (not counted)" if table.rejected else ""
    return (f'<section id="attrition" aria-label="attrition">\n<h2>Attrition</h2>\n'
            f'<p class="hint">{table.patients} patients decided{rejected}. Criteria in protocol '
            "order: turns away (inclusion NOT_MET or exclusion MET), alone (and no other "
            "criterion), remaining (turned away by neither it nor any before it), open (UNKNOWN "
            "or NEEDS_REVIEW).</p>\n<table class=\"attrition\"><thead><tr><th>criterion</th>"
            "<th>role</th><th>turns away</th><th>alone</th><th>remaining</th><th>open</th>"
            f"</tr></thead><tbody>{rows}</tbody></table>\n</section>")


def _counts(counts: dict[str, Any]) -> str:
    return ", ".join(f"{k} {v}" for k, v in counts.items()) or "nothing"


def fragment(text: str) -> str:
    """A value for the URL fragment the script reads (percent-encoded; escape it as well)."""
    return quote(text, safe="")


def _chart(bars: list[str], counts: Counter[str], static: dict[str, dict[str, Any]],
           decided: int) -> str:
    """Horizontal bars, one per criterion that excluded a patient, most first; each bar links to
    the filtered list of those patients and carries the criterion's sentence as its tooltip."""
    width, label_w, bar_w, row_h, top = 780, 190, 540, 19, 8
    if not bars:
        return (f'<svg id="chart" class="chart" role="img" width="{width}" height="40" '
                f'viewBox="0 0 {width} 40" aria-label="no criterion excluded a patient">'
                '<text x="12" y="24" class="empty">No criterion excluded a patient.</text></svg>')
    most = max(counts[c] for c in bars)
    bottom = top + row_h * len(bars)
    height = bottom + 24
    parts = [f'<svg id="chart" class="chart" role="img" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" aria-labelledby="chart-title">'
             '<title id="chart-title">Criteria that excluded most patients</title>']
    for tick in range(0, most + 1, max(1, (most + 4) // 5)):
        x = label_w + bar_w * tick / most
        parts.append(f'<line class="grid" x1="{x:.1f}" y1="{top - 4}" x2="{x:.1f}" y2="{bottom}"/>'
                     f'<text class="tick" x="{x:.1f}" y="{height - 8}" text-anchor="middle">'
                     f"{tick}</text>")
    for n, criterion in enumerate(bars):
        entry = static.get(criterion, {})
        role = entry.get("role") if entry.get("role") in ROLES else "inclusion"
        verdict = "NOT_MET" if role == "inclusion" else "MET"
        y = top + n * row_h
        length = max(2.0, bar_w * counts[criterion] / most)
        words = f"{criterion} ({role} {verdict}): {counts[criterion]} of {decided} patients"
        parts.append(
            f'<a class="bar {role}" href="#criterion={e(fragment(criterion))}&amp;verdict='
            f'{verdict}" data-criterion="{e(criterion)}" data-count="{counts[criterion]}">'
            f'<title>{e(words)}\n{e(entry.get("text") or "")}</title>'
            f'<text class="label" x="{label_w - 10}" y="{y + 14}" text-anchor="end">{e(criterion)}'
            f' <tspan class="role">{role[:4]}. {verdict}</tspan></text>'
            f'<rect x="{label_w}" y="{y + 3}" width="{length:.1f}" height="{row_h - 5}" rx="2"/>'
            f'<text class="value" x="{label_w + length + 8:.1f}" y="{y + 14}">{counts[criterion]}'
            "</text></a>")
    parts.append("</svg>")
    legend = ('<p class="legend"><span class="swatch inclusion"></span>inclusion not met '
              '<span class="swatch exclusion"></span>exclusion met</p>')
    return "".join(parts) + legend


def filters(order: list[str], static: dict[str, dict[str, Any]], pages: bool = False) -> str:
    """The search and filter form of a page of patients; `pages`: the summary's, over its table
    of pages (a patient id, no expand buttons, no legend of the evidence)."""
    def options(values: Iterable[tuple[str, str]], everything: str) -> str:
        return f'<option value="">{everything}</option>' + "".join(
            f'<option value="{e(v)}">{e(label)}</option>' for v, label in values)

    criteria = [(c, f"{c} ({static[c].get('role') or '?'})") for c in order]
    hint = "start of a patient id" if pages else "patient id, criterion, sentence, fact ..."
    form = (
        f'<section id="filters" aria-label="filters">\n<h2>{"Pages" if pages else "Patients"}'
        '</h2>\n<form id="filter" class="filters" role="search">'
        f'<label>Search <input id="f-q" type="search" placeholder="{hint}" '
        'autocomplete="off"></label>'
        f'<label>Decision <select id="f-decision">{options(((d, d) for d in DECISIONS), "any")}'
        "</select></label>"
        f'<label>Criterion <select id="f-criterion">{options(criteria, "any")}</select></label>'
        f'<label>Verdict <select id="f-verdict">{options(((v, v) for v in VERDICTS), "any")}'
        "</select></label>"
        '<button type="button" id="f-reset">Reset</button>')
    if pages:
        return form + '<output id="f-shown" aria-live="polite"></output></form>\n</section>'
    return (
        form + '<button type="button" id="f-open">Expand all</button>'
        '<button type="button" id="f-close">Collapse all</button>'
        '<output id="f-shown" aria-live="polite"></output></form>\n'
        '<p class="legend">Evidence: <span class="mark true">+</span> holds '
        '<span class="mark false">\u2212</span> does not hold '
        '<span class="mark unknown">?</span> cannot be judged (data missing, stale or unusable). '
        "Verdict colours say what the verdict does to the decision: "
        '<span class="verdict blocks">excludes</span> <span class="verdict open">holds open'
        '</span> <span class="verdict passes">passes</span> <span class="verdict na">does not '
        "apply</span>.</p>\n</section>")


def patient_section(number: int, patient: Patient, static: dict[str, dict[str, Any]],
                    sources: Sources, referred: bool = False) -> str:
    """A patient's section. `referred` (the pages of a paged report) states the protocol's
    sentences, source lines and condition parts once per page (`report_pages.rules`) and links
    to them, and the facts once per patient, instead of once per criterion: a third of the
    bytes."""
    outcome = patient.outcome
    head = (f'<summary class="phead"><span class="pid">{e(patient.id) or "(no patient id)"}'
            f'</span><span class="decision {e(outcome.lower())}">{e(outcome)}</span>')
    if patient.rejected is not None:
        record = patient.rejected
        problems = "".join(f"<li>{e(p)}</li>" for p in record["problems"])
        return (f'<section class="patient" id="p{number}" data-patient="{e(patient.id)}" '
                f'data-decision="REJECTED"><details>{head}<span class="why">fact file line '
                f'{e(record["record"])}: the facts could not be used</span></summary>'
                f'<div class="pbody"><ul class="problems">{problems}</ul></div></details>'
                "</section>")
    reasons = patient.decision["reasons"] if patient.decision else []
    because = "; ".join(f"{r.get('role')} {r.get('criterion')} {r.get('verdict')}"
                        for r in reasons if isinstance(r, dict))
    record = patient.record or {}
    where = (f'fact file line {e(record.get("record"))}, screening date '
             f'{e(record.get("screening_date"))}') if record else "no patient record"
    head += (f'<span class="why">{e(because)}</span><span class="where">{where}</span>'
             "</summary>")
    facts = {f.get("index"): f for f in record.get("facts", []) if isinstance(f, dict)}
    body = ['<div class="pbody">']
    warnings = record.get("warnings", [])
    if warnings:
        body.append('<ul class="warnings">' + "".join(f"<li>{e(w)}</li>" for w in warnings)
                    + "</ul>")
    anchors: dict[str, str] = {}
    for k, criterion in enumerate(patient.criteria or [], start=1):
        anchors.setdefault(criterion["criterion"], f"p{number}-c{k}")
    if reasons:
        links = ", ".join(
            f'<a href="#{anchors[r.get("criterion")]}">{e(r.get("role"))} {e(r.get("criterion"))} '
            f'{e(r.get("verdict"))}</a>' if r.get("criterion") in anchors else
            f'{e(r.get("role"))} {e(r.get("criterion"))} {e(r.get("verdict"))}'
            for r in reasons if isinstance(r, dict))
        body.append(f'<p class="reasons">{e(outcome)} because of: {links}</p>')
    settle = [n for n in (patient.decision or {}).get("to_settle") or [] if isinstance(n, dict)]
    if settle:
        body.append('<ul class="settle">' + "".join(
            f'<li>to be eligible, {e(n.get("criterion"))} needs <code>{e(n.get("needs"))}</code> '
            f'(line {e(n.get("line"))})</li>' for n in settle) + "</ul>")
    for definition in patient.definitions or []:
        body.append(_definition(definition, static, sources, referred))
    for k, criterion in enumerate(patient.criteria or [], start=1):
        body.append(_criterion(criterion, static, facts, sources, f"p{number}-c{k}",
                               f"p{number}-f" if referred else None))
    if referred:  # after the criteria, which refer to them by number
        read = {i for r in patient.criteria or [] for i in r["facts"] if i in facts}
        body.append(_facts([facts[i] for i in sorted(read, key=_index)], f"p{number}-f"))
    body.append("</div>")
    return (f'<section class="patient" id="p{number}" data-patient="{e(patient.id)}" '
            f'data-decision="{e(outcome)}"><details>{head}{"".join(body)}</details></section>')


def _definition(record: dict[str, Any], static: dict[str, dict[str, Any]],
                sources: Sources, referred: bool = False) -> str:
    entry = static.get(record["definition"], {})
    value = DERIVED_WORDS.get(record["value"], record["value"])
    if referred:
        return (f'<article class="def" data-definition="{e(record["definition"])}">'
                f'<h4><span class="kind">definition</span> {_rule_link(record["definition"])} = '
                f'{e(value)}</h4>{_evidence(entry, record["evidence"], record["definition"])}'
                "</article>")
    return (f'<article class="def" data-definition="{e(record["definition"])}">'
            f'<h4><span class="kind">definition</span> {e(record["definition"])} = {e(value)} '
            f'<span class="rule">{e(entry.get("rule"))}</span></h4>'
            f'{sentence(entry)}<div class="cols">{_evidence(entry, record["evidence"])}'
            f"{source_lines(entry, sources)}</div></article>")


def _rule_link(name: str, text: str | None = None) -> str:
    """A link to the statement of a criterion or definition on its page (`report_pages.rules`)."""
    return f'<a href="#{e(rule_anchor(name))}">{e(name if text is None else text)}</a>'


def rule_anchor(name: str) -> str:
    """The id of a criterion's or definition's statement on a page of patients."""
    return "rule-" + quote(name, safe="")


def _index(index: Any) -> tuple[bool, int]:
    """Facts in the patient's order, the derived (index -1) last."""
    return (not isinstance(index, int) or index < 0, index if isinstance(index, int) else 0)


def _criterion(record: dict[str, Any], static: dict[str, dict[str, Any]],
               facts: dict[Any, dict[str, Any]], sources: Sources, anchor: str,
               referred: str | None = None) -> str:
    """A criterion's verdict and why; `referred`: the id of the patient's facts table, to which
    it refers by fact number, its sentence and source stated once on the page."""
    entry = static.get(record["criterion"], {})
    verdict, role = record["verdict"], record["role"]
    result = effect(role, verdict)
    used = [i for i in record["facts"] if i in facts]
    fired = record.get("fired") or []
    head = (f'<article class="crit {result}" id="{anchor}" data-criterion="'
            f'{e(record["criterion"])}" data-verdict="{e(verdict)}" data-role="{e(role)}">')
    if referred is not None:
        numbers = ", ".join(f'<a href="#{referred}-{e(i)}">{_fact_number(i)}</a>' for i in used)
        parts = [head, f'<h4><span class="verdict {result}">{e(verdict)}</span> '
                 f'{_rule_link(record["criterion"])} <span class="kind">{e(role)}</span></h4>',
                 _why(record, entry, result),
                 _evidence(entry, record["evidence"], record["criterion"]),
                 f'<p class="used">facts read: {numbers}</p>' if numbers else
                 '<p class="nofacts">No fact of the patient\'s was read.</p>']
    else:
        parts = [
            head,
            f'<h4><span class="verdict {result}">{e(verdict)}</span> {e(record["criterion"])} '
            f'<span class="kind">{e(role)}</span> <span class="rule">{e(entry.get("rule"))}'
            "</span></h4>",
            sentence(entry),
            _why(record, entry, result),
            f'<div class="cols">{_evidence(entry, record["evidence"])}'
            f"{source_lines(entry, sources)}</div>",
            _facts([facts[i] for i in used]),
        ]
    if fired:
        parts.append(f'<p class="fired">rules fired: {e(", ".join(map(str, fired)))}</p>')
    parts.append("</article>")
    return "".join(parts)


def sentence(entry: dict[str, Any]) -> str:
    if not entry:
        return '<p class="warning">Not in the trail\'s protocol record.</p>'
    if not entry.get("text"):
        return '<blockquote class="sentence none">(no protocol text)</blockquote>'
    return f'<blockquote class="sentence">{e(entry["text"])}</blockquote>'


def _joined(entry: dict[str, Any], evidence: list[Any]) -> list[tuple[dict, dict]]:
    conditions = entry.get("conditions") or []
    joined = []
    for n, item in enumerate(evidence):
        condition = conditions[n] if n < len(conditions) and isinstance(conditions[n], dict) else {}
        joined.append((condition, item if isinstance(item, dict) else {}))
    return joined


def _evidence(entry: dict[str, Any], evidence: list[Any], referred: str | None = None) -> str:
    """Each part of the condition, what it saw and needed; `referred` (the criterion's name):
    the part by its line, linked to the condition stated once on the page."""
    rows = []
    for condition, item in _joined(entry, evidence):
        status = item.get("status") if item.get("status") in MARKS else "unknown"
        mark, words = MARKS[status]
        line = f'line {e(condition.get("line", "?"))}'
        said = (_rule_link(referred, f"line {condition.get('line', '?')}") if referred is not None
                else f'<code>{e(condition.get("text", "?"))}</code> <span class="line">{line}'
                "</span>")
        rows.append(f'<li class="{status}"><span class="mark {status}" title="{words}">{mark}'
                    f'</span>{said}<div class="detail">{e(item.get("detail"))}</div></li>')
    found = entry.get("shape")
    if found is not None and len(rows) == len(entry.get("conditions") or ()):
        rows = [_shaped(found, rows, [i.get("status") for _, i in _joined(entry, evidence)])]
    if referred is not None:
        return f'<ul class="evidence">{"".join(rows)}</ul>'

    return (f'<div class="evidence"><h5>Evidence, part by part</h5><ul>{"".join(rows)}</ul>'
            "</div>")


def _shaped(found: Any, rows: list[str], statuses: list[Any]) -> str:
    """The parts' items nested under the connectives that join them, where not all are needed
    (the entry's `shape`, checked when the trail was read), each group marked by whether it
    holds, as `explain` draws them (`outline`)."""
    def item(drawn: Outlined) -> str:
        if drawn.part is not None:
            return rows[drawn.part]
        inner = [item(each) for each in drawn.items]
        return _group(drawn.heading, drawn.status, inner) if drawn.heading else "".join(inner)

    marked = [status if status in MARKS else "unknown" for status in statuses]
    return "".join(item(drawn) for drawn in outline(found, marked))


def _group(said: str, status: str, items: list[str]) -> str:
    mark, words = MARKS[status]
    return (f'<li class="group {status}"><span class="mark {status}" title="{words}">{mark}'
            f'</span>{e(said)}:<ul>{"".join(items)}</ul></li>')


def source_lines(entry: dict[str, Any], sources: Sources) -> str:
    rule = str(entry.get("rule") or "")
    file, _, line = rule.rpartition(":")
    conditions = {c.get("line") for c in entry.get("conditions") or [] if isinstance(c, dict)}
    number = line.isascii() and line.isdigit() and len(line) < 10  # a line number, not 10^5000
    lines = sources.get(file) if file and number else None
    shown = excerpt(lines, int(line), [n for n in conditions if isinstance(n, int)]) \
        if lines is not None else []
    if shown:
        rows, previous = [], None
        for number in shown:
            if previous is not None and number != previous + 1:
                rows.append('<span class="gap">\u22ee</span>')
            kind = "cond" if number in conditions else ("head" if number == int(line) else "")
            rows.append(f'<span class="sl {kind}"><span class="ln">{number}</span>'
                        f"{e(lines[number - 1])}</span>")
            previous = number
        return (f'<div class="source"><h5>Rule source <span class="file">{e(file)}</span></h5>'
                f'<pre class="dsl">{"".join(rows)}</pre></div>')
    why = sources.notes.get(file, "no rule place in the trail")
    rows = "".join(f'<span class="sl cond"><span class="ln">{e(c.get("line"))}</span>'
                   f'{e(c.get("text"))}</span>'
                   for c in entry.get("conditions") or [] if isinstance(c, dict))
    return (f'<div class="source"><h5>Rule conditions, as the trail records them</h5>'
            f'<pre class="dsl">{rows}</pre><p class="note">{e(file or rule)}: source not shown '
            f"({e(why)})</p></div>")


def _why(record: dict[str, Any], entry: dict[str, Any], result: str) -> str:
    """Why the verdict is not the one that lets the patient through, from the evidence."""
    joined = _joined(entry, record["evidence"])

    def parts(status: str) -> str:
        return "; ".join(f'<code>{e(c.get("text", "?"))}</code> ({e(i.get("detail"))})'
                         for c, i in joined if i.get("status") == status)

    lines = []
    if result == "blocks" and record["role"] == "inclusion":
        lines.append(f"not met: these parts do not hold: {parts('false') or 'none recorded'}")
    elif result == "blocks":
        lines.append(f"excludes: these parts hold: {parts('true') or 'none recorded'}")
    elif result == "na":
        lines.append("does not apply: these parts do not hold: "
                     f"{parts('false') or 'none recorded'}")
    elif result == "open":
        missing = [m for m in record.get("missing") or [] if isinstance(m, dict)]
        if missing:
            lines.append("cannot be decided: missing " + "; ".join(
                f'{e(m.get("concept"))} ({e(m.get("reason"))})' for m in missing))
        pending = record.get("pending") or []
        if pending:
            lines.append("awaiting an investigator's judgment: " + ", ".join(map(e, pending)))
        if not lines:
            lines.append(f"cannot be judged: {parts('unknown') or 'none recorded'}")
        to_pass = [n for n in record.get("to_pass") or [] if isinstance(n, dict)]
        if to_pass:
            lines.append(f"{would_pass(record['role'], record)} with: " + "; and ".join(
                f'<code>{e(n.get("needs"))}</code> (line {e(n.get("line"))})' for n in to_pass))
    if not lines:
        return ""
    return ('<div class="whynot"><h5>Why not</h5>' + "".join(f"<p>{line}</p>" for line in lines)
            + "</div>")


def _fact_number(index: Any) -> str:
    return "derived" if index == -1 else "#" + e(index)


def _facts(used: list[dict[str, Any]], anchor: str | None = None) -> str:
    """The facts read, one row each; `anchor`: the table's id, each row's the fact's number after
    it (`p7-f-12`), for the criteria that refer to them."""
    if not used:
        return '<p class="nofacts">No fact of the patient\'s was read (see why not).</p>'
    rows = "".join(
        (f'<tr id="{anchor}-{e(f.get("index"))}">' if anchor else "<tr>")
        + f'<td>{_fact_number(f.get("index"))}</td>'
        f'<td>{e(f.get("concept"))}</td><td>{e(f.get("value"))}</td><td>{e(f.get("unit"))}</td>'
        f'<td>{e(f.get("date"))}</td><td>{e(f.get("converted"))}</td><td>{e(f.get("note"))}</td>'
        "</tr>" for f in used)
    caption = "Facts read by the criteria" if anchor else "Facts used"
    return (f'<table class="facts"><caption>{caption}</caption><thead><tr><th>fact</th>'
            "<th>concept</th><th>value</th><th>unit</th><th>date</th><th>converted</th>"
            f"<th>note</th></tr></thead><tbody>{rows}</tbody></table>")


def files_note(sources: Sources) -> str:
    if not sources.notes:
        return ""
    items = "".join(f"<li><code>{e(file)}</code>: {e(note)}</li>"
                    for file, note in sorted(sources.notes.items()))
    return (f'<footer><h2>Protocol source files</h2><ul class="files">{items}</ul>'
            "<p>Generated by <code>proto-rules report</code> from the trail alone; the page loads "
            "nothing from the network.</p></footer>")

