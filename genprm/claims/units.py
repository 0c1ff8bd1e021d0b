"""Unit and currency words around numbers: which dimension a word measures and its size in that dimension's base.

Only units of a fixed size are listed (no months or years): a conversion is checked only when it is certain.
"""

from __future__ import annotations

from fractions import Fraction

_UNITS: dict[str, tuple[str, Fraction]] = {}
for _dim, _table in {
    "time": {"second": 1, "sec": 1, "minute": 60, "min": 60, "hour": 3600, "hr": 3600, "day": 86400,
             "week": 604800},
    "length": {"inch": 1, "foot": 12, "feet": 12, "ft": 12, "yard": 36, "mile": 63360},
    "metric length": {"millimeter": 1, "mm": 1, "centimeter": 10, "cm": 10, "meter": 1000, "kilometer": 1000000,
                      "km": 1000000},
    "weight": {"ounce": 1, "oz": 1, "pound": 16, "lb": 16},
    "mass": {"gram": 1, "kilogram": 1000, "kg": 1000},
    "money": {"cent": 1, "dollar": 100, "$": 100},
    "volume": {"cup": 1, "pint": 2, "quart": 4, "gallon": 16},
}.items():
    for _name, _size in _table.items():
        _UNITS[_name] = (_dim, Fraction(_size))


def unit_of(words: str) -> tuple[str, Fraction] | None:
    """(dimension, size) of a unit phrase that is one plain unit word ("minutes", "feet", "$"); None otherwise
    (no unit, a rate like "per hour", or a word that is not a unit)."""
    words = words.strip().lower()
    if not words or " " in words or "/" in words:
        return None
    if words in _UNITS:
        return _UNITS[words]
    for suffix in ("es", "s"):
        if words.endswith(suffix) and words[: -len(suffix)] in _UNITS:
            return _UNITS[words[: -len(suffix)]]
    return None


def is_rate(words: str) -> bool:
    """A unit phrase that is a rate or a compound ("per hour", "/nickel", "miles per hour")."""
    return "per" in words.lower().split() or "/" in words
