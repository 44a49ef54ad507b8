"""The index a paged report's summary searches (issue 10, section 5): which page holds a patient
id, and which pages hold patients of a decision or of a criterion's verdict, and how many.

The summary listed every page with its ids and counts: 704 KB for 20,000 patients, some 35 MB
for a million, too slow to open. This index is written beside the pages instead, in files of
its own under `DIR/index/`, and the summary keeps only its table of contents (a few kilobytes,
some tens for a million patients) and loads a file when a search or a filter needs it. A page
opened from a file (no server) may not `fetch()` its neighbours in Chromium, but may run a
script beside it: so each file is a script that hands its data to one function the summary
defines, `proto_rules_index(name, data)` (`engine/audit/report_page.py`).

- `ids-0001.js`, ...: every patient id with its page and its decision (a number: the place of
  the decision in the table of contents), sorted by the id in lower case as JavaScript compares
  strings (by UTF-16 code units), at least `IDS_A_FILE` a file and at most `ID_FILES` files. The
  table of contents holds the first id of each file (its first `KEY_UNITS` code units): a search
  for the start of an id loads only the files that can hold it.
- `pages-0001.js`, ...: `BLOCK` pages a file, each page's first and last id and its count of
  each decision: the summary's table of pages, a block at a time.
- `match-0001.js`, ...: one a criterion and verdict, and one for the decisions alone (criterion
  and verdict ""): the pages that hold such patients, as page, decision, how many.

Streaming, as the pages are: the ids are sorted in runs of `RUN`, written into the report's
part directory and merged at the end (`heapq.merge`); the counts are appended to their files
every `BLOCK` pages. What is held is a run of ids and a block of pages' counts, never the
patients. The same trail gives the same bytes.
"""

from __future__ import annotations

import heapq
import json
import re
import shutil
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from engine.audit.report import DECISIONS, Patient

#: The folder of the index in a paged report, and the names of the files it holds.
FOLDER = "index"
FILE_NAME = re.compile(r"(ids|pages|match)-[0-9]+\.js")
#: The function each file calls with its data.
CALLBACK = "proto_rules_index"
#: Pages a `pages-NNNN.js` file describes; the summary shows as many at a time.
BLOCK = 100
#: Ids a file holds at least, and the most files: a million patients make 1,000 files of 1,000.
IDS_A_FILE = 1000
ID_FILES = 1000
#: Ids sorted in memory at once before they go to a run file.
RUN = 20_000
#: UTF-16 code units of a file's first id the table of contents keeps.
KEY_UNITS = 64


@dataclass(frozen=True)
class Row:
    """A page of patients as the summary's table of pages shows it: its number, its first and
    last patient id and its count of each decision (in the order of `Index.decisions`)."""

    number: int
    first: str
    last: str
    counts: tuple[int, ...]


def key(patient_id: str) -> bytes:
    """What the ids are sorted by: the id in lower case, as UTF-16 code units (big-endian, so
    that the bytes compare as JavaScript compares the strings).

    >>> sorted(["b", "A", "\\U0001F600", "\\uFF41"], key=key)
    ['A', 'b', '😀', 'ａ']
    """
    return patient_id.lower().encode("utf-16-be", "surrogatepass")


def script(name: str, data: Any) -> str:
    """A file of the index: a script that hands `data` to the summary."""
    return f"{CALLBACK}({json.dumps(name)},{_json(data)});\n"


def _json(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def file_name(kind: str, number: int) -> str:
    return f"{kind}-{number:04d}"


class Index:
    """Written a patient at a time, in trail order (`add`), then closed (`close`), which merges
    the ids and returns the table of contents the summary keeps."""

    def __init__(self, folder: Path, patients: int, size: int) -> None:
        self.folder, self.patients, self.size = folder, patients, size
        self.runs = folder.with_name(folder.name + ".runs")
        folder.mkdir()
        self.runs.mkdir()
        self.decisions = list(DECISIONS)
        self.number = 0
        self.ids: list[tuple[bytes, str, int, int]] = []
        self.run_files: list[Path] = []
        self.first = ""
        self.counted: Counter[tuple[str, str, int]] = Counter()
        self.block: list[list[Any]] = []
        self.matches: dict[tuple[str, str], int] = {}
        self.pending: dict[tuple[str, str], list[int]] = {}

    def add(self, patient: Patient) -> Row | None:
        """A patient in the index; the row of its page once the page is complete."""
        self.number += 1
        page = (self.number - 1) // self.size + 1
        if patient.outcome not in self.decisions:
            self.decisions.append(patient.outcome)
        decision = self.decisions.index(patient.outcome)
        self.ids.append((key(patient.id), patient.id, page, decision))
        if len(self.ids) >= RUN:
            self._run()
        if (self.number - 1) % self.size == 0:
            self.first = patient.id
        self.counted["", "", decision] += 1
        for record in patient.criteria or []:
            self.counted[str(record["criterion"]), str(record["verdict"]), decision] += 1
        if self.number % self.size and self.number != self.patients:
            return None
        counts = [0] * len(self.decisions)
        for (criterion, verdict, d), n in sorted(self.counted.items()):
            if not criterion and not verdict:
                counts[d] = n
            self.pending.setdefault((criterion, verdict), []).extend((page, d, n))
        row = Row(page, self.first, patient.id, tuple(counts))
        self.block.append([row.first, row.last, counts])
        self.counted.clear()
        if page % BLOCK == 0 or self.number == self.patients:
            self._block(page)
        return row

    def close(self) -> dict[str, Any]:
        """The last block and run written, the ids merged into their files: the table of
        contents, which the summary keeps inline."""
        if self.block:
            self._block(-(-self.number // self.size))
        for number in self.matches.values():
            with open(self.folder / f"{file_name('match', number)}.js", "a",
                      encoding="utf-8") as out:
                out.write("]);\n")
        self._run()
        firsts = self._merge()
        shutil.rmtree(self.runs)
        return {"patients": self.number, "size": self.size, "pages": -(-self.number // self.size),
                "block": BLOCK, "decisions": self.decisions, "columns": len(DECISIONS),
                "units": KEY_UNITS, "ids": firsts,
                "matches": [list(k) for k in self.matches]}

    def _block(self, page: int) -> None:
        """A block of pages' rows in its file, their counts appended to the match files."""
        name = file_name("pages", -(-page // BLOCK))
        (self.folder / f"{name}.js").write_text(script(name, self.block), encoding="utf-8")
        self.block = []
        for match, flat in self.pending.items():
            number = self.matches.setdefault(match, len(self.matches) + 1)
            name = file_name("match", number)
            path = self.folder / f"{name}.js"
            head = "," if path.exists() else f"{CALLBACK}({json.dumps(name)},["
            with open(path, "a", encoding="utf-8") as out:
                out.write(head + ",".join(map(str, flat)))
        self.pending = {}

    def _run(self) -> None:
        """The ids held so far, sorted, into a run file (a stable sort: equal ids keep trail
        order)."""
        if not self.ids:
            return
        self.ids.sort(key=lambda item: item[0])
        path = self.runs / f"run-{len(self.run_files) + 1:06d}.jsonl"
        with open(path, "w", encoding="utf-8") as out:
            out.writelines(_json(item[1:]) + "\n" for item in self.ids)
        self.run_files.append(path)
        self.ids = []

    def _merge(self) -> list[str]:
        """The runs merged into the files of ids; the first key of each file (cut to
        `KEY_UNITS`, never inside a character: then one unit shorter)."""
        each = max(IDS_A_FILE, -(-self.number // ID_FILES))
        firsts: list[str] = []
        rows: list[list[Any]] = []

        def flush() -> None:
            name = file_name("ids", len(firsts))
            (self.folder / f"{name}.js").write_text(script(name, rows), encoding="utf-8")

        for row in heapq.merge(*map(_read_run, self.run_files), key=lambda r: key(r[0])):
            if len(rows) == each:
                flush()
                rows = []
            if not rows:
                cut = key(row[0])[:2 * KEY_UNITS]
                if cut and 0xD8 <= cut[-2] <= 0xDB:  # a high surrogate: half a character
                    cut = cut[:-2]
                firsts.append(cut.decode("utf-16-be", "surrogatepass"))
            rows.append(row)
        if rows:
            flush()
        return firsts


def _read_run(path: Path) -> Iterator[list[Any]]:
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            yield json.loads(line)
