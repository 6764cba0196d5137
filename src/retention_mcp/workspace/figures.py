"""Figures of an evidence record as a reader sees them: each value in its unit, displayed the way the tool's text
shows it (a fraction 0.1384 as 13.8%, money as 1,835,120, a ratio as 2.94×), and the ways a person may write
it in a plan (rounded to fewer digits, 183.5 万, 0.138).

Units (stored per figure with the evidence, ``ToolOutput.units``):

- ``fraction``: a share or rate as a fraction (0.1384), shown as a percentage with one decimal;
- ``percent``: already in percentage points of a whole (a KPI baseline of 65 meaning 65%), shown ``65.0%``;
- ``pp``: a difference in percentage points (3.2), shown ``3.2 pp``;
- ``count``: people, leavers, hires (whole or expected, 4.03), shown with thousands separators;
- ``money``: an amount in one currency, shown without decimals;
- ``ratio``: a multiple (benefit ÷ cost), shown ``2.94×``;
- ``seconds``, ``days``, ``months``: durations; ``number``: anything else; ``text``: not a number.

A figure without a stored unit (evidence from before units were kept) is matched every way a number can be.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

UNITS = ("fraction", "percent", "pp", "count", "money", "ratio", "seconds", "days", "months", "number", "text")


@dataclass(frozen=True)
class Figure:
    evidence_id: str
    name: str
    value: float
    unit: str | None  # None: not recorded

    @property
    def group(self) -> str | None:
        """The group label inside ``name[label]`` (``rate[研发部]`` → 研发部)."""
        if self.name.endswith("]") and "[" in self.name:
            return self.name[self.name.index("[") + 1:-1]
        return None


#: Words in a figure's name that mark a share or rate, for evidence recorded before units were kept.
_FRACTION_WORDS = ("rate", "retention", "attrition", "share", "fraction", "favourable", "coverage", "level", "roi")


def legacy_unit(name: str) -> str | None:
    """The unit of a figure recorded without one, when its name says it (``overall_rate``: a fraction)."""
    base = name.split("[", 1)[0].lower()
    if "ratio" in base:
        return "ratio"
    return "fraction" if any(word in base for word in _FRACTION_WORDS) else None


def numeric_figures(evidence_id: str, figures: Mapping[str, Any], units: Mapping[str, str] | None) -> list[Figure]:
    """The figures of one record that are numbers (text figures such as a unit name are left out)."""
    out = []
    for name, value in (figures or {}).items():
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            continue
        unit = (units or {}).get(name) if units else legacy_unit(str(name))
        out.append(Figure(evidence_id, str(name), float(value), unit))
    return out


def _grouped(value: float, decimals: int) -> str:
    return f"{value:,.{decimals}f}"


def display(figure: Figure) -> str:
    """The figure as a tool's text shows it."""
    value, unit = figure.value, figure.unit
    if unit == "fraction":
        return f"{value * 100:.1f}%"
    if unit == "percent":
        return f"{value:.1f}%"
    if unit == "pp":
        return f"{value:.1f} pp"
    if unit == "money":
        return _grouped(value, 0) if abs(value) >= 100 else f"{value:,.2f}".rstrip("0").rstrip(".")
    if unit == "ratio":
        return f"{value:.2f}×"
    if unit == "seconds":
        return f"{value:.0f} s"
    if unit in ("days", "months"):
        return f"{value:.0f}"
    if unit == "count":
        return _grouped(value, 0) if float(value).is_integer() else f"{value:,.1f}"
    if float(value).is_integer():
        return _grouped(value, 0)
    return f"{value:.4g}" if abs(value) < 1000 else _grouped(value, 0)


#: How a number written in a plan is read: its kind decides which displays of a figure it can be.
PERCENT, POINTS, MULTIPLE, PLAIN = "percent", "pp", "multiple", "plain"


def written_forms(figure: Figure, kind: str) -> list[float]:
    """The values a number of ``kind`` (as written, before its scale) may stand for, for this figure."""
    value, unit = figure.value, figure.unit
    if kind in (PERCENT, POINTS):
        if unit == "fraction":
            return [value * 100]
        if unit in ("percent", "pp"):
            return [value]
        if unit is None or unit == "number":
            return [value * 100, value] if abs(value) <= 10 else [value]
        return []
    if kind == MULTIPLE:
        return [value] if unit in (None, "ratio", "number") else []
    return [value]


def tool_precision(figure: Figure) -> float | None:
    """The value as the tool's text rounds it, in the units a plan writes (percent for fractions)."""
    unit = figure.unit
    if unit == "fraction":
        return round(figure.value * 100, 1)
    if unit in ("percent", "pp"):
        return round(figure.value, 1)
    if unit == "ratio":
        return round(figure.value, 2)
    if unit in ("money", "seconds", "days", "months"):
        return round(figure.value, 0)
    return None
