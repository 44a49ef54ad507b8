"""A large trail's report as a directory: a summary page and pages of patients (issue 10).

One page of every patient grows with the trail (about 56 KB a patient of the seed protocol: a
gigabyte for 20,000, which no browser opens). `write(trail, directory)` writes instead:

- `index.html`, the summary: the run header and the trail's verification, the cohort (counts by
  decision, the criteria that excluded most, the verdicts left open), the rejected records, the
  attrition table, each criterion's verdict counts, and the table of pages: each page's patient
  numbers, decisions and first and last ids, `report_index.BLOCK` pages at a time. The table is
  filtered by the same URL fragment as a page of patients (`#q=P13`, `#decision=REJECTED`,
  `#criterion=E8&verdict=MET`): which pages hold such patients and how many, each linked to its
  page filtered alike. The chart's bars, the attrition rows and the verdict counts are such
  links. What the table shows and what the filter reads is in `index/`, loaded when wanted
  (`engine/audit/report_index.py`): the summary's size does not grow with the trail.
- `patients/page-0001.html`, ...: `page_size` patients each, in trail order, each page
  self-contained as the one-page report is (inline style and script, the same search and
  filters). A criterion's sentence, source lines and condition parts are stated once, at the foot
  of the page, and the patients link to them (`report.patient_section(referred=True)`); a
  patient's facts are listed once and the criteria refer to them by number.

The trail is read as a stream three times (the counts, the attrition, the patients): what is held
is a block of pages' counts and a run of ids to sort, never the patients. The files are written
into `DIR/.report.part` and moved into place once all are written, replacing a report written
there before (its `index.html`, `patients/` and `index/`) and nothing else.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from contextlib import suppress
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any, Iterator, TextIO

from engine.audit import report
from engine.attrition import attrition
from engine.audit.report import (DECISIONS, VERDICTS, Cohort, Page, Patient, Status,
                                 attrition_section, check, cohort_section, e, files_note, filters,
                                 fragment, header, page_head, patient_section, patients_of,
                                 rule_anchor, sentence, source_lines)
from engine.audit.report_index import BLOCK, FILE_NAME, FOLDER, Index, Row
from engine.audit.report_page import CSS, PAGED_CSS, SCRIPT, SUMMARY_SCRIPT
from engine.audit.report_source import Sources
from engine.audit.trail import facts_sha256, opening, stream
from protocol.errors import UsageError

#: Patients a page holds unless told (`--page-size`): about 3 MB of the seed protocol's patients.
PAGE_SIZE = 100
#: The most patients `-o OUT.html` puts on one page (about 56 MB of the seed protocol's).
ONE_PAGE = 1000
PART = ".report.part"
PAGE_NAME = re.compile(r"page-[0-9]+\.html")


@dataclass(frozen=True)
class Written:
    """What `write` wrote: the trail's verification, its patients and the pages they are on."""

    status: Status
    patients: int
    pages: int


def directory_wanted(output: str) -> bool:
    """Whether `-o` names a directory: it ends with a slash, is a directory, or its name does not
    end in .html or .htm.

    >>> [directory_wanted(name) for name in ("out/report/", "report", "out/report.html")]
    [True, True, False]
    """
    return (output.endswith(("/", os.sep)) or Path(output).is_dir()
            or Path(output).suffix.lower() not in (".html", ".htm"))


def write(trail: str, directory: Path, page_size: int = PAGE_SIZE) -> Written:
    """Write the summary page and the pages of patients of the trail at `trail` into
    `directory`. A file that is not a decision trail, or a directory that holds what this would
    overwrite and is not a report, is refused (`UsageError`) before anything is written."""
    opening(trail)
    _refuse(directory)
    with open(trail, "rb") as handle:
        digest = hashlib.file_digest(handle, "sha256").hexdigest()
    page = Page(lambda: stream(trail), trail=trail, trail_sha256=digest, status=check(trail))
    made = not directory.exists()
    directory.mkdir(parents=True, exist_ok=True)
    part = directory / PART
    try:
        shutil.rmtree(part, ignore_errors=True)
        (part / "patients").mkdir(parents=True)
        book = _Book(page, part, page_size)
        with open(part / "index.html", "w", encoding="utf-8") as index:
            for chunk in book.chunks():
                index.write(chunk)
        for folder in ("patients", FOLDER):
            if (directory / folder).exists():
                shutil.rmtree(directory / folder)
            (part / folder).rename(directory / folder)
        (part / "index.html").replace(directory / "index.html")
    except BaseException:
        shutil.rmtree(part, ignore_errors=True)
        if made:  # a directory made for a report that could not be written is not left empty
            with suppress(OSError):
                directory.rmdir()
        raise
    part.rmdir()
    return Written(page.status, book.total, book.pages)


def one_page(trail: str, output: Path) -> Written:
    """Write the one-page report of a trail of at most `ONE_PAGE` patients to `output`, a patient
    at a time, beside its name, and rename it once whole, so that a trail found unreadable
    halfway (or too large) leaves no page."""
    part = output.with_name(output.name + ".part")
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        with open(part, "w", encoding="utf-8") as out:
            status, patients = report.write(trail, out, limit=ONE_PAGE)
        part.replace(output)
    finally:
        with suppress(OSError):  # where no part could be made, there is none to remove
            part.unlink(missing_ok=True)
    return Written(status, patients, 1)


def _refuse(directory: Path) -> None:
    """A file where the directory should be, or a `patients` or `index` folder that holds other
    things than the pages or the index of a report, is not replaced."""
    if directory.exists() and not directory.is_dir():
        raise UsageError(f"cannot write report {directory}: a file is there, and a paged report "
                         "is a directory (or give -o NAME.html for one page)")
    for folder, names, what in (("patients", PAGE_NAME, "pages"), (FOLDER, FILE_NAME, "index")):
        found = directory / folder
        if found.exists() and (not found.is_dir() or any(
                not names.fullmatch(entry.name) for entry in found.iterdir())):
            raise UsageError(f"cannot write report {directory}: {found} holds other files than "
                             f"the {what} of a report; not replaced")


def page_name(number: int, pages: int) -> str:
    """A page's file name: numbered from 1, zero-padded so that the names sort as the pages."""
    return f"page-{number:0{max(4, len(str(pages)))}d}.html"


class _Book:
    """The summary page, written in order while the pages of patients and the index are written
    beside it: a row of its table of pages each time one of the first `BLOCK` pages is
    complete, and the index's table of contents once all are."""

    def __init__(self, page: Page, part: Path, size: int) -> None:
        self.page, self.part, self.size = page, part, size
        self.run, self.protocol, self.summary = page.survey()
        self.cohort: Cohort = page.cohort
        self.total = sum(self.cohort.outcomes.values())
        self.pages = -(-self.total // size)
        entries = [x for x in self.protocol["definitions"] + self.protocol["criteria"]
                   if isinstance(x, dict)]
        self.entries = entries
        self.static = {str(entry.get("id")): entry for entry in entries}
        self.order = [str(entry.get("id")) for entry in self.protocol["criteria"]
                      if isinstance(entry, dict)]
        self.sources = Sources(self.run)
        self.name = f"{self.run['protocol'].get('id', '?')} version " \
                    f"{self.run['protocol'].get('version', '?')}"

    def chunks(self) -> Iterator[str]:
        status = self.page.status
        yield page_head(f"Decision trail report: {self.name}", CSS + PAGED_CSS, SUMMARY_SCRIPT,
                        status, beside=True)
        yield header(self.run, facts_sha256([self.run, *([self.summary] if self.summary else [])]),
                     self.page.trail, self.page.trail_sha256, status) + "\n"
        yield cohort_section(self.cohort, self.static, self.order, self.summary) + "\n"
        yield self._rejected() + "\n"
        yield attrition_section(attrition(self.page.records()), self.static) + "\n"
        yield self._verdicts() + "\n"
        yield filters(self.order, self.static, pages=True) + "\n"
        shown = min(self.pages, BLOCK)
        yield ('<section id="pages" aria-label="pages of patients">\n<p class="hint">'
               f"{self.total} patients in trail order on {self.pages} pages of {self.size}; each "
               "page shows its patients as the one-page report does, and states each criterion's "
               "sentence and source once. Search the start of a patient id, or filter by "
               "decision, criterion and verdict: the pages that hold such patients are listed, "
               "each linked to its page filtered alike.</p>\n"
               '<nav class="window" aria-label="more pages"><button type="button" id="w-back">'
               f'previous {BLOCK}</button><span id="w-here">pages 1\u2013{shown} of '
               f'{self.pages}</span><button type="button" id="w-on">next {BLOCK}</button></nav>\n'
               '<table class="pages" id="pages-table"><thead><tr><th>page</th><th>patients'
               "</th>" + "".join(f"<th>{d}</th>" for d in DECISIONS)
               + "<th>match</th><th>patient ids</th></tr></thead><tbody>\n")
        index = Index(self.part / FOLDER, self.total, self.size)
        yield from self._pages(index)
        contents = json.dumps(index.close(), ensure_ascii=False, separators=(",", ":"))
        quoted = escape(contents, quote=False).replace("'", "&#x27;")  # JSON's own quotes stay
        yield (f"</tbody></table>\n<div id=\"index\" hidden data-index='{quoted}'></div>\n"
               "</section>\n")
        yield files_note(self.sources)
        yield f"\n</main>\n<script>{SUMMARY_SCRIPT}</script>\n</body>\n</html>\n"

    def _pages(self, index: Index) -> Iterator[str]:
        """Each page of patients written, its patients in the index, and the summary's rows of
        the first `BLOCK` pages (the summary's script shows others from the index)."""
        out: TextIO | None = None
        try:
            for n, patient in enumerate(patients_of(self.page.records()), start=1):
                number = (n - 1) // self.size + 1
                if out is None:
                    out = open(self.part / "patients" / page_name(number, self.pages), "w",
                               encoding="utf-8")
                    out.write(self._page_head(number))
                out.write(patient_section(n, patient, self.static, self.sources, referred=True)
                          + "\n")
                row = index.add(patient)
                if row is not None:
                    out.write(self._page_tail(number))
                    out.close()
                    out = None
                    if number <= BLOCK:
                        yield self._row(row)
        finally:
            if out is not None:
                out.close()

    def _span(self, number: int) -> tuple[int, int]:
        first = (number - 1) * self.size + 1
        return first, min(first + self.size - 1, self.total)

    def _pager(self, number: int) -> str:
        def link(k: int, words: str) -> str:
            if 1 <= k <= self.pages:
                return f'<a href="{page_name(k, self.pages)}">{words}</a>'
            return f"<span>{words}</span>"
        return (f'<nav class="pager" aria-label="pages"><a href="../index.html">summary</a>'
                f'{link(1, "first")}{link(number - 1, "previous")}<span class="here">page {number}'
                f" of {self.pages}</span>{link(number + 1, 'next')}"
                f"{link(self.pages, 'last')}</nav>\n")

    def _page_head(self, number: int) -> str:
        first, last = self._span(number)
        status = self.page.status
        return (page_head(f"Patients {first}-{last} of {self.total}: {self.name}",
                          CSS + PAGED_CSS, SCRIPT, status)
                + self._pager(number)
                + f'<header>\n<h1>Patients {first}\u2013{last} of {self.total}: '
                f'{e(self.run["protocol"].get("id"))} <span class="version">version '
                f'{e(self.run["protocol"].get("version"))}</span></h1>\n'
                f'<p id="verification" class="verification {status.state}" role="status">'
                f"<strong>Trail verification: {e(status.text)}</strong>"
                f"<span>{e(status.detail)}</span></p>\n"
                f'<p class="hint">Trail {e(self.page.trail)}, <code>sha256 '
                f'{e(self.page.trail_sha256)}</code>. The run, the cohort and the attrition are on '
                'the <a href="../index.html">summary</a>.</p>\n</header>\n'
                + filters(self.order, self.static)
                + '\n<section id="patients" aria-label="patients">\n')

    def _page_tail(self, number: int) -> str:
        return ("</section>\n" + self._rules() + "\n" + files_note(self.sources)
                + self._pager(number) + f"</main>\n<script>{SCRIPT}</script>\n</body>\n</html>\n")

    def _rules(self) -> str:
        """Each definition and criterion stated once: its sentence, its condition part by part
        and its source lines, which the patients above link to."""
        items = []
        for entry in self.entries:
            name = str(entry.get("id"))
            parts = "".join(f'<li><span class="line">line {e(c.get("line"))}</span><code>'
                            f'{e(c.get("text"))}</code></li>'
                            for c in entry.get("conditions") or [] if isinstance(c, dict))
            kind = entry.get("role") or "definition"
            items.append(f'<article id="{e(rule_anchor(name))}"><h4><span class="kind">{e(kind)}'
                         f'</span> {e(name)} <span class="rule">{e(entry.get("rule"))}</span></h4>'
                         f'{sentence(entry)}<div class="cols"><div><h5>Condition, part by part'
                         f'</h5><ol class="parts">{parts}</ol></div>'
                         f"{source_lines(entry, self.sources)}</div></article>")
        return ('<section id="rules" class="rules" aria-label="criteria"><h2>The protocol\'s '
                "definitions and criteria</h2><p class=\"hint\">Stated once for the patients "
                f"above, who link to them.</p>{''.join(items)}</section>")

    def _row(self, row: Row) -> str:
        """A page's row of the table of pages, as the summary's script draws it from the index
        (`engine/audit/report_page.py`)."""
        first, last = self._span(row.number)
        name = f"patients/{page_name(row.number, self.pages)}"
        cells = "".join(f"<td>{n}</td>" for n in row.counts[:len(DECISIONS)])
        return (f'<tr class="page"><td><a class="page" data-page="{name}" href="{name}">page '
                f"{row.number}</a></td><td>{first}\u2013{last}</td>{cells}<td class=\"match\">"
                f'</td><td class="ids">{e(row.first)} \u2026 {e(row.last)}</td></tr>\n')

    def _rejected(self) -> str:
        """The rejected records, the first `REJECTED_LISTED` of them, each with its page."""
        listed = self.cohort.rejected
        count = self.cohort.outcomes.get("REJECTED", 0)
        if not count:
            return ('<section id="rejected" aria-label="rejected records"><h2>Rejected records'
                    "</h2><p class=\"hint\">No record was rejected.</p></section>")
        rows = "".join(_rejected_row(n, patient, self._page_of(n)) for n, patient in listed)
        more = (f'<p class="hint">and {count - len(listed)} more: <a href="#decision=REJECTED">'
                "the pages that hold them</a>.</p>" if count > len(listed) else "")
        return ('<section id="rejected" aria-label="rejected records"><h2>Rejected records</h2>'
                f'<p class="hint">{count} records whose facts could not be used (not decided).'
                '</p><table class="rejected"><thead><tr><th>patient</th><th>fact file line</th>'
                "<th>patient id</th><th>problems</th><th>page</th></tr></thead>"
                f"<tbody>{rows}</tbody></table>{more}</section>")

    def _page_of(self, n: int) -> str:
        return f"patients/{page_name((n - 1) // self.size + 1, self.pages)}"

    def _verdicts(self) -> str:
        """How many patients each criterion gave each verdict; a count links to its pages."""
        verdicts = self.cohort.verdicts
        rows = []
        for criterion in self.order:
            cells = "".join(
                f'<td><a href="#criterion={e(fragment(criterion))}&amp;verdict={v}">'
                f"{verdicts[criterion, v]}</a></td>" if verdicts[criterion, v] else "<td>0</td>"
                for v in VERDICTS)
            entry = self.static.get(criterion, {})
            rows.append(f'<tr><td><a href="#criterion={e(fragment(criterion))}" title="'
                        f'{e(entry.get("text") or "")}">{e(criterion)}</a></td>'
                        f'<td>{e(entry.get("role"))}</td>{cells}</tr>')
        return ('<section id="verdicts" aria-label="verdicts"><h2>Verdicts, criterion by '
                'criterion</h2><p class="hint">Patients decided, by each criterion\'s verdict; '
                'a count lists the pages that hold those patients.</p><table class="verdicts">'
                "<thead><tr><th>criterion</th><th>role</th>"
                + "".join(f"<th>{v}</th>" for v in VERDICTS)
                + f"</tr></thead><tbody>{''.join(rows)}</tbody></table></section>")


def _rejected_row(n: int, patient: Patient, page: str) -> str:
    record: dict[str, Any] = patient.rejected or {}
    problems = "; ".join(str(p) for p in record.get("problems") or [])
    return (f"<tr><td>{n}</td><td>{e(record.get('record'))}</td><td>{e(patient.id)}</td>"
            f"<td>{e(problems)}</td><td><a href=\"{page}#q={e(fragment(patient.id))}\">"
            f"{page.removeprefix('patients/')}</a></td></tr>")
