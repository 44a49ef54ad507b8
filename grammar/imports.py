"""Imported modules: the escalation designs a protocol takes from other files (`import
"three-plus-three"`), found next to the importing file or among the designs proto-rules ships.

Apart from the parser, which calls `with_imports` with its own reading of one file, because
finding, reading and joining files is another job than turning text into the model.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from protocol import model as m
from protocol.errors import Diagnostic, ProtocolError, Severity


#: The escalation designs proto-rules ships, importable by name from any protocol.
DESIGNS = Path(m.__file__).with_name("designs")
#: How spans and trails name a shipped design: its place in the package, so that a trail written
#: with one installation reads the same as with another (and resolves from a checkout's root).
DESIGNS_NAME = "protocol/designs"


def with_imports(protocol: m.Protocol, chain: tuple[str, ...],
                 parse_one: Callable[[str, str], m.Protocol]) -> m.Protocol:
    """The protocol with the escalation rules of every file it imports (and they import).

    A module is resolved relative to the file that imports it, then among the shipped designs, and
    keeps its own file name in its spans, so a trail line says `three-plus-three.proto-rules:12`. A
    module declares escalation rules only: a module with criteria would change eligibility without
    showing in the protocol. `parse_one` reads one file's text into its model (the parser's).
    """
    designs, modules = list(protocol.designs), list(protocol.modules)
    for imported in protocol.imports:
        path, text = _read_import(protocol, imported)
        if path in chain:
            cycle = " -> ".join((*chain, path))
            raise _import_error(protocol, imported, f"import cycle: {cycle}")
        module = parse_one(text, path)
        if module.imports:
            module = with_imports(module, (*chain, path), parse_one)
        stray = (*module.concepts, *module.equivalences, *module.definitions, *module.criteria,
                 *module.escalations)
        if stray:
            first = min(stray, key=lambda node: (node.span.line, node.span.column))
            diagnostic = Diagnostic(first.span, Severity.ERROR, "import",
                                    "an imported module may only declare escalation rules")
            raise ProtocolError([diagnostic], text)
        designs += module.designs
        modules += [m.Module(path, text), *module.modules]
    return replace(protocol, designs=tuple(designs), modules=tuple(dict.fromkeys(modules)))


def _read_import(protocol: m.Protocol, imported: m.Import) -> tuple[str, str]:
    """The name and text of the first file an import finds: next to the importing file, then, for a
    bare name (`"three-plus-three"`), among the shipped designs. `.proto-rules` may be left off.

    Only a missing file moves on to the next place: one that is there but unreadable is an error,
    never a silent fall-back to another file of the same name.
    """
    spelled = imported.path
    if any(ord(c) < 32 or ord(c) == 127 for c in spelled):  # no file is named so (NUL: no call)
        raise _import_error(protocol, imported, f"cannot import {spelled!r}: a file name has no "
                            "control characters")
    if not spelled.endswith(".proto-rules"):
        spelled += ".proto-rules"
    candidates = _candidates(protocol.path, spelled)
    for name, place in candidates:
        try:
            return name, place.read_bytes().decode("utf-8")
        except FileNotFoundError:
            continue
        except (OSError, UnicodeDecodeError) as error:
            reason = getattr(error, "strerror", None) or str(error)
            raise _import_error(protocol, imported, f"cannot import {place}: {reason}") from None
    if len(candidates) == 1:
        message = f"cannot import {candidates[0][1]}: No such file or directory"
    else:
        shipped = ", ".join(sorted(p.name.removesuffix(".proto-rules")
                                   for p in DESIGNS.glob("*.proto-rules")))
        message = (f"cannot import '{imported.path}': no file {candidates[0][1]}, nor among the "
                   f"designs proto-rules ships ({candidates[1][1]}; they are: {shipped})")
    raise _import_error(protocol, imported, message)


def _candidates(importer: str, spelled: str) -> list[tuple[str, Path]]:
    """Where an import is looked for, in order, each as (its name in spans, the file to read).

    A shipped design's own imports are among the shipped designs only.
    """
    shipped = (f"{DESIGNS_NAME}/{spelled}", DESIGNS / spelled)
    if importer.startswith(f"{DESIGNS_NAME}/"):
        return [shipped]
    local = os.path.normpath(Path(importer).parent / spelled)
    bare = "/" not in spelled and "\\" not in spelled
    return [(local, Path(local)), shipped] if bare else [(local, Path(local))]


def _import_error(protocol: m.Protocol, imported: m.Import, message: str) -> ProtocolError:
    return ProtocolError([Diagnostic(imported.span, Severity.ERROR, "import", message)],
                         protocol.source)
