"""What proto-rules keeps between starts (`protocol/cache.py`): the grammar's parse tables and
pint's parsed units, in the user's cache folder. The outputs are the same with the folder, without
it (a folder that cannot be made) and with its files spoiled; nothing is said about it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

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
    assert first[0] == 0 and first[2] == ""
    assert checked(tmp_path / "home") == first
    for path in kept.iterdir():
        path.write_bytes(b"spoiled")
    assert checked(tmp_path / "home") == first
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder", encoding="utf-8")
    assert checked(blocked) == first
