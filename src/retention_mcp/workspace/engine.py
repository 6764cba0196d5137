"""Where the workspace lives and how it is reached: URL, engine and pool, migrations at first use.

Default: SQLite in the per-user data folder (``platformdirs.user_data_dir("retention-mcp")``, e.g.
``~/.local/share/retention-mcp/workspace.sqlite3`` on Linux) — never the working directory, which a
desktop client chooses. A team sets ``--database-url`` / ``RETENTION_MCP_DATABASE_URL`` to a
PostgreSQL URL. The schema is created and upgraded by Alembic the first time a process uses a database
(serialised across processes: an advisory lock on PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite).
"""

from __future__ import annotations

import logging
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from retention_mcp.errors import InputError
from retention_mcp.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

logger = logging.getLogger(__name__)

APP_NAME = "retention-mcp"
DEFAULT_FILENAME = "workspace.sqlite3"
#: Alembic's version table (named for this app, so a shared PostgreSQL database can host other apps' migrations).
VERSION_TABLE = "retention_workspace_version"
#: How long a SQLite writer waits for another one before giving up, in seconds.
SQLITE_BUSY_TIMEOUT_S = 30.0
#: Connections per process on PostgreSQL: a steady pool plus overflow. Several server processes (workers,
#: replicas) share the server's max_connections (default 100): 10 per process leaves room for ~8 of them.
PG_POOL_SIZE = 3
PG_MAX_OVERFLOW = 7
PG_POOL_TIMEOUT_S = 30.0
#: Key of the PostgreSQL advisory lock held while migrating (any constant unique to this app).
MIGRATION_LOCK_KEY = 0x52544E4D  # "RTNM"


class WorkspaceUnavailable(InputError):
    """The workspace database cannot be opened or reached; the message says which and what to check."""


def default_database_path() -> Path:
    """The per-user SQLite file (it need not exist yet)."""
    from retention_mcp.settings import user_data_dir

    return user_data_dir() / DEFAULT_FILENAME


def database_url(settings: Settings) -> str:
    """The SQLAlchemy URL of the workspace: the configured one (normalised) or the per-user SQLite file."""
    url = (settings.database_url or "").strip()
    if not url:
        return f"sqlite:///{default_database_path()}"
    # postgres:// and plain postgresql:// would pick psycopg2; psycopg 3 is what the postgres extra installs.
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def workspace_exists(settings: Settings) -> bool:
    """True when a workspace is configured or the default one was already created (cheap; creates nothing)."""
    return bool(settings.database_url) or default_database_path().is_file()


def safe_url(url: str) -> str:
    """The URL with any password hidden, for messages and logs."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not even parseable: show only the scheme
        return url.split("://", 1)[0] + "://…"


_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


def get_engine(url: str) -> Engine:
    """The process's engine for ``url``, migrated to the newest schema on first use."""
    engine = _engines.get(url)
    if engine is not None:
        return engine
    with _engines_lock:
        engine = _engines.get(url)
        if engine is None:
            engine = create_engine(url)
            try:
                migrate(engine)
            except Exception:
                engine.dispose()
                raise
            _engines[url] = engine
    return engine


def dispose_all() -> None:
    """Close every pooled connection of this process (tests; a clean shutdown)."""
    with _engines_lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


def create_engine(url: str) -> Engine:
    """An engine with pooling and per-backend settings; raises WorkspaceUnavailable for a bad URL or driver."""
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        parsed = make_url(url)
    except ArgumentError:
        raise WorkspaceUnavailable(
            f"the workspace database URL {safe_url(url)!r} is not a database URL; use e.g. "
            "postgresql+psycopg://user@host:5432/dbname or sqlite:////absolute/path/workspace.sqlite3 "
            "(--database-url or RETENTION_MCP_DATABASE_URL)") from None
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise WorkspaceUnavailable(f"the workspace supports SQLite and PostgreSQL, not {backend!r} "
                                   f"({safe_url(url)}); fix --database-url")
    try:
        if backend == "sqlite":
            return _sqlite_engine(sa, parsed)
        return sa.create_engine(parsed, pool_size=PG_POOL_SIZE, max_overflow=PG_MAX_OVERFLOW,
                                pool_timeout=PG_POOL_TIMEOUT_S, pool_pre_ping=True, pool_recycle=1800)
    except (NoSuchModuleError, ImportError) as exc:
        raise WorkspaceUnavailable(
            f"no database driver for {safe_url(url)} ({exc}); for PostgreSQL install the extra: "
            "pip install 'retention-mcp[postgres]' (psycopg 3), and use a postgresql+psycopg:// URL") from None


def _sqlite_engine(sa: Any, parsed: Any) -> Engine:
    from sqlalchemy import event

    database = parsed.database or ""
    if database and database != ":memory:" and not database.startswith("file:"):
        path = Path(database).expanduser()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise WorkspaceUnavailable(f"cannot create the workspace folder {path.parent}: {exc.strerror}; "
                                       "point --database-url at a writable place") from None
    engine = sa.create_engine(parsed, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S})

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy (not the sqlite3 module) decide where transactions begin, so each one can take the
        # write lock up front (below) and DDL is transactional too.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")  # readers never block the writer, nor it them
        cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
        cursor.execute("PRAGMA synchronous=NORMAL")  # durable at each checkpoint; the WAL default
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        # Take the write lock when the transaction starts: a transaction that read first and wrote later
        # would fail at once with SQLITE_BUSY under WAL instead of waiting its turn.
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def head_revisions() -> set[str]:
    """The newest revision(s) of this release's migrations, read from the files (Alembic not imported): the
    revisions no other revision names as its ``down_revision``."""
    import re

    folder = Path(__file__).resolve().parent / "migrations" / "versions"
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in folder.glob("*.py"):
        text = path.read_text(encoding="utf-8")
        if found := re.search(r"^revision\s*(?::[^=]*)?=\s*[\"']([^\"']+)[\"']", text, re.MULTILINE):
            revisions.add(found.group(1))
        down = re.search(r"^down_revision\s*(?::[^=]*)?=\s*(.+)$", text, re.MULTILINE)
        if down:
            parents.update(re.findall(r"[\"']([^\"']+)[\"']", down.group(1)))
    return revisions - parents


def is_current(engine: Engine) -> bool:
    """True when the database's version table names exactly this release's head revision(s): then there is
    nothing to migrate, and Alembic (a third of a second to import and check) is not needed. Every worker
    process opens its own engine, so this is what most of them do."""
    import sqlalchemy as sa
    from sqlalchemy.exc import DBAPIError

    try:
        with engine.connect() as connection:
            found = {row[0] for row in connection.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}"))}
    except DBAPIError:  # no version table yet (a new database), or not reachable: let migrate() say which
        return False
    return bool(found) and found == head_revisions()


def migrate(engine: Engine) -> None:
    """Upgrade the database to the newest schema (Alembic ``upgrade head``), one process at a time."""
    if is_current(engine):
        return
    if not logger.isEnabledFor(logging.DEBUG):  # Alembic narrates every plugin it loads at INFO
        logging.getLogger("alembic").setLevel(logging.WARNING)
    import sqlalchemy as sa
    from alembic import command
    from alembic.config import Config
    from alembic.util import CommandError
    from sqlalchemy.exc import InterfaceError, OperationalError

    config = Config(stdout=sys.stderr)  # stdout carries the MCP protocol over stdio
    config.set_main_option("script_location", "retention_mcp.workspace:migrations")
    try:
        # SQLite: the transaction starts with BEGIN IMMEDIATE, so a second process waits here.
        with engine.connect() as connection, connection.begin():
            if engine.dialect.name == "postgresql":
                connection.execute(sa.select(sa.func.pg_advisory_xact_lock(MIGRATION_LOCK_KEY)))
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    except (OperationalError, InterfaceError) as exc:  # cannot connect, locked, disk: not our bug
        raise unavailable(engine.url.render_as_string(hide_password=True), exc) from None
    except CommandError as exc:  # a revision this release does not know: written by a newer release
        raise WorkspaceUnavailable(
            f"the workspace database {engine.url.render_as_string(hide_password=True)} has a newer schema than "
            f"this retention-mcp knows ({exc}); upgrade retention-mcp on this machine") from None
    logger.info("workspace database ready (schema up to date): %s", engine.url.render_as_string(hide_password=True))


def unavailable(url: str, exc: BaseException) -> WorkspaceUnavailable:
    """A WorkspaceUnavailable naming the database (without its password) and the driver's first line."""
    detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    first = detail[0] if detail else type(exc).__name__
    logger.warning("workspace database %s unavailable: %s", safe_url(url), first)
    return WorkspaceUnavailable(
        f"the workspace database {safe_url(url)} cannot be used: {first}. Check that it is running and "
        "reachable and that --database-url / RETENTION_MCP_DATABASE_URL is right")
