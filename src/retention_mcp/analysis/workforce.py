"""Hiring forecast: hires needed for growth plus expected leavers, grossed up for probation failures.

The Erlang C, schedule-fairness and ICC parts of the workforce math live in ``erlang.py``,
``fairness.py`` and ``icc.py``.
"""

from __future__ import annotations

import math

from pydantic import Field

from retention_mcp.errors import InputError
from retention_mcp.runtime.spec import Evidenced
from retention_mcp.units import percent, plain_number


class HiringForecast(Evidenced):
    current_headcount: int
    expected_turnover_rate: float = Field(description="expected leavers ÷ headcount over the planning period, "
                                                      "fraction 0..1")
    new_positions: int = Field(description="positions added by growth (e.g. 10 new stores × 5 staff = 50)")
    probation_pass_rate: float = Field(description="fraction of hires expected to pass probation, 0..1")
    replacement_hires: float = Field(description="current_headcount × expected_turnover_rate (expected leavers)")
    positions_to_fill: float = Field(description="new_positions + replacement_hires")
    hires_needed: int = Field(description="⌈positions_to_fill ÷ probation_pass_rate⌉")
    expected_probation_failures: int = Field(description="hires_needed − positions to fill, rounded up")
    turnover_source: str = Field("expected_turnover_rate given", description="where the expected leavers come from")
    hires_needed_low: int | None = Field(None, description="hires for the low end of the forecast's 95% interval")
    hires_needed_high: int | None = Field(None, description="hires for the high end of the forecast's 95% interval")
    formula: str
    notes: list[str]


def _ceil_clean(value: float) -> int:
    # 100 × 0.12 is 12.000000000000002 in binary floating point; round the noise away before ⌈⌉.
    return math.ceil(round(value, 9))


#: No organisation plans hiring for more people than this; beyond it a figure is a slip.
MAX_PEOPLE = 10_000_000


def hiring_forecast(current_headcount: int, expected_turnover_rate: float, new_positions: int = 0,
                    probation_pass_rate: float = 1.0, leavers_interval: tuple[float, float] | None = None,
                    source: str = "expected_turnover_rate given") -> HiringForecast:
    """hires = ⌈(new_positions + current_headcount × turnover) ÷ probation_pass_rate⌉ (rates as fractions);
    ``leavers_interval`` (a forecast's 95% interval of leavers) adds the hires at its two ends."""
    if current_headcount < 0:
        raise InputError(f"current_headcount must be 0 or more, not {current_headcount}")
    if current_headcount > MAX_PEOPLE or new_positions > MAX_PEOPLE:
        raise InputError(f"current_headcount and new_positions must be at most {MAX_PEOPLE:,}")
    if new_positions < 0:
        raise InputError(f"new_positions must be 0 or more (positions to add), not {new_positions}; "
                         "for a planned reduction, lower the turnover replacement instead")
    if not 0 < probation_pass_rate <= 1:
        raise InputError("probation_pass_rate must be above 0% and at most 100%, e.g. '95%' or 0.95 "
                         "(use 1 or '100%' if everyone passes)")
    replacements = current_headcount * expected_turnover_rate
    to_fill = new_positions + replacements
    hires = _ceil_clean(to_fill / probation_pass_rate)
    failures = hires - _ceil_clean(to_fill)
    formula = (f"hires = ⌈({new_positions} new positions + {current_headcount} × {percent(expected_turnover_rate)} "
               f"turnover) ÷ {percent(probation_pass_rate)} probation pass rate⌉ = ⌈({new_positions} + "
               f"{plain_number(replacements, 2)}) ÷ {probation_pass_rate:g}⌉ = {hires}")
    notes = [
        "The turnover rate should cover the same period as the plan (an annual rate for a one-year plan).",
        "Replacement hires assume every leaver is replaced; hires who fail probation are themselves replaced "
        "once (grossing up by the pass rate).",
    ]
    low = high = None
    if leavers_interval is not None:
        low, high = (_ceil_clean((new_positions + leavers) / probation_pass_rate) for leavers in leavers_interval)
        notes.append(f"Expected leavers from a forecast with a 95% interval of {leavers_interval[0]:g}–"
                     f"{leavers_interval[1]:g}: {low}–{high} hires.")
    return HiringForecast(
        turnover_source=source, hires_needed_low=low, hires_needed_high=high,
        current_headcount=current_headcount, expected_turnover_rate=expected_turnover_rate,
        new_positions=new_positions, probation_pass_rate=probation_pass_rate, replacement_hires=replacements,
        positions_to_fill=to_fill, hires_needed=hires, expected_probation_failures=failures, formula=formula,
        notes=notes,
    )


def hiring_text(result: HiringForecast) -> str:
    return "\n".join([
        f"**Hiring forecast: {result.hires_needed} hires**",
        "",
        f"- Growth: {result.new_positions} new positions",
        f"- Replacements: {result.current_headcount} × {percent(result.expected_turnover_rate)} = "
        f"{plain_number(result.replacement_hires, 2)} expected leavers ({result.turnover_source})",
        f"- Probation: pass rate {percent(result.probation_pass_rate)} → about "
        f"{result.expected_probation_failures} extra hire(s) to cover failures",
        "",
        f"Formula: {result.formula}",
        "",
    ] + [f"- {note}" for note in result.notes])
