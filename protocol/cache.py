"""A folder of the user's own for what proto-rules can always rebuild but need not rebuild at
every start: the grammar's parse tables (Lark's `cache`) and pint's parsed unit definitions (its
`cache_folder`). Read back, they save about a third of a second of CPU at every command's start
(`check` of the seed protocol: 1.6 s to 1.3 s on a busy machine).

Lark checks what it reads back against a hash of the grammar, its options, its version and
Python's, and rebuilds what does not match or does not load (a file cut short by another process
writing it, or spoiled). pint keys its files by its version, Python's and the file it read, but
fails on a spoiled one: `protocol.units` then builds that registry without the folder. So the
outputs are the same with or without the folder. It is the user's cache folder
(`$XDG_CACHE_HOME/proto-rules`, else `~/.cache/proto-rules` on Linux), not the shared temporary
folder, where another user could leave a pickle for us to load. Where it cannot be made or written
(a read-only home), nothing is kept and everything is built as before.
"""

from __future__ import annotations

import os
import sys
from functools import cache
from pathlib import Path

import platformdirs


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
