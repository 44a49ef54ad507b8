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
