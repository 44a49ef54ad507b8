"""Installation: what `make` sets up, on whichever CPython runs the tests.

durable-rules 2.0.28 is built from its sdist with one call replaced (Python 3.13 removed
`PyEval_CallObject`); the venv's stamp names its interpreter; other CPythons are tried and skipped
in one line when they cannot be set up; the command says its version and runs as `python -m cli`;
every package and data file is in the wheel. `make` runs dry (`-n`) or on stand-in interpreters
here, so that nothing is installed by the suite.
"""

from __future__ import annotations

import fnmatch
import platform
import shutil
import subprocess
import sys
import tomllib
from importlib.metadata import version
from pathlib import Path

import durable_rules_engine
import pytest

import cli

ROOT = Path(__file__).resolve().parents[1]
needs_make = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def make(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["make", "--no-print-directory", "-C", str(ROOT), *args],
                          capture_output=True, text=True, timeout=120)


def test_the_engine_is_built_without_the_call_python_3_13_removed():
    """On 3.11 and 3.12 the unpatched engine loads too: only its symbols show the patch is in."""
    assert b"PyEval_CallObject" not in Path(durable_rules_engine.__file__).read_bytes()


def test_version_names_the_tool_the_engine_and_the_python(capsys):
    with pytest.raises(SystemExit) as exited:
        cli.main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out == (f"proto-rules {version('proto-rules')} (durable_rules "
                                       f"2.0.28, Python {platform.python_version()})\n")


def test_python_dash_m_cli_is_the_command():
    done = subprocess.run([sys.executable, "-m", "cli", "--version"], capture_output=True,
                          text=True, cwd=ROOT, timeout=60)
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.startswith(f"proto-rules {version('proto-rules')} ")


SETUPTOOLS = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"][
    "setuptools"]
#: The folders the installed tool is made of, and the files in them.
SHIPPED = [path for top in ("grammar", "protocol", "engine", "lsp")
           for path in sorted((ROOT / top).rglob("*")) if "__pycache__" not in path.parts]


def test_every_package_is_found_for_the_wheel():
    """An installed (not editable) proto-rules has a package only if setuptools finds it: each
    folder of modules has its `__init__.py` and is matched by `packages.find` (engine.edgecases
    was once missing from a hand-written list, and `edge-cases` failed only when installed)."""
    include = SETUPTOOLS["packages"]["find"]["include"]
    folders = {path.parent for path in SHIPPED if path.suffix == ".py"}
    assert len(folders) > 10
    for folder in folders:
        assert (folder / "__init__.py").exists(), folder
        dotted = ".".join(folder.relative_to(ROOT).parts)
        assert any(fnmatch.fnmatch(dotted, pattern) for pattern in include), dotted


def test_every_file_beside_the_modules_is_package_data():
    """The grammar, the JSON schemas, the shipped designs: each is installed only if pyproject
    lists it as its package's data."""
    package_data = SETUPTOOLS["package-data"]
    data = [path for path in SHIPPED if path.is_file() and path.suffix != ".py"]
    assert any(path.name == "proto_rules.lark" for path in data)
    assert any(path.parent.name == "designs" for path in data)
    for path in data:
        package = next(folder for folder in path.parents if (folder / "__init__.py").exists())
        inside = path.relative_to(package).as_posix()
        patterns = package_data.get(".".join(package.relative_to(ROOT).parts), ())
        assert any(fnmatch.fnmatch(inside, pattern) for pattern in patterns), path


@needs_make
def test_the_venv_is_made_again_for_another_python(tmp_path):
    venv = tmp_path / "venv"
    venv.mkdir()
    (venv / "pyvenv.cfg").touch()
    (venv / ".installed-cpython-399").touch()  # made by some other Python
    dry = make("-n", f"VENV={venv}", f"PYTHON={sys.executable}", "install")
    assert dry.returncode == 0, dry.stderr
    assert f"{sys.executable} -m venv {venv}" in dry.stdout
    (venv / f".installed-{sys.implementation.cache_tag}").touch()  # made by this one
    dry = make("-n", f"VENV={venv}", f"PYTHON={sys.executable}", "install")
    assert dry.returncode == 0 and " -m venv " not in dry.stdout, dry.stdout


@needs_make
def test_the_set_up_patches_durable_rules_from_its_sdist(tmp_path):
    dry = make("-n", f"VENV={tmp_path / 'venv'}", f"PYTHON={sys.executable}", "install")
    commands = dry.stdout
    download = commands.index("--no-binary :all: durable-rules==2.0.28")
    patch = commands.index('"$PATCH_DURABLE_RULES"')
    build = commands.index("pip install --quiet --no-compile ")
    project = commands.index("pip install --quiet --no-compile -e '.[test]'")
    assert download < patch < build < project


@needs_make
def test_fuzz_runs_the_fuzz_files_or_else_the_property_tests():
    fuzz_files = sorted(p.relative_to(ROOT).as_posix() for p in ROOT.glob("tests/test_fuzz_*.py"))
    dry = make("-n", "VENV=.venv", "fuzz")  # whichever venv the suite itself runs in
    assert dry.returncode == 0, dry.stderr
    command = dry.stdout.splitlines()[-1]
    assert command.startswith("PROTO_RULES_FUZZ=long .venv/bin/python -m pytest ")
    assert command.split()[4:] == (fuzz_files or ["tests/test_properties.py"])


@needs_make
def test_another_python_that_is_not_there_is_skipped_in_one_line(tmp_path):
    done = make("other-pythons", "OTHER_PYTHONS=3.98", f"OUT={tmp_path}")
    assert (done.returncode, done.stdout) == (0, "python3.98: not on this machine, skipped\n")


@needs_make
def test_another_python_that_cannot_be_set_up_is_skipped_in_one_line(tmp_path, monkeypatch):
    """A Python that runs but cannot make a venv (say, Debian's without python3-venv)."""
    stand_in = tmp_path / "bin" / "python3.98"
    stand_in.parent.mkdir()
    stand_in.write_text(
        "#!/bin/sh\n"
        'case "$2" in *sys.executable*) echo "$0"; exit 0;; esac\n'  # where it is
        f'[ "$1" = -c ] && exec {sys.executable} "$@"\n'  # the prerequisites hold
        "exit 1\n",  # but `-m venv` fails
        encoding="utf-8")
    stand_in.chmod(0o755)
    monkeypatch.setenv("PATH", f"{stand_in.parent}:{Path(sys.executable).parent}:/usr/bin:/bin")
    out = tmp_path / "out"
    done = make("other-pythons", "OTHER_PYTHONS=3.98", f"OUT={out}")
    assert done.returncode == 0, done.stderr
    assert done.stdout == (f"python3.98 ({stand_in}) could not be set up, skipped: "
                           f"see {out}/setup-3.98.log\n")
    assert not (ROOT / ".venv-3.98").exists()
