"""Shared fixtures: settings rooted in a temporary folder, an in-memory SDK client, the shared datasets."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from mcp import Client

from retention_mcp.server import build_server
from retention_mcp.settings import Settings

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATASETS = REPO_ROOT.parent / "shared" / "datasets"


def pytest_sessionstart(session: pytest.Session) -> None:
    """The versions users get from `pip install` (pandas 3 today), shown first in every run, `-q` included."""
    from importlib.metadata import version

    names = ("mcp", "pandas", "numpy", "pyarrow", "scipy", "fastexcel", "sqlalchemy")
    line = "testing with " + ", ".join(f"{n} {version(n)}" for n in names)
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(line)


@pytest.fixture
def anyio_backend():
    return "asyncio"


def pytest_configure(config: pytest.Config) -> None:
    """Tests never touch the real per-user workspace database: a server built without --database-url keeps its
    default SQLite file under a temporary XDG_DATA_HOME of this session, children included.

    Set here, before any test module is collected: a module that lists tools at import (test_reliability) starts
    the worker pool, whose processes keep the environment they start with — and workers write evidence into the
    default database. Set later, they wrote into the machine's real one, shared with every other checkout's tests
    (whose migrations this release does not know)."""
    import tempfile

    folder = tempfile.mkdtemp(prefix="retention-mcp-user-data-")
    config.stash[_USER_DATA] = folder
    os.environ["XDG_DATA_HOME"] = folder


def pytest_unconfigure(config: pytest.Config) -> None:
    import shutil

    folder = config.stash.get(_USER_DATA, None)
    if folder:
        shutil.rmtree(folder, ignore_errors=True)


_USER_DATA = pytest.StashKey[str]()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    folder.mkdir()
    return folder


@pytest.fixture
def settings(tmp_path: Path, data_dir: Path) -> Settings:
    """Settings whose data folder is ``data_dir`` and output folder ``tmp_path/out``."""
    return Settings(data_dirs=(data_dir,), output_dir=tmp_path / "out", log_level="WARNING")


@pytest.fixture
async def client(settings: Settings):
    async with Client(build_server(settings), raise_exceptions=True) as connected:
        yield connected


def shared_dataset(name: str) -> Path:
    """Path of a dataset in ../shared/datasets, or skip the test when that folder is absent."""
    path = SHARED_DATASETS / name
    if not path.is_file():
        pytest.skip(f"{path} is not here (the shared datasets live beside the repository, not in it)")
    return path


@pytest.fixture
def shared_settings(tmp_path: Path) -> Settings:
    """Settings whose data folder is ../shared/datasets (read only); skip when it is absent."""
    if not SHARED_DATASETS.is_dir():
        pytest.skip(f"{SHARED_DATASETS} is not here (the shared datasets live beside the repository)")
    return Settings(data_dirs=(SHARED_DATASETS,), output_dir=tmp_path / "out", log_level="WARNING")


@pytest.fixture
async def shared_client(shared_settings: Settings):
    async with Client(build_server(shared_settings), raise_exceptions=True) as connected:
        yield connected


def make_dataset(frame, *, kind: str = "hr", column_map=None, shape=None):
    """A Dataset from a DataFrame, as the tools would prepare it (no file, no cache)."""
    from retention_mcp.data.dataset import dataset_from_frame

    return dataset_from_frame(frame, kind=kind, column_map=column_map, shape=shape)


def policy(*, names: bool = False, floor: int = 5, key_dir: Path | None = None):
    """The disclosure policy with the server's default floor; ``names=True`` shows real names (an operator
    setting), so tests can check per-person figures against a hand calculation."""
    import tempfile

    from retention_mcp.data.disclosure import Policy

    return Policy(floor=floor, allow_names=names, key_dir=key_dir or Path(tempfile.mkdtemp()))


def catalog(name: str):
    from retention_mcp.catalog import bundled_dir, read_yaml

    return read_yaml(bundled_dir("tools") / name)
