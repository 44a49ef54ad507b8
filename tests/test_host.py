"""The host around durable_rules' C engine: what it does about the engine's own limits."""

from __future__ import annotations

import json
import re
from types import SimpleNamespace

import pytest

from engine.host import Host
from protocol.errors import EngineError

#: Two facts durable_rules takes for one in a session with sid "7" (found by asserting n = 0, 1,
#: 2, ... into one session of the real engine until it answered "observed"): it finds a fact by a
#: 32-bit hash of its id, and these two ids' hashes agree.
CLASHING = [{"sid": "7", "t": "x", "n": 29853}, {"sid": "7", "t": "x", "n": 87947}]


def host() -> Host:
    """One rule that fires on every fact of type x and concludes nothing."""
    return Host({"clash": {"seen": {"all": [{"m": {"t": "x"}}], "run": SimpleNamespace(fact=None)}}})


def test_the_engine_takes_two_different_facts_for_one():
    """The limit itself: under sid "7" the second fact is refused as asserted twice (a million
    generated patients met it once, and the run stopped there before the host ran such a session
    again)."""
    with pytest.raises(EngineError, match="a fact was asserted twice"):
        host()._session("7", CLASHING, ())


def test_a_session_that_clashes_is_run_again_under_another_sid():
    """Both facts are seen: the session ran again under a sid whose facts' ids do not clash, and
    the engine, whose session was cleared before deletion, goes on to the next one."""
    engine = host()
    firings = engine.session("7", CLASHING, ())
    assert [firing.rule for firing in firings] == ["seen", "seen"]
    after = [{**fact, "sid": "8"} for fact in CLASHING]
    assert [firing.rule for firing in engine.session("8", after, ())] == ["seen", "seen"]


def test_an_assert_the_engine_refuses_is_an_error_and_the_process_goes_on(monkeypatch):
    """A criterion of 19 lab thresholds (123 rules, more than `check` now accepts) overflowed
    the engine's alpha stack on a patient with every value (error 303), and deleting that
    session aborted the process. The refusal is an EngineError naming the facts; the session is
    left to the engine, the patient set aside as a rejected record saying why, and the next
    patient is decided; a run stops only once the engine has refused too many."""
    from engine import fitting
    from engine import pipeline
    from engine import run
    from engine.run import Decision, Rejected, Screening
    from tests.conftest import screen_one
    from tests.test_limits import flags

    monkeypatch.setattr(fitting, "RULES_PER_NODE", 1000)
    text = flags(19, kind="quantity in mg", condition="f{i} >= 5 mg")
    screening = Screening(pipeline.compile(pipeline.load_text(text, "labs.proto-rules")[0]))
    values = [{"concept": f"f{i}", "value": 7, "unit": "mg", "date": "2025-12-30"}
              for i in range(19)]
    refused = screen_one(screening, values)
    assert isinstance(refused, Rejected) and screening.host.held == 1
    (problem,) = refused.problems
    assert re.fullmatch(r"patient\.jsonl:1, patient p: error: the rule engine could not decide "
                        r"this patient: durable_rules refused .*error code: 303.*", str(problem))
    result = screen_one(screening, values[:1])
    assert isinstance(result, Decision) and result.decision == "NEEDS_REVIEW"
    monkeypatch.setattr(run, "REFUSED_AT_MOST", 2)
    assert isinstance(screen_one(screening, values), Rejected)
    with pytest.raises(EngineError, match=r"the rule engine refused more than 2 patients, the "
                                          r"last p \(record 1\): durable_rules refused"):
        screen_one(screening, values)


def test_a_run_sets_a_patient_the_engine_refuses_aside_and_goes_on(monkeypatch, tmp_path,
                                                                    capsys):
    """The same refusal in `run`: that record is rejected with why (exit 2), the patients after
    it are decided, and the trail verifies."""
    import cli
    from engine import fitting
    from engine.audit.verify import verify
    from tests.test_limits import flags

    monkeypatch.setattr(fitting, "RULES_PER_NODE", 1000)
    protocol = tmp_path / "labs.proto-rules"
    protocol.write_text(flags(19, kind="quantity in mg", condition="f{i} >= 5 mg"),
                        encoding="utf-8")
    values = [{"concept": f"f{i}", "value": 7, "unit": "mg", "date": "2025-12-30"}
              for i in range(19)]
    facts = tmp_path / "facts.jsonl"
    facts.write_text("".join(json.dumps({"patient": pid, "screening_date": "2026-06-30",
                                         "facts": given}) + "\n"
                             for pid, given in (("every", values), ("one", values[:1]))),
                     encoding="utf-8")
    trail = tmp_path / "trail.jsonl"
    code = cli.main(["run", str(protocol), str(facts), "--trail", str(trail), "--workers", "1"])
    out, err = capsys.readouterr()
    assert code == 2
    assert out.splitlines()[-1].startswith("one: NEEDS_REVIEW")
    assert f"{facts}:1, patient every: error: the rule engine could not decide this patient: " \
           "durable_rules refused" in err
    assert "1 NEEDS_REVIEW; 1 record rejected" in err
    assert verify(str(trail), facts=str(facts)).ok


def test_a_session_that_clashes_under_every_sid_is_an_error(monkeypatch):
    """Tried under as many sids as the host allows (here one: the clashing pair's own), the
    session is refused with what happened, and the engine goes on to the next one."""
    import engine.host

    monkeypatch.setattr(engine.host, "_SIDS", 1)
    engine = host()
    with pytest.raises(EngineError, match=r"a fact was asserted twice in .*: the engine took two "
                                          r"different facts for one under 1 session ids; the "
                                          r"session holds too many facts"):
        engine.session("7", CLASHING, ())
    after = [{**fact, "sid": "8"} for fact in CLASHING]
    assert [firing.rule for firing in engine.session("8", after, ())] == ["seen", "seen"]
