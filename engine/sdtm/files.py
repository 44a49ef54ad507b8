"""A dataset as the files a submission carries: SAS transport v5 (XPT), CSV, and a define-style
JSON description of its variables; the same bytes for the same dataset.

The XPT is written by pyreadstat (ReadStat). Its headers carry a created and a modified date-time,
which ReadStat takes from the clock; `_fixed_dates` writes `XPT_DATE` over all four instead (the
places are fixed by the format: SAS technical note TS-140), so a file depends on its data alone.
pandas and pyreadstat are imported where a file is written or read, not with the module: the
other commands do not pay for loading them.
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Any

from engine.sdtm.ig import DOMAINS, VERSION, Dataset
from engine.audit.trail import sha256_file
from protocol.errors import UsageError

#: The date-time every XPT header says it was created and modified: the Unix epoch, as
#: reproducible builds date their files (SOURCE_DATE_EPOCH=0).
XPT_DATE = b"01JAN70:00:00:00"
_XPT_DATE_FIELD = re.compile(rb"[0-9]{2}[A-Z]{3}[0-9]{2}:[0-9]{2}:[0-9]{2}:[0-9]{2}")
_RECORD = 80  # transport files are 80-byte records
_LIBRARY = b"HEADER RECORD*******LIBRARY HEADER RECORD!!!!!!!"
_MEMBER = b"HEADER RECORD*******DSCRPTR HEADER RECORD!!!!!!!"


def write(dataset: Dataset, directory: str, source: dict[str, str]) -> list[Path]:
    """Write `<name>.xpt`, `<name>.csv` and `<name>.define.json` (lower-case names, as
    submissions have them) into `directory`; return their paths. `source` says what the dataset
    was made from (file and hash), for the description."""
    out = Path(directory)
    stem = dataset.domain.name.lower()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UsageError(f"cannot write into {directory}: {error.strerror or error}") from None
    xpt, table = out / f"{stem}.xpt", out / f"{stem}.csv"
    _write_xpt(dataset, xpt)
    _write_bytes(table, as_csv(dataset).encode())
    described = describe(dataset, source, {p.name: sha256_file(str(p)) for p in (xpt, table)})
    define = out / f"{stem}.define.json"
    _write_bytes(define, (json.dumps(described, indent=2, ensure_ascii=False) + "\n").encode())
    return [xpt, table, define]


def as_csv(dataset: Dataset) -> str:
    """The dataset as CSV: a header of variable names, then the rows; Num values as integers."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    names = dataset.domain.names
    writer.writerow(names)
    writer.writerows([row.get(name, "") for name in names] for row in dataset.rows)
    return text.getvalue()


def describe(dataset: Dataset, source: dict[str, str], files: dict[str, str]) -> dict[str, Any]:
    """The define-style description: the dataset, each variable (with the length the file gives
    it: the longest value, as submissions size them), its criteria with their full sentences."""
    domain = dataset.domain
    variables = []
    for variable in domain.variables:
        values = [row.get(variable.name, "") for row in dataset.rows]
        length = 8 if variable.type == "Num" else max((len(str(v)) for v in values), default=1)
        entry = {"name": variable.name, "label": variable.label, "type": variable.type,
                 "length": max(length, 1), "core": variable.core, "role": variable.role,
                 "origin": variable.origin}
        if variable.codelist is not None:
            entry["codelist"] = list(variable.codelist)
        variables.append(entry)
    return {"standard": VERSION, "source": source,
            "dataset": {"name": domain.name, "label": domain.label, "class": domain.category,
                        "structure": domain.structure, "keys": list(domain.keys),
                        "records": len(dataset.rows), "files": files,
                        "transport": "SAS transport version 5",
                        "transport_dates": XPT_DATE.decode()},
            "variables": variables, "criteria": dataset.criteria}


def _write_xpt(dataset: Dataset, path: Path) -> None:
    import pandas
    import pyreadstat

    domain = dataset.domain
    columns = {v.name: pandas.Series([row.get(v.name, "") for row in dataset.rows],
                                     dtype="int64" if v.type == "Num" else object)
               for v in domain.variables}
    try:
        pyreadstat.write_xport(pandas.DataFrame(columns), str(path), file_label=domain.label,
                               column_labels={v.name: v.label for v in domain.variables},
                               table_name=domain.name, file_format_version=5)
        _write_bytes(path, _fixed_dates(path.read_bytes()))
    except OSError as error:
        raise UsageError(f"cannot write {path}: {error.strerror or error}") from None
    except (pyreadstat.PyreadstatError, pyreadstat.ReadstatError) as error:  # a full disk, say
        raise UsageError(f"cannot write {path}: {error}") from None


def _fixed_dates(data: bytes) -> bytes:
    """The transport file with `XPT_DATE` in its four date-times: the library's created
    (record 2, bytes 64-79) and modified (record 3, bytes 0-15), and the member's, at the same
    places in the two records after its descriptor header."""
    member = data.find(_MEMBER)
    if not data.startswith(_LIBRARY) or member < 0 or member % _RECORD:
        raise AssertionError("pyreadstat wrote a transport file of another layout")
    patched = bytearray(data)
    for record in (1, member // _RECORD + 1):
        for start in ((record * _RECORD) + 64, (record + 1) * _RECORD):
            if not _XPT_DATE_FIELD.fullmatch(data[start:start + 16]):
                raise AssertionError(f"no date-time at byte {start} of the transport file")
            patched[start:start + 16] = XPT_DATE
    return bytes(patched)


def read_xpt(path: str) -> Dataset:
    """A transport file read back with the library that wrote it, as a `Dataset` to check
    (`engine.sdtm.ig.conformance`): its domain by its name, its rows, and its labels."""
    import pyreadstat

    try:
        frame, meta = pyreadstat.read_xport(path)
    except (OSError, pyreadstat.PyreadstatError, pyreadstat.ReadstatError) as error:
        raise UsageError(f"cannot read {path}: {error}") from None
    domain = DOMAINS.get(meta.table_name or "")
    if domain is None:
        raise UsageError(f"{path}: dataset {meta.table_name!r} is neither TI nor IE")
    numbers = {v.name for v in domain.variables if v.type == "Num"}
    rows = [{name: _value(value, name in numbers) for name, value in record.items()}
            for record in frame.to_dict("records")]
    labels = {name: label or "" for name, label in meta.column_names_to_labels.items()}
    return Dataset(domain, rows, labels=labels)


def _value(value: Any, number: bool) -> Any:
    if number:
        return int(value) if value == value and float(value).is_integer() else value
    return "" if value is None or value != value else value


def _write_bytes(path: Path, data: bytes) -> None:
    try:
        path.write_bytes(data)
    except OSError as error:
        raise UsageError(f"cannot write {path}: {error.strerror or error}") from None
