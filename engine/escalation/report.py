"""An escalation decision for a cohort file, its explanation, its trail records and BOIN's table.

`decide` strings the stages together (state fact from the counts, the network's answer, the step it
means for the trial); the rest renders: the text an investigator reads (the counts per level, the
decision, the rule that fired with its sentence and `file:line`, the values its condition read, the
boundary BOIN used) and the same as trail records, canonical JSON like the eligibility trail's.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from importlib.metadata import version
from typing import Any

from engine.escalation import tite as T
from engine.escalation.boin import Estimate, estimates, summary, table
from engine.escalation.cohort import Cohort, state_of, window_end
from engine.escalation.deviations import Deviation, history
from engine.escalation.network import (Answer, EscalationNetwork, Escalator, Step, names_in,
                                       render_condition)
from engine.escalation.network import step as step_of
from protocol import escalation_model as em


@dataclass(frozen=True)
class EscalationDecision:
    """What the network decided for a cohort, and everything the explanation shows."""

    network: EscalationNetwork
    cohort: Cohort
    state: dict[str, int]
    answer: Answer
    step: Step
    deviations: tuple[Deviation, ...] = ()


def decide(escalator: Escalator, cohort: Cohort) -> EscalationDecision:
    """Ask the network about a validated cohort and read its answer against the trial: first
    the trial's history (its deviations, and the levels a decision eliminated, which stay
    out), then the decision for the next cohort."""
    network = escalator.network
    found = history(escalator, cohort)
    out = frozenset(found.out)
    state = cohort.state(network.escalation, out)
    tite = network.band_by == "counted"  # TITE-BOIN: pending patients count in n
    counts = [(c.evaluable + c.pending * tite, c.dlt) for c in cohort.counts]
    answer = escalator.ask(state, counts, out, cohort.current)
    taken = step_of(network, answer, cohort.current, counts)
    return EscalationDecision(network, cohort, state, answer, taken, found.deviations)


def headline(decision: EscalationDecision) -> str:
    """The decision in one line: the move, and the level (or what the study found)."""
    levels = decision.network.levels
    taken = decision.step
    here = levels[decision.cohort.current]
    if taken.move == "PENDING":
        names = ", ".join(p.id for p in decision.cohort.pending())
        return f"PENDING: no decision while DLT windows are open ({names})"
    if taken.move == "SUSPEND":
        names = ", ".join(p.id for p in decision.cohort.pending())
        return (f"SUSPEND accrual at {here.id}: no patient is infused until more DLT outcomes "
                f"are known ({names} pending)")
    if taken.move == "STOP":
        return "STOP: " + _found(decision)
    nxt = levels[taken.next_level] if taken.next_level is not None else here
    dose = f"{nxt.id} ({nxt.written})"
    if taken.move == "ESCALATE":
        return f"ESCALATE to {dose}: the next cohort receives {nxt.id}"
    if taken.move == "DE-ESCALATE":
        return f"DE-ESCALATE to {dose}: the next cohort receives {nxt.id}"
    if taken.move == "ELIMINATE":
        out = ", ".join(levels[i].id for i in taken.eliminated)
        return f"ELIMINATE {out}; DE-ESCALATE to {dose}"
    if taken.move == "EXPAND":
        size = decision.network.escalation.cohort_size
        return f"EXPAND {dose}: treat {size} more patient{'s' * (size != 1)} at {nxt.id}"
    return f"STAY at {dose}: the next patient receives {nxt.id}"


def _found(decision: EscalationDecision) -> str:
    levels = decision.network.levels
    taken = decision.step
    here = levels[decision.cohort.current]
    if taken.mtd_kind == "not_reached":
        return f"MTD not reached; {here.id} ({here.written}), the highest level, is tolerated"
    if taken.mtd_kind == "none" or (taken.mtd_kind == "select" and taken.mtd is None):
        return "no MTD: the lowest dose level is too toxic"
    if taken.mtd is None:
        return "MTD not determined"
    mtd = levels[taken.mtd]
    how = " (isotonic regression)" if taken.mtd_kind == "select" else ""
    return f"the MTD is {mtd.id} ({mtd.written}){how}"


def notes(decision: EscalationDecision) -> list[str]:
    """What limits carrying the decision out: a safety review to sign, a stagger to keep."""
    escalation = decision.network.escalation
    found: list[str] = []
    here = decision.network.levels[decision.cohort.current]
    if decision.answer.hold:
        found.append(
            f"ON HOLD: escalating needs a safety review of {here.id} signed on or after "
            "its last DLT assessment; none is recorded"
        )
    taken = decision.step
    if escalation.stagger is None or taken.next_level is None or decision.cohort.as_of is None:
        return found  # a what-if from outcome strings has no dates to stagger
    level = decision.network.levels[taken.next_level]
    infused = sorted(p.infused for p in decision.cohort.patients
                     if p.level == level.id and p.infused is not None)
    if not infused:
        found.append(
            f"staggered: infuse one patient at {level.id}, then observe {escalation.stagger}"
            " before the next"
        )
    elif len(infused) == 1:
        after = window_end(infused[0], escalation.stagger)
        if after > decision.cohort.as_of:
            found.append(
                f"staggered: the next infusion at {level.id} not before {after} "
                f"({escalation.stagger} after the first)"
            )
    return found


def explain(decision: EscalationDecision) -> str:
    """The decision as text: counts per level, the decision, the rule and what it read."""
    network, cohort = decision.network, decision.cohort
    escalation = network.escalation
    protocol = network.protocol
    design = network.design
    when = f"as of {cohort.as_of}" if cohort.as_of else "what if"
    lines = [
        f"{protocol.id} v{protocol.version}: dose escalation {when} ({cohort.path})",
        f"design: {design.text or design.name}; cohorts of {escalation.cohort_size}, at most "
        f"{escalation.maximum} patients, DLT window {escalation.dlt_window}",
        "",
        f"{'level':<8}{'dose':<20}{'treated':>8}{'evaluable':>10}{'DLT':>5}{'pending':>8}",
    ]
    for index, (level, count) in enumerate(zip(network.levels, cohort.counts)):
        mark = " <-" if index == cohort.current else ""
        out = " eliminated" if index in decision.step.eliminated else ""
        lines.append(
            f"{level.id:<8}{level.written:<20}{count.treated:>8}{count.evaluable:>10}"
            f"{count.dlt:>5}{count.pending:>8}{mark}{out}"
        )
    lines += ["", headline(decision)]
    lines += [f"  {note}" for note in notes(decision)]
    rule = _rule(decision)
    lines.append(f'  rule {rule["id"]}: "{rule["text"]}" ({rule["at"]})')
    if rule["condition"]:
        lines.append(f"  condition: {rule['condition']}  [{rule['read']}]")
    if rule["boundary"]:
        b = rule["boundary"]
        elim = b["eliminate_if_dlt_at_least"]
        lines.append(
            f"  boundary: {b['n']} {'patients' if 'window_days' in b else 'evaluable'}: "
            "escalate if DLT <= "
            f"{b['escalate_if_dlt_at_most']}, de-escalate if >= "
            f"{b['deescalate_if_dlt_at_least']}, eliminate if >= {elim or '-'}"
            + (f" (lambda_e {b['lambda_e']}, lambda_d {b['lambda_d']})" if "lambda_e" in b else "")
            + (f"; extrasafe: stop at the lowest level if >= "
               f"{b['extrasafe_stop_if_dlt_at_least'] or '-'}"
               if "extrasafe_stop_if_dlt_at_least" in b else "")
            + (f"; n.earlystop {b['n_earlystop']}" if "n_earlystop" in b else "")
        )
    found = _tite(decision)
    if found is not None:
        lines += T.lines(found, network.levels[cohort.current].id)
    followed = {p.id: days for p, days in cohort.followup(escalation)}
    for patient in cohort.patients:
        if patient.status == "dlt":
            event = f" ({patient.event})" if patient.event else ""
            dated = f", {patient.dlt}" if patient.dlt else ""
            lines.append(f"  DLT: {patient.id} at {patient.counted_at}{dated}{event}")
        elif patient.status == "pending":
            lines.append(
                f"  pending: {patient.id} at {patient.counted_at}, window ends {patient.window_end}"
                + (f", followed {followed[patient.id]} days" if patient.id in followed else "")
            )
        elif patient.status == "not evaluable":
            lines.append(
                f"  not evaluable: {patient.id} at {patient.level}"
                + (f", {patient.reason}" if patient.reason else "")
            )
        if patient.status != "dlt" and (patient.grade or 0) >= 2:
            lines.append(f"  grade {patient.grade} toxicity: {patient.id} at {patient.counted_at}")
    lines += _estimates_table(decision)
    if decision.deviations:
        lines += ["", f"DEVIATIONS from the design ({len(decision.deviations)}):"]
        lines += [f"  {d.kind}: {d.text} [{d.rule}]" for d in decision.deviations]
    return "\n".join(lines) + "\n"


def mtd_estimates(decision: EscalationDecision) -> list[Estimate | None] | None:
    """When the trial stops under a design with a target DLT rate (BOIN, i3+3, mTPI-2), what
    BOIN's `select.mtd` reports beside the MTD, per level; otherwise None."""
    bounds = decision.network.boundaries
    if decision.step.move != "STOP" or bounds is None:
        return None
    return estimates([(c.evaluable, c.dlt) for c in decision.cohort.counts], bounds.target)


def _estimates_table(decision: EscalationDecision) -> list[str]:
    """The estimates as `summary(select.mtd(...))` lays them out (two decimals, ---- for a
    level nobody received), with the level ids and counts beside them."""
    found = mtd_estimates(decision)
    if found is None:
        return []
    target = decision.network.boundaries.target  # type: ignore[union-attr]
    lines = [
        "",
        "MTD selection (isotonic regression as BOIN's select.mtd, beta(0.05, 0.05) prior):",
        f"{'level':<8}{'evaluable':>10}{'DLT':>5}{'estimate':>10}   {'95% credible interval':<23}"
        f"P(DLT rate > {target} | data)",
    ]
    for level, count, estimate in zip(decision.network.levels, decision.cohort.counts, found):
        head = f"{level.id:<8}{count.evaluable:>10}{count.dlt:>5}"
        if estimate is None:
            lines.append(f"{head}{'----':>10}   {'----':<23}----")
            continue
        interval = f"({estimate.low:.2f}, {estimate.high:.2f})"
        lines.append(f"{head}{estimate.rate:>10.2f}   {interval:<23}{estimate.overdose:.2f}")
    return lines


#: The engine's own decisions: (the id shown, the sentence).
ENGINE_RULES = {
    "esc:PENDING": ("PENDING", "no decision while a complete cohort (or another level) has DLT "
                               "windows open"),
    "esc:OUT": ("ELIMINATED", "the current level was eliminated by an earlier decision and stays "
                              "out: treat the next cohort below the lowest level eliminated"),
    "esc:OUT-lowest": ("ELIMINATED", "the lowest level was eliminated by an earlier decision: "
                                     "no level is left; stop, no MTD"),
}


def _tite(decision: EscalationDecision) -> dict[str, Any] | None:
    """TITE-BOIN's numbers for the current level (None for other designs and what-ifs)."""
    escalation = decision.network.escalation
    window = T.window_days(escalation.dlt_window)
    if decision.network.band_by != "counted" or decision.cohort.as_of is None or window is None:
        return None
    assert isinstance(escalation.design, em.Boin)
    followups = [(p.id, days) for p, days in decision.cohort.followup(escalation)]
    return T.evidence(escalation.design, decision.state, followups, window)


def _rule(decision: EscalationDecision) -> dict[str, Any]:
    """The rule that decided: a design rule (with its sentence and line) or the engine's own."""
    action = decision.answer.action
    rule = action.source
    if rule is None:
        ident, text = ENGINE_RULES[action.rule]
        return {
            "id": ident,
            "text": text,
            "at": "engine",
            "condition": None,
            "read": None,
            "boundary": None,
            "fired": list(decision.answer.fired),
        }
    read = ", ".join(
        f"{name} = {decision.state[name]}"
        for name in names_in(rule.condition)
        if name in decision.state
    )
    return {
        "id": rule.id,
        "text": rule.text,
        "at": f"{rule.span.file}:{rule.span.line}",
        "condition": render_condition(rule.condition),
        "read": read,
        "boundary": action.boundary,
        "fired": list(decision.answer.fired),
    }


def trail_records(decision: EscalationDecision, protocol_path: str) -> list[dict[str, Any]]:
    """The decision as trail records: the run (versions and hashes), the decision, then one
    record per deviation. Only a cohort file's decision has them (a what-if from outcome
    strings has no dates to record)."""
    network, cohort = decision.network, decision.cohort
    assert cohort.as_of is not None
    protocol = network.protocol
    levels = network.levels
    taken = decision.step
    run = {
        "type": "escalation-run",
        "tool": f"proto-rules {version('proto-rules')}",
        "engine": f"durable_rules {version('durable_rules')}",
        "protocol": {
            "file": protocol_path,
            "id": protocol.id,
            "version": protocol.version,
            "sha256": _sha256(protocol.source),
        },
        "modules": [{"file": mod.path, "sha256": _sha256(mod.source)} for mod in protocol.modules],
        "cohort": {"file": cohort.path, "sha256": cohort.sha256},
        "network": {"name": network.name, "sha256": network.digest, "rules": len(network.rules)},
        "as_of": cohort.as_of.isoformat(),
    }
    record = {
        "type": "escalation",
        "decision": taken.move,
        "headline": headline(decision),
        "current_level": levels[cohort.current].id,
        "next_level": levels[taken.next_level].id if taken.next_level is not None else None,
        "mtd": levels[taken.mtd].id if taken.mtd is not None else None,
        "mtd_outcome": taken.mtd_kind,
        "eliminated": [levels[i].id for i in taken.eliminated],
        **_estimates_record(decision),
        "notes": notes(decision),
        "rule": _rule(decision),
        "state": {k: v for k, v in decision.state.items() if k != "t"},
        "levels": [
            {
                "level": level.id,
                "dose": level.written,
                "treated": c.treated,
                "evaluable": c.evaluable,
                "dlt": c.dlt,
                "pending": c.pending,
            }
            for level, c in zip(levels, cohort.counts)
        ],
        "patients": [
            {
                "patient": p.id,
                "record": p.line,
                "level": p.level,
                "counted_at": p.counted_at,
                "infused": p.infused.isoformat(),
                "status": p.status,
                "dlt": p.dlt.isoformat() if p.dlt else None,
                "event": p.event,
                "window_end": p.window_end.isoformat(),
                "reason": p.reason,
                "grade": p.grade,
            }
            for p in cohort.patients
        ],
        "warnings": [str(w) for w in cohort.warnings],
        "deviations": len(decision.deviations),
    }
    found = _tite(decision)
    if found is not None:
        record["tite"] = found
        days = {f["patient"]: f["days"] for f in found["followup"]}
        for patient in record["patients"]:
            if patient["patient"] in days:
                patient["followup_days"] = days[patient["patient"]]
    return [run, record, *(d.record() for d in decision.deviations)]


def _estimates_record(decision: EscalationDecision) -> dict[str, Any]:
    """The MTD estimates for the trail, as decimal strings of 4 places (no floats in a trail);
    nothing when the trial goes on or the design has no target."""
    found = mtd_estimates(decision)
    if found is None:
        return {}
    return {"mtd_estimates": [
        {"level": level.id, "estimate": None}
        if e is None else
        {"level": level.id, "estimate": f"{e.rate:.4f}", "credible_interval_95":
         [f"{e.low:.4f}", f"{e.high:.4f}"], "p_overdose": f"{e.overdose:.4f}"}
        for level, e in zip(decision.network.levels, found)
    ]}


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def boundaries_report(escalator: Escalator) -> str:
    """BOIN's boundaries (the reference table) and the decision for each number of patients and
    DLTs at a middle level, as the rule network decides it."""
    network = escalator.network
    escalation = network.escalation
    bounds = network.boundaries
    assert bounds is not None and escalation.maximum and escalation.cohort_size
    target = bounds.target
    sizes = f"cohorts of {escalation.cohort_size}, at most {escalation.maximum} patients"
    table_ = network.design.table
    if table_ is None:
        assert bounds.lambda_e is not None and bounds.lambda_d is not None
        lines = [
            f"BOIN, target DLT rate {target} (phi1 {bounds.phi1}, phi2 {bounds.phi2}); {sizes}",
            "",
            summary(bounds, escalation.cohort_size),
        ]
    else:
        low, high = table_.interval
        lines = [
            f"{network.design.text or network.design.name} ({network.design.name}, "
            f"equivalence interval {low} to {high}); {sizes}",
            f"the decision table of {network.design.span.file}; the MTD is selected for a target "
            f"DLT rate of {target}",
            "",
            table(bounds, escalation.cohort_size),
        ]
    window = T.window_days(escalation.dlt_window)
    if network.band_by == "counted" and window is not None:
        assert isinstance(escalation.design, em.Boin)
        lines += ["", f"TITE-BOIN: with outcomes pending (STFT: the pending patients' days of "
                  f"follow-up over the {window}-day window)",
                  T.table(escalation.design, escalation.maximum, escalation.cohort_size, window)]
    lines += [
        "",
        "Decision by patients treated at the current level (rows) and DLTs (columns), from "
        "the rule network (every outcome known):" if window is not None and
        network.band_by == "counted" else
        "Decision by patients treated at the current level (rows) and DLTs (columns), from "
        "the rule network:",
        "E escalate, S stay, D de-escalate, X eliminate and de-escalate"
        + (", M stop and select the MTD (n.earlystop)" if bounds.n_earlystop else ""),
        "  n " + "".join(f"{y:>3}" for y in range(escalation.maximum + 1)),
    ]
    letters = {"ESCALATE": "E", "STAY": "S", "DE-ESCALATE": "D", "ELIMINATE": "X",
               "STOP:select": "M"}
    middle = [(0, 0, 0, 0)] * 3
    grid = replace(escalation, cohort_size=1, maximum=None)  # every n a whole cohort, never full
    for n in range(1, escalation.maximum + 1):
        row = []
        for y in range(n + 1):
            counts = list(middle)
            counts[1] = (n, n, y, 0)
            state = state_of(counts, 1, grid)
            row.append(letters.get(escalator.ask(state).value, "?"))
        lines.append(f"{n:>3} " + "".join(f"{cell:>3}" for cell in row))
    return "\n".join(lines) + "\n"
