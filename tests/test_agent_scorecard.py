"""agent_scorecard: per-agent metrics checked against plain pandas, weights and tiers by hand, OLS vs numpy."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from mcp import Client
from scipy import stats

from conftest import catalog, make_dataset, policy, shared_dataset
from retention_mcp.analysis.scorecard import build_scorecard as build
from retention_mcp.analysis.scorecard import scorecard_text, to_seconds
from retention_mcp.server import build_server

PWC = "pwc_call_center.csv"


def build_scorecard(frame, agent_column=None, **kwargs):
    """The analysis on a DataFrame, with real names allowed (an operator setting) so rows can be checked by
    hand; the tool itself shows pseudonyms (tested through the client below)."""
    column_map = {"agent": agent_column} if agent_column else None
    ds = make_dataset(frame, kind="calls", column_map=column_map)
    # A minimum group size of 4 (an operator's --min-group-size 4), so the four-contact agents below can be scored.
    return build(ds, policy=policy(names=True, floor=4), catalog=catalog("call_center.yaml")["scorecard"], **kwargs)


def pseudonym_key(settings) -> dict[str, str]:
    """pseudonym -> name, from the key file the server writes for the operator."""
    keys = {}
    for path in (settings.output_dir / "pseudonym-keys").glob("agent-*.csv"):
        keys.update(dict(pd.read_csv(path).itertuples(index=False, name=None)))
    return keys


def contacts_csv() -> str:
    """Three agents; unanswered calls carry a 0 rating (missing), durations in h:mm:ss and mm:ss."""
    rows = ["Call Id,Agent,Answered (Y/N),Resolved,Speed of answer in seconds,AvgTalkDuration,Satisfaction rating"]
    plan = {"Ann": (5, "Y", 10, "0:03:00"), "Bob": (3, "N", 30, "0:05:00"), "Cid": (4, "Y", 20, "04:00")}
    call = 0
    for agent, (rating, resolved, asa, talk) in plan.items():
        for _ in range(4):
            call += 1
            rows.append(f"ID{call:04d},{agent},Y,{resolved},{asa},{talk},{rating}")
        call += 1
        rows.append(f"ID{call:04d},{agent},N,N,,,0")  # unanswered: not a zero rating
    return "\n".join(rows) + "\n"


def test_contacts_are_aggregated_with_unanswered_left_out():
    frame = pd.read_csv(pd.io.common.StringIO(contacts_csv()))
    result = build_scorecard(frame, "Agent", min_contacts=4)
    rows = {r.agent: r for r in result.agents}
    assert result.input_shape == "contacts"
    assert rows["Ann"].csat_mean == 5 and rows["Bob"].csat_mean == 3  # the 0s are missing, not zeros
    assert rows["Ann"].resolution_rate == 1 and rows["Bob"].resolution_rate == 0
    assert rows["Cid"].aht_seconds == 240 and rows["Bob"].aht_seconds == 300
    assert rows["Ann"].answered == 4 and rows["Ann"].contacts == 5
    assert rows["Ann"].intervals["csat"] == [5.0, 5.0]  # no spread within Ann's ratings
    # Weights: the appraisal example over csat, resolution, aht = 40/25/15 of 80 (asa reported, weight 0).
    assert result.weights == pytest.approx({"csat": 0.5, "resolution_rate": 0.3125, "aht": 0.1875})
    # Scores by hand: z of each agent against the other two (Welch for means, pooled proportions for rates).
    # Ann, CSAT: 5 (sd 0, n 4) vs the rest 3,3,3,3,4,4,4,4 (mean 3.5, variance 2/7): z = 1.5 / sqrt(2/7 / 8)
    z_csat = 1.5 / math.sqrt((2 / 7) / 8)
    # resolution: 4/4 vs 4/8, pooled 8/12: z = 0.5 / sqrt(2/3 · 1/3 · (1/4 + 1/8))
    z_resolution = 0.5 / math.sqrt(2 / 3 * 1 / 3 * (1 / 4 + 1 / 8))
    # AHT (lower is better): 180 vs 300,300,300,300,240,240,240,240 (mean 270, variance 7200/7): z = 90 / sqrt(...)
    z_aht = 90 / math.sqrt((7200 / 7) / 8)
    assert rows["Ann"].scores == pytest.approx({"csat": z_csat, "resolution_rate": z_resolution, "aht": z_aht,
                                                "asa": rows["Ann"].scores["asa"]}, rel=1e-5)
    # every agent's values are constant within the agent, so the metrics are uncorrelated within agents and the
    # total's standard deviation under "no difference" is sqrt(Σ w²)
    w = [0.5, 0.3125, 0.1875]
    expected_total = (w[0] * z_csat + w[1] * z_resolution + w[2] * z_aht) / math.sqrt(sum(x * x for x in w))
    assert rows["Ann"].total_score == pytest.approx(expected_total, rel=1e-5)
    assert [r.agent for r in result.agents] == ["Ann", "Cid", "Bob"]
    # round(0.2 x 3) = 1 candidate at each end; both are far from the rest (Holm p < 0.05), so both are placed
    assert [r.tier for r in result.agents] == ["top", "middle", "bottom"]
    assert result.distinguishable == ["Ann", "Bob"]
    assert "re-normalised" in result.weights_note
    assert result.tiers[0].actions[0].startswith("Bonus")


def test_min_contacts_lists_agents_as_not_scored():
    extra = "".join(f"ID9{i:03d},Ann,Y,Y,10,0:03:00,5\n" for i in range(2))  # Ann: 6 answered, others 4
    frame = pd.read_csv(pd.io.common.StringIO(contacts_csv() + extra))
    result = build_scorecard(frame, "Agent", min_contacts=5)
    assert [r.agent for r in result.agents] == ["Ann"]
    assert {(n.agent, n.answered, n.contacts) for n in result.not_scored} == {("Bob", 4, 5), ("Cid", 4, 5)}
    assert all("fewer than 5" in n.reason for n in result.not_scored)
    with pytest.raises(ValueError, match="lower min_contacts"):
        build_scorecard(frame, "Agent", min_contacts=50)


def test_per_agent_input_and_custom_weights_by_hand():
    frame = pd.DataFrame({"坐席": ["A", "B", "C", "D", "E"], "CSAT": [4.0, 3.0, 3.8, 3.5, 3.2],
                          "FCR": ["90%", "70%", "75%", "80%", "85%"], "AHT": [200, 300, 280, 250, 260],
                          "calls": [50, 50, 50, 50, 10]})
    result = build_scorecard(frame, weights={"csat": 50, "fcr": 30, "aht": "20"}, min_contacts=30)
    assert result.input_shape == "agents"
    assert [n.agent for n in result.not_scored] == ["E"]
    rows = {r.agent: r for r in result.agents}
    # among A-D, standardised across the agents (no per-contact spread to test with): (x − mean) ÷ sd, signed
    kept = frame.iloc[:4]
    fcr = pd.Series([0.90, 0.70, 0.75, 0.80], index=kept.index)

    def standard(values, sign=1.0):
        return sign * (values - values.mean()) / values.std(ddof=1)

    expected = (0.5 * standard(kept["CSAT"]) + 0.3 * standard(fcr) + 0.2 * standard(kept["AHT"], -1.0))
    for i, agent in enumerate("ABCD"):
        assert rows[agent].total_score == pytest.approx(expected.iloc[i], abs=1e-6)
    assert rows["C"].resolution_rate == pytest.approx(0.75)
    # no test is possible on per-agent averages: nobody is placed in a tier with consequences
    assert {r.tier for r in result.agents} == {"not distinguishable"}
    assert not result.distinguishable and not result.metric_tests
    assert any("cannot be tested" in note for note in result.notes)
    text = scorecard_text(result)
    assert "end the contract" not in text and "Written performance warning" not in text
    assert "Bonus" not in text
    # 4 agents cannot carry an intercept and two slopes with any residual freedom: skipped, and said so
    assert result.linkage is None
    assert any("CSAT linkage skipped" in note for note in result.notes)


def test_single_predictor_linkage_matches_scipy_linregress():
    rng = np.random.default_rng(7)
    n = 300
    talk = rng.uniform(60, 600, n)
    csat = np.clip(np.round(4.5 - talk / 400 + rng.normal(0, 0.6, n)), 1, 5)
    frame = pd.DataFrame({"Agent": np.repeat(["a", "b", "c"], n // 3), "Satisfaction rating": csat,
                          "AvgTalkDuration": talk})
    result = build_scorecard(frame, min_contacts=10)
    reference = stats.linregress(talk, csat)
    coef = result.linkage.coefficients[0]
    assert result.linkage.level == "contact" and result.linkage.n == n
    assert coef.coefficient == pytest.approx(reference.slope, rel=1e-5)
    assert coef.p_value == pytest.approx(reference.pvalue, rel=1e-4)
    assert result.linkage.r_squared == pytest.approx(reference.rvalue ** 2, rel=1e-4)
    assert coef.std_coefficient == pytest.approx(reference.rvalue, abs=1e-4)  # one predictor: beta = r
    assert coef.significant and "+60 s talk time" in coef.sentence


def test_durations_parse_to_seconds():
    parsed = to_seconds(pd.Series(["0:02:23", "1:00:00", "04:05", "75", None]))
    assert parsed.iloc[:4].tolist() == [143, 3600, 245, 75]
    assert np.isnan(parsed.iloc[4])


@pytest.mark.anyio
async def test_pwc_scorecard_matches_plain_pandas(shared_client, shared_settings):
    raw = pd.read_csv(shared_dataset(PWC), encoding="utf-8-sig")
    answered = raw[raw["Answered (Y/N)"] == "Y"].copy()
    answered["talk"] = pd.to_timedelta(answered["AvgTalkDuration"]).dt.total_seconds()
    answered["resolved"] = (answered["Resolved"] == "Y").astype(float)
    expected = answered.groupby("Agent").agg(csat=("Satisfaction rating", "mean"), fcr=("resolved", "mean"),
                                             talk=("talk", "mean"), asa=("Speed of answer in seconds", "mean"))

    result = await shared_client.call_tool("agent_scorecard", {"path": PWC, "agent_column": "Agent"})
    assert not result.is_error, result.content[0].text
    content = result.structured_content
    assert content["input_shape"] == "contacts"
    # Agents are pseudonyms (Agent 01 ...); the operator's key file says who is who.
    assert not set(row["agent"] for row in content["agents"]) & set(expected.index)
    key = pseudonym_key(shared_settings)
    agents = {key[row["agent"]]: row for row in content["agents"]}
    assert set(agents) == set(expected.index) and len(agents) == 8
    for agent, row in agents.items():
        assert row["csat_mean"] == pytest.approx(expected.at[agent, "csat"], abs=1e-6)
        assert row["resolution_rate"] == pytest.approx(expected.at[agent, "fcr"], abs=1e-6)
        assert row["aht_seconds"] == pytest.approx(expected.at[agent, "talk"], abs=1e-6)
        assert row["asa_seconds"] == pytest.approx(expected.at[agent, "asa"], abs=1e-6)
    # The eight agents are indistinguishable (issue 12 item 3): no tiers with consequences
    assert [t["tier"] for t in content["tiers"]] == ["not distinguishable"]
    assert len(content["tiers"][0]["agents"]) == 8 and content["distinguishable"] == []
    assert sorted(row["rank"] for row in content["agents"]) == list(range(1, 9))

    # OLS of CSAT on resolved, talk seconds and speed of answer, per answered contact
    data = answered[["Satisfaction rating", "resolved", "talk", "Speed of answer in seconds"]].dropna()
    x = np.column_stack([np.ones(len(data)), data[["resolved", "talk", "Speed of answer in seconds"]]])
    y = data["Satisfaction rating"].to_numpy(float)
    beta, *_ = np.linalg.lstsq(x, y, rcond=None)
    r2 = 1 - ((y - x @ beta) ** 2).sum() / ((y - y.mean()) ** 2).sum()
    link = content["linkage"]
    assert link["level"] == "contact" and link["n"] == len(data)
    got = {c["metric"]: c["coefficient"] for c in link["coefficients"]}
    assert got["resolution_rate"] == pytest.approx(beta[1], abs=1e-6)
    assert got["aht"] == pytest.approx(beta[2], abs=1e-6)
    assert got["asa"] == pytest.approx(beta[3], abs=1e-6)
    assert link["r_squared"] == pytest.approx(r2, abs=1e-6)

    text = result.content[0].text
    assert "ID0001" not in text and "Call Id" not in text
    assert "ID0001" not in str(content)
    assert not [name for name in expected.index if name in text or name in str(content)]


@pytest.mark.anyio
async def test_bad_inputs_say_what_to_fix_and_the_server_carries_on(client, settings):
    missing = await client.call_tool("agent_scorecard", {"csv_text": contacts_csv(), "agent_column": "Rep"})
    assert missing.is_error
    assert "no column 'Rep'" in missing.content[0].text
    assert "Agent" in missing.content[0].text

    empty = await client.call_tool("agent_scorecard", {"csv_text": ""})
    assert empty.is_error and "csv_text" in empty.content[0].text

    header_only = await client.call_tool("agent_scorecard", {"csv_text": "Agent,Resolved\n"})
    assert header_only.is_error and "no data rows" in header_only.content[0].text

    weights = await client.call_tool("agent_scorecard", {"csv_text": contacts_csv(), "weights": {"csat": "high"}})
    assert weights.is_error and "weight for csat must be a number" in weights.content[0].text

    unknown = await client.call_tool("agent_scorecard", {"csv_text": contacts_csv(), "weights": {"speed": 10}})
    assert unknown.is_error and "unknown weight key" in unknown.content[0].text

    too_few = await client.call_tool("agent_scorecard", {"csv_text": contacts_csv(), "min_contacts": 4})
    assert too_few.is_error and "below this server's minimum group size of 5" in too_few.content[0].text
    settings = settings.with_(min_group_size=4)  # the operator's --min-group-size 4
    async with Client(build_server(settings), raise_exceptions=True) as four:
        good = await four.call_tool("agent_scorecard", {"csv_text": contacts_csv(), "min_contacts": 4})
    assert not good.is_error
    key = pseudonym_key(settings)
    assert [key[r["agent"]] for r in good.structured_content["agents"]] == ["Ann", "Cid", "Bob"]
    assert "ID0001" not in good.content[0].text
    assert not {"Ann", "Bob", "Cid"} & set(good.content[0].text.replace("|", " ").split())
