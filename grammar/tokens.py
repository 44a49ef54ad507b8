"""How the parser reads a token's value: a number (thousands separated by commas) and a quoted
text, for the eligibility sections (`grammar/parser.py`) and the escalation ones
(`grammar/escalation.py`) alike."""

from __future__ import annotations

from decimal import Decimal

from lark import Token


def number(token: Token) -> Decimal:
    """`75,000` is 75000: a comma followed by three digits separates thousands."""
    return Decimal(str(token).replace(",", ""))


def text(token: Token) -> str:
    """A quoted text's characters, its escapes (`\\"`, `\\\\`) read."""
    return str(token)[1:-1].replace('\\"', '"').replace("\\\\", "\\")


def comparator(token: Token) -> str:
    """A comparator as the model writes it: `≥` and `≤` as `>=` and `<=`."""
    return {"≥": ">=", "≤": "<="}.get(str(token), str(token))
