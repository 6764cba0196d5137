"""Linked datasets end to end through the SDK client, on the sample company's five exports.

The exports (``retention_mcp.sample_linked``): the HR roster (GBK, Chinese headers, title rows), attendance
(XLSX, one row per working day), payroll (CSV with BOM), performance ratings per cycle, onboarding training
sessions (names only). Disagreements and duplicates are planted; every expected figure here is computed from the
files by hand with pandas (read, merged and aggregated the plain way), never taken from the server.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from mcp import Client
from scipy import stats

from reference import reference_turnover
from retention_mcp import sample_linked as planted
from retention_mcp.data.linked import is_dataset_name, normalise_ids, normalise_names
from retention_mcp.sample_linked import write_linked_company
from retention_mcp.server import build_server
from retention_mcp.settings import Settings

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(300)]

FILES = [
    {"path": "hr_roster.csv"},
    {"path": "attendance_2024-12.xlsx", "columns": {"出勤天数": "count()", "出勤工时": "sum(工时)"}},
    {"path": "payroll_2024Q4.csv"},
    {"path": "performance_ratings.csv", "columns": {"末次绩效": "latest(绩效等级)"}, "order_by": "考核周期"},
    {"path": "training_records.csv", "key": ["姓名", "部门"],
     "columns": {"培训时长": "sum(培训时长（小时）)", "培训次数": "count()"}},
]


@pytest.fixture(scope="module")
def company(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("company")
    write_linked_company(folder)
    return folder


@pytest.fixture
def settings(company: Path, tmp_path: Path) -> Settings:
    return Settings(data_dirs=(company,), output_dir=tmp_path / "out", log_level="WARNING",
                    database_url=f"sqlite:///{tmp_path / 'workspace.sqlite3'}")


async def call(client: Client, tool: str, arguments: dict[str, Any]) -> Any:
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, result.content[0].text
    return result


async def linked_client(settings: Settings, files: list[dict[str, Any]] = FILES, name: str = "星辰2024"):
    client = Client(build_server(settings), raise_exceptions=True)
    await client.__aenter__()
    await call(client, "dataset_link", {"name": name, "files": files, "language": "zh"})
    return client


# -- the files, read by hand


def roster(company: Path) -> pd.DataFrame:
    frame = pd.read_csv(company / "hr_roster.csv", encoding="gbk", skiprows=2, dtype=str, keep_default_na=False)
    for column in ("入职日期", "离职日期"):
        frame[column] = [dt.datetime.strptime(v, "%Y/%m/%d").date() if v else None for v in frame[column]]
    return frame


def as_of(frame: pd.DataFrame) -> dt.date:
    dates = [d for d in [*frame["入职日期"], *frame["离职日期"]] if d is not None and d <= dt.date.today()]
    return max(dates)


def counts_of(structured: dict[str, Any]) -> dict[tuple[str, str, str, str], int | None]:
    """{(fact, file_a, file_b, kind): count} of a reconcile result."""
    return {(p["fact"], p["file_a"], p["file_b"], c["kind"]): c["count"] for p in structured["pairs"]
            for c in p["counts"]}


def file_counts(structured: dict[str, Any], name: str) -> dict[str, int | None]:
    check = next(f for f in structured["files"] if f["file"] == name)
    return {c["kind"]: c["count"] for c in check["counts"]}


# -- the tests


async def test_reconciliation_counts_equal_the_planted_disagreements_and_duplicates(settings: Settings,
                                                                                  company: Path) -> None:
    client = await linked_client(settings)
    try:
        made = await call(client, "list_datasets", {})
        assert made.structured_content["linked"][0]["name"] == "星辰2024"
        result = await call(client, "reconcile_datasets", {"path": "星辰2024", "on": "2024-12-31"})
    finally:
        await client.__aexit__(None, None, None)
    got = counts_of(result.structured_content)
    R, P, A = "hr_roster.csv", "payroll_2024Q4.csv", "attendance_2024-12.xlsx"
    # Status and dates: roster (first) against payroll (second).
    assert got[("status", R, P, "leaver_in_a_active_in_b")] == planted.PAY_LEAVER_ACTIVE
    assert got[("status", R, P, "active_in_a_leaver_in_b")] == planted.PAY_ACTIVE_LEAVER
    assert got[("termination_date", R, P, "more_than_days_apart")] == planted.PAY_DATE_FAR
    assert got[("termination_date", R, P, "date_only_in_a")] == planted.PAY_LEAVER_ACTIVE
    assert got[("termination_date", R, P, "date_only_in_b")] == planted.PAY_ACTIVE_LEAVER
    assert got[("department", R, P, "different_department")] == planted.PAY_DEPARTMENT
    department = next(p for p in result.structured_content["pairs"] if p["fact"] == "department" and p["file_b"] == P)
    assert department["note"] == f"客服 → 销售: {planted.PAY_DEPARTMENT}"
    # Headcount on 2024-12-31: the roster counts the people paid as leavers, the payroll the leavers still paid.
    assert got[("headcount", R, P, "only_by_a")] == planted.PAY_MISSING + planted.PAY_ACTIVE_LEAVER
    assert got[("headcount", R, P, "only_by_b")] == planted.PAY_LEAVER_ACTIVE
    # Within files.
    assert file_counts(result.structured_content, R) | {} == file_counts(result.structured_content, R)
    roster_checks = file_counts(result.structured_content, R)
    assert roster_checks["rehires"] == planted.REHIRES
    assert roster_checks["exact_duplicate_rows"] == planted.ROSTER_DUPLICATES
    assert roster_checks["people_with_several_rows"] == planted.REHIRES + planted.ROSTER_DUPLICATES
    payroll_checks = file_counts(result.structured_content, P)
    assert payroll_checks["exact_duplicate_rows"] == planted.PAY_DUPLICATES
    assert payroll_checks["rows_outside_population"] == planted.PAY_CONTRACTORS
    performance = file_counts(result.structured_content, "performance_ratings.csv")
    assert performance["same_person_same_period"] == planted.PERF_RERATED
    training = file_counts(result.structured_content, "training_records.csv")
    assert training["rows_outside_population"] == planted.TRAINING_EXTERNALS * planted.TRAINING_EXTERNAL_SESSIONS
    assert training["rows_ambiguous_name"] == 0  # name + department tells the namesakes apart

    # Roster against attendance on 2024-12-31, by hand: employed that day vs a record in the 7 days ending it.
    people = roster(company)
    on = dt.date(2024, 12, 31)
    employed = {i for i, h, t in zip(people["工号"], people["入职日期"], people["离职日期"], strict=True)
                if h <= on and (t is None or t >= on)}
    sheet = pd.read_excel(company / A, sheet_name="考勤明细", skiprows=1, dtype=str)
    days = pd.to_datetime(sheet["日期"]).dt.date
    attended = set(sheet.loc[(days > on - dt.timedelta(days=7)) & (days <= on), "工号"])
    assert got[("headcount", R, A, "only_by_a")] == len(employed - attended)
    assert got[("headcount", R, A, "only_by_b")] == len(attended - employed)
    assert got[("headcount", R, A, "counted_by_both")] == len(employed & attended)
    # The planted ones are among them: leavers still clocking in, people on long leave.
    assert len(attended - employed) >= planted.ATTENDANCE_AFTER_LEAVING
    assert len(employed - attended) >= planted.ATTENDANCE_MISSING


async def test_a_name_shared_by_two_people_matches_neither(settings: Settings, company: Path) -> None:
    files = [FILES[0], {"path": "training_records.csv", "columns": {"培训时长": "sum(培训时长（小时）)"}}]
    client = await linked_client(settings, files, name="names")
    try:
        result = await call(client, "reconcile_datasets", {"path": "names"})
    finally:
        await client.__aexit__(None, None, None)
    people = roster(company).drop_duplicates("工号")
    sessions = pd.read_csv(company / "training_records.csv", dtype=str)
    shared = people.groupby("姓名")["工号"].nunique()
    ambiguous = sessions["姓名"].map(shared).fillna(0) > 1
    assert ambiguous.sum() > 0
    assert file_counts(result.structured_content, "training_records.csv")["rows_ambiguous_name"] == int(ambiguous.sum())


async def test_3_month_retention_against_training_hours_equals_pandas_on_a_hand_merged_frame(
        settings: Settings, company: Path) -> None:
    client = await linked_client(settings)
    try:
        result = await call(client, "driver_analysis", {"path": "星辰2024", "outcome": "left_within_90_days",
                                                        "drivers": ["培训时长"]})
    finally:
        await client.__aexit__(None, None, None)
    people = roster(company)
    sessions = pd.read_csv(company / "training_records.csv")
    hours = sessions.groupby(["姓名", "部门"])["培训时长（小时）"].sum()
    frame = people.join(hours.rename("hours"), on=["姓名", "部门"])
    end = as_of(people)
    cohort = [h <= end - dt.timedelta(days=90) and (t is None or t >= h)
              for h, t in zip(frame["入职日期"], frame["离职日期"], strict=True)]
    early = [float(t is not None and t <= end and (t - h).days <= 90)
             for h, t in zip(frame["入职日期"], frame["离职日期"], strict=True)]
    frame = frame.assign(cohort=cohort, early=early)
    model = frame[frame["cohort"] & frame["hours"].notna()]
    r, p = stats.pearsonr(model["hours"], model["early"])
    out = result.structured_content
    assert out["n"] == len(model)
    assert out["rows_in_scope"] == int(frame["cohort"].sum())
    driver = out["drivers"][0]
    assert driver["driver"] == "培训时长" and driver["n"] == len(model)
    assert driver["effect_size"] == pytest.approx(r, abs=1e-9)
    assert driver["p_value"] == pytest.approx(p, rel=1e-6)
    assert out["r_squared"] == pytest.approx(r * r, abs=1e-9)
    assert r < -0.2  # fewer onboarding hours go with leaving in the first 90 days, as generated


async def test_turnover_by_last_rating_equals_pandas_on_a_hand_merged_frame(settings: Settings,
                                                                           company: Path) -> None:
    client = await linked_client(settings)
    try:
        by_rating = await call(client, "turnover_breakdown", {"path": "星辰2024", "by": ["末次绩效"]})
        by_department = await call(client, "turnover_breakdown", {"path": "星辰2024", "by": ["部门"]})
        alone = await call(client, "turnover_breakdown", {"path": "hr_roster.csv", "by": ["部门"]})
    finally:
        await client.__aexit__(None, None, None)
    people = roster(company)
    ratings = pd.read_csv(company / "performance_ratings.csv", dtype=str)
    ratings["row"] = range(len(ratings))
    last = ratings.sort_values(["考核周期", "row"]).groupby("工号")["绩效等级"].last()
    groups = people["工号"].map(last).fillna("(missing)")
    expected = reference_turnover(list(people["入职日期"]), list(people["离职日期"]), list(groups), as_of(people))
    rows = {r["label"]: r for r in by_rating.structured_content["rows"]}
    assert set(rows) == set(expected)
    for label, (heads, leavers) in expected.items():
        if rows[label]["suppressed"]:
            continue
        assert rows[label]["leavers"] == leavers, label
        assert rows[label]["headcount"] == pytest.approx(heads, abs=0.01), label
        assert rows[label]["rate"] == pytest.approx(leavers / heads, rel=1e-9), label
    assert all(not rows[g]["suppressed"] for g in "ABCD")
    # A population column gives the roster's own figures, whichever path the question took.
    assert by_department.structured_content["rows"] == alone.structured_content["rows"]
    assert by_department.structured_content["overall"] == alone.structured_content["overall"]


async def test_evidence_records_every_file_and_refresh_reruns_on_the_current_files(settings: Settings,
                                                                                  tmp_path: Path) -> None:
    folder = tmp_path / "exports"
    write_linked_company(folder)
    own = Settings(data_dirs=(folder,), output_dir=tmp_path / "out", log_level="WARNING",
                   database_url=settings.database_url)
    client = await linked_client(own)
    try:
        result = await call(client, "turnover_breakdown", {"path": "星辰2024", "by": ["末次绩效"]})
        evidence_id = result.structured_content["evidence_id"]
        shown = await call(client, "evidence_get", {"evidence_id": evidence_id})
        sources = {s["name"]: s for s in shown.structured_content["sources"]}
        for spec in FILES:
            path = folder / spec["path"]
            assert sources[spec["path"]]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
            assert sources[spec["path"]]["size"] == path.stat().st_size
        assert sources["星辰2024"]["format"] == "linked dataset" and sources["星辰2024"]["version"] == 1

        plan = await call(client, "plan_create", {"title": "保留方案", "language": "zh"})
        plan_id = plan.structured_content["id"]
        await call(client, "plan_write_section", {
            "plan_id": plan_id, "section": "1", "base_version": 1,
            "markdown": f"末次绩效 D 的离职率 {result.structured_content['rows'][0]['rate']:.1%} [{evidence_id}]"})
        # Next cycle's ratings arrive: everyone rated in 2024H2 is rated again as A in 2025H1.
        ratings = folder / "performance_ratings.csv"
        lines = ratings.read_text(encoding="utf-8").splitlines()
        again = [line.split(",") for line in lines[1:] if line.split(",")[1] == "2024H2"]
        with ratings.open("a", encoding="utf-8") as handle:
            for row in again:
                handle.write(f"{row[0]},2025H1,A,{row[3]}\n")
        refreshed = await call(client, "plan_refresh", {"plan_id": plan_id})
        item = refreshed.structured_content["evidence"][0]
        assert item["status"] == "changed", (item["reason"], item)
        new = {s["name"]: s["sha256"] for s in item["new_sources"]}
        assert new["performance_ratings.csv"] == hashlib.sha256(ratings.read_bytes()).hexdigest()
        assert new["hr_roster.csv"] == sources["hr_roster.csv"]["sha256"]
        # A single file cannot stand in for the linked dataset.
        skipped = await call(client, "plan_refresh", {"plan_id": plan_id, "path": "hr_roster.csv"})
        assert skipped.structured_content["evidence"][0]["status"] == "skipped"
    finally:
        await client.__aexit__(None, None, None)


async def test_bad_definitions_are_refused_with_what_to_fix(settings: Settings) -> None:
    async with Client(build_server(settings), raise_exceptions=True) as client:
        cases = [
            ({"name": "a.b", "files": FILES[:2]}, "no dot or slash"),
            ({"name": "x", "files": [FILES[0], {"path": "payroll_2024Q4.csv", "colums": {}}]},
             "did you mean 'columns'"),
            ({"name": "x", "files": [FILES[0], {"path": "attendance_2024-12.xlsx"}]}, "several rows for"),
            ({"name": "x", "files": [FILES[0], {"path": "performance_ratings.csv",
                                               "columns": {"r": "newest(绩效等级)"}}]}, "unknown rule 'newest'"),
            ({"name": "x", "files": [FILES[0], {"path": "payroll_2024Q4.csv", "columns": {"n": "latest(姓名)"}}]},
             "identifies people"),
            ({"name": "x", "files": [FILES[0], {"path": "payroll_2024Q4.csv", "columns": {"部门": "部门"}}]},
             "already has a column"),
            ({"name": "x", "files": [FILES[0]]}, "2 to 8 exports"),
        ]
        for arguments, words in cases:
            result = await client.call_tool("dataset_link", arguments)
            assert result.is_error and words in result.content[0].text, (arguments, result.content[0].text)
        missing = await client.call_tool("turnover_breakdown", {"path": "nosuchdataset"})
        assert missing.is_error and "neither a file" in missing.content[0].text
        await call(client, "dataset_link", {"name": "two", "files": FILES[:3]})
        sheet = await client.call_tool("turnover_breakdown", {"path": "two", "sheet": "x"})
        assert sheet.is_error and "set per file" in sheet.content[0].text
        again = await call(client, "dataset_link", {"name": "two", "files": FILES[:2]})
        assert again.structured_content["version"] == 2


def test_keys_match_as_the_systems_write_them() -> None:
    import pyarrow as pa

    ids = normalise_ids(pa.array(["007", "7", " e12 ", "E12", "１００１", None, "", "0"])).to_pylist()
    assert ids == ["7", "7", "E12", "E12", "1001", None, None, "0"]
    assert normalise_ids(pa.array([7.0, 1001.0])).to_pylist() == ["7", "1001"]
    assert normalise_names(pa.array(["张 伟", "张伟", "Ann  Lee", "ann lee"])).to_pylist() == [
        "张伟", "张伟", "annlee", "annlee"]
    assert is_dataset_name("2024Q4") and is_dataset_name("员工全量_2026Q3")
    assert not is_dataset_name("hr.csv") and not is_dataset_name("exports/2024") and not is_dataset_name("")


def test_duckdb_is_imported_in_the_workers_only(settings: Settings, tmp_path: Path) -> None:
    """The MCP server process never imports the engine: a linked call runs it in a worker."""
    script = f"""
import anyio, json, sys
from pathlib import Path
from mcp import Client
from retention_mcp.server import build_server
from retention_mcp.settings import Settings

async def main():
    settings = Settings(data_dirs=(Path({str(settings.data_dirs[0])!r}),), output_dir=Path({str(tmp_path)!r}),
                        database_url={settings.database_url!r}, log_level="WARNING")
    async with Client(build_server(settings)) as client:
        made = await client.call_tool("dataset_link", {{"name": "d", "files": {json.dumps(FILES[:2])}}})
        used = await client.call_tool("turnover_breakdown", {{"path": "d", "by": ["出勤天数"]}})
        print(json.dumps([made.is_error, used.is_error, "duckdb" in sys.modules]))

if __name__ == "__main__":
    anyio.run(main)
"""
    path = tmp_path / "probe.py"
    path.write_text(script, encoding="utf-8")
    out = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=240)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == [False, False, False], out.stderr[-2000:]


def test_the_planted_company_is_deterministic(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    write_linked_company(first)
    write_linked_company(second)
    for name in ("hr_roster.csv", "payroll_2024Q4.csv", "performance_ratings.csv", "training_records.csv"):
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    a = pd.read_excel(first / "attendance_2024-12.xlsx", skiprows=1)
    b = pd.read_excel(second / "attendance_2024-12.xlsx", skiprows=1)
    assert a.equals(b) and np.isclose(a["工时"].sum(), b["工时"].sum())
