"""The dose-escalation sections of a protocol file as `protocol.escalation_model`: the
`escalation` section's settings and dose levels, a BOIN design, rule sets and decision tables.

One method per grammar rule, as in `grammar/parser.py`, whose one Transformer (`_Build`) inherits
them: a part of the language with a model of its own, kept apart from the eligibility criteria.
It uses the parser's spans and whole numbers (`_span`, `_token_span`, `_integer`).
"""

from __future__ import annotations

from decimal import Decimal

from lark import Token, Transformer, v_args

from grammar.tokens import number as _number
from protocol import escalation_model as em
from protocol import model as m
from protocol.errors import Span


@v_args(meta=True, inline=True)
class Escalation(Transformer):
    """The escalation rules' methods; `grammar/parser._Build` gives the span helpers."""

    def escalation(self, meta, *items):
        """Settings come as (name, value, span); the first of a repeated setting counts."""
        text = items[0] if items and isinstance(items[0], str) else None
        settings: dict[str, object] = {}
        first: dict[str, Span] = {}
        repeated: list[tuple[str, Span, int]] = []
        levels = []
        for name, value, span in items[1:] if text is not None else items:
            if name == "level":
                levels.append(value)
            elif name in settings:
                repeated.append((name, span, first[name].line))
            else:
                settings[name], first[name] = value, span
        if "dlt" in settings:
            settings["dlt_text"], settings["dlt_window"] = settings.pop("dlt")  # type: ignore[misc]
        return em.Escalation(self._span(meta), text, tuple(levels), repeated=tuple(repeated),
                            **settings)

    def dose_level(self, meta, ident, amount, unit, backup=None):
        value, written = amount
        level = em.DoseLevel(self._span(meta), str(ident), value, str(unit), f"{written} {unit}",
                            backup is not None)
        return ("level", level, self._span(meta))

    def dose_amount(self, meta, token):
        """`1x10^7` and `1e7` are exact: the mantissa times a power of ten, as a Decimal."""
        written = " ".join(str(token).split())
        mantissa, _, exponent = written.replace("×", "x").replace("*", "x").partition("x")
        if exponent:
            # read exactly, whatever the exponent: `check` says which doses are out of range
            value = Decimal(f"{mantissa.strip()}E{int(exponent.strip().split('^')[1])}")
        else:
            value = _number(token)
        return value, written

    def start_level(self, meta, ident):
        return ("start", m.Ref(self._token_span(ident), str(ident)), self._span(meta))

    def cohort_size(self, meta, number):
        return ("cohort_size", self._integer(number), self._span(meta))

    def max_patients(self, meta, number):
        return ("maximum", self._integer(number), self._span(meta))

    def dlt_definition(self, meta, *rest):
        text = rest[0] if len(rest) == 2 else None
        return ("dlt", (text, rest[-1]), self._span(meta))

    def stagger(self, meta, duration, text=None):
        return ("stagger", duration, self._span(meta))

    def safety_review(self, meta, text=None):
        return ("review", True, self._span(meta))

    def partial_received(self, meta):
        return ("partial_dose", "received", self._span(meta))

    def partial_not_evaluable(self, meta, _not):
        return ("partial_dose", "not_evaluable", self._span(meta))

    def design_ref(self, meta, name):
        return ("design", m.Ref(self._token_span(name), str(name)), self._span(meta))

    def design_boin(self, meta, target, *given):
        options = dict(given)
        boin = em.Boin(self._span(meta), _number(target), options.get("phi1"), options.get("phi2"),
                      options.get("n_earlystop"), options.get("cutoff_eli"),
                      "extrasafe" in options, options.get("extrasafe"), "tite" in options)
        return ("design", boin, self._span(meta))

    def tite(self, meta):
        return ("tite", True)

    def n_earlystop(self, meta, number):
        return ("n_earlystop", self._integer(number))

    def cutoff_eli(self, meta, number):
        return ("cutoff_eli", _number(number))

    def extrasafe(self, meta, *offset):
        return ("extrasafe", _number(offset[0]) if offset else None)

    def phi1(self, meta, number):
        return ("phi1", _number(number))

    def phi2(self, meta, number):
        return ("phi2", _number(number))

    def rule_set(self, meta, name, *rest):
        text = rest[0] if rest and isinstance(rest[0], str) else None
        rules = tuple(r for r in rest if isinstance(r, em.EscalationRule))
        return em.Design(self._span(meta), str(name), text, rules)

    def decision_table(self, meta, name, *rest):
        text = None if isinstance(rest[0], Token) else rest[0]
        target, low, high = (_number(t) for t in rest if isinstance(t, Token))
        rows = tuple(r for r in rest if isinstance(r, em.TableRow))
        table = em.DecisionTable(target, (low, high), rows)
        return em.Design(self._span(meta), str(name), text, (), exclusive=True, table=table)

    def table_row(self, meta, n, *cells):
        return em.TableRow(self._span(meta), int(n), tuple(str(cell) for cell in cells))

    def escalation_rule(self, meta, ident, *rest):
        text = rest[0] if len(rest) == 3 else None
        return em.EscalationRule(self._span(meta), str(ident), text, rest[-2], rest[-1])

    def escalate(self, meta):
        return em.Move(self._span(meta), "ESCALATE")

    def stay(self, meta):
        return em.Move(self._span(meta), "STAY")

    def expand(self, meta):
        return em.Move(self._span(meta), "EXPAND")

    def de_escalate(self, meta):
        return em.Move(self._span(meta), "DE-ESCALATE")

    def eliminate(self, meta):
        return em.Move(self._span(meta), "ELIMINATE")

    def stop(self, meta, mtd=None):
        return em.Move(self._span(meta), "STOP", mtd)

    def mtd_this(self, meta):
        return "this"

    def mtd_lower(self, meta):
        return "lower"

    def mtd_not_reached(self, meta, _not):
        return "not_reached"

    def mtd_undetermined(self, meta, _not):
        return "undetermined"

    def mtd_select(self, meta):
        return "select"

    def mtd_none(self, meta):
        return "none"
