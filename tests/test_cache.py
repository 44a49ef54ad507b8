"""What proto-rules keeps between starts (`protocol/cache.py`): the grammar's parse tables and
pint's parsed units, in the user's cache folder. The outputs are the same with the folder, without
it (a folder that cannot be made) and with its files spoiled; nothing is said about it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from protocol import cache

ROOT = Path(__file__).resolve().parents[1]
COMMAND = [sys.executable, "cli.py", "check", "examples/cd19-ucart-sle.proto-rules", "--format",
           "json"]


def checked(cache_home: Path) -> tuple[int, str, str]:
    done = subprocess.run(COMMAND, cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "XDG_CACHE_HOME": str(cache_home)})
    return done.returncode, done.stdout, done.stderr


def test_kept_read_back_spoiled_or_not_kept_the_outputs_are_the_same(tmp_path):
    first = checked(tmp_path / "home")
    kept = tmp_path / "home" / "proto-rules"
    names = sorted(p.name for p in kept.iterdir())
    assert f"grammar-py{sys.version_info[0]}.{sys.version_info[1]}.lark" in names
    assert any(name.endswith(".pickle") for name in names)  # pint's
    assert f"units-Decimal-py{sys.version_info[0]}.{sys.version_info[1]}.pickle" in names
    assert first[0] == 0 and first[2] == ""
    assert checked(tmp_path / "home") == first
    for path in kept.iterdir():
        path.write_bytes(b"spoiled")
    assert checked(tmp_path / "home") == first
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder", encoding="utf-8")
    assert checked(blocked) == first


def test_a_value_is_read_back_only_under_its_own_key(tmp_path, monkeypatch):
    """A version or a definition changed (another key), or the file spoiled: built anew, and
    kept for the next start."""
    monkeypatch.setattr(cache, "folder", lambda: tmp_path)
    assert cache.kept("x", ("pint 1", "U"), lambda: {"U": 1}) == {"U": 1}
    assert cache.kept("x", ("pint 1", "U"), lambda: "not built") == {"U": 1}
    assert cache.kept("x", ("pint 2", "U"), lambda: {"U": 2}) == {"U": 2}
    kept, = tmp_path.iterdir()
    kept.write_bytes(b"spoiled")
    assert cache.kept("x", ("pint 2", "U"), lambda: "built") == "built"
    assert cache.kept("x", ("pint 2", "U"), lambda: "not built") == "built"
    assert [path.name for path in tmp_path.iterdir()] == [kept.name]  # no file left half-written
