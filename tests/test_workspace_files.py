"""Files reach the user wherever they are: exported reports and charts as retention://reports/{name}."""

from __future__ import annotations

import base64
import getpass
from pathlib import Path

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.server.auth.middleware.auth_context import auth_context_var
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from mcp.shared.exceptions import MCPError
from mcp.types import ResourceTemplateReference

from retention_mcp.identity import current_author, os_user
from retention_mcp.server import build_server
from retention_mcp.settings import Settings
from retention_mcp.workspace.files import report_link
from server_process import child_env, http_server

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(120)]

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
TOKEN = "files-test-token-19ab"


@pytest.fixture
def ws_settings(tmp_path: Path) -> Settings:
    data = tmp_path / "data"
    data.mkdir()
    return Settings(data_dirs=(data,), output_dir=tmp_path / "out", log_level="WARNING",
                    database_url=f"sqlite:///{tmp_path / 'ws.sqlite3'}")


async def test_reports_are_resources_with_their_mime_type(ws_settings: Settings) -> None:
    async with Client(build_server(ws_settings), raise_exceptions=True) as client:
        table = "## 热点\n| 部门 | 离职率 |\n|---|---|\n| 客服 | 21.0% |"
        exported = await client.call_tool("export_report", {"title": "留存报告", "format": "docx", "markdown": table})
        assert not exported.is_error, exported.content[0].text
        name = exported.structured_content["filename"]
        link = report_link(ws_settings, exported.structured_content["path"])
        assert link.name == name and link.mime_type == DOCX
        # The tool's own result carries the same link, so a remote client can fetch the file.
        (returned,) = [c for c in exported.content if c.type == "resource_link"]
        assert str(returned.uri) == str(link.uri) and returned.size == link.size
        assert link.size == (ws_settings.output_dir / name).stat().st_size

        blob = (await client.read_resource(str(link.uri))).contents[0]
        assert blob.mime_type == DOCX
        assert base64.b64decode(blob.blob) == (ws_settings.output_dir / name).read_bytes()

        markdown = await client.call_tool("export_report", {"title": "notes", "format": "md", "markdown": "# 你好"})
        text = (await client.read_resource("retention://reports/" + markdown.structured_content["filename"]))
        assert text.contents[0].mime_type == "text/markdown" and "你好" in text.contents[0].text

        (ws_settings.output_dir / "chart.png").write_bytes(b"\x89PNG\r\n\x1a\nfake")
        png = (await client.read_resource("retention://reports/chart.png")).contents[0]
        assert png.mime_type == "image/png" and base64.b64decode(png.blob) == b"\x89PNG\r\n\x1a\nfake"

        completion = await client.complete(ResourceTemplateReference(type="ref/resource",
                                                                      uri="retention://reports/{name}"),
                                           {"name": "name", "value": "chart"})
        assert completion.completion.values == ["chart.png"]


async def test_only_report_files_directly_in_the_output_folder_are_served(ws_settings: Settings,
                                                                          tmp_path: Path) -> None:
    out = ws_settings.output_dir
    out.mkdir(parents=True)
    secret = tmp_path / "secret.docx"
    secret.write_bytes(b"outside the output folder")
    (out / "linked.docx").symlink_to(secret)
    (out / "pseudonym-key.csv").write_text("alice,A-17\n")
    (out / ".hidden.docx").write_bytes(b"x")
    (out / "sub").mkdir()
    (out / "sub" / "inner.docx").write_bytes(b"x")
    async with Client(build_server(ws_settings), raise_exceptions=True) as client:
        for name, expected in (("linked.docx", "is a link, not a file"), ("pseudonym-key.csv", "not a report"),
                               ("%2Ehidden.docx", "plain file name"), ("missing.docx", "no report"),
                               ("sub%2Finner.docx", ""), ("..%2Fsecret.docx", "")):
            with pytest.raises(MCPError) as refused:
                await client.read_resource(f"retention://reports/{name}")
            assert expected in str(refused.value), (name, str(refused.value))
            assert "outside the output folder" not in str(refused.value)


def test_report_link_refuses_files_outside_the_output_folder(ws_settings: Settings) -> None:
    from retention_mcp.errors import InputError

    with pytest.raises(InputError):
        report_link(ws_settings, "nothing-here.docx")


def test_a_second_http_client_downloads_the_same_bytes(tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ("--database-url", f"sqlite:///{tmp_path / 'ws.sqlite3'}", "--data-dir", str(tmp_path),
            "--output-dir", str(out))
    with http_server(tmp_path, *args, env=child_env(RETENTION_MCP_TOKEN=TOKEN)) as base:
        anyio.run(_export_then_download, base, out)


async def _client(base: str) -> tuple[httpx2.AsyncClient, Client]:
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60)
    return http, Client(streamable_http_client(f"{base}/mcp", http_client=http))


async def _export_then_download(base: str, out: Path) -> None:
    with anyio.fail_after(90):
        http_a, first = await _client(base)
        async with http_a, first as writer:
            plan = await writer.call_tool("plan_create", {"title": "Shared plan", "language": "en"})
            await writer.call_tool("plan_write_section", {"plan_id": plan.structured_content["id"], "section": "1",
                                                          "markdown": "Night shifts drive leaving.",
                                                          "base_version": 1})
            exported = await writer.call_tool("plan_export", {"plan_id": plan.structured_content["id"]})
            assert not exported.is_error, exported.content[0].text
            uri = exported.structured_content["uri"]
            history = await writer.call_tool("plan_history", {"plan_id": plan.structured_content["id"]})
            assert {v["author"] for v in history.structured_content["versions"]} == {"team"}  # the shared token
        http_b, second = await _client(base)
        async with http_b, second as reader:  # another client, another connection: only the URI travels
            contents = (await reader.read_resource(uri)).contents[0]
    assert contents.mime_type == DOCX
    assert base64.b64decode(contents.blob) == (out / exported.structured_content["filename"]).read_bytes()


def test_current_author_is_the_token_name_else_the_os_user() -> None:
    assert current_author() == os_user()
    reset = auth_context_var.set(AuthenticatedUser(AccessToken(token="t", client_id="alice", scopes=[])))
    try:
        assert current_author() == "alice"
    finally:
        auth_context_var.reset(reset)
    assert os_user() == getpass.getuser()
