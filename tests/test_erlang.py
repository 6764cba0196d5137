"""Erlang C staffing: the textbook example, an exact rational cross-check, 1,000 Erlangs, the tool over MCP."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
from scipy.stats import poisson

from retention_mcp.analysis.erlang import erlang_b, erlang_c, erlang_staffing


def exact_erlang_c(traffic: int, agents: int) -> Fraction:
    """Erlang C from its textbook formula with exact rational arithmetic (A^N / N! and the sum)."""
    a = Fraction(traffic)
    top = a ** agents / math.factorial(agents) * Fraction(agents, agents - traffic)
    bottom = sum(a ** k / math.factorial(k) for k in range(agents)) + top
    return top / bottom


def log_space_erlang_c(traffic: float, agents: int) -> float:
    """Erlang C via Poisson pmf/cdf (scipy, log-space internally): B = pmf(N) ÷ cdf(N)."""
    blocking = poisson.pmf(agents, traffic) / poisson.cdf(agents, traffic)
    return blocking / (1 - traffic / agents * (1 - blocking))


def sl(traffic: float, agents: int, aht: float, t: float, p_wait: float) -> float:
    return 1 - p_wait * math.exp(-(agents - traffic) * t / aht)


def test_textbook_example_100_calls_half_hour():
    # 100 calls / 30 min, AHT 180 s, 80% in 20 s: the widely published answer is 14 agents,
    # SL 88.8%, ASA 7.8 s, occupancy 71.4%; 30% shrinkage -> 14 / 0.7 = 20 scheduled.
    result = erlang_staffing(calls=100, interval_minutes=30, aht_seconds=180, service_level_target=0.8,
                             answer_within_seconds=20, shrinkage=0.3)
    assert result.traffic_erlangs == pytest.approx(10.0)
    assert result.required_agents == 14
    assert round(result.service_level, 3) == 0.888
    assert round(result.asa_seconds, 1) == 7.8
    assert round(result.occupancy, 3) == 0.714
    assert result.scheduled_headcount == 20
    assert [row.agents for row in result.table] == [12, 13, 14, 15, 16]
    assert not result.table[1].meets_target and result.table[2].meets_target


def test_p_wait_matches_exact_rational_formula():
    for agents in (11, 12, 14, 18, 25):
        exact = float(exact_erlang_c(10, agents))
        assert erlang_c(10.0, agents) == pytest.approx(exact, rel=1e-12)
    # ASA and SL from the exact P_wait at N = 14
    exact14 = float(exact_erlang_c(10, 14))
    result = erlang_staffing(100, 30, 180, 0.8, 20)
    assert result.probability_wait == pytest.approx(exact14, rel=1e-12)
    assert result.asa_seconds == pytest.approx(exact14 * 180 / 4, rel=1e-12)
    assert result.service_level == pytest.approx(sl(10, 14, 180, 20, exact14), rel=1e-12)


def test_one_thousand_erlangs_is_stable():
    # 10,000 calls per 30 min at 180 s = 1,000 Erlangs: A^N / N! would overflow a float.
    result = erlang_staffing(calls=10_000, interval_minutes=30, aht_seconds=180, service_level_target=0.8,
                             answer_within_seconds=20, shrinkage=0.3)
    n = result.required_agents
    assert result.traffic_erlangs == pytest.approx(1000.0)
    independent = log_space_erlang_c(1000.0, n)
    assert result.probability_wait == pytest.approx(independent, rel=1e-8)
    assert math.isfinite(result.asa_seconds) and 0 < result.probability_wait < 1
    # N is the smallest that meets the target, by the independent formula
    assert sl(1000, n, 180, 20, independent) >= 0.8
    assert sl(1000, n - 1, 180, 20, log_space_erlang_c(1000.0, n - 1)) < 0.8
    assert result.scheduled_headcount == math.ceil(n / 0.7 - 1e-9)
    assert erlang_b(5000.0, 5100) == pytest.approx(poisson.pmf(5100, 5000) / poisson.cdf(5100, 5000), rel=1e-8)


def test_max_occupancy_adds_agents():
    result = erlang_staffing(100, 30, 180, 0.8, 20, max_occupancy=0.7)
    # 10/14 = 71.4% > 70%, 10/15 = 66.7% <= 70%
    assert result.required_agents == 15
    assert result.agents_for_service_level == 14
    assert result.binding_constraint == "max_occupancy"


@pytest.mark.parametrize("kwargs, fragment", [
    (dict(shrinkage=1.0), "shrinkage"),
    (dict(service_level_target=1.0), "service_level_target"),
    (dict(calls=0), "calls"),
    (dict(aht_seconds=float("nan")), "finite"),
])
def test_bad_inputs_raise_clear_errors(kwargs, fragment):
    args = dict(calls=100, interval_minutes=30, aht_seconds=180, service_level_target=0.8, answer_within_seconds=20)
    args.update(kwargs)
    with pytest.raises(ValueError, match=fragment):
        erlang_staffing(**args)


@pytest.mark.anyio
async def test_tool_through_client(client):
    result = await client.call_tool("erlang_staffing", {
        "calls": 100, "interval_minutes": 30, "aht_seconds": 180, "service_level_target": "80%",
        "answer_within_seconds": 20, "shrinkage": "30%"})
    assert not result.is_error
    data = result.structured_content
    assert data["required_agents"] == 14 and data["scheduled_headcount"] == 20
    assert data["service_level"] == pytest.approx(0.888, abs=5e-4)
    assert "| **14** |" in result.content[0].text

    bad = await client.call_tool("erlang_staffing", {"calls": 100, "aht_seconds": 180, "shrinkage": 1})
    assert bad.is_error and "below 100%" in bad.content[0].text
    bad = await client.call_tool("erlang_staffing", {"calls": 100, "aht_seconds": 180, "service_level_target": "80"})
    assert bad.is_error and "80%" in bad.content[0].text and "0.8" in bad.content[0].text

    again = await client.call_tool("erlang_staffing", {"calls": 10_000, "aht_seconds": 180})
    assert not again.is_error and again.structured_content["traffic_erlangs"] == pytest.approx(1000)
