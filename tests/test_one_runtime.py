"""One runtime for every request: the cases of issue 18, each through the SDK client or HTTP on loopback, each
bounded in time.

- a runaway ``template_save`` is stopped by the call time bound, its worker stops using CPU, the server answers on;
- a YAML alias bomb in front matter is refused in well under a second and no log line carries it;
- a link planted in the output folder is never served (nor a FIFO, nor a folder), by resource or by export;
- a data folder that does not exist stops ``serve --http`` and is reported by ``list_datasets`` and data tools;
- ``group_by`` gets ``by``; a misspelt required argument gets its name before "field required";
- NUL bytes and unpaired surrogates in workspace text are input errors on SQLite and PostgreSQL;
- huge ids in tool arguments and resource URIs are input errors, with no traceback in the log;
- 45 abandoned slow HTTP requests leave cheap calls answered, and SIGTERM stops the server in time.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx2
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError
from mcp.types import INVALID_PARAMS

from retention_mcp.server import build_server
from retention_mcp.settings import Settings
from server_process import child_env, free_port, started_server
from test_bounded_work import busy_within, descendants, stops_using_cpu, worker_processes, workers
from workspace_support import database_url, postgres_server  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.timeout(240)]

LONGEST_LOG_LINE = 2_000
HEADERS = {"content-type": "application/json", "accept": "application/json, text/event-stream",
           "mcp-protocol-version": "2025-06-18"}


def ws_settings(tmp_path: Path, **changes: object) -> Settings:
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    return Settings(data_dirs=(data,), output_dir=tmp_path / "out", log_level="INFO",
                    database_url=f"sqlite:///{tmp_path / 'ws.sqlite3'}").with_(**changes)


def template_source(body: str, front_matter: str = "") -> str:
    return ("---\nname: team_loop\nlanguage: en\ntitle: Loop\ndescription: A team template.\n"
            f"{front_matter}arguments:\n  - name: team\n---\n{body}\n")


def longest_log_line(caplog: pytest.LogCaptureFixture) -> int:
    return max((len(record.getMessage()) for record in caplog.records), default=0)


# -- template_save and prompt rendering under the call time bound ------------------------------------------

@pytest.mark.anyio
async def test_a_runaway_template_save_is_stopped_by_the_call_time_bound(tmp_path: Path) -> None:
    # Three nested loops over a 1,000-character string: a billion steps, no output, no range(): only time stops it.
    body = ("{% set s = 'x' * 1000 %}{% for a in s %}{% for b in s %}{% for c in s %}{% endfor %}{% endfor %}"
            "{% endfor %}done for {{ team }}")
    settings = ws_settings(tmp_path, call_timeout_s=3.0, tool_workers=2)
    async with Client(build_server(settings)) as client:
        await client.call_tool("plan_list", {})  # a worker is up
        started = time.monotonic()
        result = await client.call_tool("template_save", {"source": template_source(body)})
        elapsed = time.monotonic() - started
        assert result.is_error
        assert "longer than 3 seconds" in result.content[0].text and "--call-timeout" in result.content[0].text
        assert elapsed < 15, f"stopped after {elapsed:.1f} s, the bound is 3 s"
        assert stops_using_cpu(workers())
        listed = await client.call_tool("plan_list", {})
        assert not listed.is_error
        saved = await client.call_tool("template_save", {"source": template_source("ready for {{ team }}")})
        assert not saved.is_error, saved.content[0].text


@pytest.mark.anyio
async def test_a_yaml_alias_bomb_in_front_matter_is_refused_at_once_and_never_logged(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # Seven levels of nine aliases: 480 characters that expand to 9**7 = 4.8 million strings.
    levels = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for previous, name in zip("abcdef", "bcdefg", strict=True):
        levels.append(f"{name}: &{name} [" + ",".join([f"*{previous}"] * 9) + "]")
    bomb = "\n".join(levels) + "\n"
    assert len(bomb) < 600
    settings = ws_settings(tmp_path)
    caplog.set_level(logging.INFO)
    async with Client(build_server(settings)) as client:
        await client.call_tool("plan_list", {})
        for front_matter in (bomb, bomb + "tags: *g\n", "x: &x [*x]\n"):
            started = time.monotonic()
            result = await client.call_tool("template_save", {"source": template_source("hi {{ team }}",
                                                                                           front_matter)})
            assert time.monotonic() - started < 10
            assert result.is_error
            text = result.content[0].text
            assert "alias" in text and len(text) < 1_000, text[:300]
    assert longest_log_line(caplog) < LONGEST_LOG_LINE


def test_the_yaml_limits_count_aliases_where_they_are_used() -> None:
    from retention_mcp.catalog import MAX_YAML_NODES, parse_yaml_text

    assert parse_yaml_text("a: &a [1, 2]\nb: *a\n") == {"a": [1, 2], "b": [1, 2]}
    wide = "a: &a [" + ",".join(["1"] * 99) + "]\nb: [" + ",".join(["*a"] * 99) + "]\n"  # 100 + 99 x 100 nodes
    with pytest.raises(ValueError, match=f"more than {MAX_YAML_NODES:,} values"):
        parse_yaml_text(wide)
    with pytest.raises(ValueError, match="characters; the limit"):
        parse_yaml_text("a: " + "x" * 70_000)


@pytest.mark.anyio
async def test_a_log_line_never_carries_a_callers_text_whole(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    prose = "夜班离职率很高。" * 20_000  # 160,000 characters of plan prose
    caplog.set_level(logging.INFO)
    async with Client(build_server(ws_settings(tmp_path))) as client:
        created = await client.call_tool("plan_create", {"title": "计划"})
        plan_id = created.structured_content["id"]
        stale = await client.call_tool("plan_write_section", {"plan_id": plan_id, "section": "1",
                                                              "markdown": prose + " [ev-000000]", "base_version": 1})
        assert stale.is_error and "unknown evidence id" in stale.content[0].text
        unknown = await client.call_tool("plan_get", {"plan_id": plan_id, prose[:5000]: 1})
        assert unknown.is_error
    assert longest_log_line(caplog) < LONGEST_LOG_LINE
    assert any("characters not logged" in record.getMessage() for record in caplog.records)


# -- files served only as files -----------------------------------------------------------------------------

@pytest.mark.anyio
async def test_a_link_in_the_output_folder_is_never_served(tmp_path: Path) -> None:
    settings = ws_settings(tmp_path)
    out = settings.output_dir
    out.mkdir()
    secret = out / ".pseudonym-secret"
    secret.write_text("K3Y-0F-THE-PSEUDONYMS", encoding="utf-8")
    (out / "leak.md").symlink_to(secret)
    (out / "leak.png").symlink_to(secret)
    (out / "sub.md").mkdir()
    os.mkfifo(out / "pipe.md")
    (out / "real.md").write_text("# a real report\n", encoding="utf-8")
    async with Client(build_server(settings)) as client:
        ok = await client.read_resource("retention://reports/real.md")
        assert ok.contents[0].text == "# a real report\n" and ok.contents[0].mime_type == "text/markdown"
        for name, why in (("leak.md", "is a link"), ("sub.md", "not a regular file"),
                          ("pipe.md", "not a regular file")):
            started = time.monotonic()
            with pytest.raises(MCPError) as refused:
                await client.read_resource(f"retention://reports/{name}")
            assert time.monotonic() - started < 10  # a FIFO is never waited on
            assert refused.value.error.code == INVALID_PARAMS and why in refused.value.error.message, name
            assert "K3Y" not in refused.value.error.message
        exported = await client.call_tool("export_report", {"title": "x", "markdown": "# x\n\n![chart](leak.png)\n",
                                                            "format": "docx"})
        assert exported.is_error and "is a link" in exported.content[0].text
        completion = await client.complete(
            __import__("mcp.types", fromlist=["ResourceTemplateReference"]).ResourceTemplateReference(
                type="ref/resource", uri="retention://reports/{name}"), {"name": "name", "value": ""})
        assert completion.completion.values == ["real.md"]


# -- clear at start -----------------------------------------------------------------------------------------

def test_a_missing_data_folder_stops_the_http_start_with_what_to_fix(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-folder"
    started = time.monotonic()
    out = subprocess.run([sys.executable, "-m", "retention_mcp", "serve", "--http", "--port", str(free_port()),
                          "--data-dir", str(missing), "--output-dir", str(tmp_path / "out")],
                         capture_output=True, text=True, timeout=60, env=child_env())
    assert out.returncode == 2, out.stderr
    assert f"the data folder {missing} does not exist" in out.stderr and "--data-dir" in out.stderr
    unwritable = tmp_path / "no-parent" / "deeper" / "out"
    out = subprocess.run([sys.executable, "-m", "retention_mcp", "serve", "--http", "--port", str(free_port()),
                          "--data-dir", str(tmp_path), "--output-dir", str(unwritable)],
                         capture_output=True, text=True, timeout=60, env=child_env())
    assert out.returncode == 2 and "--output-dir" in out.stderr, out.stderr
    assert time.monotonic() - started < 60


@pytest.mark.anyio
async def test_a_desktop_client_hears_about_a_missing_data_folder_from_every_data_tool(tmp_path: Path) -> None:
    missing = tmp_path / "hr-exports"
    settings = Settings(data_dirs=(missing,), output_dir=tmp_path / "out", log_level="WARNING")
    async with Client(build_server(settings)) as client:
        listing = await client.call_tool("list_datasets", {})
        assert listing.is_error and f"the data folder {missing} does not exist" in listing.content[0].text
        for tool, arguments in (("turnover_breakdown", {"path": "hr.csv", "by": ["department"]}),
                                ("inspect_dataset", {"path": "hr.csv"}),
                                ("call_log_profile", {"path": "calls.csv"})):
            result = await client.call_tool(tool, arguments)
            assert result.is_error and "does not exist" in result.content[0].text and "--data-dir" in \
                result.content[0].text, (tool, result.content[0].text)
        pasted = await client.call_tool("inspect_dataset", {"csv_text": "department,left\nA,1\nB,0\n"})
        assert not pasted.is_error  # pasted data still works


# -- strict arguments ---------------------------------------------------------------------------------------

@pytest.mark.anyio
async def test_unknown_arguments_get_the_closest_valid_one_and_common_synonyms(client) -> None:
    csv = "department,left\n" + "".join(f"{d},{i % 2}\n" for i, d in enumerate("AB" * 10))
    cases = [("turnover_breakdown", {"csv_text": csv, "group_by": ["department"]}, "did you mean 'by'"),
             ("turnover_breakdown", {"csv_text": csv, "filter": {"department": "A"}}, "did you mean 'where'"),
             ("describe_groups", {"csv_text": csv, "groupby": ["department"]}, "did you mean 'by'"),
             ("inspect_dataset", {"file": "hr.csv"}, "did you mean 'path'"),
             # a misspelt *required* argument: the hint, not "field required"
             ("hiring_forecast", {"current_headcnt": 10, "expected_turnover_rate": 0.1},
              "did you mean 'current_headcount'"),
             ("plan_get", {"planid": 1}, "did you mean 'plan_id'"),
             ("plan_refresh", {"plan": 1}, "did you mean 'plan_id'")]
    for tool, arguments, expected in cases:
        result = await client.call_tool(tool, arguments)
        assert result.is_error and expected in result.content[0].text, (tool, result.content[0].text)


# -- unstorable text and huge ids ---------------------------------------------------------------------------

@pytest.mark.anyio
async def test_nul_bytes_and_unpaired_surrogates_are_input_errors_on_both_databases(
        tmp_path: Path, database_url: str, caplog: pytest.LogCaptureFixture) -> None:  # noqa: F811
    settings = ws_settings(tmp_path, database_url=database_url)
    caplog.set_level(logging.INFO)
    async with Client(build_server(settings)) as client:
        for title, what in (("夜班\x00方案", "NUL"), ("plan \ud800", "surrogate")):
            result = await client.call_tool("plan_create", {"title": title})
            assert result.is_error and what in result.content[0].text and "internal error" not in \
                result.content[0].text, result.content[0].text
        result = await client.call_tool("plan_create", {"title": "ok", "group": "a\x00b"})
        assert result.is_error and "NUL" in result.content[0].text
        plan = await client.call_tool("plan_create", {"title": "夜班方案"})
        plan_id = plan.structured_content["id"]
        for markdown in ("离职率\x00高", "text \udfff"):
            result = await client.call_tool("plan_write_section", {"plan_id": plan_id, "section": "1",
                                                                   "markdown": markdown, "base_version": 1})
            assert result.is_error and "internal error" not in result.content[0].text, result.content[0].text
        result = await client.call_tool("template_save", {"source": template_source("hi {{ team }}\x00")})
        assert result.is_error and "internal error" not in result.content[0].text, result.content[0].text
        for evidence_id in ("ev-\x00", "ev-\ud800", "ev-" + "f" * 100_000):
            result = await client.call_tool("evidence_get", {"evidence_id": evidence_id})
            assert result.is_error and "there is no evidence" in result.content[0].text
            assert len(result.content[0].text) < 500
        # a NUL in a tool's arguments costs nothing: the evidence records it as U+FFFD
        roi = await client.call_tool("hiring_forecast", {"current_headcount": 10, "expected_turnover_rate": 0.1})
        assert roi.structured_content["evidence_id"]
    assert not any(record.levelno >= logging.ERROR for record in caplog.records), \
        [record.getMessage()[:200] for record in caplog.records if record.levelno >= logging.ERROR]


@pytest.mark.anyio
async def test_huge_ids_are_input_errors_with_no_traceback(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    async with Client(build_server(ws_settings(tmp_path))) as client:
        await client.call_tool("plan_create", {"title": "x"})
        for uri in ("retention://plans/" + "9" * 30, "retention://plans/1/v/" + "9" * 400,
                    "retention://plans/-1", "retention://plans/1e9"):
            with pytest.raises(MCPError) as refused:
                await client.read_resource(uri)
            assert refused.value.error.code == INVALID_PARAMS and "whole numbers" in refused.value.error.message
        for arguments in ({"plan_id": 10**30}, {"plan_id": 1, "version": 2**63}, {"plan_id": -(10**20)}):
            result = await client.call_tool("plan_get", arguments)
            assert result.is_error and "internal error" not in result.content[0].text
    assert not any("Traceback" in record.getMessage() or record.exc_info for record in caplog.records)


# -- abandoned HTTP requests and SIGTERM --------------------------------------------------------------------

SLOW_TEMPLATE = ("---\nname: slow\ntitle: Slow\ndescription: A team template that loops.\nlanguage: en\n"
                 "arguments:\n  - name: team\n---\n{% set s = 'x' * 3000 %}{% for a in s %}{% for b in s %}"
                 "{% for c in s %}{% endfor %}{% endfor %}{% endfor %}done for {{ team }}\n")


def rpc(method: str, params: dict, request_id: int = 1) -> bytes:
    return json.dumps({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params}).encode()


def test_abandoned_slow_http_requests_leave_cheap_calls_answered_and_sigterm_stops_the_server(tmp_path: Path) -> None:
    team = tmp_path / "team"
    team.mkdir()
    (team / "slow.en.md").write_text(SLOW_TEMPLATE, encoding="utf-8")
    data = tmp_path / "data"
    data.mkdir()
    port = free_port()
    argv = ["serve", "--http", "--port", str(port), "--data-dir", str(data), "--output-dir", str(tmp_path / "out"),
            "--prompts-dir", str(team), "--tool-workers", "2", "--log-level", "WARNING",
            "--database-url", f"sqlite:///{tmp_path / 'ws.sqlite3'}"]
    with started_server(tmp_path, argv, port, start_timeout=60) as server:
        url = f"{server.url}/mcp"
        assert httpx2.post(url, content=rpc("tools/call", {"name": "plan_list", "arguments": {}}), headers=HEADERS,
                           timeout=60).status_code == 200
        body = rpc("tools/call", {"name": "render_template", "arguments": {"name": "slow", "arguments":
                                                                            {"team": "Ops"}}})
        request = (f"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
                   "Accept: application/json, text/event-stream\r\nMCP-Protocol-Version: 2025-06-18\r\n"
                   f"Content-Length: {len(body)}\r\n\r\n").encode() + body
        connections = []
        for _ in range(45):
            connection = socket.create_connection(("127.0.0.1", port), timeout=10)
            connection.sendall(request)
            connections.append(connection)
        deadline = time.monotonic() + 30  # wait (with a deadline) until both workers are busy with them
        busy: list[int] = []
        while len(busy) < 2 and time.monotonic() < deadline:
            busy = busy_within(lambda: worker_processes(server.process.pid))
        assert len(busy) == 2, "both workers should be busy with the slow calls"
        for connection in connections:  # every client goes away without waiting for its answer
            connection.close()
        started = time.monotonic()
        for name, arguments in (("hiring_forecast", {"current_headcount": 100, "expected_turnover_rate": 0.2}),
                                ("plan_list", {})):
            answer = httpx2.post(url, content=rpc("tools/call", {"name": name, "arguments": arguments}),
                                 headers=HEADERS, timeout=60)
            assert answer.status_code == 200 and not answer.json()["result"].get("isError"), answer.text[:300]
        assert time.monotonic() - started < 20, f"cheap calls took {time.monotonic() - started:.1f} s"
        family = descendants(server.process.pid)
        for connection in [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(10)]:
            connection.sendall(request)  # slow work in flight when the stop signal comes
        time.sleep(1.0)
        stop = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        server.process.wait(timeout=20)
        assert time.monotonic() - stop < 12, f"stopped {time.monotonic() - stop:.1f} s after SIGTERM"
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(alive(pid) for pid in family):
            time.sleep(0.2)
        assert not any(alive(pid) for pid in family), "workers outlived the server"


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
