"""A folder of the user's own for what proto-rules can always rebuild but need not rebuild at
every start: the grammar's parse tables (Lark's `cache`) and pint's parsed unit definitions (its
`cache_folder`). Building them is most of a command's start (Lark's tables and the two pint
registries, about a second together on a busy machine); reading them back is a tenth of that.

Both libraries key what they keep by their own version, Python's version and a hash of what they
read, and rebuild what does not match or does not load (a file cut short by another process
writing it, or spoiled), so the outputs are the same with or without the folder. It is the user's
cache folder (`$XDG_CACHE_HOME/proto-rules`, else `~/.cache/proto-rules` on Linux), not the
shared temporary folder, where another user could leave a pickle for us to load. Where it cannot
be made or written (a read-only home), nothing is kept and everything is built as before.
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
