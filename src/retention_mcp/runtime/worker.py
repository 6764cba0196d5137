"""The worker process: receives calls over a pipe, runs them, sends back the result or the error.

Imported by the fork server before any worker starts (see :mod:`retention_mcp.runtime.pool`), so the
heavy libraries below are loaded once and shared copy-on-write by every worker.
"""

from __future__ import annotations

import importlib
import logging
import os
import re
import sys
import threading
import time
import traceback
from typing import Any

# Loaded in the fork server, not in the MCP server process: a worker starts with them warm.
import numpy  # noqa: F401
import pandas  # noqa: F401
import pyarrow
import pyarrow.csv  # noqa: F401

from retention_mcp.errors import InputError, LimitError

logger = logging.getLogger("retention_mcp.worker")


def _preload() -> None:
    """Import every tool's code and parse the bundled catalogs once, in the fork server, so a worker's first
    call does not pay for them (about 0.6 s on a two-core machine)."""
    from retention_mcp.catalog import bundled_dir, read_yaml
    from retention_mcp.endpoints import MODULES

    for name in (*(f"retention_mcp.endpoints.{m}" for m in MODULES), "scipy.special",
                 # the workspace layer every data call records its evidence through (no engine: each worker
                 # opens its own after the fork)
                 "retention_mcp.workspace.store", "retention_mcp.workspace.schema", "sqlalchemy.dialects.sqlite"):
        importlib.import_module(name)
    for path in sorted(bundled_dir("tools").glob("*.yaml")):
        read_yaml(path)  # cached by size and mtime; a team's copy is a different file and is read on use


try:
    _preload()
except Exception:  # an optimisation only: the first call imports what it needs
    logger.warning("could not preload the tool modules", exc_info=True)

_QUOTED = re.compile(r"""(['"]).*?\1""")


def redact(message: str) -> str:
    """An exception message without the quoted parts, which may hold cell values."""
    return _QUOTED.sub("'…'", message)[:300]


def _limit_memory(memory_mb: float) -> None:
    if not sys.platform.startswith("linux"):
        return
    import resource

    limit = int(memory_mb * 1024 * 1024)
    try:
        resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
    except (ValueError, OSError):  # a hard limit below ours already applies
        logger.debug("could not set RLIMIT_DATA", exc_info=True)


def _die_with(server_pid: int) -> None:
    """Exit when the MCP server process is gone (its client was killed, or it crashed)."""
    if sys.platform.startswith("linux"):
        try:  # the kernel kills us when the fork server (our parent) exits with the server
            import ctypes
            import signal

            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except OSError:
            pass

    def watch() -> None:
        while True:
            time.sleep(0.5)
            try:
                os.kill(server_pid, 0)
            except ProcessLookupError:
                os._exit(0)
            except PermissionError:
                pass

    threading.Thread(target=watch, name="server-watch", daemon=True).start()


def resolve(target: str) -> Any:
    module_name, _, name = target.partition(":")
    return getattr(importlib.import_module(module_name), name)


class _ToServer(logging.Handler):
    """Log records travel to the MCP server process and are logged there: one log, one configuration."""

    def __init__(self, conn: Any) -> None:
        super().__init__()
        self.conn = conn
        self.call_id = 0

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
            if record.exc_info and record.exc_info[1] is not None:
                frames = "".join(traceback.format_tb(record.exc_info[2]))
                message += f"\n{frames}{type(record.exc_info[1]).__name__}: {redact(str(record.exc_info[1]))}"
            self.conn.send(("log", self.call_id, record.levelno, record.name, message))
        except Exception:  # the pipe is gone: nothing to tell
            pass


def main(conn: Any, memory_mb: float, server_pid: int) -> None:
    handler = _ToServer(conn)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    _limit_memory(memory_mb)
    _die_with(server_pid)
    while True:
        try:
            call_id, target, kwargs, settings = conn.recv()
        except (EOFError, OSError):
            os._exit(0)
        handler.call_id = call_id
        root.setLevel(getattr(settings, "log_level", "WARNING"))

        def progress(fraction: float, message: str, _call: int = call_id) -> None:
            conn.send(("progress", _call, float(fraction), str(message)))

        reply: tuple[Any, ...]
        try:
            value = resolve(target)(settings=settings, progress=progress, **kwargs)
            reply = ("ok", value, "", "")
        except LimitError as exc:
            reply = ("limit", None, str(exc), "")
        except InputError as exc:
            reply = ("input", None, str(exc), "")
        except MemoryError:
            reply = ("limit", None, f"the call needed more than {memory_mb:g} MB of memory and was stopped; filter "
                     "the data to fewer rows or columns, or ask the operator to raise RETENTION_MCP_CALL_MEMORY_MB "
                     "(--call-memory-mb)", "")
        except BaseException as exc:  # a bug: the traceback goes to the server log, values redacted
            frames = "".join(traceback.format_tb(exc.__traceback__))
            reply = ("bug", None, type(exc).__name__, f"{frames}{type(exc).__name__}: {redact(str(exc))}")
        try:
            conn.send(("reply", call_id, *reply))
        except Exception as exc:  # the value could not be pickled: a bug
            conn.send(("reply", call_id, "bug", None, type(exc).__name__, redact(str(exc))))
        if reply[0] == "limit" and "memory" in reply[2]:
            os._exit(1)


def echo(*, settings: Any, progress: Any, value: Any = None) -> Any:
    """A call that does nothing: measures the cost of the round trip to a worker."""
    return value
