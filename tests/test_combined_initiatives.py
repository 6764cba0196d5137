"""Several initiatives on one population, through the SDK client: each person counted once, one interval, and an
ROI whose low and high scenarios are the interval's ends fed through the ROI formula.

The file is small and built cell by cell, so every expected figure is worked out here by hand (or, for the
interval, by an independent delta method with numerical derivatives), never read from the code under test.
"""

from __future__ import annotations

import math
from itertools import product
from typing import Any

import numpy as np
import pytest

pytestmark = pytest.mark.anyio
Z = 1.959963984540054

#: (shift, new hire, overtime) -> (people, leavers); every cell has at least 5 people.
CELLS = {
    ("night", "Yes", "Yes"): (8, 4), ("night", "Yes", "No"): (6, 2), ("night", "No", "Yes"): (12, 5),
    ("night", "No", "No"): (10, 2), ("day", "Yes", "Yes"): (6, 2), ("day", "Yes", "No"): (8, 1),
    ("day", "No", "Yes"): (15, 4), ("day", "No", "No"): (35, 3),
}
NIGHT = {"name": "夜班补贴", "segment": {"Shift": "night"}, "reduction": 0.3}
NEW_HIRES = {"name": "新员工导师", "segment": {"NewHire": "Yes"}, "reduction": "20%"}
OVERTIME = {"name": "加班管控", "segment": {"OverTime": "Yes"}, "reference": {"OverTime": "No"}}


def csv_text(cells: dict[tuple[str, str, str], tuple[int, int]] = CELLS) -> str:
    lines = ["EmployeeNumber,Shift,NewHire,OverTime,Attrition"]
    number = 0
    for (shift, new, overtime), (people, leavers) in cells.items():
        for i in range(people):
            number += 1
            lines.append(f"{number},{shift},{new},{overtime},{'Yes' if i < leavers else 'No'}")
    return "\n".join(lines)


def in_segment(cell: tuple[str, str, str], initiative: dict[str, Any]) -> bool:
    column, value = next(iter(initiative["segment"].items()))
    return cell[("Shift", "NewHire", "OverTime").index(column)] == value


def avoided_by_hand(rates: dict[tuple[str, str, str], float], initiatives: list[dict[str, Any]],
                    rule: str = "multiply") -> float:
    """Σ over cells of people × rate × the combined reduction of the initiatives the cell is in."""
    def reduction(initiative: dict[str, Any]) -> float:
        if "reference" not in initiative:
            value = initiative["reduction"]
            return float(value.rstrip("%")) / 100 if isinstance(value, str) else value
        def rate(group: dict[str, str]) -> float:
            members = [c for c in CELLS if in_segment(c, {"segment": group})]
            return sum(CELLS[c][0] * rates[c] for c in members) / sum(CELLS[c][0] for c in members)
        return 1 - rate(initiative["reference"]) / rate(initiative["segment"])

    total = 0.0
    for cell, (people, _) in CELLS.items():
        mine = [reduction(i) for i in initiatives if in_segment(cell, i)]
        combined = (max(mine) if rule == "largest" else 1 - math.prod(1 - r for r in mine)) if mine else 0.0
        total += people * rates[cell] * combined
    return total


def interval_by_hand(initiatives: list[dict[str, Any]]) -> tuple[float, float, float]:
    """The estimate and its 95% interval: delta method with central differences on the cells' rates, binomial
    variance p(1 − p) ÷ n per cell (the cells are disjoint groups of people)."""
    observed = {c: leavers / people for c, (people, leavers) in CELLS.items()}
    estimate = avoided_by_hand(observed, initiatives)
    variance = 0.0
    for cell, (people, _) in CELLS.items():
        step = 1e-6
        up, down = dict(observed), dict(observed)
        up[cell] += step
        down[cell] -= step
        derivative = (avoided_by_hand(up, initiatives) - avoided_by_hand(down, initiatives)) / (2 * step)
        variance += derivative ** 2 * observed[cell] * (1 - observed[cell]) / people
    return estimate, estimate - Z * math.sqrt(variance), estimate + Z * math.sqrt(variance)


async def test_overlapping_segments_are_counted_once_with_one_interval(client) -> None:
    result = await client.call_tool("estimate_combined_impact", {
        "csv_text": csv_text(), "initiatives": [NIGHT, NEW_HIRES], "language": "zh"})
    assert not result.is_error, result.content[0].text
    data = result.structured_content
    # By hand: night & new hires keep 0.7 × 0.8 = 56% of their turnover, so lose 44%: 0.44 × (4 + 2) = 2.64;
    # night only 0.3 × (5 + 2) = 2.1; new hires only 0.2 × (2 + 1) = 0.6. Together 5.34 leavers a year.
    assert data["avoided_leavers"] == pytest.approx(0.44 * 6 + 0.3 * 7 + 0.2 * 3)
    # Alone: night 0.3 × 13 = 3.9, new hires 0.2 × 9 = 1.8; added up 5.7, counting 0.3 × 0.2 × 6 = 0.36 twice.
    alone = {i["name"]: i["avoided_alone"] for i in data["initiatives"]}
    assert alone == {"夜班补贴": pytest.approx(3.9), "新员工导师": pytest.approx(1.8)}
    assert data["double_counted"] == pytest.approx(0.36)
    assert data["headcount_in_several"] == 14  # 8 + 6 night-shift new hires
    # Variance Σ r_c² n_c p_c (1 − p_c) over the cells of people with the same segments (overtime is no one's
    # segment here, so its cells pool): night & new 6 of 14 left, night only 7 of 22, new only 3 of 14.
    variance = 0.44 ** 2 * 14 * (6 / 14) * (8 / 14) + 0.3 ** 2 * 22 * (7 / 22) * (15 / 22) \
        + 0.2 ** 2 * 14 * (3 / 14) * (11 / 14)
    assert (data["avoided_ci_low"], data["avoided_ci_high"]) == pytest.approx(
        (5.34 - Z * math.sqrt(variance), 5.34 + Z * math.sqrt(variance)))
    assert data["current_overall_rate"] == pytest.approx(23 / 100)
    assert data["new_overall_rate"] == pytest.approx((23 - 5.34) / 100)
    text = result.content[0].text
    assert "每人只计一次" in text and "5.3" in text and "0.4 人被重复计算" in text


async def test_largest_rule(client) -> None:
    result = await client.call_tool("estimate_combined_impact", {
        "csv_text": csv_text(), "initiatives": [NIGHT, NEW_HIRES], "overlap": "largest"})
    assert not result.is_error, result.content[0].text
    # Night-shift new hires get only the 30%: 0.3 × 6 + 0.3 × 7 + 0.2 × 3 = 4.5.
    assert result.structured_content["avoided_leavers"] == pytest.approx(4.5)


async def test_three_initiatives_with_a_reference_and_the_roi_fed_by_their_interval(client) -> None:
    initiatives = [NIGHT, NEW_HIRES, OVERTIME]
    combined = await client.call_tool("estimate_combined_impact", {"csv_text": csv_text(),
                                                                   "initiatives": initiatives})
    assert not combined.is_error, combined.content[0].text
    data = combined.structured_content
    estimate, low, high = interval_by_hand(initiatives)
    assert data["avoided_leavers"] == pytest.approx(estimate)
    assert (data["avoided_ci_low"], data["avoided_ci_high"]) == pytest.approx((low, high), rel=1e-6)
    overtime = next(i for i in data["initiatives"] if i["name"] == "加班管控")
    assert overtime["reduction"] == pytest.approx(1 - (8 / 59) / (15 / 41))  # 1 − p(no overtime) ÷ p(overtime)

    roi = await client.call_tool("calculate_roi", {
        "impact_evidence_id": data["evidence_id"], "average_annual_cost": 60000, "replacement_cost_multiplier": 0.5,
        "program_cost_one_off": 20000, "program_cost_annual": 30000})
    assert not roi.is_error, roi.content[0].text
    r = roi.structured_content
    assert r["headcount"] == 100 and r["current_turnover_rate"] == pytest.approx(0.23)
    assert r["avoided_leavers_per_year"] == pytest.approx(estimate)

    def roi_of(avoided: float) -> float:  # 12 months, no ramp: benefit = avoided × 0.5 × 60,000; cost 50,000
        return (avoided * 0.5 * 60000 - 50000) / 50000

    scenarios = {s["name"]: s for s in r["scenarios"]}
    assert scenarios["low"]["roi"] == pytest.approx(roi_of(low))
    assert scenarios["base"]["roi"] == pytest.approx(roi_of(estimate))
    assert scenarios["high"]["roi"] == pytest.approx(roi_of(high))
    assert scenarios["low"]["avoided_leavers_per_year"] == pytest.approx(low)
    assert r["interval_includes_zero"] is (low <= 0 <= high)
    assert r["impact_evidence_id"] == data["evidence_id"]

    evidence = await client.call_tool("evidence_get", {"evidence_id": r["evidence_id"]})
    parents = evidence.structured_content["parents"]
    assert parents == [{"evidence_id": data["evidence_id"], "tool": "estimate_combined_impact",
                        "argument": "impact_evidence_id"}]


async def test_an_roi_says_when_the_impact_interval_includes_zero(client) -> None:
    # New hires (9 of 28 left) moving to the others' rate (14 of 72): 28 × (9/28 − 14/72) = 3.6 avoided, but with
    # groups this small the interval reaches below zero.
    impact = await client.call_tool("estimate_impact", {"csv_text": csv_text(), "segment": {"NewHire": "Yes"},
                                                        "reference": {"NewHire": "No"}})
    assert not impact.is_error, impact.content[0].text
    i = impact.structured_content
    assert i["avoided_ci_low"] < 0 < i["avoided_ci_high"]
    roi = await client.call_tool("calculate_roi", {"impact_evidence_id": i["evidence_id"], "average_annual_cost": 1e5,
                                                   "replacement_cost_multiplier": 0.4, "program_cost_one_off": 5000})
    r = roi.structured_content
    assert r["interval_includes_zero"] is True
    assert "includes zero" in roi.content[0].text
    low = next(s for s in r["scenarios"] if s["name"] == "low")
    # The low end is fewer leavers than without the programme, fed through the same formula: a loss.
    assert low["avoided_leavers_per_year"] == pytest.approx(i["avoided_ci_low"])
    assert low["roi"] == pytest.approx((i["avoided_ci_low"] * 0.4 * 1e5 - 5000) / 5000)
    typed = await client.call_tool("calculate_roi", {"impact_evidence_id": i["evidence_id"], "headcount": 50,
                                                     "average_annual_cost": 1e5, "replacement_cost_multiplier": 0.4})
    assert typed.is_error and "leave out headcount" in typed.content[0].text


async def test_a_small_overlap_is_refused_without_its_size(client) -> None:
    cells = dict(CELLS)
    cells[("night", "Yes", "Yes")] = (2, 1)  # only 2 night-shift new hires on overtime
    cells[("night", "Yes", "No")] = (1, 0)
    result = await client.call_tool("estimate_combined_impact", {
        "csv_text": csv_text(cells), "initiatives": [NIGHT, NEW_HIRES]})
    assert result.is_error
    text = result.content[0].text
    assert "fewer than 5" in text and " 3 " not in text and "3 people" not in text


def test_every_cell_of_the_fixture_is_large_enough() -> None:
    assert all(people >= 5 for people, _ in CELLS.values())
    assert set(CELLS) == set(product(("night", "day"), ("Yes", "No"), ("Yes", "No")))
    assert np.isclose(sum(x for _, x in CELLS.values()), 23)
