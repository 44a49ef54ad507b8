"""Our own host for durable_rules: the C engine, fed the ruleset definition, drained in a tight loop.

durable.engine.Host wraps each firing in a Closure, serialises the session state to JSON and runs a
timer thread; per firing that costs more than the matching itself. This host keeps the engine's own
ruleset format (`{name: {rule: {'all': [...], 'run': action}}}`, what `durable.lang` builds) and the
C engine's semantics, but reads the firing's rule name without parsing it, lets the action say which
fact to assert (an action with a `compute` makes its fact from the facts the firing matched: the
only firings whose message is parsed), and asserts one agenda cycle's consequences in one batch. It
also turns the engine's quiet failure modes into errors: an unhandled or twice-asserted fact, a
session left behind.

Sessions: one per patient (`sid`), always deleted, because the engine holds at most 1024 live sessions.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from functools import partial
from typing import Any, NamedTuple

import durable_rules_engine as _engine
import orjson

from protocol.errors import EngineError

#: durable_rules' result codes for assert calls (durable/engine.py, Ruleset._handle_result).
_NOT_HANDLED, _OBSERVED = 1, 2


class Firing(NamedTuple):
    """One rule firing: its name and, for the rules whose matched facts we read, the message; for
    an action that computes its fact, the fact it computed.

    A named tuple, not a frozen dataclass: a patient's session makes dozens, and a frozen
    dataclass costs several times as much to build."""

    rule: str
    message: str
    fact: dict | None = None


#: A `Firing` made from a tuple of its three fields, without the named tuple's own constructor
#: (a function in Python): a session makes one per rule that fires, a hundred a patient.
firing = partial(tuple.__new__, Firing)


#: How many sids a session is tried under. One clash in a million patients of the seed protocol;
#: a session of 60,000 facts (a patient with 30,000 counted items) clashes about every other sid.
_SIDS = 8


class _Clash(EngineError):
    """The engine took a fact for one it already holds in the session. It finds a session's facts
    by a 32-bit hash of each fact's id (a 64-bit hash of its fields: durable_rules' `calculateId`
    and `storeMessage`), so two different facts of one session clash about once in a million
    patients of the seed protocol; the facts carry the sid, so under another sid they do not.
    `session` runs such a session once more under another sid: sids appear in no output. `state`
    is the session's state, whose queued actions must be taken off before it is deleted."""

    def __init__(self, message: str, state: int) -> None:
        super().__init__(message)
        self.state = state


class Refused(EngineError):
    """The engine could not decide one session's facts, a limit of its own that this patient's
    facts met: an assert it failed (e.g. error 303: its alpha stack), or facts it took for one
    another under every sid tried (`_Clash`). The other sessions go on: a run sets this patient
    aside (`engine.run.Screening.screen`). A failed assert leaves the session in a state in which
    deleting it aborts the process (`free(): invalid pointer`), so that one is not deleted: it
    stays held in the engine (`held` counts them)."""


class Host:
    """Holds one compiled ruleset in the C engine; `session` runs one patient to quiescence.

    Two hosts may hold rulesets of the same name: each has its own engine handle.
    """

    def __init__(self, ruleset: dict[str, dict]) -> None:
        ((name, rules),) = ruleset.items()
        self.name = name
        self.held = 0  # sessions the engine refused, left to it (`Refused`)
        self.actions = {rule: body["run"] for rule, body in rules.items()}
        # What each rule concludes, read once here rather than per firing: (what the conclusion is
        # about, its value, the fact to assert, and the action's `compute` when the fact is made
        # from the matched facts), or None for a rule that asserts nothing.
        self._conclusions: dict[str, tuple[tuple[str, str], Any, dict, Any] | None] = {}
        for rule, action in self.actions.items():
            fact = action.fact
            self._conclusions[rule] = None if fact is None else (
                (fact["t"], fact.get("c") or fact.get("n")),
                fact.get("verdict") or fact.get("v"),
                fact,
                getattr(action, "compute", None),
            )
        # A constant conclusion as the engine reads it, written once: its JSON up to the session
        # id and after it (a computed fact is written when it is made).
        self._written: dict[int, tuple[str, str]] = {}
        for conclusion in self._conclusions.values():
            if conclusion is not None and conclusion[3] is None:
                text = engine_json({**conclusion[2], "sid": "0"})
                assert text.endswith(',"sid":"0"}')
                self._written[id(conclusion[2])] = text[:-3], text[-2:]
        definition = {rule: {k: v for k, v in body.items() if k != "run"} for rule, body in rules.items()}
        try:
            self._handle = _engine.create_ruleset(name, engine_json(definition))
        except _engine.error as error:
            raise EngineError(_too_large(len(definition), error)) from None

    def close(self) -> None:
        """Let the engine drop the ruleset (a host checked and not run: `check`, the editor)."""
        _engine.delete_ruleset(self._handle)

    def session(self, sid: str, facts: list[dict], ends: Sequence[Sequence[int | str]]
                ) -> list[Firing]:
        """Assert `facts` for one session and fire to quiescence; then, for each stratum in turn,
        assert its end markers (`ends`, usually one a stratum) and fire again. The session is
        deleted whatever happens.

        Each action names the fact it concludes; the host asserts one cycle's conclusions together,
        keeps the first of equal conclusions (several rules may prove the same verdict) and refuses
        two different conclusions about the same thing. A session in which the engine takes two
        different facts for one (see `_Clash`) runs again under another sid.
        """
        for attempt in range(_SIDS):
            again = sid + "'" * attempt  # a sid no counter makes
            try:
                return self._session(again, [{**fact, "sid": again} for fact in facts]
                                     if attempt else facts, ends)
            except _Clash as clash:
                clashed = clash
        raise Refused(f"{clashed}: the engine took two different facts for one under "
                      f"{_SIDS} session ids; the session holds too many facts")

    def _session(self, sid: str, facts: list[dict], ends: Sequence[Sequence[int | str]]
                 ) -> list[Firing]:
        firings: list[Firing] = []
        concluded: dict[tuple[str, str], str] = {}
        state = None
        try:
            state = self._assert(engine_json(facts), facts)
            self._run(sid, state, firings, concluded)
            for markers in ends:
                end = [{"sid": sid, "t": "end", "s": marker} for marker in markers]
                state = self._assert(engine_json(end), end)
                self._run(sid, state, firings, concluded)
        except Refused:
            self.held += 1  # the session is left to the engine: deleting it aborts the process
            raise
        except BaseException as error:
            self._discard(error.state if isinstance(error, _Clash) else state)
            _engine.delete_state(self._handle, sid)
            raise
        _engine.delete_state(self._handle, sid)
        return firings

    def _discard(self, state: int | None) -> None:
        """Take every queued action off a failed session: the engine crashes (munmap_chunk) when a
        session is deleted with actions still queued."""
        if state is None:
            return
        result = _engine.start_action_for_state(self._handle, state)
        message = result[1] if result else None
        while message:
            message = _engine.complete_and_start_action(self._handle, state)

    def _run(self, sid: str, state: int, firings: list[Firing], concluded: dict) -> None:
        while True:
            conclusions = self._drain(state, firings, concluded)
            if not conclusions:
                return
            texts = []
            for fact in conclusions:
                written = self._written.get(id(fact))
                texts.append(written[0] + sid + written[1] if written
                             else engine_json({**fact, "sid": sid}))
            state = self._assert("[" + ",".join(texts) + "]", conclusions, sid)

    def _assert(self, text: str, facts: list[dict], sid: str | None = None) -> int:
        """Assert facts written as the engine reads them (`text`); `facts` (with `sid`, when they
        lack it) say which in an error."""
        try:
            result = _engine.assert_facts(self._handle, text)
        except _engine.error as error:  # a limit of the engine, named with what was asserted
            asserted = facts if sid is None else [{**fact, "sid": sid} for fact in facts]
            raise Refused(f"durable_rules refused {_brief(asserted)}: {error}") from None
        if result[0] in (_NOT_HANDLED, _OBSERVED):
            asserted = facts if sid is None else [{**fact, "sid": sid} for fact in facts]
            if result[0] == _OBSERVED:
                raise _Clash(f"a fact was asserted twice in {_brief(asserted)}", result[1])
            raise EngineError(f"no rule of {self.name} matches a fact in {_brief(asserted)}")
        return result[1]

    def _drain(self, state: int, firings: list[Firing], concluded: dict) -> list[dict]:
        conclusions: list[dict] = []
        handle, conclusion_of = self._handle, self._conclusions
        result = _engine.start_action_for_state(handle, state)
        message = result[1] if result else None
        while message:
            rule = message[2 : message.index('"', 2)]
            conclusion = conclusion_of[rule]
            if conclusion is not None and conclusion[3] is not None:
                compute = conclusion[3]
                fact = compute(orjson.loads(message)[rule])
                key = fact["t"], fact.get("c") or fact["n"]
                conclusion = key, tuple(sorted(fact.items())), fact, compute
                firings.append(firing((rule, message, fact)))
            else:
                firings.append(firing((rule, message, None)))
            if conclusion is not None:
                key, value, fact, _ = conclusion
                if key not in concluded:
                    concluded[key] = value
                    conclusions.append(fact)
                elif concluded[key] != value:
                    raise EngineError(f"{key[1]}: rules concluded both {concluded[key]} and {value}")
            message = _engine.complete_and_start_action(handle, state)
        return conclusions


#: A number in exponent form whose mantissa has no decimal point (`1e-10`, `1e+16`): durable_rules'
#: JSON reader refuses it (error 204 in a ruleset; in a fact, a failed batch and a crash when the
#: session is deleted), though it reads `1.0e-10`. Python and orjson write every float below 1e-4
#: or from 1e16 up this way.
_BARE_EXPONENT = re.compile(rb"(?<![\w.])(-?[0-9]+)([eE][+-]?[0-9]+)")
#: What any number in exponent form has: a digit before an `e`. Found by one search for `0e` in
#: the bytes with every digit read as 0 and `E` as `e`: several times faster than a regular
#: expression scanning the same bytes, and it runs on every fact the engine is given.
_DIGIT_E = bytes.maketrans(b"123456789E", b"000000000e")


def engine_json(value: Any) -> str:
    """`value` as JSON the engine reads: orjson's text, unless a number in it is written in
    exponent form without a decimal point; then every float is written with one (`1.0e-10`).

    Scanning orjson's bytes costs far less than writing every fact by hand; a string that merely
    looks like such a number only takes the slow, equally correct, path.

    >>> engine_json({"v": 1e-10, "w": [1e16, 2.5, 3], "s": "1e5"})
    '{"v":1.0e-10,"w":[1.0e+16,2.5,3],"s":"1e5"}'
    >>> engine_json([10 ** 30, True])
    '[1000000000000000000000000000000,true]'
    """
    try:
        text = orjson.dumps(value)
    except orjson.JSONEncodeError:  # a whole number beyond 64 bits, which the engine reads
        return _written(value)
    if b"0e" not in text.translate(_DIGIT_E) or _BARE_EXPONENT.search(text) is None:
        return text.decode()
    return _written(value)


def _written(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ",".join(f"{_written(str(k))}:{_written(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_written(item) for item in value) + "]"
    if isinstance(value, float) and math.isfinite(value):
        mantissa, e, exponent = repr(value).partition("e")
        return f"{mantissa}.0e{exponent}" if e and "." not in mantissa else repr(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return orjson.dumps(value).decode()


def _too_large(rules: int, error: Exception) -> str:
    """What the engine's refusal to build a ruleset means to a protocol author."""
    if "108" in str(error):
        return (f"the protocol compiles to {rules} rules, more than durable_rules' network can hold "
                f"(error 108, its beta-node table); split it into definitions, or into two "
                f"protocols screened in turn")
    return f"durable_rules could not build the network of {rules} rules: {error}"


def _brief(facts: list[dict]) -> str:
    text = json.dumps(facts, ensure_ascii=False)
    return text if len(text) < 200 else text[:200] + "..."
