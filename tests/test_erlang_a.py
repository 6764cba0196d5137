"""Erlang A against independent calculations: the birth–death chain solved as a linear system, the tagged caller's
chain through a matrix exponential and its fundamental matrix, the M/M/∞ identity at θ = μ, the Erlang C limit;
caller patience from the PwC log checked by hand, and from the sample log against the patience it was made with."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.linalg import expm
from scipy.stats import poisson

from conftest import shared_dataset
from retention_mcp.analysis.erlang import erlang_staffing
from retention_mcp.analysis.erlang_a import erlang_a
from retention_mcp.analysis.patience import estimate_patience

CASES = [  # calls per second, AHT s, patience s, agents, threshold s
    (100 / 1800, 180.0, 180.0, 12, 20.0),
    (100 / 1800, 180.0, 60.0, 9, 20.0),  # fewer agents than the traffic (10 Erlangs): stable only with hang-ups
    (0.5, 240.0, 400.0, 118, 30.0),
    (2.0, 300.0, 90.0, 560, 15.0),
]


def chain(lam: float, mu: float, theta: float, n: int, extra: int = 600) -> np.ndarray:
    """Stationary law of the truncated birth–death chain, by solving πQ = 0 with Σπ = 1 (least squares)."""
    size = n + extra + 1
    q = np.zeros((size, size))
    for k in range(size):
        if k + 1 < size:
            q[k, k + 1] = lam
        if k > 0:
            q[k, k - 1] = min(k, n) * mu + max(k - n, 0) * theta
        q[k, k] = -q[k].sum()
    system = np.vstack([q.T, np.ones(size)])
    rhs = np.zeros(size + 1)
    rhs[-1] = 1.0
    return np.linalg.lstsq(system, rhs, rcond=None)[0]


def tagged(mu: float, theta: float, n: int, ahead: int) -> tuple[np.ndarray, np.ndarray]:
    """Generator over (number ahead 0..ahead, served, abandoned) for a caller who finds ``ahead`` waiting."""
    size = ahead + 3
    served, gone = ahead + 1, ahead + 2
    q = np.zeros((size, size))
    for m in range(ahead + 1):
        q[m, m - 1 if m else served] = n * mu + m * theta
        q[m, gone] = theta
        q[m, m] = -(n * mu + m * theta + theta)
    return q, np.array([served, gone])


@pytest.mark.parametrize(("lam", "aht", "patience", "n", "t"), CASES)
def test_stationary_measures_match_the_chain(lam, aht, patience, n, t):
    mu, theta = 1 / aht, 1 / patience
    pi = chain(lam, mu, theta, n)
    k = np.arange(len(pi))
    measures = erlang_a(lam, aht, patience, n, t)
    assert measures.probability_wait == pytest.approx(pi[n:].sum(), rel=1e-7)
    expected_queue = float((np.maximum(k - n, 0) * pi).sum())
    assert measures.probability_abandon == pytest.approx(theta * expected_queue / lam, rel=1e-7)
    assert measures.occupancy == pytest.approx(float((np.minimum(k, n) * pi).sum()) / n, rel=1e-7)


@pytest.mark.parametrize(("lam", "aht", "patience", "n", "t"), CASES[:3])
def test_service_level_and_asa_match_the_tagged_callers_chain(lam, aht, patience, n, t):
    mu, theta = 1 / aht, 1 / patience
    pi = chain(lam, mu, theta, n, extra=300)
    served_in_time = pi[:n].sum()
    served_wait = 0.0
    for ahead in range(len(pi) - n):
        if pi[n + ahead] < 1e-14:
            continue
        q, (served, _) = tagged(mu, theta, n, ahead)
        served_in_time += pi[n + ahead] * expm(q * t)[ahead, served]
        transient = q[: ahead + 1, : ahead + 1]
        fundamental = np.linalg.inv(-transient)
        into_served = q[: ahead + 1, served]
        served_wait += pi[n + ahead] * (fundamental @ fundamental @ into_served)[ahead]  # E[T; served]
    measures = erlang_a(lam, aht, patience, n, t)
    assert measures.service_level == pytest.approx(served_in_time, rel=1e-6)
    assert measures.asa_seconds == pytest.approx(served_wait / (1 - measures.probability_abandon), rel=1e-6)


def test_patience_equal_to_handling_time_is_an_infinite_server_queue():
    # θ = μ: every caller leaves at rate μ whether served or waiting, so the number in the system is Poisson(A).
    lam, aht, n = 0.05, 200.0, 8
    traffic = lam * aht
    measures = erlang_a(lam, aht, aht, n, 20.0)
    k = np.arange(0, 200)
    assert measures.probability_wait == pytest.approx(poisson.sf(n - 1, traffic), rel=1e-9)
    excess = float((np.maximum(k - n, 0) * poisson.pmf(k, traffic)).sum())
    assert measures.probability_abandon == pytest.approx(excess / traffic, rel=1e-9)


def test_very_patient_callers_give_erlang_c():
    c = erlang_staffing(calls=100, interval_minutes=30, aht_seconds=180, service_level_target=0.8,
                        answer_within_seconds=20)
    a = erlang_a(100 / 1800, 180, 1e9, c.required_agents, 20)
    assert a.service_level == pytest.approx(c.service_level, abs=1e-6)
    assert a.asa_seconds == pytest.approx(c.asa_seconds, rel=1e-5)
    assert a.probability_wait == pytest.approx(c.probability_wait, rel=1e-6)


def test_staffing_with_patience_needs_fewer_agents_and_says_why():
    result = erlang_staffing(calls=100, interval_minutes=30, aht_seconds=180, service_level_target=0.8,
                             answer_within_seconds=20, shrinkage=0.3)
    from retention_mcp.analysis.erlang_a import erlang_a_staffing

    a = erlang_a_staffing(calls=100, interval_minutes=30, aht_seconds=180, patience_seconds=180,
                          service_level_target=0.8, answer_within_seconds=20, shrinkage=0.3, max_occupancy=None,
                          max_abandonment=None, erlang_c_agents=result.required_agents)
    # the smallest N: N meets the target, N − 1 does not (by the measures themselves)
    assert erlang_a(100 / 1800, 180, 180, a.required_agents, 20).service_level >= 0.8
    assert erlang_a(100 / 1800, 180, 180, a.required_agents - 1, 20).service_level < 0.8
    assert a.required_agents < result.required_agents == 14
    assert a.agents_fewer_than_erlang_c == result.required_agents - a.required_agents
    assert "hang up" in a.difference and f"{a.required_agents} vs 14" in a.difference
    capped = erlang_a_staffing(calls=100, interval_minutes=30, aht_seconds=180, patience_seconds=180,
                               service_level_target=0.8, answer_within_seconds=20, shrinkage=0.3, max_occupancy=None,
                               max_abandonment=0.02, erlang_c_agents=14)
    assert capped.probability_abandon <= 0.02 < erlang_a(100 / 1800, 180, 180, capped.required_agents - 1,
                                                          20).probability_abandon


# -- patience from call logs


def solve_by_hand(waits: list[float], ratio: float) -> float:
    """θ with mean(exp(θ·w)) = ratio, by plain bisection in Python floats."""
    low, high = 0.0, 1.0
    while sum(math.exp(high * w) for w in waits) / len(waits) < ratio:
        high *= 2
    for _ in range(100):
        middle = (low + high) / 2
        if sum(math.exp(middle * w) for w in waits) / len(waits) < ratio:
            low = middle
        else:
            high = middle
    return (low + high) / 2


def test_pwc_patience_by_hand():
    frame = pd.read_csv(shared_dataset("pwc_call_center.csv"))
    answered = frame[frame["Answered (Y/N)"] == "Y"]
    waits = answered["Speed of answer in seconds"].astype(float).tolist()
    assert (len(frame), len(answered)) == (5000, 4054)  # 946 abandoned, none with a wait in the log
    theta = solve_by_hand(waits, 5000 / 4054)
    estimate = estimate_patience(waits, 5000, abandoned=946)
    assert estimate.method == "answered_waits"
    assert estimate.patience_seconds == pytest.approx(1 / theta, rel=1e-9)
    assert round(estimate.patience_seconds) == 330
    # Jensen: mean(e^{θw}) ≥ e^{θ·mean w}, so θ ≤ ln(5000/4054) ÷ mean wait and the patience is at least this.
    assert estimate.patience_seconds >= float(np.mean(waits)) / math.log(5000 / 4054)
    assert estimate.ci_low < estimate.patience_seconds < estimate.ci_high


def test_sample_log_patience_recovers_the_generators_two_minutes(tmp_path):
    from retention_mcp.sample_data import write_call_log

    frame = pd.read_csv(write_call_log(tmp_path / "calls.csv"))
    answered = frame["Answered (Y/N)"] == "Y"
    estimate = estimate_patience(frame.loc[answered, "Speed of answer in seconds"], len(frame),
                                 abandoned=int((~answered).sum()))
    assert estimate.ci_low <= 120 <= estimate.ci_high  # callers hang up after exponential(120 s) patience


def test_censored_likelihood_when_abandoned_calls_carry_their_wait():
    rng = np.random.default_rng(5)
    offered_wait = rng.exponential(40, 20_000)
    patience = rng.exponential(90, 20_000)
    answered = offered_wait <= patience
    waits = np.minimum(offered_wait, patience)
    estimate = estimate_patience(waits[answered], len(waits), waits[~answered])
    assert estimate.method == "censored_mle"
    assert estimate.patience_seconds == pytest.approx(waits.sum() / (~answered).sum(), rel=1e-12)
    assert estimate.ci_low <= 90 <= estimate.ci_high


@pytest.mark.anyio
async def test_call_log_to_erlang_a_over_mcp(shared_client):
    profile = await shared_client.call_tool("call_log_profile", {"path": "pwc_call_center.csv"})
    assert not profile.is_error, profile.content[0].text
    data = profile.structured_content
    assert data["patience"]["abandoned"] == 946 and round(data["patience"]["patience_seconds"]) == 330
    inputs = {k: v for k, v in data["erlang_inputs"].items() if k != "peak"}
    assert inputs["patience_seconds"] == pytest.approx(data["patience"]["patience_seconds"])
    staffing = await shared_client.call_tool("erlang_staffing", inputs)
    assert not staffing.is_error, staffing.content[0].text
    both = staffing.structured_content
    assert both["erlang_a"]["required_agents"] <= both["required_agents"]
    assert "Erlang A" in staffing.content[0].text and "abandoned" in staffing.content[0].text
