"""A folder of the user's own for what proto-rules can always rebuild but need not rebuild at
every start: the grammar's parse tables (Lark's `cache`), pint's parsed unit definitions (its
`cache_folder`) and the dimensions pint works out for every unit (`kept`). Read back, they save
about half a second of CPU at every command's start (`check` of the seed protocol: 1.6 s to 1.3 s
on a busy machine with the first two; the dimensions another 0.15 s a registry).

Lark checks what it reads back against a hash of the grammar, its options, its version and
Python's, and rebuilds what does not match or does not load (a file cut short by another process
writing it, or spoiled). pint keys its files by its version, Python's and the file it read, but
fails on a spoiled one: `protocol.units` then builds that registry without the folder. So the
outputs are the same with or without the folder. It is the user's cache folder
(`$XDG_CACHE_HOME/proto-rules`, else `~/.cache/proto-rules` on Linux), not the shared temporary
folder, where another user could leave a pickle for us to load. Where it cannot be made or written
(a read-only home), nothing is kept and everything is built as before. `kept` reads back only a
file whose key is the one it is asked for (versions and definitions), and builds anew whatever
does not load.
"""

from __future__ import annotations

import os
import pickle
import sys
import tempfile
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import TypeVar

import platformdirs

T = TypeVar("T")


@cache
def folder() -> Path | None:
    """The folder, made if need be; None where it cannot be made or written."""
    place = platformdirs.user_cache_path("proto-rules", appauthor=False)
    try:
        place.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return place if place.is_dir() and os.access(place, os.W_OK | os.X_OK) else None


def grammar_tables() -> str | bool:
    """Lark's `cache` option: a file per Python version (the tables are pickled objects), or
    False for none."""
    place = folder()
    return str(place / f"grammar-py{sys.version_info[0]}.{sys.version_info[1]}.lark") \
        if place else False


def kept(name: str, key: object, build: Callable[[], T]) -> T:
    """What `build` returns, read back from the folder's file `name` where it was kept under an
    equal `key` (which names every version and input the value depends on); built, and kept for
    the next start, where it was not, or does not load (spoiled, cut short, of another key).

    Written to a file of its own, then renamed over `name`: two processes starting at once each
    write a whole file, and a reader sees one or the other."""
    place = folder()
    path = place / f"{name}-py{sys.version_info[0]}.{sys.version_info[1]}.pickle" \
        if place else None
    if path is not None:
        try:
            with path.open("rb") as file:
                read_key, value = pickle.load(file)
            if read_key == key:
                return value
        except Exception:  # noqa: BLE001 -- whatever unpickling a spoiled file raises
            pass
    value = build()
    if path is None:
        return value
    try:
        handle, written = tempfile.mkstemp(dir=path.parent, prefix=path.name)
    except OSError:
        return value
    try:
        with os.fdopen(handle, "wb") as file:
            pickle.dump((key, value), file, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(written, path)
    except OSError:
        Path(written).unlink(missing_ok=True)
    return value
