"""Imported modules: the escalation designs and value sets a protocol takes from other files
(`import "three-plus-three"`, `import "drug-classes"`), found next to the importing file or among
the designs proto-rules ships.

Apart from the parser, which calls `imported` with its own reading of one file (then `sets`
before it builds the file's conditions, and `joined` after), because finding, reading and joining
files is another job than turning text into the model.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import NamedTuple

from protocol import model as m
from protocol.errors import Diagnostic, ProtocolError, Severity


#: The escalation designs proto-rules ships, importable by name from any protocol.
DESIGNS = Path(m.__file__).with_name("designs")
#: How spans and trails name a shipped design: its place in the package, so that a trail written
#: with one installation reads the same as with another (and resolves from a checkout's root).
DESIGNS_NAME = "protocol/designs"


class Imported(NamedTuple):
    """One imported module: its name in spans, its text, and its model (its own imports joined)."""

    path: str
    text: str
    module: m.Protocol


def imported(path: str, source: str, imports: Sequence[m.Import], chain: tuple[str, ...],
             parse_one: Callable[[str, str, tuple[str, ...]], m.Protocol]) -> list[Imported]:
    """Every module the file `path` (whose text is `source`) imports, each read and parsed by
    `parse_one` (the parser's reading of one file, with the chain of files importing it).

    A module is resolved relative to the file that imports it, then among the shipped designs, and
    keeps its own file name in its spans, so a trail line says `three-plus-three.proto-rules:12`. A
    module declares escalation rules and value sets only: a module with criteria would change
    eligibility without showing in the protocol. Its sets are read before the importing file's
    conditions, which use them by name (`sets`).
    """
    found = []
    for import_ in imports:
        name, text = _read_import(path, source, import_)
        if name in chain:
            cycle = " -> ".join((*chain, name))
            raise _import_error(source, import_, f"import cycle: {cycle}")
        module = parse_one(text, name, (*chain, name))
        stray = (*module.concepts, *module.equivalences, *module.definitions, *module.criteria,
                 *module.escalations)
        if stray:
            first = min(stray, key=lambda node: (node.span.line, node.span.column))
            diagnostic = Diagnostic(first.span, Severity.ERROR, "import", "an imported module "
                                    "may only declare escalation rules and value sets")
            raise ProtocolError([diagnostic], text)
        found.append(Imported(name, text, module))
    return found


def sets(found: Sequence[Imported]) -> dict[str, m.NamedValues]:
    """The value sets the imported modules declare, and those they import in turn, by name; a
    name two modules declare is an error at the second one's declaration (one module reached
    by two imports is one declaration)."""
    named: dict[str, m.NamedValues] = {}
    for module in found:
        for declared in (*module.module.sets, *module.module.imported_sets):
            if named.get(declared.name, declared).span != declared.span:
                earlier = named[declared.name].span
                raise ProtocolError([Diagnostic(declared.span, Severity.ERROR, "import",
                                                f"the set '{declared.name}' is declared by "
                                                f"{earlier.file}:{earlier.line} too")],
                                    module.module.source_of(declared.span.file) or module.text)
            named[declared.name] = declared
    return named


def joined(protocol: m.Protocol, found: Sequence[Imported],
           shared: dict[str, m.NamedValues]) -> m.Protocol:
    """The protocol with the escalation rules of every module it imports (and they import), and
    their value sets (`sets`, kept as `Protocol.imported_sets`: the editor shows them)."""
    designs, modules = list(protocol.designs), list(protocol.modules)
    for module in found:
        designs += module.module.designs
        modules += [m.Module(module.path, module.text), *module.module.modules]
    return replace(protocol, designs=tuple(designs), modules=tuple(dict.fromkeys(modules)),
                   imported_sets=tuple(shared.values()))


def _read_import(importer: str, source: str, imported: m.Import) -> tuple[str, str]:
    """The name and text of the first file an import finds: next to the importing file, then, for a
    bare name (`"three-plus-three"`), among the shipped designs. `.proto-rules` may be left off.

    Only a missing file moves on to the next place: one that is there but unreadable is an error,
    never a silent fall-back to another file of the same name.
    """
    spelled = imported.path
    if any(ord(c) < 32 or ord(c) == 127 for c in spelled):  # no file is named so (NUL: no call)
        raise _import_error(source, imported, f"cannot import {spelled!r}: a file name has no "
                            "control characters")
    if not spelled.endswith(".proto-rules"):
        spelled += ".proto-rules"
    candidates = _candidates(importer, spelled)
    for name, place in candidates:
        try:
            return name, place.read_bytes().decode("utf-8")
        except FileNotFoundError:
            continue
        except (OSError, UnicodeDecodeError) as error:
            reason = getattr(error, "strerror", None) or str(error)
            raise _import_error(source, imported, f"cannot import {place}: {reason}") from None
    if len(candidates) == 1:
        message = f"cannot import {candidates[0][1]}: No such file or directory"
    else:
        shipped = ", ".join(sorted(p.name.removesuffix(".proto-rules")
                                   for p in DESIGNS.glob("*.proto-rules")))
        message = (f"cannot import '{imported.path}': no file {candidates[0][1]}, nor among the "
                   f"designs proto-rules ships ({candidates[1][1]}; they are: {shipped})")
    raise _import_error(source, imported, message)


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


def _import_error(source: str, imported: m.Import, message: str) -> ProtocolError:
    return ProtocolError([Diagnostic(imported.span, Severity.ERROR, "import", message)], source)
