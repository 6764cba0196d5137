"""Worker processes that run tool calls: bounded in time and memory, killed when a call is cancelled.

Why processes: pandas, numpy, Jinja2 and python-docx work cannot be interrupted inside a thread, so a
call whose client has gone (a cancelled request, a dropped HTTP connection, a killed stdio client)
would keep a core busy until it finished. A worker process can be killed at once; the pool starts a
fresh one from a fork server that has the heavy libraries imported already (~20 ms).

Bounds, per call: wall time (``Limits.timeout_s``: the worker is killed when it runs out) and memory
(the worker's data segment is capped with ``RLIMIT_DATA`` on Linux, and its resident memory is watched
everywhere; over the bound the worker is killed). Either ends the call with a :class:`LimitError` that
names the setting to raise.

Why affinity: each worker keeps its own cache of parsed files. Calls on the same file go to the worker
that parsed it (waiting for it if busy), so concurrent first calls on one file parse it once and later
calls hit the cache; calls without a file go to any idle worker.
"""

from __future__ import annotations

import itertools
import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from retention_mcp.errors import InputError, LimitError, capped

logger = logging.getLogger(__name__)

#: Modules the fork server imports once, so every worker starts with them loaded.
PRELOAD = ["retention_mcp.runtime.worker"]
#: How often a running call's memory is checked, seconds.
MEMORY_POLL_S = 0.2


@dataclass(frozen=True)
class Limits:
    timeout_s: float
    memory_mb: float


@dataclass
class Reply:
    """What a worker sent back: ``kind`` is ok, input, limit or bug."""

    kind: str
    value: Any = None
    message: str = ""
    detail: str = ""


class InternalError(Exception):
    """A bug inside a worker: ``detail`` carries the (redacted) traceback for the server log."""

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.detail = detail


@dataclass(eq=False)
class _Worker:
    process: Any
    conn: Any
    busy: bool = False
    keys: set[str] = field(default_factory=set)
    calls: int = 0

    @property
    def alive(self) -> bool:
        return self.process.is_alive()

    def kill(self) -> None:
        try:
            self.process.kill()
            self.process.join(timeout=2)
        except Exception:  # already gone
            pass
        finally:
            self.conn.close()


def _worker_entry(conn: Any, memory_mb: float, server_pid: int) -> None:
    """The worker process's entry point. The worker module (and with it pandas) is imported here, in the
    child (already loaded by the fork server), never in the MCP server process."""
    from retention_mcp.runtime.worker import main

    main(conn, memory_mb, server_pid)


def _context() -> Any:
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
    if "forkserver" in methods:
        context.set_forkserver_preload(PRELOAD)
    return context


class WorkerPool:
    """Up to ``max_workers`` worker processes shared by every server in this process."""

    def __init__(self, max_workers: int) -> None:
        self.max_workers = max(1, max_workers)
        self._workers: list[_Worker] = []
        self._affinity: dict[str, _Worker] = {}
        self._lock = threading.Lock()
        self._changed: Any = None  # anyio.Event, created in the event loop
        self._ids = itertools.count(1)
        self._context: Any = None
        self._memory_mb: float | None = None

    # -- worker lifecycle

    def _spawn(self, memory_mb: float) -> _Worker:
        if self._context is None:
            self._context = _context()
        parent_end, child_end = self._context.Pipe(duplex=True)
        process = self._context.Process(target=_worker_entry, args=(child_end, memory_mb, os.getpid()),
                                        name="retention-mcp-worker", daemon=True)
        process.start()
        child_end.close()
        return _Worker(process=process, conn=parent_end)

    def warm(self, memory_mb: float) -> None:
        """Start the fork server and one idle worker now (called in the background after initialize)."""
        with self._lock:
            if self._workers:
                return
            self._memory_mb = memory_mb
        worker = self._spawn(memory_mb)
        with self._lock:
            if self._workers or self._memory_mb != memory_mb:
                worker.kill()
                return
            self._workers.append(worker)

    def _retire(self, worker: _Worker) -> None:
        with self._lock:
            if worker in self._workers:
                self._workers.remove(worker)
            for key in list(worker.keys):
                if self._affinity.get(key) is worker:
                    del self._affinity[key]
        worker.kill()

    def shutdown(self) -> None:
        with self._lock:
            workers, self._workers = self._workers, []
            self._affinity.clear()
        for worker in workers:
            worker.kill()

    # -- scheduling

    def _take(self, key: str | None, memory_mb: float) -> _Worker | bool | None:
        """A worker reserved for this call, None to wait, or True when a new one must be started."""
        with self._lock:
            if memory_mb != self._memory_mb:
                # A different memory bound: workers carry their limit from birth, so start afresh.
                stale = [w for w in self._workers if not w.busy]
                for w in stale:
                    self._workers.remove(w)
                    w.kill()
                self._memory_mb = memory_mb
            for dead in [w for w in self._workers if not w.busy and not w.alive]:
                self._workers.remove(dead)
                dead.kill()
            if key is not None and (owner := self._affinity.get(key)) is not None and owner in self._workers:
                if owner.busy:
                    return None
                owner.busy = True
                return owner
            idle = [w for w in self._workers if not w.busy]
            if idle:
                chosen = min(idle, key=lambda w: len(w.keys))
                chosen.busy = True
                if key is not None:
                    chosen.keys.add(key)
                    self._affinity[key] = chosen
                return chosen
            if len(self._workers) < self.max_workers:
                return True
            return None

    async def _acquire(self, key: str | None, memory_mb: float) -> _Worker:
        import anyio

        while True:
            if self._changed is None:
                self._changed = anyio.Event()
            changed = self._changed
            taken = self._take(key, memory_mb)
            if isinstance(taken, _Worker):
                return taken
            if taken is True:
                worker = await anyio.to_thread.run_sync(self._spawn, memory_mb)
                worker.busy = True
                with self._lock:
                    if len(self._workers) < self.max_workers and memory_mb == self._memory_mb:
                        self._workers.append(worker)
                        if key is not None:
                            worker.keys.add(key)
                            self._affinity[key] = worker
                        return worker
                worker.kill()
                continue
            await changed.wait()

    def _release(self, worker: _Worker) -> None:
        with self._lock:
            worker.busy = False
        self._notify()

    def _notify(self) -> None:
        if self._changed is not None:
            changed, self._changed = self._changed, None
            changed.set()

    # -- one call

    @staticmethod
    def _death(worker: _Worker, over_memory: bool, limits: Limits) -> Exception:
        """Why a worker died in the middle of a call."""
        worker.process.join(timeout=1)
        # Killed for memory by us or the kernel, or aborted by a native allocator that could not get memory
        # (Arrow aborts instead of raising).
        if over_memory or worker.process.exitcode in (-signal.SIGKILL, -signal.SIGABRT):
            return _memory_error(limits)
        return InternalError(f"the worker process stopped unexpectedly (exit code {worker.process.exitcode})")

    async def run(self, target: str, kwargs: dict[str, Any], settings: Any, limits: Limits, *,
                  affinity: str | None = None,
                  progress: Callable[[float, str], Awaitable[None]] | None = None) -> Any:
        """Run ``target`` ("module:function") in a worker; the function's return value, or raises.

        InputError / LimitError carry the worker's message; :class:`InternalError` is a bug.
        """
        import anyio

        worker = await self._acquire(affinity, limits.memory_mb)
        call_id = next(self._ids)
        finished = False
        over_memory = False

        async def watch_memory() -> None:
            nonlocal over_memory
            limit = limits.memory_mb * 1024 * 1024
            while True:
                await anyio.sleep(MEMORY_POLL_S)
                used = _private_memory(worker.process.pid)
                if used is not None and used > limit:
                    over_memory = True
                    worker.process.kill()
                    return

        try:
            worker.conn.send((call_id, target, kwargs, settings))
            worker.calls += 1
            with anyio.fail_after(limits.timeout_s):
                # The watcher runs beside the receive loop; the loop's outcome is raised outside the task
                # group, so callers see a LimitError or InternalError rather than an exception group.
                died: Exception | None = None
                async with anyio.create_task_group() as watchers:
                    watchers.start_soon(watch_memory)
                    try:
                        while True:
                            try:
                                message = await anyio.to_thread.run_sync(worker.conn.recv, abandon_on_cancel=True)
                            except (EOFError, OSError):
                                died = self._death(worker, over_memory, limits)
                                break
                            if message[0] == "progress":
                                if progress is not None:
                                    await progress(message[2], message[3])
                                continue
                            if message[0] == "log":
                                # a worker's line may quote the caller (a file name, a template): capped here too
                                logging.getLogger(message[3]).log(message[2], "%s", capped(message[4], 4000))
                                continue
                            reply = Reply(*message[2:]) if message[1] == call_id else None
                            if reply is None:
                                continue
                            finished = True
                            break
                    finally:
                        watchers.cancel_scope.cancel()
                if died is not None:
                    raise died
        except TimeoutError:
            raise LimitError(f"the call took longer than {limits.timeout_s:g} seconds and was stopped; "
                             "filter the data to fewer rows (e.g. with `where`) or ask the operator to raise "
                             "RETENTION_MCP_CALL_TIMEOUT_S (--call-timeout)") from None
        finally:
            if finished and worker.alive:
                if reply.kind == "limit" and "memory" in reply.message:
                    self._retire(worker)  # after a MemoryError the worker's heap is suspect
                else:
                    self._release(worker)
            else:
                # Cancelled, timed out or crashed mid-call: kill it now so it stops using CPU.
                self._retire(worker)
                self._notify()
        if reply.kind == "ok":
            return reply.value
        if reply.kind == "limit":
            raise LimitError(reply.message)
        if reply.kind == "input":
            raise InputError(reply.message)
        raise InternalError(reply.message, reply.detail)


def _memory_error(limits: Limits) -> LimitError:
    return LimitError(f"the call needed more than {limits.memory_mb:g} MB of memory and was stopped; filter the "
                      "data to fewer rows or columns, or ask the operator to raise RETENTION_MCP_CALL_MEMORY_MB "
                      "(--call-memory-mb)")


def _private_memory(pid: int) -> int | None:
    """Bytes of private memory a process uses (Linux: RssAnon), or None where it cannot be read."""
    if sys.platform.startswith("linux"):
        try:
            with open(f"/proc/{pid}/status", encoding="ascii") as handle:
                for line in handle:
                    if line.startswith("RssAnon:"):
                        return int(line.split()[1]) * 1024
        except OSError:
            return None
        return None
    return _rss_by_ps(pid)


_last_ps: dict[int, tuple[float, int | None]] = {}


def _rss_by_ps(pid: int) -> int | None:
    """macOS and others: resident set size from ``ps`` (at most once a second per process)."""
    import subprocess

    now = time.monotonic()
    cached = _last_ps.get(pid)
    if cached and now - cached[0] < 1.0:
        return cached[1]
    try:
        out = subprocess.run(["ps", "-o", "rss=", "-p", str(pid)], capture_output=True, text=True, timeout=2)
        value = int(out.stdout.strip()) * 1024 if out.stdout.strip() else None
    except (OSError, ValueError, subprocess.SubprocessError):
        value = None
    _last_ps[pid] = (now, value)
    return value


_pool: WorkerPool | None = None
_pool_lock = threading.Lock()


def shared_pool(max_workers: int) -> WorkerPool:
    """The process-wide pool (every server built in this process shares it)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = WorkerPool(max_workers)
        else:
            _pool.max_workers = max(_pool.max_workers, max_workers)
        return _pool
