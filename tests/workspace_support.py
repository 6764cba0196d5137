"""Test support for the workspace: a real PostgreSQL server and database URLs per backend.

``postgres_server`` (session) runs ``initdb`` + ``pg_ctl`` in a temporary folder on a free loopback port —
as the ``postgres`` user when the tests run as root, since PostgreSQL refuses to run as root — and
stops it at the end. It skips, saying why, only when the server binaries are not installed
(``apt-get install -y postgresql``; ``.ci/run`` does it). ``database_url`` gives each test a new,
empty database on either backend.

Import the fixtures into a test module: ``from workspace_support import database_url, postgres_server``.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from server_process import START_TIMEOUT_S, free_port


def postgres_bin_dir() -> Path | None:
    """The folder with initdb and pg_ctl: on PATH, else Debian's /usr/lib/postgresql/<version>/bin."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(os.path.realpath(found)).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                        key=lambda p: int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0)
    return Path(candidates[-1]).parent if candidates else None


@dataclass
class PostgresServer:
    port: int
    user: str
    folder: Path
    bin_dir: Path
    run_as: str | None
    options: str

    def pg_ctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(self.bin_dir / "pg_ctl"), "-D", str(self.folder / "data"), *args],
                              user=self.run_as, capture_output=True, text=True, timeout=START_TIMEOUT_S,
                              cwd=self.folder)

    def stop(self) -> None:
        done = self.pg_ctl("-m", "fast", "-w", "stop")
        assert done.returncode == 0, done.stderr

    def start(self) -> None:
        done = self.pg_ctl("-l", str(self.folder / "server.log"), "-o", self.options, "-w", "-t",
                           str(START_TIMEOUT_S), "start")
        assert done.returncode == 0, done.stderr

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://{self.user}@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        import psycopg

        name = "ws_" + uuid.uuid4().hex[:12]
        with psycopg.connect(host="127.0.0.1", port=self.port, user=self.user, dbname="postgres",
                             autocommit=True, connect_timeout=10) as connection:
            connection.execute(f"CREATE DATABASE {name}")
        return self.url(name)


def _run_as() -> str | None:
    """The user to run PostgreSQL as: None (ourselves) unless we are root, then 'postgres'."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        pytest.skip("running as root and there is no 'postgres' user to run PostgreSQL as "
                    "(apt-get install -y postgresql creates it)")
    return "postgres"


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    bin_dir = postgres_bin_dir()
    if bin_dir is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed: apt-get install -y postgresql "
                    "(.ci/run installs them)")
    pytest.importorskip("psycopg", reason="the psycopg driver is needed: pip install 'retention-mcp[postgres]'")
    user = _run_as()
    folder = Path(tempfile.mkdtemp(prefix="retention-pg-"))
    data, log = folder / "data", folder / "server.log"
    if user:
        entry = pwd.getpwnam(user)
        os.chown(folder, entry.pw_uid, entry.pw_gid)
    port = free_port()

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(bin_dir / args[0]), *args[1:]], user=user, capture_output=True, text=True,
                              timeout=START_TIMEOUT_S, cwd=folder)

    done = run("initdb", "-D", str(data), "-U", "retention", "--auth=trust", "-E", "UTF8", "--no-locale", "--no-sync")
    if done.returncode:
        pytest.fail(f"initdb failed:\n{done.stdout}\n{done.stderr}")
    options = (f"-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c max_connections=200 "
               "-c fsync=off")
    done = run("pg_ctl", "-D", str(data), "-l", str(log), "-o", options, "-w", "-t", str(START_TIMEOUT_S), "start")
    if done.returncode:
        text = log.read_text() if log.exists() else ""
        pytest.fail(f"pg_ctl start failed:\n{done.stdout}\n{done.stderr}\n{text}")
    try:
        yield PostgresServer(port=port, user="retention", folder=folder, bin_dir=bin_dir, run_as=user,
                             options=options)
    finally:
        from retention_mcp.workspace.engine import dispose_all

        dispose_all()
        run("pg_ctl", "-D", str(data), "-m", "fast", "-w", "stop")
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A new, empty workspace database: SQLite in tmp_path, or a fresh database on the PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'workspace.sqlite3'}"
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return server.create_database()
