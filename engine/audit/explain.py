"""The decision trail as text an auditor reads (`proto-rules explain`): per patient the decision
with its reasons first, then every definition and criterion with its verdict, the protocol
sentence, the rule's place, and for each part of its condition whether it held, with the facts it
saw and what it needed. It reads the records as every reader does (`engine.audit.trail.stream`, each
decided patient opened up by `expand`), a patient at a time."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, NamedTuple

from engine.audit.trail import MARK, cut, facts_sha256, would_pass
from engine.shape import Shape, folded, holds
from engine.summary import counted

LEGEND = "legend: + holds   - does not hold   ? cannot be judged (data missing, stale or unusable)"
DERIVED_WORDS = {"T": "true", "F": "false",
                 "U": "unknown (data it reads is missing or does not decide it)",
                 "R": "open (awaiting an investigator's judgment)"}


#: What the readers say of the fact file's hash in a trail that stops before its summary.
NO_FACTS_SHA256 = "sha256 not recorded: the trail stops before its summary"


def render(records: Iterable[dict[str, Any]], patient: str | None = None,
           criterion: str | None = None) -> str:
    """The trail as text an auditor reads (`rendered`), of records in a list."""
    records = list(records)  # the fact file's hash, shown first, is in the summary, at the end
    return "".join(rendered(records, patient, criterion, facts_sha256(records)))


def rendered(records: Iterable[dict[str, Any]], patient: str | None, criterion: str | None,
             facts_digest: str | None) -> Iterator[str]:
    """The trail as text an auditor reads, a patient at a time as the records stream in: per
    patient the decision with its reasons first, then every definition and criterion with its
    verdict, the protocol sentence, the rule's place, and for each part of its condition whether
    it held, with the facts it saw and what it needed. The fact file's hash, in the header, is
    recorded at the end of the trail: the caller has it (`facts_sha256`, `scan`)."""
    static: dict[str, dict[str, Any]] = {}
    block: list[str] = []
    head = ""
    for record in records:
        lines: list[str] = []
        kind = record["type"]
        if kind == "run":
            lines.extend(_run(record, facts_digest))
        elif kind == "protocol":
            static = {e["id"]: e for e in record["definitions"] + record["criteria"]}
            lines.extend(f"derived {v['id']} in {v['unit']} = {v['formula']}  ({v['rule']})"
                         for v in record.get("values", []))
            lines.extend(f"set {s['id']} = {{{', '.join(s['values'])}}}  ({s['rule']})"
                         for s in record.get("sets", []))
        elif kind not in ("summary",) and patient not in (None, record.get("patient")):
            continue
        elif kind == "patient":
            head = (f"\npatient {record['patient']} (fact file line {record['record']}, "
                    f"screening date {record['screening_date']})")
            block = [f"  {w}" for w in record["warnings"]]
        elif kind == "definition" and criterion is None:
            entry = static[record["definition"]]
            block.append(f"  definition {record['definition']} = {DERIVED_WORDS[record['value']]}"
                         f"  ({entry['rule']})")
            block.extend(_evidence(entry, record["evidence"]))
        elif kind == "criterion" and chosen(criterion, record["criterion"]):
            block.extend(_criterion(static[record["criterion"]], record))
        elif kind == "decision":
            reasons = "; ".join(f"{r['role']} {r['criterion']} {r['verdict']}" for r in record["reasons"])
            lines.extend([head, f"  decision: {record['decision']}" + (f": {reasons}" if reasons else "")])
            lines.extend(f"    to be eligible, {n['criterion']} needs {n['needs']} (line {n['line']})"
                         for n in record.get("to_settle", []) if chosen(criterion, n["criterion"]))
            lines.extend(block)
        elif kind == "rejected":
            lines.append(f"\nfact file line {record['record']} rejected "
                         f"({record['patient'] or 'no patient id'}):")
            lines.extend(f"  {p}" for p in record["problems"])
        elif kind == "cut":
            lines.append(f"\n{cut(record)}")
        elif kind == "summary" and patient is None:
            counts = dict(record["decisions"])
            rejected = counts.pop("REJECTED", 0)
            decided = ", ".join(f"{k} {v}" for k, v in counts.items())
            lines.append(f"\nsummary: {counted(sum(counts.values()), 'patient')} decided "
                         f"({decided}); {counted(rejected, 'record')} rejected")
        if lines:
            yield "".join(line + "\n" for line in lines)


def chosen(criterion: str | None, id_: str) -> bool:
    """Whether `--criterion` asks for the criterion `id_`: every one when none is asked, and a
    criterion of parts by its own id (`I4` shows `I4.renal` and `I4.liver`).

    >>> chosen("I4", "I4.renal"), chosen("I4", "I41"), chosen(None, "E1")
    (True, False, True)
    """
    return criterion is None or id_ == criterion or id_.startswith(f"{criterion}.")


def _run(record: dict[str, Any], facts_digest: str | None) -> list[str]:
    p, facts = record["protocol"], record["facts"]
    date_ = f"{record['screening_date']} for records without their own" \
        if record["screening_date"] else "from each record"
    digest = f"sha256 {facts_digest}" if facts_digest else NO_FACTS_SHA256
    return [f"protocol {p['id']} version {p['version']} ({p['file']}, sha256 {p['sha256']})",
            *(f"  with module {module['file']} (sha256 {module['sha256']})"
              for module in p.get("modules", ())),
            f"facts {facts['file']} ({digest}); screening date {date_}",
            f"{record['tool']}, {record['engine']}, network {record['network']['sha256'][:16]}",
            LEGEND]


def _criterion(entry: dict[str, Any], record: dict[str, Any]) -> list[str]:
    lines = [f"  {record['criterion']} {record['verdict']}  ({entry['role']}, {entry['rule']})",
             f"      \"{entry['text']}\"" if entry["text"] else "      (no protocol text)"]
    lines.extend(_evidence(entry, record["evidence"]))
    for item in record.get("missing", []):
        lines.append(f"      missing: {item['concept']} ({item['reason']})")
    for name in record.get("pending", []):
        lines.append(f"      awaiting investigator judgment: {name}")
    if record.get("to_pass"):
        settle = "; and ".join(f"{n['needs']} (line {n['line']})" for n in record["to_pass"])
        lines.append(f"      {would_pass(entry['role'], record)} with: {settle}")
    return lines


def _evidence(entry: dict[str, Any], evidence: list[dict[str, Any]]) -> list[str]:
    """Each part's line; where not all parts are needed, under the connectives that join them
    (the entry's `shape`), each with whether it holds, by strong Kleene logic over its parts."""
    lines = [f"{MARK[e['status']]} {c['text']} (line {c['line']}): {e['detail']}"
             for c, e in zip(entry["conditions"], evidence)]
    found = entry.get("shape")
    if found is None:
        return [f"      {line}" for line in lines]

    def drawn(item: Outlined) -> list[str]:
        if item.part is not None:
            return [lines[item.part]]
        inner = [line for each in item.items for line in drawn(each)]
        return [f"{MARK[item.status]} {item.heading}:", *("  " + line for line in inner)] \
            if item.heading else inner

    top = outline(found, [e["status"] for e in evidence])
    return [f"      {line}" for item in top for line in drawn(item)]


class Outlined(NamedTuple):
    """A part (`part`, its index) or a group of parts as `explain` and the report draw them:
    whether it holds, its heading (`any of`, `applies when`; none for items listed one under
    another), its items."""

    status: str
    heading: str | None = None
    items: tuple[Outlined, ...] = ()
    part: int | None = None


def outline(found: Shape, statuses: list[str]) -> list[Outlined]:
    """The items a criterion's evidence lists, from its shape and its parts' statuses: parts all
    needed one under another (an `all` group at the top, or under `applies when`, is its
    items), the applies-when part as a group before the condition's items, and any other group
    as one item headed by its connective, holding by strong Kleene logic over its items."""
    def group(word: str, items: list[Outlined]) -> Outlined:
        if word == "when":  # applies when ..., then the condition as if alone
            applies, then = items
            return Outlined(then.status, None, (
                Outlined(applies.status, "applies when", _listed(applies)), *_listed(then)))
        return Outlined(holds(word, [item.status for item in items]),
                        CONNECTIVES.get(word, f"{word} of"), tuple(items))

    return list(_listed(folded(found, lambda n: Outlined(statuses[n], part=n), group)))


#: A connective of a shape as the explanation heads its parts.
CONNECTIVES = {"all": "all of", "any": "any of", "not": "not"}


def _listed(item: Outlined) -> tuple[Outlined, ...]:
    """An `all of` group, or items with no heading, as its items; anything else as itself."""
    return item.items if item.heading in (None, CONNECTIVES["all"]) and item.part is None \
        else (item,)
