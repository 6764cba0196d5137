"""Issue 22, a demo that tells the truth: the demo session, run through the SDK's ``Client`` against the server over
stdio as ``retention-mcp demo`` runs it, in English and in Chinese, says nothing its calls did not compute.

- every figure of the plan sits in a sentence or table row citing evidence, and the workspace's citation check
  (``workspace/verify.py``) finds each one among that evidence's figures, as recorded in the session's workspace;
- each section cites the call that composed it, and each title names what that call computed: the dimension
  (``by``), the scope (``where``), the leavers counted, the segment and reference of an impact;
- the headline figures agree with pandas on the sample files (the turnover definition the result states: leavers
  dated in the 12 months to the file's latest date ÷ the mean of the headcounts on the same day of each month);
- the Chinese plan has no English sentence (the detector of ``test_one_voice_zh``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import re
from pathlib import Path
from typing import Any

import anyio
import pandas as pd
import pytest

from retention_mcp.demo import FILES, Session, _session
from retention_mcp.wording import words
from retention_mcp.workspace.citations import cited_ids, uncited_numbers
from retention_mcp.workspace.figures import numeric_figures
from retention_mcp.workspace.store import Workspace
from retention_mcp.workspace.verify import check_text, unknown_names
from test_one_voice_zh import english_sentences

pytestmark = pytest.mark.slow

#: Which calls each report section is composed from (their step names in the session).
SECTION_STEPS = {"hot_spots": {"by_department"}, "why": {"driver_analysis"}, "who": {"describe_groups"},
                 "impact": {"estimate_impact"}, "kpis": {"build_kpis"},
                 "roi": {"calculate_roi", "estimate_impact", "describe_groups"},
                 "staffing": {"call_log_profile", "erlang_staffing"}}
#: How a title names a dimension, and the leavers counted, in each language.
DIMENSION_WORDS = {"en": {"department": "department", "shift": "shift", "tenure_band": "tenure band"},
                   "zh": {"部门": "部门", "班次": "班次", "department": "部门", "tenure_band": "司龄段"}}
VOLUNTARY = {"en": "voluntary", "zh": "主动"}


@pytest.fixture(scope="module")
def sessions(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Session, Path]]:
    out = {}
    for language in ("en", "zh"):
        workdir = tmp_path_factory.mktemp(f"demo-{language}").resolve()
        with contextlib.redirect_stdout(io.StringIO()):  # the screen is test_demo's business
            session = anyio.run(_session, workdir, workdir / "reports", language)
        assert not session.failures, session.failures
        out[language] = (session, workdir)
    return out


def evidence_of(session: Session) -> dict[str, Any]:
    """Every evidence record the session's calls produced, by id, read back from the session's workspace."""
    workspace = Workspace(session.database_url)
    ids = [step.result["evidence_id"] for step in session.steps.values() if step.result.get("evidence_id")]
    records = {i: workspace.get_evidence(i) for i in ids}
    assert all(records.values()), records
    return records


def heading_keys(language: str) -> dict[str, str]:
    w = words(language)
    return {w(f"demo.report.{key}"): key for key in (*SECTION_STEPS, "outline")}


@pytest.mark.parametrize("language", ["en", "zh"])
def test_every_figure_of_the_plan_is_its_cited_evidence(sessions, language):
    session, _ = sessions[language]
    records = evidence_of(session)
    keys = heading_keys(language)
    step_of = {step.result.get("evidence_id"): name for name, step in session.steps.items()}
    assert [keys.get(s["heading"]) for s in session.sections] == [
        "hot_spots", "why", "who", "impact", "kpis", "roi", "staffing", "outline"]
    verified = 0
    for section in session.sections:
        key, markdown = keys[section["heading"]], section["markdown"]
        # nothing uncited: every figure is next to its evidence, or in a sentence marked as the plan's assumption
        assert uncited_numbers(markdown) == [], (key, uncited_numbers(markdown))
        cited = cited_ids(markdown)
        if key == "outline":
            assert cited == []
            continue
        # the section cites the calls it was composed from, and only those
        assert {step_of.get(i) for i in cited} == SECTION_STEPS[key], (key, cited)
        figures = {i: numeric_figures(i, records[i].figures, records[i].units) for i in cited}
        checks = check_text(markdown, figures)
        flagged = [(n.text, n.shown, c.text) for c in checks for n in c.numbers if not n.verified]
        assert flagged == [], (key, flagged)
        assert unknown_names(checks, figures) == []
        verified += sum(len(c.numbers) for c in checks)
    assert verified >= 60  # the tables' rows were checked, not just the headlines


@pytest.mark.parametrize("language", ["en", "zh"])
def test_each_title_names_what_its_call_computed(sessions, language):
    session, _ = sessions[language]
    c, w, dims = FILES[language], words(language), DIMENSION_WORDS[language]
    focus = {c["department"]: c["focus"]}
    checked = 0
    for name, step in session.steps.items():
        if step.tool not in ("turnover_breakdown", "retention_curve", "describe_groups", "estimate_impact"):
            continue
        title, args = step.title, step.arguments
        by = args.get("by")
        by = [by] if isinstance(by, str) else by or []
        if step.tool == "estimate_impact":  # the title names the segment and the reference the call compares
            assert all(v in title for v in c["segment"]) and c["reference"] in title, title
            assert set(args["segment"]) == set(args["reference"]) == {c["shift"]}
        else:
            assert by and all(dims[b] in title for b in by), (title, by)
            assert not [d for d, word in dims.items() if word in title and d not in by and dims[d] not in
                        [dims[b] for b in by]], (title, by)
        # a title naming the focus group is a call filtered to it, and a filtered call's title names it
        assert (c["focus"] in title) == (args.get("where") is not None), (title, args.get("where"))
        assert args.get("where") in (None, focus)
        assert (VOLUNTARY[language] in title) == (args.get("separation_type") == "voluntary"), title
        # the result computed what was asked: one row per value of the dimension, in the scope stated
        rows = step.result.get("rows") or step.result.get("groups") or []
        if step.tool != "estimate_impact":
            assert len(rows) >= 2, (name, rows)
        checked += 1
    assert checked == 7  # four breakdowns, the curves, the profile, the impact
    curves = session.steps["retention_curve"].result
    assert curves["logrank_p"] is not None and len(curves["groups"]) == 3  # a log-rank across the three shifts

    sections = {heading_keys(language)[s["heading"]]: s for s in session.sections}
    records = evidence_of(session)
    hot = sections["hot_spots"]
    breakdown = records[cited_ids(hot["markdown"])[0]]
    assert breakdown.tool == "turnover_breakdown" and breakdown.arguments["where"] is None
    dimension = breakdown.arguments["by"][0]
    assert dimension == c["department"]
    header = hot["markdown"].split("\n\n", 1)[1].splitlines()[0]
    assert header.strip("| ").split(" |")[0] == dimension  # the table's first column is what the call broke down by
    chart = hot["chart"]["data"]
    assert dims[dimension] in chart["title"]
    assert chart["xlabel"] == session.steps["by_department"].result["definition"]["interval"]
    assert chart["labels"] == [r["label"] for r in session.steps["by_department"].result["rows"]]

    who = sections["who"]
    profile = records[cited_ids(who["markdown"])[0]]
    assert profile.tool == "describe_groups" and profile.arguments["where"] == focus
    who_header = next(line for line in who["markdown"].splitlines() if line.startswith("| "))
    assert who_header.strip("| ").split(" |")[0] == profile.arguments["by"][0] == c["shift"]
    assert c["focus"] in who["markdown"].split("\n\n", 1)[0]  # the text says whom the figures are about

    # the calls downstream took their inputs from the results the text says they came from
    impact, roi_args = session.steps["estimate_impact"].result, session.steps["calculate_roi"].arguments
    assert roi_args["headcount"] == impact["calculate_roi_inputs"]["headcount"]
    assert roi_args["current_turnover_rate"] == impact["calculate_roi_inputs"]["current_turnover_rate"]
    assert roi_args["average_annual_cost"] == session.steps["describe_groups"].result["overall"]["average_annual_cost"]
    baselines = {k["id"]: k["baseline"] for k in session.steps["build_kpis"].arguments["items"]}
    assert baselines["turnover_rate"] == round(impact["current_overall_rate"] * 100, 1)
    assert baselines["early_attrition_rate"] == round(curves["overall"]["early_attrition"] * 100, 1)
    log = session.steps["call_log_profile"].result
    assert baselines["service_level"] == round(log["service_level_offered"] * 100, 1)
    erlang = session.steps["erlang_staffing"].arguments
    assert erlang["calls"] == log["erlang_inputs"]["calls"]
    assert w("demo.report.staffing") == sections["staffing"]["heading"]


# -- the headline figures, computed again with pandas from the sample files


def read_hr(workdir: Path, language: str) -> pd.DataFrame:
    if language == "en":
        frame = pd.read_csv(workdir / "sample_company.csv")
    else:
        frame = pd.read_csv(workdir / "sample_company_zh.csv", encoding="gbk", dtype=str)
    c = FILES[language]
    hire, leave = frame.columns[4], frame.columns[5]

    def day(value: Any) -> Any:  # ISO dates, and Excel serial days in the Chinese export
        if pd.isna(value) or value == "":
            return pd.NaT
        text = str(value).strip()
        if text.isdigit():
            return pd.Timestamp("1899-12-30") + pd.Timedelta(days=int(text))
        chinese = re.fullmatch(r"(\d{4})年(\d{1,2})月(\d{1,2})日", text)
        if chinese:
            return pd.Timestamp(*map(int, chinese.groups()))
        return pd.Timestamp(text.replace("/", "-"))

    return pd.DataFrame({"department": frame[c["department"]], "shift": frame[c["shift"]],
                         "hire": frame[hire].map(day), "leave": frame[leave].map(day),
                         "salary": pd.to_numeric(frame[frame.columns[14]]),
                         "overtime": pd.to_numeric(frame[c["overtime"]])})


def turnover(frame: pd.DataFrame, end: pd.Timestamp) -> tuple[float, int, float]:
    """(rate, leavers, average headcount) over the 12 months to ``end``: headcount on ``end`` and the same day of each
    earlier month within the period, people hired on or before the day whose termination date (their last day) is
    not before it."""
    start = end - pd.DateOffset(months=12) + pd.Timedelta(days=1)
    days = [end - pd.DateOffset(months=k) for k in range(13)]
    days = [d for d in days if d >= start]
    counts = [((frame.hire <= d) & ~(frame.leave < d)).sum() for d in days]
    headcount = sum(counts) / len(counts)
    leavers = int(((frame.leave >= start) & (frame.leave <= end)).sum())
    return leavers / headcount, leavers, headcount


@pytest.mark.parametrize("language", ["en", "zh"])
def test_headline_figures_agree_with_pandas(sessions, language):
    session, workdir = sessions[language]
    c = FILES[language]
    hr = read_hr(workdir, language)
    end = max(hr.hire.max(), hr.leave.max())
    assert end == pd.Timestamp(dt.date(2024, 12, 27))
    sections = {heading_keys(language)[s["heading"]]: s["markdown"] for s in session.sections}

    rate, _, _ = turnover(hr, end)
    assert f"{rate * 100:.1f}%" in sections["hot_spots"].splitlines()[0]
    for department, group in hr.groupby("department"):
        group_rate, group_leavers, headcount = turnover(group, end)
        row = f"| {department} | {headcount:,.1f} | {group_leavers} | {group_rate * 100:.1f}% |"
        assert row in sections["hot_spots"], row

    focus = hr[hr.department == c["focus"]]
    population_rate, population_leavers, population_headcount = turnover(focus, end)
    segment_rate, _, segment_headcount = turnover(focus[focus["shift"].isin(c["segment"])], end)
    reference_rate, _, _ = turnover(focus[focus["shift"] == c["reference"]], end)
    avoided = segment_headcount * (segment_rate - reference_rate)
    new_rate = (population_leavers - avoided) / population_headcount
    text = sections["impact"]
    for figure in (f"{avoided:.1f}", f"{population_rate * 100:.1f}% → {new_rate * 100:.1f}%"):
        assert figure in text, (figure, text)
    assert f"{new_rate * 100:.1f}%" in text

    who = sections["who"]
    assert str(len(focus)) in who.split("\n\n", 1)[0]
    for shift, group in focus.groupby("shift"):
        row = f"| {shift} | {len(group)} | {group.salary.mean():,.0f} | {group.overtime.mean():.1f} |"
        assert row in who, (row, who)

    calls = pd.read_csv(workdir / "sample_calls.csv")
    answered_in_time = (calls["Answered (Y/N)"] == "Y") & (calls["Speed of answer in seconds"] <= 20)
    assert f"{answered_in_time.sum() / len(calls) * 100:.1f}%" in sections["staffing"]


def test_the_chinese_plan_has_no_english_sentence(sessions):
    session, workdir = sessions["zh"]
    hr = pd.read_csv(workdir / "sample_company_zh.csv", encoding="gbk", dtype=str)
    names = set(hr.columns) | {str(v) for column in hr.columns[1:8] for v in hr[column].dropna().unique()}
    texts = [session.steps[name].title for name in session.steps]
    for section in session.sections:
        texts += [section["heading"], section["markdown"]]
        chart = (section.get("chart") or {}).get("data") or {}
        texts += [str(chart.get(key, "")) for key in ("title", "xlabel")] + [str(n) for n in chart.get("names", [])]
    hits = [(text[:80], english_sentences(text, names)) for text in texts if english_sentences(text, names)]
    assert hits == []
