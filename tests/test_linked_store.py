"""Linked dataset definitions in the workspace, on SQLite and on a real PostgreSQL server: versions, the newest
by name, concurrent saves, and a definition used by a second server on the same database."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from mcp import Client

from retention_mcp.sample_linked import write_linked_company
from retention_mcp.server import build_server
from retention_mcp.settings import Settings
from retention_mcp.workspace.store import Workspace
from workspace_support import database_url, postgres_server  # noqa: F401 (fixtures)

pytestmark = pytest.mark.timeout(240)

DEFINITION = {"name": "q4", "files": [{"path": "a.csv", "key": ["工号"]}, {"path": "b.csv", "key": ["工号"]}]}


def test_every_save_is_a_new_version_and_the_newest_wins(database_url: str) -> None:  # noqa: F811
    store = Workspace(database_url)
    assert store.get_dataset("q4") is None and store.list_datasets() == []
    first = store.save_dataset("q4", DEFINITION, "li.wei")
    second = store.save_dataset("q4", {**DEFINITION, "files": DEFINITION["files"][:1]}, "maria")
    other = store.save_dataset("员工全量", DEFINITION, "li.wei")
    assert (first.version, second.version, other.version) == (1, 2, 1)
    assert store.get_dataset("q4").version == 2 and store.get_dataset("q4").author == "maria"
    assert store.get_dataset("q4", 1).definition == DEFINITION
    assert [(d.name, d.version) for d in store.list_datasets()] == sorted([("q4", 2), ("员工全量", 1)])


def test_concurrent_saves_of_one_name_get_distinct_versions(database_url: str) -> None:  # noqa: F811
    store = Workspace(database_url)
    store.save_dataset("q4", DEFINITION, "setup")
    versions: list[int] = []
    lock = threading.Lock()

    def save(i: int) -> None:
        saved = store.save_dataset("q4", DEFINITION, f"writer-{i}")
        with lock:
            versions.append(saved.version)

    threads = [threading.Thread(target=save, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert sorted(versions) == list(range(2, 10))


@pytest.mark.anyio
async def test_a_dataset_linked_through_one_server_is_used_by_another(database_url: str,  # noqa: F811
                                                                      tmp_path: Path) -> None:
    write_linked_company(tmp_path / "data")
    settings = Settings(data_dirs=(tmp_path / "data",), output_dir=tmp_path / "out", log_level="WARNING",
                        database_url=database_url)
    files = [{"path": "hr_roster.csv"}, {"path": "payroll_2024Q4.csv"}]
    async with Client(build_server(settings), raise_exceptions=True) as first:
        made = await first.call_tool("dataset_link", {"name": "q4", "files": files})
        assert not made.is_error, made.content[0].text
    async with Client(build_server(settings), raise_exceptions=True) as second:
        used = await second.call_tool("inspect_dataset", {"path": "q4"})
        assert not used.is_error, used.content[0].text
        assert "应发工资" in [c["name"] for c in used.structured_content["column_info"]]
