"""The workspace respects roles: plans belong to their creator and to whom they share them, evidence carries the scope
it was computed under and is never served, refreshed or cited as company-wide figures by someone else without saying
so, exported files go only to who may read them. Store rules on SQLite and PostgreSQL; the tools through the SDK
client over the HTTP app, each person with their own token (IBM file, R&D and Sales managers, an analyst, a viewer).
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx2
import pandas as pd
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from conftest import shared_dataset
from retention_mcp.data.cellkey import MAX_NOISE as PERTURBATION  # a protected count's largest change
from retention_mcp.errors import InputError
from retention_mcp.http import create_app
from retention_mcp.settings import Settings
from retention_mcp.workspace.store import Workspace
from workspace_support import database_url, postgres_server  # noqa: F401 (fixtures)

pytestmark = pytest.mark.timeout(300)
RD = "Research & Development"
PEOPLE = {"ana": "", "rd": f' manager Department="{RD}"', "sales": " manager Department=Sales", "vic": " viewer"}
TOKENS = {name: f"{name}-{secrets.token_urlsafe(18)}" for name in PEOPLE}
BASE = "http://127.0.0.1:8000"


# -- the store's rules, on both databases


def test_plans_belong_to_their_creator_and_to_whom_they_are_shared(database_url: str) -> None:  # noqa: F811
    store = Workspace(database_url)
    plan = store.create_plan(title="T", template="retention_strategy", language="en", group="", sections=["A", "B"],
                             author="ana", share={"rd": "read"})
    assert [p.id for p in store.list_plans(who="ana")] == [plan.id]
    assert [p.id for p in store.list_plans(who="rd")] == [plan.id]
    assert store.list_plans(who="sales") == []
    for who in ("sales", "nobody"):  # another person's plan reads like no plan at all
        with pytest.raises(InputError, match=f"there is no plan {plan.id} you can read"):
            store.get_plan(plan.id, who=who)
    with pytest.raises(InputError, match=f"there is no plan {plan.id + 1} you can read"):
        store.get_plan(plan.id + 1, who="ana")
    with pytest.raises(InputError, match="shared with you to read, not to write"):
        store.write_section(plan.id, "A", "text", base_version=1, author="rd", check_access=True)
    with pytest.raises(InputError, match="only the plan's creator"):
        store.share_plan(plan.id, owner="rd", person="sales", level="write")
    store.share_plan(plan.id, owner="ana", person="rd", level="write")
    assert store.write_section(plan.id, "A", "rd's text", base_version=1, author="rd", check_access=True).version == 2
    store.share_plan(plan.id, owner="ana", person="*", level="read")
    assert store.plan_level(plan.id, "anyone") == "read" and store.plan_level(plan.id, "ana") == "own"
    store.share_plan(plan.id, owner="ana", person="rd", level="none")
    assert store.plan_level(plan.id, "rd") == "read"  # what everyone has, no more
    assert {(g.person, g.level) for g in store.grants(plan.id)} == {("*", "read")}


def test_plans_made_before_roles_stay_shared_with_the_whole_team(tmp_path: Path) -> None:
    """Migration 0004 on a database with plans from before it (everyone could write them): they keep that."""
    import sqlalchemy as sa
    from alembic import command
    from alembic.config import Config

    from retention_mcp.workspace.engine import VERSION_TABLE, create_engine, dispose_all, migrate

    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    engine = create_engine(url)
    config = Config()
    config.set_main_option("script_location", "retention_mcp.workspace:migrations")
    config.set_main_option("version_table", VERSION_TABLE)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0001_initial")
        stamp = sa.func.current_timestamp()
        connection.execute(sa.text(
            "INSERT INTO retention_plans (title, template, language, group_label, sections, current_version, "
            "created_at, created_by, updated_at, updated_by) VALUES ('Old', 'retention_strategy', 'en', '', "
            "'[\"A\"]', 1, CURRENT_TIMESTAMP, 'someone', CURRENT_TIMESTAMP, 'someone')"))
        del stamp
    migrate(engine)
    engine.dispose()
    dispose_all()
    store = Workspace(url)
    (old,) = store.list_plans(who="a newcomer")
    assert store.plan_level(old.id, "a newcomer") == "write"


# -- through the tools, one token per person


def ibm_rd() -> pd.DataFrame:
    frame = pd.read_csv(shared_dataset("ibm_hr_attrition.csv"), encoding="utf-8-sig")
    return frame[frame["Department"] == RD]


@pytest.fixture
def team(tmp_path: Path) -> Settings:
    shared = shared_dataset("ibm_hr_attrition.csv").parent
    tokens = tmp_path / "tokens"
    tokens.write_text("".join(f"{name}: {TOKENS[name]}{role}\n" for name, role in PEOPLE.items()), encoding="utf-8")
    tokens.chmod(0o600)
    return Settings(data_dirs=(shared,), output_dir=tmp_path / "out", log_level="WARNING", port=8000,
                    tokens_file=tokens, database_url=f"sqlite:///{tmp_path / 'workspace.sqlite3'}")


class People:
    """One SDK client per person, all on the same app (one server, one workspace)."""

    def __init__(self, sessions: dict[str, Client]) -> None:
        self.sessions = sessions

    async def call(self, who: str, tool: str, arguments: dict[str, Any], ok: bool = True) -> Any:
        result = await self.sessions[who].call_tool(tool, arguments)
        text = result.content[0].text if result.content else ""
        assert result.is_error != ok, f"{who} {tool}: {text}"
        return result

    async def read(self, who: str, uri: str) -> Any:
        return await self.sessions[who].read_resource(uri)


@asynccontextmanager
async def people(settings: Settings) -> AsyncIterator[People]:
    from contextlib import AsyncExitStack

    app = create_app(settings)
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(app.router.lifespan_context(app))
        sessions = {}
        for name in PEOPLE:
            http = await stack.enter_async_context(httpx2.AsyncClient(
                transport=httpx2.ASGITransport(app=app), base_url=BASE, timeout=120,
                headers={"Authorization": f"Bearer {TOKENS[name]}"}))
            sessions[name] = await stack.enter_async_context(
                Client(streamable_http_client(f"{BASE}/mcp", http_client=http)))
        yield People(sessions)


@pytest.mark.anyio
async def test_evidence_is_marked_with_its_scope_and_read_only_within_it(team: Settings) -> None:
    rd = ibm_rd()
    async with people(team) as p:
        company = (await p.call("ana", "turnover_breakdown", {"path": "ibm_hr_attrition.csv"})).structured_content
        department = (await p.call("rd", "turnover_breakdown", {"path": "ibm_hr_attrition.csv"})).structured_content
        assert company["overall"]["headcount"] == 1470
        assert abs(department["overall"]["headcount"] - len(rd)) <= PERTURBATION  # a manager's: protected
        ev_company, ev_rd = company["evidence_id"], department["evidence_id"]
        # The analyst reads the manager's evidence, told it covers R&D only.
        seen = (await p.call("ana", "evidence_get", {"evidence_id": ev_rd})).structured_content
        assert seen["scope"]["rows"] == {"Department": [RD]} and seen["scope"]["mode"] == "protected"
        assert "not company-wide" in seen["scope_note"]
        # Company-wide figures are beyond a manager; another department's beyond the other manager; a viewer reads
        # no evidence that no plan shared with them cites.
        for who, evidence_id in (("rd", ev_company), ("sales", ev_rd), ("vic", ev_rd), ("vic", ev_company)):
            refused = await p.call(who, "evidence_get", {"evidence_id": evidence_id}, ok=False)
            assert "you can read" in refused.content[0].text and "1470" not in refused.content[0].text
        # A manager cannot carry company figures into a plan by citing them.
        plan = (await p.call("rd", "plan_create", {"title": "R&D plan", "language": "en"})).structured_content
        refused = await p.call("rd", "plan_write_section", {
            "plan_id": plan["id"], "section": "1", "base_version": 1,
            "markdown": f"Company turnover is 16.1% [{ev_company}]."}, ok=False)
        assert ev_company in refused.content[0].text and "unknown evidence" in refused.content[0].text
        await p.call("rd", "plan_write_section", {"plan_id": plan["id"], "section": "1", "base_version": 1,
                                                  "markdown": f"R&D turnover is 13.8% [{ev_rd}]."})
        await p.call("rd", "plan_share", {"plan_id": plan["id"], "person": "ana", "level": "read"})
        await p.call("rd", "plan_share", {"plan_id": plan["id"], "person": "vic", "level": "read"})
        # Whoever reads the plan is told the figure covers R&D only: plan_get, the resource, the export.
        for who in ("ana", "vic"):
            text = (await p.call(who, "plan_get", {"plan_id": plan["id"]})).content[0].text
            assert f"[{ev_rd}]" in text and f"Department = {RD}" in text and "not company-wide" in text
        resource = await p.read("ana", f"retention://plans/{plan['id']}")
        assert "not company-wide" in resource.contents[0].text
        # The viewer reads that evidence now (the plan shared with them cites it), still marked.
        assert "not company-wide" in (await p.call("vic", "evidence_get", {"evidence_id": ev_rd})).content[0].text
        exported = (await p.call("vic", "plan_export", {"plan_id": plan["id"], "format": "md"})).structured_content
        appendix = (Path(team.output_dir) / exported["filename"]).read_text(encoding="utf-8")
        assert f"**Scope**: computed within Department = {RD}" in appendix


@pytest.mark.anyio
async def test_a_refresh_recomputes_scoped_evidence_within_its_scope_and_skips_what_is_beyond_the_caller(
        team: Settings) -> None:
    rd = ibm_rd()
    async with people(team) as p:
        ev_rd = (await p.call("rd", "turnover_breakdown", {"path": "ibm_hr_attrition.csv"})).structured_content[
            "evidence_id"]
        ev_company = (await p.call("ana", "turnover_breakdown", {"path": "ibm_hr_attrition.csv"})).structured_content[
            "evidence_id"]
        plan = (await p.call("ana", "plan_create", {"title": "Mixed", "language": "en",
                                                    "share": {"rd": "read"}})).structured_content
        await p.call("ana", "plan_write_section", {
            "plan_id": plan["id"], "section": "1", "base_version": 1,
            "markdown": f"Company 16.1% [{ev_company}]; R&D 13.8% [{ev_rd}]."})
        # The analyst's refresh re-runs the manager's evidence on R&D's rows, not the company's.
        report = (await p.call("ana", "plan_refresh", {"plan_id": plan["id"]})).structured_content
        by_id = {item["evidence_id"]: item for item in report["evidence"]}
        assert by_id[ev_rd]["status"] == "unchanged" and by_id[ev_company]["status"] == "unchanged", report
        assert "not company-wide" in by_id[ev_rd]["scope_note"]
        again = (await p.call("ana", "evidence_get", {"evidence_id": by_id[ev_rd]["new_evidence_id"]}))
        # a manager's figures are protected (cell-key perturbed, the same for the same people): within its bound
        assert abs(again.structured_content["figures"]["overall_headcount"] - len(rd)) <= PERTURBATION
        assert again.structured_content["scope"]["rows"] == {"Department": [RD]}
        # The manager can read the shared plan, but the company-wide result is not re-run for them.
        report = (await p.call("rd", "plan_refresh", {"plan_id": plan["id"]})).structured_content
        by_id = {item["evidence_id"]: item for item in report["evidence"]}
        assert by_id[ev_company]["status"] == "skipped" and "not re-run for you" in by_id[ev_company]["reason"]
        assert by_id[ev_rd]["status"] == "unchanged"


@pytest.mark.anyio
async def test_exported_files_go_only_to_who_may_read_them(team: Settings) -> None:
    async with people(team) as p:
        plan = (await p.call("ana", "plan_create", {"title": "Board pack", "language": "en"})).structured_content
        exported = (await p.call("ana", "plan_export", {"plan_id": plan["id"], "format": "md",
                                                        "filename": "board.md"})).structured_content
        assert "Board pack" in (await p.read("ana", "retention://reports/board.md")).contents[0].text
        for who in ("rd", "vic"):
            with pytest.raises(Exception, match=r"no report 'board\.md' you can read"):
                await p.read(who, "retention://reports/board.md")
        await p.call("ana", "plan_share", {"plan_id": plan["id"], "person": "vic", "level": "read"})
        assert "Board pack" in (await p.read("vic", "retention://reports/board.md")).contents[0].text
        # A manager's own export is theirs (and an analyst's, whose access contains it), not another manager's.
        mine = await p.call("rd", "export_report", {"title": "R&D notes", "markdown": "x", "format": "md",
                                                    "filename": "rd-notes.md"})
        links = [block.uri for block in mine.content if getattr(block, "type", "") == "resource_link"]
        assert links and (await p.read("rd", str(links[0]))).contents
        with pytest.raises(Exception, match="you can read"):
            await p.read("sales", str(links[0]))
        refused = await p.call("rd", "export_report", {"title": "Mine now", "markdown": "x", "format": "md",
                                                       "filename": "board.md", "overwrite": True}, ok=False)
        assert "written by someone else" in refused.content[0].text
        assert exported["filename"] == "board.md"


@pytest.mark.anyio
async def test_a_viewer_reads_what_is_shared_and_writes_nothing(team: Settings) -> None:
    async with people(team) as p:
        plan = (await p.call("ana", "plan_create", {"title": "For the CEO", "language": "en",
                                                    "share": {"vic": "write"}})).structured_content
        assert [x["id"] for x in (await p.call("vic", "plan_list", {})).structured_content["plans"]] == [plan["id"]]
        await p.call("vic", "plan_get", {"plan_id": plan["id"]})
        refused = await p.call("vic", "plan_write_section", {"plan_id": plan["id"], "section": "1",
                                                             "base_version": 1, "markdown": "x"}, ok=False)
        assert "cannot call plan_write_section" in refused.content[0].text  # the role caps the grant at read
        for tool, arguments in (("plan_create", {"title": "x"}), ("template_save", {"source": "---\n---\n"}),
                                ("calculate_roi", {"headcount": 100, "current_turnover_rate": 0.2,
                                                   "target_turnover_rate": 0.1, "average_annual_cost": 1})):
            await p.call("vic", tool, arguments, ok=False)


@pytest.mark.anyio
async def test_a_tool_taking_an_evidence_id_reads_only_evidence_within_reach_and_says_when_it_is_partial(
        team: Settings) -> None:
    async with people(team) as p:
        company = (await p.call("ana", "turnover_breakdown", {"path": "ibm_hr_attrition.csv"})).structured_content
        department = (await p.call("rd", "turnover_breakdown", {"path": "ibm_hr_attrition.csv"})).structured_content
        refused = await p.call("rd", "compare_benchmarks", {"evidence_id": company["evidence_id"]}, ok=False)
        assert "not one you can read" in refused.content[0].text
        assert f"{company['overall']['rate']:.4f}"[:5] not in refused.content[0].text
        compared = await p.call("ana", "compare_benchmarks", {"evidence_id": department["evidence_id"]})
        assert "not company-wide" in compared.content[0].text  # an analyst comparing a department's rate is told
