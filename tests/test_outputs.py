"""Outputs that cannot be written, runs stopped midway, terminals that cannot print, and bugs of
ours: each is one line on stderr and an exit code, never a traceback, and what was written before
stays readable.

Writing fails for real here: a directory where the file should be, a path under /proc, /dev/full
(a device that is always full). Ctrl-C is a real SIGINT sent to a real `proto-rules run`; the C
locale is a real subprocess environment.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import cli
from engine.audit.verify import verify
from tests.conftest import cut_trail

ROOT = Path(__file__).resolve().parents[1]
SEED = "examples/cd19-ucart-sle.proto-rules"
PATIENTS = "examples/patients.jsonl"
COHORT = "examples/cohort.json"
EXE = Path(sys.executable).with_name("proto-rules")
FULL = Path("/dev/full")


pytestmark = pytest.mark.usefixtures("at_root")


def one_line_error(capsys, argv: list[str], words: str) -> None:
    """The command fails with exit 2 and its only stderr line (warnings about the example facts
    aside) names what could not be written."""
    assert cli.main(argv) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if ": warning: " not in line]
    assert err == [f"proto-rules: {words}"]


# -- outputs that cannot be written ----------------------------------------------------------------

def test_run_creates_the_trail_directory(capsys, tmp_path):
    """The README's own command, `--trail out/trail.jsonl`, where out/ does not exist yet."""
    trail = tmp_path / "out" / "deeper" / "trail.jsonl"
    assert cli.main(["run", SEED, PATIENTS, "--trail", str(trail)]) == 0
    assert verify(str(trail)).ok


def test_run_trail_is_a_directory(capsys, tmp_path):
    one_line_error(capsys, ["run", SEED, PATIENTS, "--trail", str(tmp_path)],
                   f"cannot write trail {tmp_path}: Is a directory")


def test_run_trail_under_an_impossible_directory(capsys):
    one_line_error(capsys, ["run", SEED, PATIENTS, "--trail", "/proc/x/trail.jsonl"],
                   "cannot write trail /proc/x/trail.jsonl: No such file or directory")


@pytest.mark.skipif(not FULL.exists(), reason="no /dev/full on this system")
def test_run_trail_on_a_full_disk(capsys):
    one_line_error(capsys, ["run", SEED, PATIENTS, "--trail", str(FULL)],
                   "cannot write trail /dev/full: No space left on device")


def test_escalate_creates_the_trail_directory(capsys, tmp_path):
    trail = tmp_path / "out" / "escalation.jsonl"
    assert cli.main(["escalate", SEED, COHORT, "--trail", str(trail)]) == 0
    assert verify(str(trail)).ok


def test_escalate_trail_is_a_directory(capsys, tmp_path):
    one_line_error(capsys, ["escalate", SEED, COHORT, "--trail", str(tmp_path)],
                   f"cannot write trail {tmp_path}: Is a directory")


@pytest.mark.skipif(not FULL.exists(), reason="no /dev/full on this system")
def test_escalate_trail_on_a_full_disk(capsys):
    one_line_error(capsys, ["escalate", SEED, COHORT, "--trail", str(FULL)],
                   "cannot write trail /dev/full: No space left on device")


@pytest.mark.parametrize("where, words", [
    ("/proc/x/y.png", "No such file or directory"),
    ("{tmp}/folder.png", "Is a directory"),
])
def test_simulate_plot_that_cannot_be_written(capsys, tmp_path, where, words):
    (tmp_path / "folder.png").mkdir()
    plot = where.format(tmp=tmp_path)
    argv = ["simulate", SEED, "--true-tox", "0.1,0.2,0.3", "--trials", "10", "--plot", plot]
    assert cli.main(argv) == 2
    assert capsys.readouterr().err.splitlines() == [f"proto-rules: cannot write plot {plot}: "
                                                   f"{words}"]


@pytest.mark.parametrize("option, value", [
    ("--seed", "-1"),
    ("--trials", "10000000000"),
    ("--trials", "0"),
    ("--trials", "many"),
])
def test_simulate_arguments_out_of_bounds(capsys, option, value):
    with pytest.raises(SystemExit) as raised:
        cli.main(["simulate", SEED, "--true-tox", "0.1,0.2,0.3", option, value])
    assert raised.value.code == 2
    err = capsys.readouterr().err.splitlines()[-1]
    assert err.startswith(f"proto-rules simulate: error: argument {option}: ")
    assert value in err and "Traceback" not in err


# -- a run stopped midway --------------------------------------------------------------------------

def test_a_trail_cut_inside_a_patient_ends_on_the_last_whole_one(seed_network, tmp_path):
    """What a write stopped midway left of its patient is dropped when the trail is cut: the file
    ends with whole patients, says it was cut and how far it got, and verifies."""
    # the batch a Ctrl-C stopped midway
    path = cut_trail(seed_network, tmp_path / "trail.jsonl", '{"evidence":[{"detail":"half a rec')
    result = verify(str(path))
    assert result.ok, result
    assert result.cut == ("the run was cut (interrupted) after 2 patients, fact file line 2: the "
                          "patients after it were not decided")
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert [r["type"] for r in records[-4:]] == ["decided", "cut", "summary", "seal"]


@pytest.mark.skipif(not EXE.exists(), reason="the console script is installed by `make test`")
def test_ctrl_c_seals_what_was_decided(tmp_path):
    """A real SIGINT to a real run over many patients: exit 130 with one line, and the trail holds
    every patient decided so far, whole, and says where the run stopped."""
    source = (ROOT / PATIENTS).read_text(encoding="utf-8").splitlines()
    facts = tmp_path / "many.jsonl"
    copies = [line.replace('{"patient": "', f'{{"patient": "copy{n}-', 1)
              for n in range(60) for line in source]  # one record per patient id
    facts.write_text("\n".join(copies) + "\n", encoding="utf-8")
    trail = tmp_path / "trail.jsonl"
    process = subprocess.Popen([str(EXE), "run", SEED, str(facts), "--trail", str(trail)],
                               cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if trail.exists() and trail.read_bytes().count(b'"type":"decided"') >= 3:
            break
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    stopped = [line for line in err.splitlines() if ": warning: " not in line]
    assert len(stopped) == 1 and stopped[0].startswith(
        f"proto-rules: interrupted: the trail {trail} holds the patients decided so far, marked "
        "as cut and sealed, final sha256 ")
    result = verify(str(trail), facts=str(facts))  # the hash of the whole file, not of what was read
    assert result.ok and result.cut and result.cut.startswith("the run was cut (interrupted)")
    records = [json.loads(line) for line in trail.read_text(encoding="utf-8").splitlines()]
    assert [r["type"] for r in records[-3:]] == ["cut", "summary", "seal"]
    assert records[-4]["type"] in ("decided", "rejected")
    decided = sum(r["type"] in ("decided", "rejected") for r in records)
    assert records[-3]["patients"] == decided < len(source) * 60


# -- terminals that cannot print, and bugs of ours -------------------------------------------------

@pytest.mark.skipif(not EXE.exists(), reason="the console script is installed by `make test`")
def test_explain_in_the_c_locale(tmp_path):
    """Protocol sentences hold `≥` and `×`: an ASCII terminal gets backslash escapes, not a
    UnicodeEncodeError."""
    trail = tmp_path / "trail.jsonl"
    assert cli.main(["run", SEED, PATIENTS, "--trail", str(trail)]) == 0
    env = {**os.environ, "LC_ALL": "C", "PYTHONUTF8": "0", "PYTHONIOENCODING": ""}
    done = subprocess.run([str(EXE), "explain", str(trail), "--patient", "P05-tbil-mg-dL"],
                          cwd=ROOT, env=env, capture_output=True, timeout=120)
    assert (done.returncode, done.stderr) == (0, b"")
    assert b"(ALT)\\u22643.0 ULN" in done.stdout


def test_an_unexpected_exception_is_a_bug_report(capsys):
    """The last line of defence in `cli.main`: no input reaches it (the fuzz tests check every exit
    code is 0, 1 or 2), so it is called here with an exception of its own."""
    try:
        {}["type"]
    except KeyError as error:
        assert cli.internal_error(error) == cli.INTERNAL_ERROR == 70
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("proto-rules: internal error (KeyError at test_outputs.py:")
    assert line.endswith("this is a bug of proto-rules: please report it with the command and "
                         "its input files")


@pytest.mark.skipif(not EXE.exists(), reason="the console script is installed by `make test`")
def test_a_reader_that_closes_the_pipe_leaves_a_cut_sealed_trail(tmp_path):
    """`run ... | head -1`: the reader has seen enough. Exit 0 with nothing said about the pipe,
    and a trail that verifies and says where the run was cut."""
    source = (ROOT / PATIENTS).read_text(encoding="utf-8").splitlines()
    facts = tmp_path / "many.jsonl"
    copies = [line.replace('{"patient": "', f'{{"patient": "copy{n}-', 1)
              for n in range(20) for line in source]
    facts.write_text("\n".join(copies) + "\n", encoding="utf-8")
    trail = tmp_path / "trail.jsonl"
    process = subprocess.Popen([str(EXE), "run", SEED, str(facts), "--trail", str(trail)],
                               cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    assert process.stdout is not None
    process.stdout.readline()
    process.stdout.close()  # as `head -1` does
    _, err = process.communicate(timeout=300)
    assert process.returncode == 0, err
    assert "BrokenPipe" not in err and "Traceback" not in err
    result = verify(str(trail))
    assert result.ok and result.cut is not None, result
    records = [json.loads(line) for line in trail.read_text(encoding="utf-8").splitlines()]
    (cut,) = [r for r in records if r["type"] == "cut"]
    assert cut["reason"] == "output closed" and 1 <= cut["patients"] < len(copies)


@pytest.mark.parametrize("argv", [
    ["simulate", SEED, "--true-tox", "0.1,0.2,0.3", "--plot", "x.svg"],
    ["compare-designs", SEED, "--scenario", "0.1,0.2,0.3", "--plot", "x.pdf"],
    ["pathways", SEED, "--plot", "tree"],
])
def test_a_plot_is_named_as_the_png_it_is(capsys, argv):
    """`--plot x.svg` wrote PNG bytes under a name that promised SVG: refused before any work."""
    with pytest.raises(SystemExit) as stop:
        cli.main(argv)
    assert stop.value.code == 2
    assert "a plot is written as PNG: name it .png, not " in capsys.readouterr().err
