"""The TI dataset from a protocol and the IE dataset from a decision trail.

Both name criteria the same way (`criteria`): a criterion's IETESTCD comes from its id alone
(`short_names`), and its IETEST from its sentence (`ietest`), so the TI of a protocol and the IE
of a run of it agree on every code.

IE holds, per subject, the criteria the subject did not meet: an inclusion NOT_MET (IEORRES "N") or
an exclusion MET ("Y"). A verdict left open, UNKNOWN (data missing) or NEEDS_REVIEW (awaiting an
investigator's judgment), is not "not met": it is left out of IE and listed among the `open`
criteria, with patients whose records were rejected; NOT_APPLICABLE is neither.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

from engine.sdtm.ig import CHAR_MAX, IE, NOT_MET_ANSWER, TESTCD_MAX, TI, Dataset
from protocol.errors import UsageError
from protocol.model import Protocol

#: Symbols protocol sentences use, spelled in ASCII (transport files carry no encoding: values
#: are ASCII). Letters with accents lose them (NFKD); anything else becomes '?', with a warning.
SPELLED = {"≥": ">=", "≤": "<=", "≠": "!=", "±": "+/-", "×": "x", "÷": "/", "µ": "u", "μ": "u",
           "°": "deg", "–": "-", "—": "-", "−": "-", "‘": "'", "’": "'", "“": '"', "”": '"',
           "…": "...", "→": "->", "·": ".", "•": "-"}
SUPERSCRIPTS = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻", "0123456789-")
_SUPERSCRIPT_RUN = re.compile("[⁰¹²³⁴⁵⁶⁷⁸⁹⁻]+")
#: A text longer than IETEST holds keeps its first words up to this many characters, then "...".
ELLIPSIS = "..."


def short_names(ids: Sequence[str]) -> tuple[dict[str, str], list[str]]:
    """Each criterion id's IETESTCD, and a line per collision resolved.

    The code is the id in capitals without the characters a short name cannot have (the dot of
    a part: I4.renal is I4RENAL), cut to 8. When two ids give one code, the first in protocol
    order keeps it; each later one ends in a number instead (2, 3, ...: I4CARDI2), the first that
    no id's own code is.

    >>> short_names(["I1", "I4.renal", "I4.cardiac_a", "I4.cardiac_b"])
    ({'I1': 'I1', 'I4.renal': 'I4RENAL', 'I4.cardiac_a': 'I4CARDIA', 'I4.cardiac_b': 'I4CARDI2'}, \
['criteria I4.cardiac_a and I4.cardiac_b both shorten to IETESTCD I4CARDIA: \
I4.cardiac_b is I4CARDI2'])
    """
    own = {criterion: _code(criterion) for criterion in ids}
    taken, first, codes, said = set(own.values()), {}, {}, []
    for criterion in ids:
        code = own[criterion]
        if code not in first:
            first[code] = criterion
            codes[criterion] = code
            continue
        number = 2
        while (renamed := code[:TESTCD_MAX - len(str(number))] + str(number)) in taken:
            number += 1
        taken.add(renamed)
        codes[criterion] = renamed
        said.append(f"criteria {first[code]} and {criterion} both shorten to IETESTCD {code}: "
                    f"{criterion} is {renamed}")
    return codes, said


def _code(criterion: str) -> str:
    kept = re.sub(r"[^A-Z0-9_]", "", criterion.upper())
    return kept[:TESTCD_MAX] if kept[:1].isalpha() else ("C" + kept)[:TESTCD_MAX]


def ascii_text(text: str) -> tuple[str, bool]:
    """`text` in ASCII on one line, and whether a character had to become '?'.

    >>> ascii_text("eGFR≥30 mL/min/1.73m², ≤2.0×ULN, 10⁹/L")
    ('eGFR>=30 mL/min/1.73m^2, <=2.0xULN, 10^9/L', False)
    """
    text = _SUPERSCRIPT_RUN.sub(lambda run: "^" + run.group().translate(SUPERSCRIPTS), text)
    text = "".join(SPELLED.get(char, char) for char in text)
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    lost = not text.isascii()
    text = text.encode("ascii", "replace").decode()
    return " ".join(text.split()), lost


def ietest(criterion: str, text: str | None) -> tuple[str, list[str]]:
    """A criterion's IETEST and what was done to its sentence to fit, one line each.

    The IG (TI and IE assumptions): a text over 200 characters has "meaningful text in IETEST"
    and the full text in the study metadata, which is here the define-style description.
    """
    if not text:
        return criterion, [f"criterion {criterion} has no sentence: IETEST holds its id"]
    written, lost = ascii_text(text)
    said = [f"criterion {criterion}: characters with no ASCII spelling are '?' in IETEST; "
            "the define-style description has the sentence as written"] if lost else []
    if len(written) > CHAR_MAX:
        cut = written[:CHAR_MAX - len(ELLIPSIS)]
        space = cut.rfind(" ")
        written = (cut[:space] if space > CHAR_MAX // 2 else cut).rstrip() + ELLIPSIS
        said.append(f"criterion {criterion}: the sentence has {len(text)} characters; IETEST "
                    f"holds its first {len(written) - len(ELLIPSIS)} and '...', the define-style "
                    "description the whole sentence")
    return written, said


@dataclass(frozen=True)
class Criteria:
    """The protocol's criteria as both domains name them: per criterion id its IETESTCD,
    IETEST and IECAT, and what the define-style description says of each."""

    codes: dict[str, str]
    tests: dict[str, str]
    categories: dict[str, str]
    described: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def criteria(entries: Iterable[tuple[str, str | None, str | None]], where: str) -> Criteria:
    """From (id, role, sentence) of every criterion with a verdict, in protocol order."""
    entries = list(entries)
    codes, warnings = short_names([criterion for criterion, _, _ in entries])
    tests, categories, described = {}, {}, []
    for criterion, role, text in entries:
        if role not in ("inclusion", "exclusion"):
            raise UsageError(f"{where}: criterion {criterion} is neither an inclusion nor an "
                             f"exclusion (role {role!r})")
        tests[criterion], said = ietest(criterion, text)
        warnings.extend(said)
        categories[criterion] = role.upper()
        described.append({"IETESTCD": codes[criterion], "criterion": criterion,
                          "IECAT": categories[criterion], "IETEST": tests[criterion],
                          "text": text})
    return Criteria(codes, tests, categories, described, warnings)


def study_id(given: str | None, protocol_id: str | None, where: str) -> str:
    """STUDYID: the one given on the command line, else the protocol's id."""
    chosen = given if given is not None else protocol_id
    if not chosen:
        raise UsageError(f"{where}: the protocol has no id (protocol \"...\") to be the STUDYID; "
                         "give one with --study-id")
    written, lost = ascii_text(chosen)
    if lost or written != chosen or len(written) > CHAR_MAX:
        raise UsageError(f"{where}: STUDYID {chosen!r} is not ASCII text on one line of at most "
                         f"{CHAR_MAX} characters; give one with --study-id")
    return written


def trial_criteria(protocol: Protocol, study: str) -> Dataset:
    """The TI dataset: one row per criterion with a verdict, in protocol order."""
    named = criteria(((leaf.id, leaf.role.value, leaf.text) for leaf in protocol.leaves()),
                     protocol.path)
    rows = [{"STUDYID": study, "DOMAIN": "TI", "IETESTCD": named.codes[leaf.id],
             "IETEST": named.tests[leaf.id], "IECAT": named.categories[leaf.id],
             "TIVERS": ascii_text(protocol.version or "")[0]} for leaf in protocol.leaves()]
    warnings = list(named.warnings)
    if not protocol.version:
        warnings.insert(0, "the protocol has no version: TIVERS is empty")
    return Dataset(TI, rows, named.described, warnings)


@dataclass(frozen=True)
class Open:
    """A verdict that is not IE's to record: a criterion left open, or a rejected record."""

    usubjid: str
    criterion: str
    testcd: str
    verdict: str
    reason: str


@dataclass
class NotMet:
    """The IE dataset of a run, and what it leaves out (`open`)."""

    dataset: Dataset
    open: list[Open]
    subjects: int


def not_met(records: Iterable[dict[str, Any]], given_study: str | None, where: str) -> NotMet:
    """The IE dataset from a decision trail's records (`engine.audit.trail.read`), in trail order:
    per subject its criteria not met in protocol order, numbered by IESEQ from 1."""
    named: Criteria | None = None
    study, rows, left_open, seen = "", [], [], set()
    screening = ""
    for record in records:
        kind = record["type"]
        if kind == "run":
            study = study_id(given_study, record["protocol"]["id"], where)
        elif kind == "protocol":
            named = criteria(((e["id"], e["role"], e["text"]) for e in record["criteria"]), where)
        elif kind == "patient":
            subject = _subject(study, record["patient"], seen, where)
            screening, sequence = record["screening_date"], 0
        elif kind == "criterion":
            assert named is not None  # the reader checked the protocol record comes first
            criterion, verdict = record["criterion"], record["verdict"]
            if criterion not in named.codes:
                raise UsageError(f"{where}: {criterion} has a verdict but is not a criterion of "
                                 "the trail's protocol record")
            category = named.categories[criterion]
            answer = NOT_MET_ANSWER[category] if verdict == _NOT_MET[category] else None
            if answer is not None:
                sequence += 1
                rows.append({"STUDYID": study, "DOMAIN": "IE", "USUBJID": subject,
                             "IESEQ": sequence, "IETESTCD": named.codes[criterion],
                             "IETEST": named.tests[criterion], "IECAT": category,
                             "IEORRES": answer, "IESTRESC": answer, "IEDTC": screening})
            elif verdict in ("UNKNOWN", "NEEDS_REVIEW"):
                left_open.append(Open(subject, criterion, named.codes[criterion], verdict,
                                      _why_open(record)))
        elif kind == "rejected":
            who = f"{study}-{record['patient']}" if record["patient"] else ""
            left_open.append(Open(who, "", "", "REJECTED", f"fact file line {record['record']}: "
                                  + "; ".join(record["problems"])))
    assert named is not None
    return NotMet(Dataset(IE, rows, named.described, named.warnings), left_open, len(seen))


#: The verdict that puts a criterion in IE, by IECAT.
_NOT_MET = {"INCLUSION": "NOT_MET", "EXCLUSION": "MET"}


def _subject(study: str, patient: str, seen: set[str], where: str) -> str:
    usubjid, _ = ascii_text(f"{study}-{patient}")
    if usubjid in seen:
        raise UsageError(f"{where}: patient {patient!r} gives USUBJID {usubjid!r}, which another "
                         "patient of the trail has already (a patient decided twice, or ids that "
                         "differ only in characters with no ASCII spelling)")
    if len(usubjid) > CHAR_MAX:
        raise UsageError(f"{where}: patient {patient!r} gives a USUBJID longer than {CHAR_MAX} "
                         "characters")
    seen.add(usubjid)
    return usubjid


def _why_open(record: dict[str, Any]) -> str:
    """What an open verdict waits for, as the trail says it."""
    missing = [f"{m['concept']} ({m['reason']})" for m in record.get("missing", [])]
    pending = [f"{name} (awaiting judgment)" for name in record.get("pending", [])]
    return "; ".join(missing + pending)

