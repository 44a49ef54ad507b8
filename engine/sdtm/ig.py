"""What the SDTM Implementation Guide (SDTMIG 3.4) asks of the two domains we write, and the
one function that checks a dataset against it (`conformance`): the commands call it before they
write, and the tests call it on what they read back from the files.

TI (Trial Inclusion/Exclusion Criteria, a trial design dataset): one record per criterion of the
protocol. IE (Inclusion/Exclusion Criteria Not Met, a findings dataset): one record per criterion a
subject did not meet. The rules checked are those of the IG's variable tables and assumptions for
these domains, plus what the transport format imposes on every dataset: names of at most 8
characters, labels of at most 40, character values of at most 200 bytes, and ASCII (the format has
no field naming an encoding).

>>> TI.variable("IECAT").codelist
('INCLUSION', 'EXCLUSION')
>>> conformance(Dataset(TI, [{"STUDYID": "S", "DOMAIN": "TI", "IETESTCD": "I4.RENAL",
...     "IETEST": "eGFR >= 30", "IECAT": "INCLUDE", "TIVERS": "1"}]))
["TI row 1: IETESTCD 'I4.RENAL' is not letters, digits and underscores starting with a letter", \
"TI row 1: IECAT 'INCLUDE' is not in the controlled terminology (INCLUSION, EXCLUSION)"]
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

#: The IG version whose tables these are (the define-style description names it).
VERSION = "SDTMIG 3.4"

#: Transport v5 limits, for every dataset.
NAME_MAX, LABEL_MAX, CHAR_MAX = 8, 40, 200

#: IETESTCD: a short name, as --TESTCD variables are (IG 4.5.3.1: at most 8 characters, letters,
#: digits and underscores, not starting with a digit).
TESTCD_MAX = 8
TESTCD = re.compile(r"[A-Z][A-Z0-9_]*\Z")
#: IEDTC as the subjects' screening dates are: an ISO 8601 date.
ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")

#: Controlled terminology: IECAT's codelist (C66797) and No Yes Response (C66742), whose I/E
#: subset is Y and N.
IECAT = ("INCLUSION", "EXCLUSION")
NY = ("Y", "N")


@dataclass(frozen=True)
class Variable:
    """One variable as the IG's domain table gives it."""

    name: str
    label: str
    type: str  # "Char" or "Num"
    core: str  # "Req" (never empty), "Exp" (present, may be empty) or "Perm"
    role: str
    origin: str  # define-xml's origin type: where the value comes from
    codelist: tuple[str, ...] | None = None
    max_length: int = CHAR_MAX


@dataclass(frozen=True)
class Domain:
    """A domain's variables in the IG's order, with its define-level description."""

    name: str
    label: str
    category: str
    structure: str
    keys: tuple[str, ...]
    variables: tuple[Variable, ...]

    def variable(self, name: str) -> Variable:
        return next(v for v in self.variables if v.name == name)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(v.name for v in self.variables)


_STUDYID = Variable("STUDYID", "Study Identifier", "Char", "Req", "Identifier", "Protocol")
_IETESTCD = Variable("IETESTCD", "Incl/Excl Criterion Short Name", "Char", "Req", "Topic",
                     "Assigned", max_length=TESTCD_MAX)
_IETEST = Variable("IETEST", "Inclusion/Exclusion Criterion", "Char", "Req",
                   "Synonym Qualifier", "Protocol")
_IECAT = Variable("IECAT", "Inclusion/Exclusion Category", "Char", "Req", "Grouping Qualifier",
                  "Protocol", IECAT)

TI = Domain(
    "TI", "Trial Inclusion/Exclusion Criteria", "TRIAL DESIGN",
    "One record per I/E criterion", ("STUDYID", "IETESTCD", "TIVERS"),
    (_STUDYID,
     Variable("DOMAIN", "Domain Abbreviation", "Char", "Req", "Identifier", "Assigned", ("TI",)),
     _IETESTCD, _IETEST, _IECAT,
     Variable("TIVERS", "Protocol Criteria Versions", "Char", "Perm", "Record Qualifier",
              "Protocol")))

IE = Domain(
    "IE", "Inclusion/Exclusion Criteria Not Met", "FINDINGS",
    "One record per inclusion/exclusion criterion not met per subject",
    ("STUDYID", "USUBJID", "IETESTCD"),
    (_STUDYID,
     Variable("DOMAIN", "Domain Abbreviation", "Char", "Req", "Identifier", "Assigned", ("IE",)),
     Variable("USUBJID", "Unique Subject Identifier", "Char", "Req", "Identifier", "Derived"),
     Variable("IESEQ", "Sequence Number", "Num", "Req", "Identifier", "Derived"),
     _IETESTCD, _IETEST, _IECAT,
     Variable("IEORRES", "I/E Criterion Original Result", "Char", "Req", "Result Qualifier",
              "Derived", NY),
     Variable("IESTRESC", "I/E Criterion Result in Std Format", "Char", "Req",
              "Result Qualifier", "Derived", NY),
     Variable("IEDTC", "Date/Time of Collection", "Char", "Exp", "Timing", "Derived")))

DOMAINS = {domain.name: domain for domain in (TI, IE)}

#: What a subject's IEORRES is for a criterion not met: an inclusion answered "N" (not met), an
#: exclusion "Y" (met): the IG's IE holds only the criteria that kept the subject out.
NOT_MET_ANSWER = {"INCLUSION": "N", "EXCLUSION": "Y"}


@dataclass
class Dataset:
    """A domain's rows, each a mapping from variable name to value (str, or int for Num)."""

    domain: Domain
    rows: list[dict[str, Any]]
    #: Per criterion, what the define-style description says of it (full text, how it was
    #: shortened); and the warnings a command prints.
    criteria: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    #: The variable labels as the file carries them (read back); None: the IG's own.
    labels: dict[str, str] | None = None


def conformance(dataset: Dataset) -> list[str]:
    """Every way `dataset` breaks the IG's rules for its domain, one line each, in row order;
    empty when it conforms."""
    domain, problems = dataset.domain, []
    if len(domain.name) > NAME_MAX or len(domain.label) > LABEL_MAX:
        problems.append(f"{domain.name}: dataset name or label too long for transport v5")
    labels = dataset.labels if dataset.labels is not None else {
        v.name: v.label for v in domain.variables}
    for variable in domain.variables:
        label = labels.get(variable.name)
        if label is None and variable.core == "Req":
            problems.append(f"{domain.name}: required variable {variable.name} is missing")
        elif label is not None and label != variable.label:
            problems.append(f"{domain.name}: {variable.name} is labelled {label!r}, "
                            f"not {variable.label!r}")
    problems.extend(f"{domain.name}: {name} is not a variable of {domain.name}"
                    for name in labels if name not in domain.names)
    for number, row in enumerate(dataset.rows, start=1):
        problems.extend(f"{domain.name} row {number}: {p}" for p in _row(domain, row))
    problems.extend(_across(dataset))
    return problems


def _row(domain: Domain, row: dict[str, Any]) -> list[str]:
    problems = []
    for variable in domain.variables:
        value = row.get(variable.name)
        if value in (None, ""):
            if variable.core == "Req":
                problems.append(f"{variable.name} is empty (required)")
            continue
        if variable.type == "Num":
            if not isinstance(value, int) or isinstance(value, bool):
                problems.append(f"{variable.name} {value!r} is not a whole number")
            continue
        problems.extend(_text(variable, value))
    if domain is IE and row.get("IECAT") in NOT_MET_ANSWER:
        wanted = NOT_MET_ANSWER[row["IECAT"]]
        for name in ("IEORRES", "IESTRESC"):
            if row.get(name) not in (None, "") and row[name] != wanted:
                problems.append(f"{name} is {row[name]!r}: an {row['IECAT'].lower()} criterion "
                                f"not met is {wanted!r}")
    if domain is IE and row.get("IEDTC") and not ISO_DATE.match(str(row["IEDTC"])):
        problems.append(f"IEDTC {row['IEDTC']!r} is not an ISO 8601 date")
    return problems


def _text(variable: Variable, value: Any) -> list[str]:
    name = variable.name
    if not isinstance(value, str):
        return [f"{name} {value!r} is not text"]
    problems = []
    if not value.isascii():
        problems.append(f"{name} {value!r} is not ASCII")
    if len(value.encode()) > variable.max_length:
        problems.append(f"{name} has {len(value.encode())} characters, more than "
                        f"{variable.max_length}")
    if name == "IETESTCD" and not TESTCD.match(value):
        problems.append(f"IETESTCD {value!r} is not letters, digits and underscores starting "
                        "with a letter")
    if variable.codelist is not None and value not in variable.codelist:
        problems.append(f"{name} {value!r} is not in the controlled terminology "
                        f"({', '.join(variable.codelist)})")
    return problems


def _across(dataset: Dataset) -> list[str]:
    """The rules between rows: one study, and the keys unique."""
    name, rows = dataset.domain.name, dataset.rows
    problems = []
    studies = sorted({str(row.get("STUDYID")) for row in rows})
    if len(studies) > 1:
        problems.append(f"{name}: more than one STUDYID ({', '.join(studies)})")
    keys = (("IETESTCD", "TIVERS"),) if dataset.domain is TI else (
        ("USUBJID", "IESEQ"), ("USUBJID", "IETESTCD"))
    for key in keys:
        counts = Counter(tuple(row.get(k) for k in key) for row in rows)
        problems.extend(f"{name}: {'/'.join(key)} {'/'.join(map(str, value))} is not unique"
                        for value, times in counts.items() if times > 1)
    return problems
