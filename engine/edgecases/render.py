"""The cases as a scenario file: YAML whose values are written as JSON (a YAML subset), so that
text stays text and numbers stay exact."""

from __future__ import annotations

import json
import re
from typing import Any


def render(cases: list[dict[str, Any]], protocol_path: str, base_file: str,
           skipped: list[str] = (), not_generated: list[str] = (), notes: list[str] = ()) -> str:
    """The cases as a scenario file: YAML whose values are written as JSON (a YAML subset), so
    that text stays text and numbers stay exact."""
    lines = [
        f"# Boundary cases of {protocol_path},",
        "# made by `proto-rules edge-cases`: review them, then keep them. Each case changes one",
        "# thing of the base patient (a concept, the birth date, or every date moved alike); its",
        "# expected verdicts are",
        "# worked out without the network: the part under test by exact decimal comparison,",
        "# calendar arithmetic with dateutil, or its formula in Python decimal (each case's",
        "# description says how), the criterion's other parts as",
        "# the trail judges them, the whole by Kleene logic over the criterion and its",
        "# definitions.",
    ]
    lines += [f"# note: {line}" for line in notes]
    lines += [f"# left out (no verdict it leads to could be worked out here): {name}"
              for name in skipped]
    lines += [f"# not generated: {line}" for line in not_generated]
    # no case at all (each atom not generated) as `[]`: a key alone is YAML's null
    lines += [f"patients: [{json.dumps(base_file)}]", "cases:" if cases else "cases: []"]
    for case in cases:
        lines.append(f"  - name: {_json(case['name'])}")
        for key in ("description", "base", "screening_date", "birth_date", "remove"):
            if key in case:
                lines.append(f"    {key}: {_json(case[key])}")
        for key in ("replace", "facts"):
            if key in case:  # an empty list as `[]`: a key alone is YAML's null
                lines.append(f"    {key}:" + ("" if case[key] else " []"))
                lines.extend(f"      - {_json(fact)}" for fact in case[key])
        verdicts = ", ".join(f"{k}: {v}" for k, v in case["expect"]["verdicts"].items())
        lines.append(f"    expect: {{verdicts: {{{verdicts}}}}}")
    return "\n".join(lines) + "\n"


def _json(value: Any) -> str:
    """JSON text, exact decimals written digit for digit as numbers (json would go through float,
    which rounds long ones): each is marked as text, then unquoted."""
    text = json.dumps(value, ensure_ascii=False,
                      default=lambda d: f"{_MARK}{format(d, 'f')}{_MARK}")
    return re.sub(f'"{_MARK}([-0-9.]+){_MARK}"', r"\1", text)


_MARK = "\u00a7"  # a character no number has; json writes it as itself (ensure_ascii off)
