"""The MCP Apps views, rendered in real headless Chromium inside a minimal host built on the ext-apps host
bridge (tests/node/views_host.js): each view draws the result of a real tool call on the IBM file, suppressed
cells are marked hidden (never zero), the ROI sliders call calculate_roi back through the host and redraw, and
no request leaves the page. Screenshots go to the test's folder (or $RETENTION_MCP_SCREENSHOTS)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from mcp import Client
from mcp.client.extension import ClientExtension
from mcp.types import CallToolResult

from conftest import shared_dataset
from node_tools import CHROMIUM_ARGS, chromium_path, views_host_script
from retention_mcp.server import build_server
from retention_mcp.views import APP_MIME_TYPE, VIEW_META_KEY, VIEWS

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

IBM = "ibm_hr_attrition.csv"
DEADLINE_S = 60


def wire(result: CallToolResult) -> dict[str, Any]:
    """A tool result as it travels over MCP (camelCase), as a host would relay it to the view."""
    return result.model_dump(mode="json", by_alias=True, exclude_none=True)


class RendersViews(ClientExtension):
    """What a host that renders MCP Apps advertises (the ext-apps spec's client capability)."""

    identifier = "io.modelcontextprotocol/ui"

    def settings(self):
        return {"mimeTypes": [APP_MIME_TYPE]}


@pytest.fixture
async def host_client(shared_settings):
    """The MCP client of a host that renders views."""
    async with Client(build_server(shared_settings), raise_exceptions=True, extensions=[RendersViews()]) as client:
        yield client


@pytest.fixture
async def browser():
    playwright_api = pytest.importorskip("playwright.async_api", reason="the test extras install playwright")
    executable = chromium_path()
    script = views_host_script()
    async with playwright_api.async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        try:
            yield launched, script
        finally:
            await launched.close()


class Host:
    """One page with the test host, one view in its iframe, and the log of every request the page made."""

    def __init__(self, page: Any, requests: list[str], frame: Any) -> None:
        self.page, self.requests, self.frame = page, requests, frame

    async def state(self) -> dict[str, Any]:
        return await self.page.evaluate("() => window.hostState")

    async def wait_for(self, predicate_js: str, what: str) -> None:
        await self.page.wait_for_function(predicate_js, timeout=DEADLINE_S * 1000)

    async def screenshot(self, path: Path) -> Path:
        await self.page.locator("iframe").screenshot(path=str(path))
        return path


async def open_view(browser, client, view: str, tool: str, args: dict[str, Any], result: CallToolResult,
                    theme: str = "light", locale: str = "en-US") -> Host:
    launched, script = browser
    context = await launched.new_context(viewport={"width": 800, "height": 1000})
    requests: list[str] = []

    async def refuse(route):  # every request any frame makes is recorded and refused: nothing leaves the page
        requests.append(route.request.url)
        await route.abort()

    await context.route("**/*", refuse)
    context.on("request", lambda request: requests.append(request.url))
    page = await context.new_page()

    async def host_call_tool(params_json: str) -> str:
        params = json.loads(params_json)
        answer = await client.call_tool(params["name"], params.get("arguments") or {})
        return json.dumps(wire(answer))

    await page.expose_function("hostCallTool", host_call_tool)
    await page.set_content(f'<!DOCTYPE html><html><body style="margin:0"><div id="host"></div>'
                           f"<script>{script}</script></body></html>")
    tools = {t.name: t for t in (await client.list_tools()).tools}
    uri = tools[tool].meta["ui"]["resourceUri"]
    assert uri == VIEWS[view].uri
    resource = (await client.read_resource(uri)).contents[0]
    assert resource.mime_type == APP_MIME_TYPE
    html = resource.text
    await page.evaluate("args => startHost(args)", {
        "html": html, "toolArgs": args, "toolResult": wire(result), "theme": theme, "locale": locale,
        "tool": tools[tool].model_dump(mode="json", by_alias=True, exclude_none=True)})
    frame = page.frame_locator("iframe")
    await page.wait_for_function("() => window.hostState.initialized", timeout=DEADLINE_S * 1000)
    return Host(page, requests, frame)


def screenshot_dir(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("RETENTION_MCP_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def pct(value: float) -> str:
    return f"{value * 100:.1f}%"


async def test_turnover_view_draws_bars_and_heatmap_with_hidden_cells(host_client, browser, tmp_path):
    shared_dataset(IBM)
    args = {"path": IBM, "by": ["Department", "EducationField"]}
    result = await host_client.call_tool("turnover_breakdown", args)
    assert not result.is_error
    rows = result.structured_content["rows"]
    host = await open_view(browser, host_client, "turnover", "turnover_breakdown", args, result)
    cells = host.frame.locator("rect[data-row]")
    await cells.first.wait_for(timeout=DEADLINE_S * 1000)

    # Independent figures: pandas on the file itself.
    frame = pd.read_csv(shared_dataset(IBM))
    frame["left"] = frame["Attrition"].eq("Yes")
    truth = frame.groupby(["Department", "EducationField"])["left"].agg(["mean", "size"])
    departments, fields = truth.index.levels
    assert await cells.count() == len(departments) * len(fields)  # the full grid
    hidden = 0
    for index in range(await cells.count()):
        cell = cells.nth(index)
        key = (await cell.get_attribute("data-row"), await cell.get_attribute("data-col"))
        state = await cell.get_attribute("data-state")
        if key not in truth.index:
            assert state == "empty"  # nobody has this combination: drawn as a dashed outline, not as 0
            continue
        if state == "hidden":
            hidden += 1
            assert await cell.get_attribute("data-rate") is None
        else:
            assert state == "shown"
            assert truth.loc[key, "size"] >= 5  # a group under the minimum is never drawn with a rate
            assert float(await cell.get_attribute("data-rate")) == pytest.approx(truth.loc[key, "mean"], abs=1e-12)
        if truth.loc[key, "size"] < 5:
            assert state == "hidden"
    assert hidden == sum(r["suppressed"] for r in rows) >= 1
    # Hidden cells read "hidden", never a rate of zero.
    texts = await host.frame.locator("svg text").all_text_contents()
    assert texts.count("hidden") == hidden  # heatmap cells
    assert texts.count("hidden (small-group rule)") == hidden  # bars
    assert "0.0%" not in texts

    bars = host.frame.locator("rect.bar[data-state=shown]")
    assert await bars.count() == sum(not r["suppressed"] for r in rows)
    assert await host.frame.locator("rect.hidden-cell[data-label]").count() == hidden
    overall = float(await host.frame.locator("line.overall").get_attribute("data-rate"))
    assert overall == pytest.approx(frame["left"].mean(), abs=1e-12)
    whiskers = await host.frame.locator("line.whisker").count()
    assert whiskers == 3 * await bars.count()

    shots = screenshot_dir(tmp_path)
    await host.screenshot(shots / "turnover-light.png")
    await host.page.evaluate("() => setHostTheme('dark')")
    await host.page.wait_for_function(
        "() => getComputedStyle(document.querySelector('iframe').contentDocument?.body ?? document.body) && true")
    body = host.frame.locator("body")
    deadline = time.monotonic() + DEADLINE_S
    while (await body.evaluate("b => getComputedStyle(b).backgroundColor")) != "rgb(31, 31, 31)":
        assert time.monotonic() < deadline, "the view did not follow the host's dark theme"
        await asyncio.sleep(0.05)
    await host.screenshot(shots / "turnover-dark.png")
    assert host.requests == []


async def test_retention_view_draws_curves_and_the_at_risk_table(host_client, browser, tmp_path):
    shared_dataset(IBM)
    args = {"path": IBM, "by": ["Department"], "language": "zh"}
    result = await host_client.call_tool("retention_curve", args)
    assert not result.is_error
    data = result.structured_content
    host = await open_view(browser, host_client, "retention", "retention_curve", args, result, locale="zh-CN")
    sent = result.meta[VIEW_META_KEY]["curves"]  # whole curves travel to the view in _meta, not to the model
    assert data["overall"]["curve"] is None
    curves = host.frame.locator("path.curve")
    await curves.first.wait_for(timeout=DEADLINE_S * 1000)
    shown = [data["overall"], *[g for g in data["groups"] if not g["suppressed"]]]
    assert await curves.count() == len(shown)
    for index, group in enumerate(shown):
        path = curves.nth(index)
        assert await path.get_attribute("data-exact") == "true"
        assert int(await path.get_attribute("data-points")) == len(sent[group["label"]])
    assert [await curves.nth(i).get_attribute("data-label") for i in range(len(shown))] == [g["label"] for g in shown]
    # The table under the curves: one row per group, the people at risk at each reported time.
    for group in shown:
        row = host.frame.locator(f'tr[data-label="{group["label"]}"]')
        for point in group["retention"]:
            cell = row.locator(f'td[data-time="{point["time"]:g}"]')
            assert int(await cell.get_attribute("data-at-risk")) == point["at_risk"]
            assert pct(point["retention"]) in await cell.text_content()
    # At-risk counts, independently: people whose whole years of tenure reach each time (YearsAtCompany ≥ t).
    frame = pd.read_csv(shared_dataset(IBM))
    overall_row = host.frame.locator(f'tr[data-label="{data["overall"]["label"]}"]')
    at_one_year = int(await overall_row.locator('td[data-time="1"]').get_attribute("data-at-risk"))
    assert at_one_year == int((frame["YearsAtCompany"] >= 1).sum())
    await host.screenshot(screenshot_dir(tmp_path) / "retention-zh.png")
    assert host.requests == []


def roi_by_hand(headcount: float, current: float, target: float, cost: float, multiplier: float, one_off: float,
                annual: float) -> float:
    """ROI over 12 months with no ramp: (benefit − cost) ÷ cost, benefit = avoided leavers × replacement cost."""
    benefit = headcount * (current - target) * multiplier * cost
    spent = one_off + annual
    return (benefit - spent) / spent


async def test_roi_view_slider_calls_calculate_roi_and_redraws(host_client, browser, tmp_path):
    shared_dataset(IBM)
    impact = await host_client.call_tool("estimate_impact", {
        "path": IBM, "segment": {"OverTime": "Yes"}, "reference": {"OverTime": "No"}})
    groups = await host_client.call_tool("describe_groups", {"path": IBM, "columns": ["MonthlyIncome"]})
    assert not impact.is_error and not groups.is_error
    inputs = impact.structured_content["calculate_roi_inputs"]
    cost = round(groups.structured_content["overall"]["average_annual_cost"])
    args = {**inputs, "average_annual_cost": cost, "replacement_cost_multiplier": 0.5,
            "program_cost_one_off": 150000, "program_cost_annual": 300000}
    result = await host_client.call_tool("calculate_roi", args)
    assert not result.is_error
    host = await open_view(browser, host_client, "roi", "calculate_roi", args, result)
    roi_card = host.frame.locator('[data-figure="roi"] b')
    await roi_card.wait_for(timeout=DEADLINE_S * 1000)
    first = roi_by_hand(inputs["headcount"], inputs["current_turnover_rate"], inputs["target_turnover_rate"], cost,
                        0.5, 150000, 300000)
    assert await roi_card.text_content() == f"{first * 100:.0f}%"
    assert await host.frame.locator("rect[data-scenario]").count() == 3
    sensitivity = result.structured_content["sensitivity"]
    assert await host.frame.locator("rect[data-input][data-side=high]").count() == len(sensitivity)
    # The programme's annual cost at +20% lowers the ROI: its +20% half lies left of the base.
    annual = next(row for row in sensitivity if row["input"] == "program_cost_annual")
    high_half = host.frame.locator('rect[data-input="program_cost_annual"][data-side=high]')
    assert float(await high_half.get_attribute("data-metric")) == pytest.approx(annual["metric_at_high"])
    assert annual["metric_at_high"] < result.structured_content["roi"]
    await host.screenshot(screenshot_dir(tmp_path) / "roi-before.png")

    # Move the target-rate slider as a person would (the value, then the change event on release).
    new_target = 0.13
    await host.frame.locator("#rm-target").evaluate(
        "(el, v) => { el.value = String(v); el.dispatchEvent(new Event('input')); "
        "el.dispatchEvent(new Event('change')); }", new_target)
    await host.page.wait_for_function("() => window.hostState.calls.length >= 1", timeout=DEADLINE_S * 1000)
    call = (await host.state())["calls"][0]
    assert call["name"] == "calculate_roi"
    assert call["arguments"]["target_turnover_rate"] == pytest.approx(new_target)
    assert call["arguments"]["average_annual_cost"] == cost  # the rest of the call is unchanged
    second = roi_by_hand(inputs["headcount"], inputs["current_turnover_rate"], new_target, cost, 0.5, 150000, 300000)
    expected = f"{second * 100:.0f}%"
    deadline = time.monotonic() + DEADLINE_S
    while await roi_card.text_content() != expected:
        assert time.monotonic() < deadline, f"the ROI card still shows {await roi_card.text_content()}, not {expected}"
        await asyncio.sleep(0.05)
    status = await host.frame.locator("#rm-status").text_content()
    assert re.search(r"ev-[0-9a-f]{6}", status)
    # The assistant is told what the person tried (ui/update-model-context), with the new figure.
    context = (await host.state())["modelContext"]
    assert context and expected in context[-1]["content"][0]["text"]
    await host.screenshot(screenshot_dir(tmp_path) / "roi-after.png")
    assert host.requests == []


async def test_plan_view_shows_sections_cited_figures_and_refresh_state(host_client, browser, tmp_path):
    shared_dataset(IBM)
    turnover = await host_client.call_tool("turnover_breakdown", {"path": IBM, "by": ["Department"]})
    evidence_id = turnover.structured_content["evidence_id"]
    rate = turnover.structured_content["overall"]["rate"]
    created = await host_client.call_tool("plan_create", {"title": "IBM retention plan", "group": "all staff",
                                                             "language": "en"})
    plan_id = created.structured_content["id"]
    written = await host_client.call_tool("plan_write_section", {
        "plan_id": plan_id, "section": "1", "base_version": 1,
        "markdown": f"Turnover is {pct(rate)} [{evidence_id}].\n\n- Sales is highest"})
    assert not written.is_error, written.content[0].text
    args = {"plan_id": plan_id}
    result = await host_client.call_tool("plan_get", args)
    host = await open_view(browser, host_client, "plan", "plan_get", args, result)
    figures = host.frame.locator(f'[data-evidence-figures="{evidence_id}"] tr[data-figure="overall_rate"]')
    await figures.wait_for(timeout=DEADLINE_S * 1000)
    assert await figures.locator("td").nth(1).text_content() == pct(rate)
    sections = host.frame.locator("section[data-section]")
    assert await sections.count() == len(result.structured_content["sections"])
    chip = host.frame.locator(f'.chip[data-evidence="{evidence_id}"]')
    assert await chip.get_attribute("data-status") == "recorded"
    await host.frame.locator("#rm-refresh").click()
    deadline = time.monotonic() + DEADLINE_S
    while await chip.get_attribute("data-status") == "recorded":
        assert time.monotonic() < deadline, "the refresh state never arrived"
        await asyncio.sleep(0.05)
    assert await chip.get_attribute("data-status") == "unchanged"  # same file, same figures
    calls = [c["name"] for c in (await host.state())["calls"]]
    assert calls.count("evidence_get") == 1 and calls.count("plan_refresh") == 1
    await host.screenshot(screenshot_dir(tmp_path) / "plan.png")
    assert host.requests == []


async def test_a_client_without_views_gets_the_result_unchanged(shared_client):
    ibm = shared_dataset(IBM).name
    result = await shared_client.call_tool("retention_curve", {"path": ibm, "by": ["Department"]})
    assert not result.is_error
    assert VIEW_META_KEY not in (result.meta or {})
    assert result.structured_content["overall"]["curve"] is None
