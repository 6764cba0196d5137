"""Team templates saved from chat: validated, versioned, and what every client gets at its next request."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from mcp import Client

from retention_mcp.library import load_library
from retention_mcp.server import build_server
from retention_mcp.settings import Settings
from retention_mcp.workspace.store import workspace_for

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(120)]

REPO_ROOT = Path(__file__).resolve().parent.parent
BUNDLED = REPO_ROOT / "prompts"
ARGS = {"company_info": "华东电商客服中心", "employee_group": "夜班客服", "satisfaction_score": "62",
        "turnover_rate": "17.8%", "engagement_score": "58", "employee_feedback": "排班不公平"}


@pytest.fixture
def ws_settings(tmp_path: Path) -> Settings:
    data = tmp_path / "data"
    data.mkdir()
    return Settings(data_dirs=(data,), output_dir=tmp_path / "out", log_level="WARNING",
                    database_url=f"sqlite:///{tmp_path / 'ws.sqlite3'}")


def edited(marker: str, name: str = "retention_strategy", language: str = "zh") -> str:
    source = (BUNDLED / f"{name}.{language}.md").read_text(encoding="utf-8")
    return source.rstrip() + f"\n\n{marker}\n"


async def test_a_saved_template_wins_and_is_versioned(ws_settings: Settings) -> None:
    ws_settings = ws_settings.with_(language="zh")  # list_templates describes each name in the default language
    async with Client(build_server(ws_settings), raise_exceptions=True) as client:
        first = await client.call_tool("template_save", {"source": edited("团队规则:每条建议写明负责人。")})
        assert not first.is_error, first.content[0].text
        assert first.structured_content["version"] == 1 and first.structured_content["shadows"] == "bundled"
        assert first.structured_content["sections"] == ["现状分析", "根本原因分析", "战略建议", "实施路线图",
                                                        "预期成果"]

        prompt = await client.get_prompt("retention_strategy", {**ARGS, "language": "zh"})
        assert "团队规则:每条建议写明负责人。" in prompt.messages[0].content.text
        listing = (await client.call_tool("list_templates", {})).structured_content
        origins = {t["name"]: t["origin"] for t in listing["templates"]}
        assert origins["retention_strategy"] == "workspace" and origins["kpi_decomposition"] == "bundled"

        second = await client.call_tool("template_save", {"source": edited("团队规则 v2。")})
        assert second.structured_content["version"] == 2 and second.structured_content["shadows"] == "workspace v1"
        rendered = (await client.call_tool("render_template", {"name": "retention_strategy", "language": "zh",
                                                               "arguments": ARGS})).structured_content["text"]
        assert "团队规则 v2。" in rendered and "团队规则:每条建议写明负责人。" not in rendered
        # the English version is untouched
        english = await client.get_prompt("retention_strategy", {**ARGS, "language": "en"})
        assert "团队规则" not in english.messages[0].content.text
    history = workspace_for(ws_settings).template_history("retention_strategy", "zh")
    assert [t.version for t in history] == [1, 2]


async def test_workspace_beats_the_team_folder(ws_settings: Settings, tmp_path: Path) -> None:
    folder = tmp_path / "team-prompts"
    folder.mkdir()
    (folder / "retention_strategy.zh.md").write_text(edited("来自团队文件夹。"), encoding="utf-8")
    settings = ws_settings.with_(prompts_dir=folder)
    assert load_library(settings).get("retention_strategy", "zh").origin == "team"
    async with Client(build_server(settings), raise_exceptions=True) as client:
        saved = await client.call_tool("template_save", {"source": edited("来自工作区。")})
        assert saved.structured_content["shadows"] == "team"
        assert saved.structured_content["layers"] == ["workspace v1", "team", "bundled"]  # the winner first
        text = (await client.get_prompt("retention_strategy", {**ARGS, "language": "zh"})).messages[0].content.text
    assert "来自工作区。" in text and "来自团队文件夹。" not in text


async def test_plans_take_their_sections_from_a_saved_template(ws_settings: Settings) -> None:
    source = """---
name: exit_interview_review
title: 离职面谈复盘
description: 按季度复盘离职面谈主题。
language: zh
sections: [主题, 证据, 行动]
arguments:
  - name: quarter
    description: 季度
    required: true
---
请复盘 {{ quarter }} 的离职面谈。

### 1. 主题
### 2. 证据
### 3. 行动
"""
    async with Client(build_server(ws_settings), raise_exceptions=True) as client:
        saved = await client.call_tool("template_save", {"source": source})
        assert saved.structured_content["shadows"] is None and saved.structured_content["arguments"] == ["quarter"]
        plan = await client.call_tool("plan_create", {"title": "Q3 复盘", "template": "exit_interview_review",
                                                      "language": "zh"})
        assert [s["heading"] for s in plan.structured_content["sections"]] == ["主题", "证据", "行动"]
        prompts = {p.name for p in (await client.list_prompts()).prompts}
        assert "exit_interview_review" in prompts


@pytest.mark.parametrize(("body", "expected"), [
    ("{{ company_info ", "Jinja2 syntax error"),
    ("{{ ''.__class__.__mro__[1].__subclasses__() }}", "sandbox"),
    ("{{ not_declared }}", "undefined"),
])
async def test_broken_templates_are_refused_with_the_reason(ws_settings: Settings, body: str, expected: str) -> None:
    source = edited("").split("\n---\n", 1)[0] + "\n---\n" + body + "\n"
    async with Client(build_server(ws_settings), raise_exceptions=True) as client:
        refused = await client.call_tool("template_save", {"source": source})
        assert refused.is_error and "template not saved" in refused.content[0].text
        assert expected in refused.content[0].text
        prompt = await client.get_prompt("retention_strategy", {**ARGS, "language": "zh"})
        assert "你是一名资深人才分析顾问" in prompt.messages[0].content.text  # the bundled one still serves
    assert workspace_for(ws_settings).latest_template_versions() == []


async def test_bad_front_matter_is_refused(ws_settings: Settings) -> None:
    async with Client(build_server(ws_settings), raise_exceptions=True) as client:
        for source, expected in (("", "empty"), ("---\nname: Bad Name\nlanguage: zh\n---\nx", "lower case"),
                                 ("---\nname: ok\nlanguage: fr\n---\nx", "language"),
                                 ("---\nname: ok\nlanguage: en\nsections: 3\n---\nx", "sections")):
            refused = await client.call_tool("template_save", {"source": source})
            assert refused.is_error and expected in refused.content[0].text, refused.content[0].text


def test_listing_prompts_creates_no_database_and_imports_no_sqlalchemy(tmp_path: Path) -> None:
    """Without a workspace, the prompt library reads no database, and starting the server costs no SQLAlchemy."""
    code = """
import sys, anyio
from mcp import Client
from retention_mcp.server import build_server
from retention_mcp.settings import Settings

async def main():
    async with Client(build_server(Settings(data_dirs=(sys.argv[1],)))) as client:
        assert "sqlalchemy" not in sys.modules and "alembic" not in sys.modules
        await client.list_prompts()
        await client.list_tools()
        await anyio.sleep(3)  # the background warm-up after the handshake has run
    assert "sqlalchemy" not in sys.modules, "the library read a database that does not exist"
anyio.run(main)
"""
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("RETENTION_MCP_")},
           "XDG_DATA_HOME": str(tmp_path / "xdg"), "HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path)], env=env, capture_output=True, text=True,
                          timeout=90, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert not (tmp_path / "xdg").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # nothing in the working directory either


def test_the_default_workspace_is_created_in_the_user_data_folder(tmp_path: Path) -> None:
    """A stdio session on the defaults: the database appears under XDG_DATA_HOME, not where the client started it."""
    code = """
import sys, anyio
from mcp import Client, StdioServerParameters

async def main():
    params = StdioServerParameters(command=sys.executable, args=["-m", "retention_mcp", "--data-dir", sys.argv[1]],
                                   env=dict(__import__("os").environ), cwd=sys.argv[1])
    async with Client(params) as client:
        created = await client.call_tool("plan_create", {"title": "Defaults", "language": "en"})
        assert not created.is_error, created.content[0].text
        history = await client.call_tool("plan_history", {"plan_id": created.structured_content["id"]})
        print(history.structured_content["versions"][0]["author"])
anyio.run(main)
"""
    workdir = tmp_path / "client-cwd"
    workdir.mkdir()
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("RETENTION_MCP_")},
           "XDG_DATA_HOME": str(tmp_path / "xdg"), "HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", code, str(workdir)], env=env, capture_output=True, text=True,
                          timeout=90)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "xdg" / "retention-mcp" / "workspace.sqlite3").is_file()
    assert list(workdir.iterdir()) == []
    import getpass

    assert done.stdout.strip() == getpass.getuser()  # over stdio the author is the OS user
