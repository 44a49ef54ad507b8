"""Random corruptions of a real decision trail through every reader of a trail.

The trail is written by `proto-rules run` on the seed protocol and its first three example patients
(replay decides them again for every example, so few keeps it quick). Each example corrupts it
once: bytes flipped, the file cut short, lines dropped or swapped, or one record's JSON changed
(a value replaced, a field removed) and written back, canonically or not. Then explain, verify,
replay and report read it through `cli.main`: only the project's errors may come out (exit 0, 1 or
2, never the internal-error exit 70), and a trail that `verify` calls tampered is never shown by
another reader with exit 0.

The budget is the hypothesis profile's (tests/conftest.py): `make fuzz` searches longer.
"""

from __future__ import annotations

import io
import json
from contextlib import redirect_stderr, redirect_stdout
from datetime import date
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

import cli

ROOT = Path(__file__).resolve().parents[1]
SEED = "examples/cd19-ucart-sle.proto-rules"
PATIENTS = ROOT / "examples" / "patients.jsonl"

#: JSON values a corruption puts in place of another.
VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8) | st.dates().map(date.isoformat) | st.sampled_from(["MET", "T", "true"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                max_size=3),
    max_leaves=6,
)


@pytest.fixture(scope="module")
def place(tmp_path_factory) -> Iterator[dict[str, Path]]:
    """The real trail, its facts, and where each example writes its corrupted copy; from the
    repository root, where the trail's protocol path points."""
    folder = tmp_path_factory.mktemp("fuzz-trails")
    facts = folder / "patients.jsonl"
    facts.write_text("".join(PATIENTS.read_text(encoding="utf-8").splitlines(True)[:3]),
                     encoding="utf-8")
    trail = folder / "trail.jsonl"
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(ROOT)
        assert quietly(["run", SEED, str(facts), "--trail", str(trail)])[0] == 0
        yield {"trail": trail, "facts": facts, "copy": folder / "corrupted.jsonl",
               "html": folder / "report.html"}


def quietly(argv: list[str]) -> tuple[int, str]:
    """Run the command in-process; its exit code and what it wrote to stderr."""
    err = io.StringIO()
    with redirect_stdout(io.StringIO()), redirect_stderr(err):
        code = cli.main(argv)
    return code, err.getvalue()


def changed(value: Any, draw: Callable) -> Any:
    """`value` with one place inside it replaced by another JSON value, or removed from its
    object; the place is chosen by walking down at random."""
    if isinstance(value, (dict, list)) and value and draw(st.booleans()):
        keys = sorted(value) if isinstance(value, dict) else list(range(len(value)))
        key = draw(st.sampled_from(keys))
        if isinstance(value, dict) and draw(st.integers(0, 4)) == 0:
            return {k: v for k, v in value.items() if k != key}
        copy = dict(value) if isinstance(value, dict) else list(value)
        copy[key] = changed(value[key], draw)
        return copy
    return draw(VALUES)


@st.composite
def corruptions(draw, original: bytes) -> bytes:
    lines = original.splitlines(keepends=True)
    kind = draw(st.sampled_from(["flip", "cut", "drop", "swap", "json"]))
    if kind == "flip":
        data = bytearray(original)
        for _ in range(draw(st.integers(1, 4))):
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
        return bytes(data)
    if kind == "cut":
        return original[: draw(st.integers(0, len(original) - 1))]
    if kind == "drop":
        at = draw(st.integers(0, len(lines) - 1))
        return b"".join(lines[:at] + lines[at + draw(st.integers(1, 3)):])
    if kind == "swap":
        i, j = draw(st.integers(0, len(lines) - 1)), draw(st.integers(0, len(lines) - 1))
        lines[i], lines[j] = lines[j], lines[i]
        return b"".join(lines)
    at = draw(st.integers(0, len(lines) - 1))
    record = changed(json.loads(lines[at]), draw)
    canonical = draw(st.booleans())
    text = json.dumps(record, sort_keys=canonical, separators=(",", ":") if canonical else None,
                      ensure_ascii=not canonical)
    lines[at] = text.encode() + b"\n"
    return b"".join(lines)


@pytest.mark.parametrize("dropped", [0, 1])
def test_a_trail_without_its_run_or_protocol_record_is_reported_so(place, dropped):
    """Found by `make fuzz`: `report` took a trail whose run record was deleted for a bug of
    ours (exit 70); every reader says what is wrong, exit 2 (verify: tampered, 1)."""
    lines = place["trail"].read_bytes().splitlines(keepends=True)
    place["copy"].write_bytes(b"".join(lines[:dropped] + lines[dropped + 1:]))
    copy = str(place["copy"])
    assert quietly(["verify", copy])[0] == 1
    code, err = quietly(["report", copy, "-o", str(place["html"])])
    assert code == 2 and "record" in err and "internal error" not in err, err


@given(data=st.data())
def test_every_reader_survives_a_corrupted_trail(place, data):
    original = place["trail"].read_bytes()
    place["copy"].write_bytes(data.draw(corruptions(original)))
    copy = str(place["copy"])
    verified, _ = quietly(["verify", copy])
    assert verified in (0, 1, 2)
    for argv in (["explain", copy], ["explain", copy, "--patient", "P02-eligible-postmenopausal"],
                 ["report", copy, "-o", str(place["html"])],
                 ["replay", copy, "--protocol", SEED, "--facts", str(place["facts"])]):
        code, err = quietly(argv)
        assert code in (0, 1, 2), (argv, err)
        assert "internal error" not in err and "Traceback" not in err
        if verified == 1:
            assert code in (1, 2), (argv, "a tampered trail read with exit 0")
