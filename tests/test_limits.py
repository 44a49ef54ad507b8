"""Protocols `check` accepts must run (issue 14): what the engine and the calendar can represent.

Each limit has a check-time diagnostic (file:line:col, a caret, a hint) and each number the engine
reads is written so it reads it: nothing `check` passes crashes `compile` or `run`.
"""

from __future__ import annotations


import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import pipeline
from engine.host import engine_json
from cli import main
from engine.run import Screening
from grammar.parser import parse
from protocol import units
from protocol.checks import check
from protocol.errors import ProtocolError
from tests.conftest import ROOT, screen_one

HEAD = 'protocol "t" version "1"\n'


def decide(text: str, facts: list[dict], day: str = "2026-01-01") -> str:
    """Parse, check, compile and run one patient: the decision, or the rejection's problems."""
    network = pipeline.compile(pipeline.load_text(text, "t.pr")[0])
    result = screen_one(Screening(network), facts, day=day)
    return getattr(result, "decision", None) or str(result)


# --- numbers the engine reads -----------------------------------------------------------------


@pytest.mark.parametrize("value", [1e-10, 1e-5, 1e16, 1e20, -1e-7, 2.5e-8])
def test_numbers_in_exponent_form_are_written_with_a_decimal_point(value: float) -> None:
    """durable_rules refuses `1e-10` (error 204) and reads `1.0e-10`; orjson writes the former."""
    text = engine_json({"v": value})
    assert "." in text.split(":")[1].split("e")[0]
    assert float(text[5:-1]) == value


def test_a_grade_threshold_below_1e_4_compiles_and_decides() -> None:
    text = HEAD + ('concepts:\n mi: event graded\n'
                   'inclusion I1 "t": mi with grade >= 0.00001 ever\n')
    assert decide(text, [{"concept": "mi", "date": "2025-01-01", "grade": 1}]) == "ELIGIBLE"


def test_a_patient_value_of_1e20_is_refused_and_1e_5_decided() -> None:
    """orjson writes 1e20 as `1e+20` and 0.00001 as `1e-05`: the engine failed the batch and the
    process died. Now the first is an input error (beyond what the engine compares exactly,
    named), the second decided."""
    text = HEAD + 'concepts:\n egfr: quantity in mL/min\ninclusion I1 "t": egfr >= 30 mL/min\n'
    fact = {"concept": "egfr", "unit": "mL/min", "date": "2025-12-30"}
    assert "1E+20 is beyond what the engine compares exactly" in decide(
        text, [{**fact, "value": 1e20}])
    assert decide(text, [{**fact, "value": 0.00001}]) == "INELIGIBLE"


# --- units pint cannot read -------------------------------------------------------------------


@pytest.mark.parametrize("unit", ["U/0", "U/", "mg/0.0", "/", "mg/(0)"])
def test_a_unit_pint_fails_on_is_an_unknown_unit(unit: str) -> None:
    """pint divided by zero (`U/0`) or failed an assertion (`U/`): a traceback from `check`."""
    with pytest.raises(units.UnitProblem, match="unknown unit|cannot read unit"):
        units.parse_unit(unit)


@pytest.mark.parametrize("unit", ["U/0", "U/"])
def test_check_reports_a_unit_pint_fails_on(unit: str) -> None:
    src = HEAD + f'concepts:\n e: quantity in mL/min\ninclusion I1 "t": e >= 30 {unit}\n'
    found = check(parse(src, "t.pr"))
    assert [(d.span.line, d.span.column, d.code) for d in found] == [(4, 24, "unit-unknown")]


@pytest.mark.parametrize("unit", ["10^400/L", "x10^-99/L", "mg^99999"])
def test_a_power_beyond_the_si_prefixes_is_refused(unit: str) -> None:
    with pytest.raises(units.UnitProblem, match="power beyond"):
        units.parse_unit(unit)


# --- empty files, protocols without criteria, a byte order mark ------------------------------


def codes(src: str) -> list[tuple[int, int, str]]:
    return [(d.span.line, d.span.column, d.code) for d in check(parse(src, "t.pr"))]


@pytest.mark.parametrize("src", ["", "\n\n", "# a comment only\n", "\ufeff"])
def test_an_empty_file_is_an_error_said_once(src: str) -> None:
    assert codes(src) == [(1, 1, "empty")]


def test_a_header_alone_has_no_criteria() -> None:
    """`protocol "x"` alone passed check, then `run` crashed (exit 139) leaving an empty trail."""
    found = check(parse(HEAD, "t.pr"))
    assert [(d.span.line, d.span.column, d.code, d.is_error) for d in found] == [
        (1, 1, "no-criteria", True)]
    assert "protocol 't' has no criteria and no escalation" in found[0].message


def test_escalation_only_passes_check_and_run_refuses_it(tmp_path) -> None:
    """BOIN's example has no criteria: `escalate` runs it; `run` says why it does not."""
    protocol, warnings = pipeline.load(str(ROOT / "examples" / "boin.proto-rules"))
    assert warnings == []
    with pytest.raises(ProtocolError) as raised:
        pipeline.compile(protocol)
    assert "has no criteria: 'run' has nothing to decide; its escalation is decided by " \
        "'proto-rules escalate'" in str(raised.value)
    trail = tmp_path / "trail.jsonl"
    facts = tmp_path / "p.jsonl"
    facts.write_text('{"patient": "p", "screening_date": "2026-01-01", "facts": []}\n')
    assert main(["run", str(ROOT / "examples" / "boin.proto-rules"), str(facts),
                 "--trail", str(trail)]) == 2
    assert not trail.exists()


@pytest.mark.parametrize("old, new", [("boin", "boin-options"), ("cd19-ucart-sle", "boin"),
                                      ("boin", "cd19-ucart-sle")])
def test_rescreen_refuses_a_protocol_without_criteria(old, new, capsys) -> None:
    """`rescreen` compiled both protocols itself and the engine crashed (exit 139) on the one
    without rules; it is refused as `run` refuses it, before anything is printed."""
    examples = ROOT / "examples"
    assert main(["rescreen", str(examples / f"{old}.proto-rules"),
                 str(examples / f"{new}.proto-rules"), str(examples / "patients.jsonl")]) == 2
    out, err = capsys.readouterr()
    assert out == "" and "has no criteria: 'rescreen' has nothing to decide" in err


def test_a_module_of_escalation_rules_passes_check() -> None:
    design = ROOT / "protocol" / "designs" / "three-plus-three.proto-rules"
    found = check(parse(design.read_text(), "lib.pr"))
    assert not [d for d in found if d.is_error]


def test_a_byte_order_mark_is_accepted_and_the_hash_keeps_it(tmp_path) -> None:
    path = tmp_path / "bom.proto-rules"
    text = HEAD + 'concepts:\n a: flag\ninclusion I1 "a": a\n'
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    protocol, warnings = pipeline.load(str(path))
    assert warnings == [] and protocol.id == "t"
    assert protocol.source.encode() == path.read_bytes()  # the trail hashes the file's bytes
    bad = tmp_path / "bad.proto-rules"
    bad.write_bytes(b"\xef\xbb\xbf" + b'protocol "t" version "1" oops\n')
    with pytest.raises(ProtocolError) as raised:
        pipeline.load(str(bad))
    shown = str(raised.value).splitlines()
    assert shown[0].startswith(f"{bad}:1:27: error: unexpected 'oops'")  # the BOM is column 1
    assert shown[2].index("^") == shown[1].index("oops")


# --- limits checked at check time ---------------------------------------------------------------

LIMITED = HEAD + ("concepts:\n"
                  " egfr: quantity in mL/min{valid}\n"
                  " mi: event graded\n"
                  " u: lab in U/L\n"
                  'inclusion I1 "t": {condition}\n')


def limited(condition: str, valid: str = "") -> list[tuple[int, int, str, str]]:
    found = check(parse(LIMITED.format(condition=condition, valid=valid), "t.pr"))
    return [(d.span.line, d.span.column, d.code, d.message) for d in found if d.is_error]


@pytest.mark.parametrize("condition, at, message", [
    ("egfr >= 123456789012345678901234567890 mL/min", 27,
     "123456789012345678901234567890 has 30 digits before the point; the engine compares numbers "
     "below 10^15: write it in a larger unit"),
    ("egfr >= 123456789.1234567 mL/min", 27, "has 7 decimal places; values are rounded to 6, so "
     "it would be read as 123456789.123457"),
    ("egfr >= 123456789.123456 mL/min", 27, ""),  # 15 significant digits: accepted
    ("mi with grade >= 0.0000000001 ever", 19, "0.0000000001 has 10 decimal places; values are "
     "rounded to 6, so it would be read as 0"),
    ("u <= 3.0000001 x ULN", 19, "3.0000001 has 7 decimal places"),
    ("egfr >= 100000000000000 L/s", 27, "100000000000000 L/s is 6000000000000000000 mL/min, the "
     "concept's unit; the engine compares numbers below 10^15"),
    ("mi within 99999999999 months before screening", 29, "'99999999999 months' is longer than "
     "the calendar reads: at most 1,200 months (100 years); for any time, write 'ever'"),
    ("mi within 3000000 days before screening", 29, "at most 36,525 days (100 years)"),
    ("mi less than 5219 weeks before screening", 32, "at most 5,218 weeks (100 years)"),
    ("at least 1001 mi ever", 19, "'at least 1001 ...' asks for 1001 items of one patient; "
     "counts are tested up to 1000"),
])
def test_a_limit_is_an_error_at_its_position(condition: str, at: int, message: str) -> None:
    found = limited(condition)
    if not message:  # at the limits: accepted
        assert found == []
        return
    assert [(line, column) for line, column, _, _ in found] == [(6, at)], found
    assert message in found[0][3]


def test_a_validity_beyond_100_years_is_refused() -> None:
    assert limited("egfr >= 30 mL/min", " valid for 4294967296 days") == [
        (3, 37, "duration-limit", "'4294967296 days' is longer than the calendar reads: at most "
         "36,525 days (100 years); for any time, write 'ever' (or leave out 'valid for')")]


def test_at_the_limits_everything_compiles_and_runs() -> None:
    """The largest accepted numbers, spans and counts run: nothing `check` passes crashes."""
    text = LIMITED.format(valid=" valid for 100 years", condition=(
        "egfr <= 999999999999999 mL/min and u <= 999999.999999 x ULN"
        " and mi with grade >= 0.000001 within 36525 days before screening"
        " and not at least 1000 mi within 1200 months before screening"))
    facts = [{"concept": "egfr", "value": 45, "unit": "mL/min", "date": "2025-12-30"},
             {"concept": "u", "value": 3, "unit": "U/L", "date": "2025-12-30",
              "reference_range": {"high": 40}},
             {"concept": "mi", "date": "1930-01-01", "grade": 1}]
    assert decide(text, facts) == "ELIGIBLE"


def test_windows_on_an_anchor_known_within_days_at_the_limits() -> None:
    """A window on another history's most recent start or end compares with the earliest and
    the latest day it may be: more record fields, the same comparisons. Forty such criteria (each
    filtered and graded, beside `the latest` and `no known` ones) and a count of 16 items
    compile and decide, on an end known only to the month and on one that is not settled."""
    windows = [f'inclusion I{i} "t": mi where site is not one of {{lung, gut}} with grade >= '
               f'{i % 5} {("within", "less than", "at least", "more than")[i % 4]} {i} days '
               f'{("before", "after")[i % 2]} the {("start", "end")[i % 3 % 2]} of th or the '
               f'latest mi more than {i} weeks before the end of th or no known mi at the start '
               f'of th' for i in range(1, 41)]
    text = HEAD + ("concepts:\n mi: event graded with site {lung, skin, gut}\n"
                   " th: medication {a, b}\n"
                   'inclusion I0 "t": not at least 16 mi where site is one of {lung, skin, gut} '
                   "with grade >= 0.000001 within 1200 months after the end of th\n"
                   + "\n".join(windows) + "\n")
    network = pipeline.compile(pipeline.load_text(text, "t.pr")[0])
    items = [{"concept": "mi", "date": f"2025-{m:02d}-{d:02d}", "grade": 3, "site": "skin"}
             for m in (7, 8) for d in range(1, 10)][:17]
    for therapy in ([{"concept": "th", "drug": "a", "date": "2025-01", "end": "2025-06"}],
                    [{"concept": "th", "drug": "a", "date": "2025-02", "end": "2025-06-30"},
                     {"concept": "th", "drug": "b", "date": "2025-02-10", "end": "2025-05-20"}]):
        result = screen_one(Screening(network), therapy + items, day="2026-01-01")
        assert result.verdicts["I0"].verdict == "NOT_MET", result  # 17 items after any end
        assert result.decision == "INELIGIBLE"


def test_a_dose_level_of_a_million_digits_is_reported_not_a_crash() -> None:
    src = (ROOT / "examples" / "boin.proto-rules").read_text().replace(
        "level DL4 1.2e8 cells/kg", "level DL4 1x10^4496729 cells/kg")
    found = [d for d in check(parse(src, "boin.pr")) if d.is_error]
    assert [(d.span.line, d.code) for d in found] == [(11, "number-limit")]
    assert found[0].message.startswith("1E+4496729 has 4496730 digits before the point")


def test_boin_beyond_200_patients_is_refused() -> None:
    src = (ROOT / "examples" / "boin.proto-rules").read_text().replace(
        "maximum 30 patients", "maximum 201 patients")
    found = [d for d in check(parse(src, "boin.pr")) if d.is_error]
    assert [(d.span.line, d.code) for d in found] == [(6, "boin-limit")]


def test_a_formula_power_beyond_the_6th_is_refused() -> None:
    src = HEAD + ("concepts:\n h: quantity in cm\n b: derived in cm = (h in cm)^99\n"
                  'inclusion I1 "t": b > 3 cm\n')
    found = [(d.span.line, d.span.column, d.code) for d in check(parse(src, "t.pr"))
             if d.code.endswith("limit")]
    assert found == [(4, 31, "number-limit")]


# --- tests of a field not recorded, per record fact ----------------------------------------------


def flags(count: int, criteria: int = 1, definitions: int = 0, kind: str = "flag",
          condition: str = "f{i}") -> str:
    """`criteria` criteria, each the conjunction of `count` flags (through `definitions`
    definitions sharing them out, when given), or of `condition`s on concepts of `kind`."""
    text = HEAD + "concepts:\n" + "".join(f" f{i}: {kind}\n" for i in range(count * criteria))
    for c in range(criteria):
        names = [condition.format(i=i) for i in range(c * count, (c + 1) * count)]
        if definitions:
            share = -(-count // definitions)
            parts = [names[i:i + share] for i in range(0, count, share)]
            text += "".join(f'define d{c}_{j} "part":\n    {" and ".join(part)}\n'
                            for j, part in enumerate(parts))
            names = [f"d{c}_{j}" for j in range(len(parts))]
        text += f'inclusion I{c} "all of them":\n    {" and ".join(names)}\n'
    return text


def all_flags(count: int) -> list[dict]:
    return [{"concept": f"f{i}", "value": True, "date": "2025-12-01"} for i in range(count)]


def test_criteria_of_many_flags_are_packed_so_the_engine_builds_them() -> None:
    """Six criteria of 30 flags, packed into one record fact, made the engine refuse to build
    the network (error 107: more than 128 tests of a field not recorded below one node)."""
    assert decide(flags(30, criteria=6), all_flags(180)) == "ELIGIBLE"


def test_a_criterion_of_more_flags_than_one_fact_tests_is_cut_into_nodes(tmp_path) -> None:
    """130 flags in one conjunction tested 130 fields for being missing on one record fact, more
    than the engine links (128); the conjunction is now cut into nodes of its own, as an author
    would cut it into definitions, and decides as the definitions do."""
    assert decide(flags(130), all_flags(130)) == "ELIGIBLE"
    assert decide(flags(130), all_flags(129)) == "NEEDS_REVIEW"
    assert decide(flags(130, definitions=2), all_flags(130)) == "ELIGIBLE"
    path = tmp_path / "wide.proto-rules"
    path.write_text(flags(130))
    assert main(["check", str(path)]) == 0


def labs(count: int, at_least: int = 0) -> str:
    """A criterion on `count` lab thresholds (each a value that may be known only within
    bounds): all of them, or at least `at_least` of them."""
    text = flags(count, kind="quantity in mg", condition="f{i} >= 5 mg")
    if at_least:
        conditions = text.split("\n")[-2].strip().split(" and ")
        text = text.replace(" and ".join(conditions),
                            f"at least {at_least} of [{', '.join(conditions)}]")
    return text


LAB_VALUES = [{"concept": f"f{i}", "value": 7, "unit": "mg", "date": "2025-12-30"}
              for i in range(60)]


def test_a_criterion_of_many_thresholds_is_cut_into_nodes_not_refused_or_hung() -> None:
    """Each threshold is a disjunction (the value exact, or its bounds), and a conjunction too
    large for one rule was distributed over them: 123 rules for 19 thresholds, which overflowed
    the engine's alpha stack and aborted the process, 2,048 for 24, minutes of `check` for 32.
    Past 64 rules the conjunction is cut into nodes of its own; 60 thresholds decide."""
    for count in (16, 17, 19, 32, 60):
        assert decide(labs(count), LAB_VALUES[:count]) == "ELIGIBLE", count
    assert decide(labs(32), LAB_VALUES[:31]) == "NEEDS_REVIEW"
    assert decide(labs(32), LAB_VALUES[:31] + [{**LAB_VALUES[31], "value": 3}]) == "INELIGIBLE"


@pytest.mark.parametrize("count", [10, 140])
def test_a_cut_condition_is_unknown_or_open_for_review_as_in_one_node(count: int) -> None:
    """A part of a cut conjunction true by one side of an `or` whose other side is not recorded
    is data missing, as in a condition of one node: with a judgment pending the criterion is
    UNKNOWN at 10 flags and at 140 (cut into nodes, it said NEEDS_REVIEW); with the value
    recorded, only the judgment is open: NEEDS_REVIEW."""
    text = HEAD + "concepts:\n q0: quantity in mg\n j0: judgment\n" + "".join(
        f" f{i}: flag\n" for i in range(count + 1))
    flags_ = " and ".join(f"f{i}" for i in range(count))
    text += f'inclusion I0 "c":\n    (q0 >= 5 mg or f{count}) and {flags_} and j0\n'
    screening = Screening(pipeline.compile(pipeline.load_text(text, "t.pr")[0]))
    facts = [{"concept": f"f{i}", "value": True, "date": "2025-12-30"} for i in range(count + 1)]
    q0 = {"concept": "q0", "value": 3, "unit": "mg", "date": "2025-12-30"}
    for recorded, verdict in ((facts, "UNKNOWN"), (facts + [q0], "NEEDS_REVIEW")):
        result = screen_one(screening, recorded, day="2026-01-01")
        assert result.verdicts["I0"].verdict == verdict, (count, verdict)


@pytest.mark.parametrize("count, at_least", [(8, 3), (10, 2), (40, 10)])
def test_at_least_k_of_many_thresholds_is_counted_not_refused(count: int, at_least: int) -> None:
    """`at least k of [...]` was expanded into its combinations: 3 of 8 thresholds took more
    rules than one node holds (86), 2 of 10 more than a condition may be split into (256), and
    both were refused at their line. Counted by the engine, they decide."""
    assert decide(labs(count, at_least), LAB_VALUES[:count]) == "ELIGIBLE"
    low = [{**value, "value": 3} for value in LAB_VALUES[at_least - 1:count]]
    assert decide(labs(count, at_least), LAB_VALUES[:at_least - 1] + low) == "INELIGIBLE"
    assert decide(labs(count, at_least), LAB_VALUES[:at_least - 1] + low[1:]) == "NEEDS_REVIEW"


#: Conditions a size test draws from: (kind, condition, a fact that decides it), the values
#: exact, bounded ("< 20") or known to the month or year, so that conditions read bounds.
SIZED = [("quantity in mg", "f{i} >= 5 mg",
          lambda i: {"concept": f"f{i}", "value": 7, "unit": "mg", "date": "2025-12-30"}),
         ("quantity in mg", "f{i} < 5 mg",
          lambda i: {"concept": f"f{i}", "value": "< 20", "unit": "mg", "date": "2025-12-30"}),
         ("flag", "f{i}", lambda i: {"concept": f"f{i}", "value": True, "date": "2025-12-30"}),
         ("event graded", "f{i} with grade >= 3 within 1 year before screening",
          lambda i: {"concept": f"f{i}", "date": "2025-06", "grade": 3}),
         ("event", "f{i} ever", lambda i: {"concept": f"f{i}", "date": "2025"}),
         ("event with site {lung, skin}", "f{i} where site is lung within 1 year before screening",
          lambda i: {"concept": f"f{i}", "date": "2025-06", "site": "lung"}),
         ("medication {d} with half_life in h",
          "f{i} within 14 days or 5 half_life, whichever is longer, before screening",
          lambda i: {"concept": f"f{i}", "drug": "d", "date": "2025-11", "end": "2025-12-01",
                     "half_life": "60 h"}),
         ("medication {d} with half_life in h",
          "f{i} within 28 days or 5 half_life, whichever is shorter, before screening",
          lambda i: {"concept": f"f{i}", "drug": "d", "date": "2025-12-10", "end": "2025-12-20"})]


@pytest.mark.parametrize("count", [15, 16, 40, 235])
def test_any_of_many_filtered_histories_decides(count: int) -> None:
    """A filtered history is a node of its own, and `any of [...]` 16 of them made a rule of 17
    facts, which the engine refused on the first patient whose histories all failed (error 304,
    its frame of 16); cut into runs of 14 (and runs of the runs past 196), each count decides."""
    text = HEAD + "concepts:\n c: event with site {" + ", ".join(
        f"s{i}" for i in range(count)) + "}\n"
    text += 'exclusion E1 "c": any of [' + ", ".join(
        f"c where site is s{i} within {i + 1} days before screening" for i in range(count)) + "]\n"
    screening = Screening(pipeline.compile(pipeline.load_text(text, "t.pr")[0]))
    for day, verdict in (("2025-12-31", "MET"), ("2020-01-01", "NOT_MET")):
        fact = {"concept": "c", "date": day, "site": f"s{count - 1}"}
        result = screen_one(screening, [fact], day="2026-01-01")
        assert result.verdicts["E1"].verdict == verdict, (count, day)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(1, 40), st.integers(1, 6), st.sampled_from([" and ", " or "]),
       st.sampled_from(["{}", "not ({})", "any of [{}]", "at least {k} of [{}]"]),
       st.randoms(use_true_random=False))
def test_every_size_runs_or_is_refused_at_check(count: int, criteria: int, op: str, wrap: str,
                                                rnd) -> None:
    """Criteria of up to 40 conditions of mixed kinds, up to six of them: the protocol either
    decides a patient or is refused by `check` as larger than the engine holds, at a criterion.
    Never an engine error in a run, never an aborted process: the limits of
    `engine/fitting.py` and `engine/patterns.py` were found by sizing protocols like these."""
    text, atoms, facts = HEAD + "concepts:\n", [], []
    for i in range(count * criteria):
        kind, condition, fact = rnd.choice(SIZED)
        text += f" f{i}: {kind}\n"
        atoms.append(condition.format(i=i))
        if rnd.random() < 0.7:
            facts.append(fact(i))
    for c in range(criteria):
        part = atoms[c * count:(c + 1) * count]
        listed = wrap.startswith(("any", "at least"))
        body = wrap.replace("{k}", str(max(1, count // 3))).format(
            ", ".join(part) if listed else op.join(part))
        text += f'{rnd.choice(["inclusion", "exclusion"])} C{c} "c": {body}\n'
    protocol = pipeline.load_text(text, "sizes.proto-rules")[0]
    refused = pipeline.network_problems(protocol)
    if refused:
        assert {d.code for d in refused} == {"network-limit"} and refused[0].span.line > 1
        return
    assert decide(text, facts) in ("ELIGIBLE", "INELIGIBLE", "NEEDS_REVIEW")


def newer_constructs(count: int) -> tuple[str, list[dict]]:
    """`count` of each in one criterion: ranges confirmed on another day (four tests each, on two
    days' fields), dates ordered against dates, multiples of the limit confirmed (in `or`),
    cumulative and average doses in windows of as many lengths; and a patient eligible under
    them."""
    concepts = "".join(f"    lab{i}: lab in U/L valid for 28 days\n    day{i}: date\n"
                       for i in range(count)) + "    gc: medication {prednisone} dosed in mg/d\n"
    text = HEAD + "concepts:\n" + concepts + "".join(
        f'{role} {name} "x": '
        f'{joined.join(each.format(i=i, j=(i + 1) % count, k=i + 1) for i in range(count))}\n'
        for role, name, joined, each in (
            ("inclusion", "I1", " and ", "lab{i} 10 to 40 U/L confirmed on another day"),
            ("inclusion", "I2", " and ", "day{i} on or before day{j} or day{i} after day{j}"),
            ("exclusion", "E1", " or ", "lab{i} > 3 x ULN confirmed on another day"),
            ("exclusion", "E2", " or ",
             "gc cumulative dose > {k} g within {k} months before day{i}"),
            ("exclusion", "E3", " or ",
             "gc average dose > {k}0 mg/d within {k} weeks before day{i}")))
    facts = [{"concept": f"lab{i}", "value": value, "unit": "U/L", "date": day,
              "reference_range": {"low": 5, "high": 40}}
             for i in range(count) for value, day in ((20, "2026-03-01"), (25, "2026-02-25"))]
    facts += [{"concept": f"day{i}", "value": f"2026-{1 + i % 2:02d}-{1 + i % 28:02d}"}
              for i in range(count)]
    facts.append({"concept": "gc", "drug": "prednisone", "dose": 10, "unit": "mg/d",
                  "date": "2025-06-01", "ongoing": True})
    return text, facts


def test_the_newer_constructs_at_size() -> None:
    """Twenty of each in one criterion (`newer_constructs`): the network builds and decides
    them, eligible, and ineligible when every cumulative dose is over its threshold."""
    text, facts = newer_constructs(20)
    screening = Screening(pipeline.compile(pipeline.load_text(text, "t.pr")[0]))
    assert [screen_one(screening, patient, day="2026-03-10").decision for patient in (
        facts, facts[:-1] + [{**facts[-1], "dose": 1000}])] == ["ELIGIBLE", "INELIGIBLE"]


def test_sixty_of_each_meet_the_engines_alpha_stack_and_the_patient_is_set_aside() -> None:
    """Sixty of each build; a patient for whom sixty cumulative doses are over their thresholds
    beside sixty confirmed multiples of the limit meets the engine's alpha stack (error 303,
    README: durable_rules) and is set aside as a rejected record that says so, not a crash."""
    text, facts = newer_constructs(60)
    screening = Screening(pipeline.compile(pipeline.load_text(text, "t.pr")[0]))
    assert screen_one(screening, facts, day="2026-03-10").decision == "ELIGIBLE"
    over = screen_one(screening, facts[:-1] + [{**facts[-1], "dose": 1000}], day="2026-03-10")
    (problem,) = over.problems
    assert problem.message.startswith("the rule engine could not decide this patient") and \
        problem.message.endswith("error code: 303")


def test_every_node_too_large_is_reported_not_only_the_first() -> None:
    """Two derived values of four conditions each: `check` names both, so an author splits
    them in one pass (it named the first only)."""
    terms = " + ".join(f"(1 if {flag} else 2)" for flag in ("a", "b", "c", "d"))
    text = (HEAD + "concepts:\n" + "".join(f" {flag}: flag\n" for flag in "abcd")
            + " creatinine: lab in mg/dL\n"
            + f" x: derived in mL/min = {terms} + creatinine in mg/dL\n"
            + f" y: derived in mL/min = {terms} + 2 x (creatinine in mg/dL)\n"
            + 'inclusion I1 "x": x >= 5 mL/min\ninclusion I2 "y": y >= 5 mL/min\n')
    with pytest.raises(ProtocolError) as raised:
        pipeline.compile(pipeline.load_text(text, "wide.proto-rules")[0])
    found = [(d.span.line, d.message.split(" takes ")[0]) for d in raised.value.diagnostics]
    assert found == [(8, "x"), (9, "y")]
