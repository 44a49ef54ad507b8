"""The host around durable_rules' C engine: what it does about the engine's own limits."""

from __future__ import annotations

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
        host()._session("7", CLASHING, 0)


def test_a_session_that_clashes_is_run_again_under_another_sid():
    """Both facts are seen: the session ran again under a sid whose facts' ids do not clash, and
    the engine, whose session was cleared before deletion, goes on to the next one."""
    engine = host()
    firings = engine.session("7", CLASHING, 0)
    assert [firing.rule for firing in firings] == ["seen", "seen"]
    after = [{**fact, "sid": "8"} for fact in CLASHING]
    assert [firing.rule for firing in engine.session("8", after, 0)] == ["seen", "seen"]


def test_an_assert_the_engine_refuses_is_an_error_and_the_process_goes_on(monkeypatch):
    """A criterion of 19 lab thresholds (123 rules, more than `check` now accepts) overflowed
    the engine's alpha stack on a patient with every value (error 303), and deleting that
    session aborted the process. The refusal is an EngineError naming the facts; the session is
    left to the engine, and the next patient is decided."""
    from engine import compile as compiler
    from engine import pipeline
    from engine.run import Decision, Screening
    from tests.conftest import screen_one
    from tests.test_limits import flags

    monkeypatch.setattr(compiler, "RULES_PER_NODE", 1000)
    text = flags(19, kind="quantity in mg", condition="f{i} >= 5 mg")
    screening = Screening(pipeline.compile(pipeline.load_text(text, "labs.proto-rules")[0]))
    values = [{"concept": f"f{i}", "value": 7, "unit": "mg", "date": "2025-12-30"}
              for i in range(19)]
    with pytest.raises(EngineError, match=r"durable_rules refused .*error code: 303"):
        screen_one(screening, values)
    result = screen_one(screening, values[:1])
    assert isinstance(result, Decision) and result.decision == "NEEDS_REVIEW"


def test_a_session_that_clashes_under_every_sid_is_an_error(monkeypatch):
    """Tried under as many sids as the host allows (here one: the clashing pair's own), the
    session is refused with what happened, and the engine goes on to the next one."""
    import engine.host

    monkeypatch.setattr(engine.host, "_SIDS", 1)
    engine = host()
    with pytest.raises(EngineError, match=r"a fact was asserted twice in .*: the engine took two "
                                          r"different facts for one under 1 session ids; the "
                                          r"session holds too many facts"):
        engine.session("7", CLASHING, 0)
    after = [{**fact, "sid": "8"} for fact in CLASHING]
    assert [firing.rule for firing in engine.session("8", after, 0)] == ["seen", "seen"]
