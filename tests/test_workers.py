"""`run --workers N`: the same bytes as one process, on every example protocol, with rejected
records and warnings; Ctrl-C to the whole process group; a worker killed.

Every run here is real: the workers are real processes, the signals real signals.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

import pytest

from tests.conftest import run_cli
from engine import pipeline
from engine.run import Rejected
from engine.screened import Outputs
from engine.audit.verify import verify
from engine.workers import decided
from protocol.errors import EngineError

ROOT = Path(__file__).resolve().parents[1]
SEED = "examples/cd19-ucart-sle.proto-rules"
EXE = Path(sys.executable).with_name("proto-rules")
needs_exe = pytest.mark.skipif(not EXE.exists(),
                               reason="the console script is installed by `make test`")

#: Each example protocol with its patients.
EXAMPLES = [(SEED, "examples/patients.jsonl")] + [
    (f"examples/{name}.proto-rules", f"examples/{name}.patients.jsonl")
    for name in ("bliss-sc-belimumab-sle", "empa-reg-outcome", "ensign-ctl019-pediatric-all",
                 "keynote-001-pembrolizumab", "zuma-7-axicabtagene-lbcl")]

#: Records every protocol rejects: not JSON, not an object, no patient id, a number orjson reads
#: and ours refuses (so the record after it, of the same id, is no duplicate: see
#: `engine.factfile.deferred_record`), and that record, without facts.
BAD = ['{"patient": "X1-torn", "facts": [', '["X2-not-an-object"]',
       '{"screening_date": "2026-06-01", "facts": []}',
       '{"patient": "X4-tiny", "facts": [], "v": 1E-99999999999999999999}',
       '{"patient": "X4-tiny", "facts": []}']

pytestmark = pytest.mark.usefixtures("at_root")


def with_bad_records(patients: str, tmp_path: Path) -> Path:
    """The example's patients with rejected records among them, a patient given twice, and one
    with a fact dated after its screening date (a warning: the fact is set aside)."""
    lines = (ROOT / patients).read_text(encoding="utf-8").splitlines()
    late = json.loads(lines[0])
    late["patient"] += "-late"
    dated = next(fact for fact in late["facts"] if "date" in fact)
    dated["date"] = "2099-01-01"
    mixed = lines[:3] + BAD[:2] + lines[3:10] + [lines[0], json.dumps(late)] + lines[10:] + BAD[2:]
    path = tmp_path / "facts.jsonl"
    path.write_text("\n".join(mixed) + "\n", encoding="utf-8")
    return path


def outputs_of(capsys, tmp_path: Path, protocol: str, facts: Path, form: str,
               *options: str) -> dict[str, object]:
    """Everything a run with `options` writes, its timing line and the names of its files
    aside."""
    out = tmp_path / "-".join(o.strip("-").replace("/", "").replace(":", "") for o in options)
    code, stdout, stderr = run_cli(
        capsys, "run", protocol, str(facts), *options, "--format", form,
        "--trail", str(out / "trail.jsonl"), "--table", str(out / "table.csv"),
        "--warnings", str(out / "warnings.txt"))
    said = [line.replace(str(out), "OUT") for line in stderr.splitlines()
            if " patients/s): " not in line]
    files = {name: (out / name).read_bytes() for name in ("trail.jsonl", "table.csv",
                                                           "warnings.txt")}
    return {"code": code, "stdout": stdout, "stderr": said, **files}


@pytest.mark.parametrize("protocol,patients", EXAMPLES, ids=[Path(p).stem for p, _ in EXAMPLES])
def test_every_output_is_the_bytes_of_one_process(capsys, tmp_path, protocol, patients):
    facts = with_bad_records(patients, tmp_path)
    form = "json" if "empa" in protocol or "zuma" in protocol else "text"
    one = outputs_of(capsys, tmp_path, protocol, facts, form, "--workers", "1")
    assert one["code"] == 2  # records were rejected
    assert b"2099-01-01" in one["warnings.txt"]
    for workers in ("2", "3"):
        assert outputs_of(capsys, tmp_path, protocol, facts, form, "--workers", workers) == one
    assert verify(str(tmp_path / "workers-3" / "trail.jsonl"), facts=str(facts)).ok


def test_a_small_file_left_to_the_default_starts_no_worker():
    """Starting workers costs more than deciding a few patients: `small` keeps them here."""
    network = pipeline.compile(pipeline.load(SEED)[0])
    outputs = Outputs(network, "inline", None, form="text", trail=False, table=False)
    records = [(n, json.loads(line)) for n, line in enumerate(
        (ROOT / "examples/patients.jsonl").read_text(encoding="utf-8").splitlines(), start=1)]
    children = []
    for _ in decided(outputs, records, 2, threading.Event(), small=len(records) + 1):
        children.extend(multiprocessing.active_children())
    assert children == []
    started = []
    for _ in decided(outputs, records, 2, threading.Event(), small=len(records)):
        started.extend(multiprocessing.active_children())
    assert started


def many(tmp_path: Path, copies: int) -> Path:
    source = (ROOT / "examples/patients.jsonl").read_text(encoding="utf-8").splitlines()
    facts = tmp_path / "many.jsonl"
    facts.write_text("\n".join(line.replace('{"patient": "', f'{{"patient": "copy{n}-', 1)
                               for n in range(copies) for line in source) + "\n",
                     encoding="utf-8")
    return facts


def wait_for_patients(trail: Path, process: subprocess.Popen, count: int) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if trail.exists() and trail.read_bytes().count(b'"type":"decided"') >= count:
            return
        time.sleep(0.05)


def interrupted(process: subprocess.Popen, trail: Path, facts: Path, at_least: int) -> None:
    """Ctrl-C to a running `run`'s process group, and what it must leave: exit 130 and one line,
    a trail that verifies, cut as interrupted, holding at least `at_least` patients, each in
    input order and none past the end of the facts."""
    os.killpg(process.pid, signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    stopped = [line for line in err.splitlines() if ": warning: " not in line]
    assert len(stopped) == 1 and stopped[0].startswith("proto-rules: interrupted: the trail ")
    result = verify(str(trail), facts=str(facts))
    assert result.ok and result.cut and result.cut.startswith("the run was cut (interrupted)")
    records = [json.loads(line) for line in trail.read_text(encoding="utf-8").splitlines()]
    decided = [r["patient"] for r in records if r["type"] == "decided"]
    in_order = [json.loads(line)["patient"] for line in facts.read_text().splitlines()]
    assert decided == in_order[:len(decided)] and at_least <= len(decided) < len(in_order)


def workers_of(pid: int) -> list[int]:
    """The worker processes of a run: its children that run the same command."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            if Path(f"/proc/{child}/cmdline").read_bytes() == \
                    Path(f"/proc/{pid}/cmdline").read_bytes():
                found.append(int(child))
    return found


@needs_exe
def test_ctrl_c_to_the_process_group_stops_after_the_patients_handed_out(tmp_path):
    """A terminal's Ctrl-C reaches every process of the group: the workers ignore it and finish
    their batches, the parent writes every patient handed out, in input order, and cuts the
    trail; exit 130, one line, no worker crashed or left behind."""
    facts = many(tmp_path, 60)
    trail = tmp_path / "trail.jsonl"
    process = subprocess.Popen([str(EXE), "run", SEED, str(facts), "--trail", str(trail),
                                "--workers", "2"], cwd=ROOT, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True, start_new_session=True)
    wait_for_patients(trail, process, 40)
    children = workers_of(process.pid)
    assert len(children) == 2
    interrupted(process, trail, facts, 40)
    assert not any(running(child) for child in children)


@needs_exe
def test_a_worker_killed_is_one_line_and_a_cut_trail(tmp_path):
    """A worker killed (the OOM killer, an operator): the run says so in one line, exit 70, and
    the trail holds the patients written before, cut and sealed; no hang."""
    facts = many(tmp_path, 60)
    trail = tmp_path / "trail.jsonl"
    process = subprocess.Popen([str(EXE), "run", SEED, str(facts), "--trail", str(trail),
                                "--workers", "2"], cwd=ROOT, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    wait_for_patients(trail, process, 20)
    os.kill(workers_of(process.pid)[0], signal.SIGKILL)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 70, err
    (line,) = [line for line in err.splitlines() if ": warning: " not in line]
    assert line.startswith("proto-rules: a worker process stopped before it sent its patients "
                           "back (killed by signal 9); the trail ")
    assert line.endswith("run again with --resume to finish")
    result = verify(str(trail), facts=str(facts))
    assert result.ok and result.cut and "a worker process stopped" in result.cut


@needs_exe
@pytest.mark.parametrize("victim", ["the run", "a worker"])
def test_nothing_waits_forever_when_a_process_is_killed(tmp_path, victim):
    """SIGKILL to the run (its workers find their pipe closed and leave after the batch in hand)
    or to a worker at random moments, halfway through sending its results as well (the run
    finds its pipe closed): no process is left waiting."""
    facts = many(tmp_path, 60)
    for attempt in range(3):
        trail = tmp_path / f"trail{attempt}.jsonl"
        process = subprocess.Popen([str(EXE), "run", SEED, str(facts), "--trail", str(trail),
                                    "--workers", "2"], cwd=ROOT, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        wait_for_patients(trail, process, 10 + 17 * attempt)
        children = workers_of(process.pid)
        os.kill(process.pid if victim == "the run" else children[attempt % 2], signal.SIGKILL)
        code = process.wait(timeout=60)
        assert code == (-signal.SIGKILL if victim == "the run" else 70)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and any(running(child) for child in children):
            time.sleep(0.05)
        assert not any(running(child) for child in children)


def running(pid: int) -> bool:
    """Whether a process is alive (an ended child not yet reaped by its parent is not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


class Failing(Outputs):
    """Outputs whose making fails as a bug of the engine would, in whichever process."""

    def _made(self, outcome):
        line = outcome.line if isinstance(outcome, Rejected) else outcome.patient.line
        raise EngineError(f"record {line}: no verdict for I1")


def test_an_error_in_a_worker_is_raised_as_one_process_raises_it():
    network = pipeline.compile(pipeline.load(SEED)[0])
    records = [(n, json.loads(line)) for n, line in enumerate(
        (ROOT / "examples/patients.jsonl").read_text(encoding="utf-8").splitlines(), start=1)]
    for workers in (1, 2):
        outputs = Failing(network, "inline", None, form="text", trail=False, table=False)
        with pytest.raises(EngineError, match="^record 1: no verdict for I1$"):
            list(decided(outputs, records, workers, threading.Event()))
    assert multiprocessing.active_children() == []


def test_with_another_thread_running_workers_start_fresh_with_the_same_bytes(capsys, tmp_path):
    """A process with another thread (a Dask client's loop, say) does not fork its workers: a
    thread holding a lock at the fork would leave it held in the worker for ever (Python 3.12 and
    later warn of it). The workers start from a fresh interpreter and write the same bytes."""
    facts = with_bad_records(EXAMPLES[0][1], tmp_path)
    one = outputs_of(capsys, tmp_path, SEED, facts, "json", "--workers", "1")
    done = threading.Event()
    waiting = threading.Thread(target=done.wait, daemon=True)
    waiting.start()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", DeprecationWarning)
            two = outputs_of(capsys, tmp_path, SEED, facts, "json", "--workers", "2")
    finally:
        done.set()
        waiting.join()
    assert two == one


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="threads counted by /proc")
@pytest.mark.parametrize("started, start", [("", "fork"), (
    "import _thread, time\n_thread.start_new_thread(time.sleep, (60,))\n", "forkserver")],
    ids=["no thread", "a thread below threading"])
def test_a_thread_threading_does_not_list_is_counted_too(started, start):
    """A library's own thread (numpy's BLAS pool, started as pint imports numpy) is not listed
    by `threading`, yet it may hold a lock as the process forks. The command line starts none, so
    its workers fork; beside one (here started below `threading`), they start afresh. In a
    process of its own: this one's threads are pytest's."""
    env = {key: value for key, value in os.environ.items() if key != "OPENBLAS_NUM_THREADS"}
    shown = subprocess.run(
        [sys.executable, "-c", f"import threading, cli\n{started}"
         "from engine.workers import _context\n"
         "print(threading.active_count(), _context().get_start_method())"],
        cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    assert shown.stdout.split() == ["1", start]
