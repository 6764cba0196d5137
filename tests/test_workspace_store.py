"""The workspace store on both engines: migrations, plans and versions, evidence, where the database lives."""

from __future__ import annotations

import math
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from retention_mcp.errors import InputError
from retention_mcp.settings import Settings
from retention_mcp.workspace import engine as engine_module
from retention_mcp.workspace.citations import cited_ids, uncited_numbers
from retention_mcp.workspace.engine import (
    VERSION_TABLE,
    WorkspaceUnavailable,
    create_engine,
    default_database_path,
    migrate,
)
from retention_mcp.workspace.store import StaleVersion, Workspace
from workspace_support import database_url, postgres_server  # noqa: F401 (fixtures)

pytestmark = pytest.mark.timeout(120)

SECTIONS = ["现状分析", "根本原因分析", "战略建议"]


def new_plan(store: Workspace):
    return store.create_plan(title="T", template="retention_strategy", language="zh", group="研发",
                             sections=SECTIONS, author="alice")


# -- schema and migrations


def test_migrations_build_exactly_the_declared_schema(database_url: str) -> None:  # noqa: F811
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from retention_mcp.workspace.schema import metadata

    engine = create_engine(database_url)
    try:
        migrate(engine)
        migrate(engine)  # a second run is a no-op
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
            from alembic.config import Config

            config = Config()
            config.set_main_option("script_location", "retention_mcp.workspace:migrations")
            assert context.get_current_revision() == ScriptDirectory.from_config(config).get_current_head()
            assert compare_metadata(context, metadata) == []  # the migrations and schema.py agree
    finally:
        engine.dispose()


def test_a_database_from_a_newer_release_is_refused_clearly(tmp_path: Path) -> None:
    import sqlalchemy as sa

    url = f"sqlite:///{tmp_path / 'w.sqlite3'}"
    engine = create_engine(url)
    migrate(engine)
    with engine.begin() as connection:
        connection.execute(sa.text(f"UPDATE {VERSION_TABLE} SET version_num = '9999_future'"))
    with pytest.raises(WorkspaceUnavailable, match=r"newer schema.*upgrade retention-mcp"):
        migrate(engine)
    engine.dispose()


def test_first_use_from_many_processes_at_once_migrates_once(database_url: str) -> None:  # noqa: F811
    """Server processes starting together on a new database: every one comes up, the schema is made once."""
    code = ("import sys; from retention_mcp.workspace.engine import create_engine, migrate; "
            "e = create_engine(sys.argv[1]); migrate(e); e.dispose()")
    children = [subprocess.Popen([sys.executable, "-c", code, database_url], stderr=subprocess.PIPE, text=True)
                for _ in range(4)]
    outcomes = [(child.wait(timeout=90), child.stderr.read()) for child in children]
    assert [code for code, _ in outcomes] == [0, 0, 0, 0], outcomes
    store = Workspace(database_url)
    assert new_plan(store).version == 1


# -- plans


def test_writes_to_other_sections_merge_and_the_same_section_is_refused(database_url: str) -> None:  # noqa: F811
    store = Workspace(database_url)
    plan = new_plan(store)
    first = store.write_section(plan.id, "现状分析", "A1", base_version=1, author="alice")
    # bob read version 1 too, and writes another section: his write lands, alice's is kept
    second = store.write_section(plan.id, "2", "B1", base_version=1, author="bob")
    assert (first.version, second.version) == (2, 3)
    assert second.merged_changes == ("现状分析",)
    state = store.get_plan(plan.id)
    assert [s.markdown.strip() for s in state.sections] == ["A1", "B1", ""]
    assert [(s.version, s.author) for s in state.sections] == [(2, "alice"), (3, "bob"), (None, None)]
    # carol also read version 1 and writes 现状分析: refused, with the current version and the diff since
    with pytest.raises(StaleVersion) as refused:
        store.write_section(plan.id, "现状分析", "C1", base_version=1, author="carol")
    assert refused.value.current_version == 3
    assert "-A1" not in refused.value.diff and "+A1" in refused.value.diff
    assert store.get_plan(plan.id).current_version == 3  # nothing was written
    assert store.get_plan(plan.id, 2).section("根本原因分析").markdown == ""  # version 2 as it was


def test_plan_input_errors_say_what_to_fix(database_url: str) -> None:  # noqa: F811
    store = Workspace(database_url)
    plan = new_plan(store)
    with pytest.raises(InputError, match=r"no section 'Summary'.*1\. 现状分析; 2\. 根本原因分析"):
        store.write_section(plan.id, "Summary", "x", base_version=1, author="a")
    with pytest.raises(InputError, match=r"\(1 to 1\), not 5"):
        store.write_section(plan.id, "1", "x", base_version=5, author="a")
    with pytest.raises(InputError, match="no plan 999"):
        store.get_plan(999)
    with pytest.raises(InputError, match="versions 1 to 1"):
        store.get_plan(plan.id, 2)
    with pytest.raises(InputError, match="limit is 200,000"):
        store.write_section(plan.id, "1", "x" * 200_001, base_version=1, author="a")
    with pytest.raises(InputError, match=r"unknown evidence id.*ev-abcdef"):
        store.write_section(plan.id, "1", "rate 17.8% [ev-abcdef]", base_version=1, author="a")
    assert store.history(plan.id)[-1].version == 1  # none of those wrote anything


def test_sections_are_named_by_heading_ignoring_case_and_spaces(database_url: str) -> None:  # noqa: F811
    store = Workspace(database_url)
    plan = store.create_plan(title="T", template="t", language="en", group="", sections=["Root-cause analysis"],
                             author="a")
    assert store.write_section(plan.id, " root-cause ANALYSIS ", "x", base_version=1, author="a").section == \
        "Root-cause analysis"
    zh = new_plan(store)
    written = store.write_section(zh.id, "二、根本原因分析", "## 二、根本原因分析\n\n夜班排班。", base_version=1,
                                  author="a")
    assert written.section == "根本原因分析"
    assert store.get_plan(zh.id).section("根本原因分析").markdown == "夜班排班。\n"  # heading not repeated


# -- evidence


def test_evidence_ids_are_short_unique_and_round_trip(database_url: str) -> None:  # noqa: F811
    store = Workspace(database_url)
    sources = [{"name": "hr.csv", "size": 1234, "modified": "2026-11-20T10:00:00", "sha256": "ab" * 32,
                "format": "csv"}]
    ids = [store.record_evidence("turnover_breakdown", {"path": "hr.csv", "by": ["department"]}, sources,
                                 "leavers ÷ average headcount", {"overall_rate": 0.178, "leavers": 12,
                                                                 "label": "R&D", "ci": None}, "alice")
           for _ in range(200)]
    assert len(set(ids)) == 200
    assert all(re.fullmatch(r"ev-[0-9a-f]{6}", i) for i in ids)
    item = store.get_evidence(ids[0])
    assert item.tool == "turnover_breakdown" and item.arguments == {"path": "hr.csv", "by": ["department"]}
    assert item.sources == sources and item.author == "alice"
    assert item.figures == {"overall_rate": 0.178, "leavers": 12, "label": "R&D", "ci": None}
    assert store.get_evidence("ev-000000") is None
    assert store.missing_evidence([ids[1], "ev-000000"]) == ["ev-000000"]


def test_pasted_data_never_enters_the_workspace(database_url: str) -> None:  # noqa: F811
    store = Workspace(database_url)
    pasted = "name,department,left\n张三,研发,1\n李四,销售,0\n"
    evidence_id = store.record_evidence("turnover_breakdown", {"csv_text": pasted}, [], "d",
                                        {"rate": math.nan, "n": 2}, "alice")
    item = store.get_evidence(evidence_id)
    assert "张三" not in str(item.arguments)
    assert item.arguments["csv_text"]["bytes"] == len(pasted.encode()) and "sha256" in item.arguments["csv_text"]
    assert item.figures == {"rate": None, "n": 2}  # NaN is not JSON: stored as null


# -- where the database lives


def test_default_database_is_per_user_never_the_working_directory(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.chdir(tmp_path)
    url = engine_module.database_url(Settings(data_dirs=(tmp_path,)))
    assert url == f"sqlite:///{tmp_path / 'xdg' / 'retention-mcp' / 'workspace.sqlite3'}"
    assert default_database_path() == tmp_path / "xdg" / "retention-mcp" / "workspace.sqlite3"
    assert engine_module.database_url(Settings(data_dirs=(tmp_path,), database_url="postgres://u@h/db")) == \
        "postgresql+psycopg://u@h/db"


def test_unreachable_or_unsupported_databases_are_clear_errors_without_the_password() -> None:
    store = Workspace("postgresql+psycopg://hr:s3cret-pw@127.0.0.1:1/workspace")
    with pytest.raises(WorkspaceUnavailable) as refused:
        store.list_plans()
    assert "cannot be used" in str(refused.value) and "s3cret-pw" not in str(refused.value)
    assert "127.0.0.1:1/workspace" in str(refused.value)
    with pytest.raises(WorkspaceUnavailable, match="SQLite and PostgreSQL"):
        create_engine("mysql://u@h/db")
    with pytest.raises(WorkspaceUnavailable, match="not a database URL"):
        create_engine("not a url")


def test_engines_are_made_once_per_process(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'w.sqlite3'}"
    seen = []
    threads = [threading.Thread(target=lambda: seen.append(engine_module.get_engine(url))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len({id(e) for e in seen}) == 1
    with seen[0].connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 10_000


# -- citations


def test_citations_and_uncited_numbers() -> None:
    text = ("离职率 17.8% [ev-3F9A2C]，高于公司平均 14.2%。夜班 2024 年离职 35 人。\n"
            "- 90 天内流失需要关注\n"
            "- 假设——待核实:替换成本为年薪的 0.4 倍\n\n"
            "| 部门 | 离职率 |\n|---|---|\n| 研发 | 12.5% [ev-aaaaaa] |\n| 销售 | 21.0% |\n\n"
            "### 3. Phase one\n1. Budget ¥120,000 for Q3 2026 (v2 draft, 2026-03-05).\n"
            "`rate = 0.25` in code is not a claim.")
    assert cited_ids(text) == ["ev-3f9a2c", "ev-aaaaaa"]
    assert [u.number for u in uncited_numbers(text)] == ["35", "21.0%", "¥120,000"]
    assert uncited_numbers("Turnover fell from 18% to 14%\n[ev-123abc] across 2 sites.") == []  # one sentence


@pytest.mark.slow
def test_the_wheel_ships_the_migrations(tmp_path: Path) -> None:
    import zipfile

    repo = Path(__file__).resolve().parent.parent
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                    str(tmp_path), str(repo)], check=True, timeout=300)
    names = set(zipfile.ZipFile(next(tmp_path.glob("retention_mcp-*.whl"))).namelist())
    for path in ("env.py", "script.py.mako", "versions/0001_initial.py"):
        assert f"retention_mcp/workspace/migrations/{path}" in names
    assert "retention_mcp/workspace/schema.py" in names and "retention_mcp/identity.py" in names
