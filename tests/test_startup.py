"""The trail's readers start without the compiler and the engine: `verify`, `explain` (the whole
trail, and one patient of a plain or a compressed trail) and `--help` import none of the modules
that make a run slow to start (cli.py imports each command's modules when it runs; the trail's
writer is `engine/audit/recorder.py`, apart from its readers).

What is checked is which modules a fresh process imported, not how long it took: a timing would
fail on a busy machine and pass on a fast one whatever the imports.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import PATIENTS, ROOT, SEED

#: What a run needs and a reader does not: the compiler and the engine, the fact readers, the
#: parser, units, schema validation, graphs, arrays, the cluster.
HEAVY = ("engine.compile", "engine.run", "engine.factfile", "engine.atoms", "engine.audit.recorder",
         "engine.escalation.network", "durable_rules_engine", "lark", "pint", "jsonschema",
         "networkx", "numpy", "dask", "tqdm")

#: A fresh interpreter running one command line, then naming every module it imported.
IMPORTED = """
import json, sys
import cli
try:
    cli.main(sys.argv[2:])
except SystemExit:
    pass
with open(sys.argv[1], "w") as out:
    json.dump(sorted(sys.modules), out)
"""


@pytest.fixture(scope="module")
def trails(tmp_path_factory) -> dict[str, Path]:
    """The seed protocol's trail of the example patients, plain and compressed."""
    folder = tmp_path_factory.mktemp("startup")
    made = {"plain": folder / "trail.jsonl", "compressed": folder / "trail.jsonl.zst"}
    for trail in made.values():
        done = subprocess.run([sys.executable, "cli.py", "run", str(SEED), str(PATIENTS),
                               "--quiet", "--trail", str(trail)], cwd=ROOT, capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 0, done.stderr
    return made


def imported(tmp_path: Path, *argv: str) -> set[str]:
    """The modules a fresh `proto-rules ARGV` imported, run from the checkout (as the tests
    import it)."""
    listed = tmp_path / "modules.json"
    done = subprocess.run([sys.executable, "-c", IMPORTED, str(listed), *argv], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return set(json.loads(listed.read_text(encoding="utf-8")))


def heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY))


@pytest.mark.parametrize("kind", ["plain", "compressed"])
@pytest.mark.parametrize("command", [
    ["verify"],
    ["explain"],
    ["explain", "--patient", "P01-eligible"],
    ["explain", "--patient", "P01-eligible", "--criterion", "I1"],
])
def test_a_reader_of_a_trail_imports_neither_the_compiler_nor_the_engine(
        tmp_path, trails, kind, command):
    modules = imported(tmp_path, command[0], str(trails[kind]), *command[1:])
    assert "engine.audit.trail" in modules  # the reader ran
    assert heavy(modules) == []


def test_help_imports_no_command_s_modules(tmp_path):
    modules = imported(tmp_path, "--help")
    assert "argparse" in modules
    assert heavy(modules) == []

