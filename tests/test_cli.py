"""The command line: folder flags before or after the subcommand, the startup line naming the folders."""

from __future__ import annotations

from pathlib import Path

import pytest
from mcp import Client

from retention_mcp.cli import build_parser, settings_from_args
from server_process import free_port, started_server

HR_CSV = "employee_id,department,left\n" + "".join(f"{i},{'Sales' if i % 2 else 'R&D'},{i % 3 == 0:d}\n"
                                                     for i in range(1, 41))


@pytest.mark.anyio
@pytest.mark.parametrize("order", ["before", "after"])
async def test_folder_flags_work_before_or_after_the_subcommand(tmp_path, order):
    data, out, cwd = tmp_path / "hr", tmp_path / "reports", tmp_path / "elsewhere"
    for folder in (data, cwd):
        folder.mkdir()
    (data / "hr.csv").write_text(HR_CSV, encoding="utf-8")
    folders = ["--data-dir", str(data), "--output-dir", str(out)]
    port = free_port()
    serve = ["serve", "--http", "--port", str(port)]
    argv = folders + serve if order == "before" else serve + folders
    with started_server(tmp_path, argv, port, cwd=cwd) as server:
        async with Client(f"{server.url}/mcp") as client:
            inspected = await client.call_tool("inspect_dataset", {"path": "hr.csv"})  # relative: the first data dir
            assert not inspected.is_error, inspected.content[0].text
            exported = await client.call_tool("export_report", {"title": "T", "markdown": "x", "format": "md",
                                                                "filename": "flags.md"})
            assert not exported.is_error, exported.content[0].text
    assert (out / "flags.md").is_file() and not (cwd / "retention-mcp-output").exists()
    log = server.log.read_text()
    assert f"data folder(s): {data};" in log and f"output folder: {out}" in log


def test_a_flag_after_the_subcommand_wins():
    args = build_parser().parse_args(["--data-dir", "/srv/a", "--output-dir", "/srv/x", "--language", "zh",
                                      "serve", "--http", "--data-dir", "/srv/b", "--output-dir", "/srv/y"])
    settings = settings_from_args(args)
    assert settings.data_dirs == (Path("/srv/b"),) and settings.output_dir == Path("/srv/y")
    assert settings.language == "zh"  # given only before the subcommand: kept
