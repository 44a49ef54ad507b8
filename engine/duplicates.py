"""Which facts of one patient's record are the same fact given twice (an input error that names
the fact it repeats): `engine.facts._Builder._grouped` compares only the facts of one concept
and day, each by a look-up among the earlier ones of that day (a day may hold thousands: a
monitor's readings).
"""

from __future__ import annotations

from typing import Any


class Seen:
    """The identities of the facts of one concept and day, each with the first fact that had it."""

    __slots__ = ("hashed", "other")

    def __init__(self) -> None:
        self.hashed: dict[Any, int] = {}
        self.other: list[tuple[Any, int]] = []  # identities with a list in them: compared in turn

    def first(self, key: Any, index: int) -> int:
        """The first fact whose identity is `key`: an earlier one, or `index` (remembered)."""
        try:
            return self.hashed.setdefault(key, index)
        except TypeError:
            same = next((i for other, i in self.other if other == key), None)
            if same is None:
                self.other.append((key, index))
            return index if same is None else same


def identity(fact: dict) -> Any:
    """What makes two facts duplicates: the same fields in the same order with equal values; a
    fact with a reference range (a dict) is compared by its text."""
    return str(fact) if "reference_range" in fact else tuple(fact.items())
