"""chart=true on turnover_breakdown, retention_curve, calculate_roi and score_kpis: a small PNG returned as an
image and written to the output folder (named after the result's evidence id, linked as a resource, recorded with
the evidence), and the data drawn checked against independent figures."""

from __future__ import annotations

import base64
import functools
import itertools
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from reference import reference_km, reference_life_table
from retention_mcp.analysis.survival import MAX_CURVE_POINTS, compact_curve, kaplan_meier
from retention_mcp.report import charts
from retention_mcp.sample_data import write_sample_company
from retention_mcp.settings import Settings

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
ROI_ARGS = {"headcount": 200, "current_turnover_rate": "12.6%", "target_turnover_rate": "10%",
            "average_annual_cost": 60000, "cost_preset": "frontline", "program_cost_one_off": 80000,
            "program_cost_annual": 40000, "productivity_gain_fte": 4, "benefit_ramp_months": 3}
KPIS = [{"id": "aht", "baseline": 320, "target": 280, "weight": 50},
        {"name": "首次解决率", "unit": "percent", "direction": "higher", "baseline": 65, "target": 75, "weight": 50}]
KPI_ACTUALS = {"aht": 300, "首次解决率": 76}


@pytest.fixture
def sample(data_dir: Path) -> dict[str, Path]:
    return write_sample_company(data_dir)


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> dict[str, dict[str, Any]]:
    """Record the arguments each chart function is called with (the real function still draws).

    Tools run in worker processes, where a spy cannot see; with this fixture the calls run the same worker
    entry point in this process instead. ``test_charts_come_back_from_a_real_worker`` covers the worker path."""
    from retention_mcp.runtime import dispatch
    from retention_mcp.runtime.worker import resolve

    async def run_here(self: Any, target: str, arguments: dict[str, Any], ctx: Any = None,
                       affinity: str | None = None, caller: Any = None) -> Any:
        settings = self.worker_settings.with_(access=caller.access) if caller is not None else self.worker_settings
        return resolve(target)(settings=settings, progress=lambda *_: None, **arguments)

    monkeypatch.setattr(dispatch.ToolRuntime, "run", run_here)
    calls: dict[str, dict[str, Any]] = {}
    for name in ("turnover_by_group_chart", "retention_curves_chart", "roi_scenarios_chart", "kpi_scorecard_chart",
                 "sensitivity_chart"):
        real = getattr(charts, name)
        params = list(__import__("inspect").signature(real).parameters)

        def wrapper(*args: Any, _real: Any = real, _name: str = name, _params: list[str] = params,
                    **kwargs: Any) -> bytes:
            calls[_name] = {**dict(zip(_params, args, strict=False)), **kwargs}
            return _real(*args, **kwargs)

        monkeypatch.setattr(charts, name, functools.wraps(real)(wrapper))  # keeps the signature charts check
    return calls


def png_width(png: bytes) -> int:
    assert png[:8] == PNG_SIGNATURE
    return int.from_bytes(png[16:20], "big")  # IHDR: width at bytes 16-19, height at 20-23


def pngs_written(settings: Settings) -> list[Path]:
    return sorted(p for p in settings.output_dir.iterdir() if p.suffix == ".png") if settings.output_dir.exists() \
        else []


def nothing_written(settings: Settings) -> bool:
    return not pngs_written(settings)


def check_chart(result: Any, settings: Settings, charts: int = 1) -> bytes:
    """Image blocks ≤ 1000 px wide, each also written to the output folder as <tool>-<evidence id>.png, linked as a
    resource and recorded with the evidence. Returns the first image."""
    from retention_mcp.workspace.store import workspace_for

    assert not result.is_error, result.content[0].text
    images = [c for c in result.content if c.type == "image"]
    assert len(images) == charts and all(i.mime_type == "image/png" for i in images)
    pngs = [base64.b64decode(i.data) for i in images]
    assert all(0 < png_width(png) <= 1000 for png in pngs)
    evidence_id = result.structured_content["evidence_id"]
    record = workspace_for(settings).get_evidence(evidence_id)
    recorded = [c["file"] for c in record.charts if c.get("file")]
    assert sorted(recorded) == [p.name for p in pngs_written(settings) if evidence_id in p.name]
    assert all(name.startswith(f"{record.tool}-{evidence_id}") for name in recorded)
    assert [(settings.output_dir / name).read_bytes() for name in recorded] == pngs  # the same charts, in order
    links = [c for c in result.content if c.type == "resource_link"]
    assert [str(link.uri).rsplit("/", 1)[-1] for link in links] == recorded
    return pngs[0]


def check_no_chart(result: Any, settings: Settings) -> None:
    assert not result.is_error, result.content[0].text
    assert [c for c in result.content if c.type == "image"] == []
    assert nothing_written(settings)


# -- turnover_breakdown


def snapshot_csv(groups: dict[str, tuple[int, int]]) -> str:
    """A snapshot table (leaver flag) with {group: (people, leavers)}."""
    lines = ["EmployeeNumber,Department,Attrition"]
    number = 0
    for group, (people, leavers) in groups.items():
        for i in range(people):
            number += 1
            lines.append(f"{number},{group},{'Yes' if i < leavers else 'No'}")
    return "\n".join(lines)


def wilson(k: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """Wilson (1927) 95% interval, written out here independently of the code under test."""
    p = k / n
    centre, spread = p + z**2 / (2 * n), z * math.sqrt(p * (1 - p) / n + z**2 / (4 * n**2))
    return (centre - spread) / (1 + z**2 / n), (centre + spread) / (1 + z**2 / n)


@pytest.mark.anyio
async def test_turnover_chart_draws_shown_groups_with_wilson_intervals(client, settings, spy):
    groups = {"Sales": (40, 10), "R&D": (30, 3), "Legal": (3, 1), "Support": (20, 8), "Ops": (25, 5)}
    csv_text = snapshot_csv(groups)
    plain = await client.call_tool("turnover_breakdown", {"csv_text": csv_text, "by": ["Department"]})
    check_no_chart(plain, settings)
    assert "turnover_by_group_chart" not in spy

    result = await client.call_tool("turnover_breakdown", {"csv_text": csv_text, "by": ["Department"],
                                                           "chart": True})
    check_chart(result, settings)
    data = result.structured_content
    hidden = {r["label"] for r in data["rows"] if r["suppressed"]}
    assert "Legal" in hidden  # 3 people < 5
    drawn = spy["turnover_by_group_chart"]
    # Highest rate first, suppressed groups never drawn.
    expected = sorted((g for g in groups if g not in hidden), key=lambda g: -groups[g][1] / groups[g][0])
    assert list(drawn["labels"]) == expected
    for label, rate, low, high in zip(drawn["labels"], drawn["rates"], drawn["lows"], drawn["highs"], strict=True):
        people, leavers = groups[label]
        assert rate == pytest.approx(leavers / people)
        assert (low, high) == pytest.approx(wilson(leavers, people))
    assert drawn["overall"] == pytest.approx(27 / 118)


@pytest.mark.anyio
async def test_turnover_chart_caps_at_25_groups(client, settings, spy):
    groups = {f"G{i:02d}": (6 + i, i % 5) for i in range(30)}
    result = await client.call_tool("turnover_breakdown", {"csv_text": snapshot_csv(groups), "by": ["Department"],
                                                           "chart": True})
    check_chart(result, settings)
    shown = [r["label"] for r in result.structured_content["rows"] if not r["suppressed"]]
    assert len(shown) == 30
    assert list(spy["turnover_by_group_chart"]["labels"]) == shown[:25]


@pytest.mark.anyio
async def test_turnover_chart_with_chinese_file_and_labels(client, settings, sample, spy):
    result = await client.call_tool("turnover_breakdown", {"path": sample["zh"].name, "by": ["部门"], "chart": True})
    check_chart(result, settings)
    assert set(spy["turnover_by_group_chart"]["labels"]) == {"研发", "销售", "客服"}
    assert "部门" in spy["turnover_by_group_chart"]["title"]
    # Same people as the English file: the Chinese labels carry the same rates.
    english = await client.call_tool("turnover_breakdown", {"path": sample["en"].name, "by": ["department"]})
    rates = {r["label"]: r["rate"] for r in english.structured_content["rows"]}
    zh = {r["label"]: r["rate"] for r in result.structured_content["rows"]}
    assert zh["研发"] == pytest.approx(rates["R&D"]) and zh["客服"] == pytest.approx(rates["Customer Service"])


@pytest.mark.anyio
async def test_bad_input_with_chart_is_a_tool_error_then_the_next_call_works(client, settings, sample):
    bad = await client.call_tool("turnover_breakdown", {"path": sample["en"].name, "by": ["no_such_column"],
                                                        "chart": True})
    assert bad.is_error and "no_such_column" in bad.content[0].text
    assert nothing_written(settings)
    again = await client.call_tool("turnover_breakdown", {"path": sample["en"].name, "chart": True})
    check_chart(again, settings)
    twice = await client.call_tool("turnover_breakdown", {"path": sample["en"].name, "chart": True})
    check_chart(twice, settings)  # a second chart never replaces the first: each is named after its evidence
    assert len(pngs_written(settings)) == 2


@pytest.mark.anyio
async def test_charts_come_back_from_a_real_worker(client, settings, sample):
    for tool, arguments in (("turnover_breakdown", {"path": sample["en"].name, "by": ["department"]}),
                            ("retention_curve", {"path": sample["en"].name, "by": ["department"]}),
                            ("calculate_roi", ROI_ARGS), ("score_kpis", {"kpis": KPIS, "actuals": KPI_ACTUALS})):
        check_chart(await client.call_tool(tool, {**arguments, "chart": True}), settings,
                    charts=2 if tool == "calculate_roi" else 1)  # the ROI's scenarios and its sensitivity


# -- retention_curve


@pytest.mark.anyio
async def test_retention_chart_draws_one_km_curve_per_group(client, settings, sample, spy):
    plain = await client.call_tool("retention_curve", {"path": sample["en"].name, "by": ["department"]})
    check_no_chart(plain, settings)
    assert all(g["curve"] is None for g in plain.structured_content["groups"])

    result = await client.call_tool("retention_curve", {"path": sample["en"].name, "by": ["department"],
                                                        "chart": True})
    check_chart(result, settings)
    data = result.structured_content
    series = spy["retention_curves_chart"]["series"]
    assert set(series) == {"Overall", "R&D", "Sales", "Customer Service"}
    for group in [data["overall"], *data["groups"]]:
        curve = group["curve"]
        assert 0 < len(curve) <= MAX_CURVE_POINTS
        assert [list(p) for p in series[group["label"]]] == curve
        times = [t for t, _ in curve]
        values = [s for _, s in curve]
        assert times == sorted(times) and all(a >= b for a, b in itertools.pairwise(values))
        assert curve[0][1] < 1.0  # the first point is the first drop


@pytest.mark.anyio
async def test_retention_chart_curves_match_reference(client, settings, spy):
    rng = np.random.default_rng(3)
    months = rng.integers(1, 60, 120)
    left = rng.random(120) < 0.5
    teams = np.where(np.arange(120) % 2 == 0, "一组", "二组")
    csv_text = "Months,Left,Team\n" + "\n".join(f"{m},{'Yes' if flag else 'No'},{t}"
                                                 for m, flag, t in zip(months, left, teams, strict=True))
    result = await client.call_tool("retention_curve", {
        "csv_text": csv_text, "by": ["Team"], "chart": True,
        "column_map": {"tenure_months": "Months", "leaver_flag": "Left", "department": "Team"}})
    check_chart(result, settings)
    assert result.structured_content["unit"] == "months"
    series = spy["retention_curves_chart"]["series"]
    assert set(series) == {"Overall", "一组", "二组"}
    for label in ("一组", "二组"):
        mine = teams == label
        curve = series[label]
        # whole months are grouped data: the actuarial life table, whose steps fall at the ends of the months
        expected = reference_life_table(months[mine], left[mine], [t for t, _ in curve])
        assert [s for _, s in curve] == pytest.approx(expected, abs=1e-6)
        # drawn to the end of the last month at whose start at least the minimum group size were at risk
        # (past it each step would be one or two people leaving)
        last = max(m for m in range(months.max() + 1) if (months[mine] >= m).sum() >= settings.min_group_size)
        assert curve[-1][0] == last + 1


def test_compact_curve_by_hand():
    # 6 people: deaths at 1, 2, 3, 5; censored at 2 and 4.
    times, survival, _ = kaplan_meier([1, 2, 2, 3, 4, 5], [1, 1, 0, 1, 0, 1])
    assert compact_curve(times, survival) == [(1.0, pytest.approx(5 / 6)), (2.0, pytest.approx(4 / 6)),
                                              (3.0, pytest.approx(4 / 6 * 2 / 3)), (5.0, 0.0)]
    # Follow-up beyond the last death: the curve runs to the last time observed.
    times, survival, _ = kaplan_meier([1, 2, 9], [1, 0, 0])
    assert compact_curve(times, survival) == [(1.0, pytest.approx(2 / 3)), (9.0, pytest.approx(2 / 3))]


def test_compact_curve_is_thinned_and_matches_reference():
    rng = np.random.default_rng(7)
    durations = rng.exponential(400, 3000).round(1)
    events = rng.random(3000) < 0.7
    times, survival, _ = kaplan_meier(durations, events)
    curve = compact_curve(times, survival)
    assert len(curve) == MAX_CURVE_POINTS
    assert curve[-1][0] == pytest.approx(durations.max())
    expected, _ = reference_km(durations, events, [t for t, _ in curve])
    assert [s for _, s in curve] == pytest.approx(expected, abs=1e-6)


# -- calculate_roi


@pytest.mark.anyio
async def test_roi_chart_draws_low_base_high(client, settings, spy):
    plain = await client.call_tool("calculate_roi", ROI_ARGS)
    check_no_chart(plain, settings)

    result = await client.call_tool("calculate_roi", {**ROI_ARGS, "chart": True})
    check_chart(result, settings, charts=2)
    drawn = spy["roi_scenarios_chart"]
    assert list(drawn["names"]) == ["low", "base", "high"]
    # Base scenario by hand (seed 000): 200 × 2.6 pp = 5.2 avoided leavers × 0.4 × 60000 a year, 4 FTE × 60000,
    # ramped linearly over 3 months (months 1-3 earn 1/3, 2/3, 3/3): 11 full months of 12.
    annual = 200 * 0.026 * 0.4 * 60000 + 4 * 60000
    base_benefit, base_cost = annual * 11 / 12, 80000 + 40000
    assert drawn["benefit"][1] == pytest.approx(base_benefit)
    assert drawn["cost"][1] == pytest.approx(base_cost)
    assert result.structured_content["roi"] == pytest.approx((base_benefit - base_cost) / base_cost)
    # The tornado: each input at −20% and +20%, the others at base; the annual programme cost at +20% costs
    # 80,000 + 48,000, at −20% 80,000 + 32,000, against the same benefit.
    tornado = spy["sensitivity_chart"]
    assert tornado["base"] == pytest.approx((base_benefit - base_cost) / base_cost)
    row = list(tornado["inputs"]).index("annual programme cost")  # program_cost_annual, as the chart names it
    assert tornado["at_high"][row] == pytest.approx((base_benefit - 128_000) / 128_000)
    assert tornado["at_low"][row] == pytest.approx((base_benefit - 112_000) / 112_000)


# -- score_kpis


@pytest.mark.anyio
async def test_kpi_chart_draws_capped_achievement_with_status(client, settings, spy):
    plain = await client.call_tool("score_kpis", {"kpis": KPIS, "actuals": KPI_ACTUALS})
    check_no_chart(plain, settings)

    result = await client.call_tool("score_kpis", {"kpis": KPIS, "actuals": KPI_ACTUALS, "chart": True})
    check_chart(result, settings)
    drawn = spy["kpi_scorecard_chart"]
    assert len(drawn["names"]) == 2 and drawn["names"][1] == "首次解决率"
    # AHT 320 → 280, actual 300: (300 − 320) ÷ (280 − 320) = 50% (orange); FCR 65 → 75, actual 76: 110% (green).
    assert list(drawn["achievement"]) == [pytest.approx(0.5), pytest.approx(1.1)]
    assert list(drawn["status"]) == ["orange", "green"]


@pytest.mark.anyio
async def test_chart_tools_are_read_only(client):
    """They change no data: a chart file is their own output, written beside the reports, never over a file."""
    tools = {t.name: t for t in (await client.list_tools()).tools}
    for name in ("turnover_breakdown", "retention_curve", "calculate_roi", "score_kpis", "driver_analysis"):
        assert tools[name].annotations.read_only_hint is True
        assert "chart" in tools[name].input_schema["properties"]
