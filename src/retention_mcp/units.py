"""Parsing and showing the units people type: rates as '17.8%' or 0.178, percentages in text."""

from __future__ import annotations

import re

from retention_mcp.errors import InputError

NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


def parse_rate(value: str | float | int) -> float:
    """'17.8%' or '0.178' (or 0.178) -> 0.178, a fraction in [0, 1].

    A bare number above 1 is refused rather than guessed: 12.6 could mean 12.6% or a typo.
    """
    if isinstance(value, bool):
        raise InputError("is not a rate")
    if isinstance(value, int | float):
        number = float(value)
        if number != number or number in (float("inf"), float("-inf")):
            raise InputError("is not a finite number")
        if number > 1:
            raise InputError(f"a bare number above 1 is ambiguous: write '{number:g}%' or {number / 100:g}")
        if number < 0:
            raise InputError("must be between 0% and 100%")
        return number
    cleaned = str(value).strip().replace(",", "").replace("％", "%")
    if cleaned.endswith("%"):
        digits = cleaned[:-1].strip()
        if not NUMBER.match(digits):
            raise InputError("is not a percentage")
        return parse_rate(float(digits) / 100) if float(digits) <= 100 else _out_of_range()
    if not NUMBER.match(cleaned):
        raise InputError("is not a number")
    return parse_rate(float(cleaned))


def _out_of_range() -> float:
    raise InputError("must be between 0% and 100%")


def percent(value: float | None, digits: int = 1) -> str:
    """0.178 -> '17.8%' (empty for None)."""
    if value is None:
        return ""
    return f"{value * 100:.{digits}f}%"


def plain_number(value: float | None, digits: int = 1) -> str:
    """72.0 -> '72', 72.25 -> '72.2'."""
    if value is None:
        return ""
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.{digits}f}"
