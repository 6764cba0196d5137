"""The parsed-table cache: one parse per key however many threads ask at once; failures not kept."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from retention_mcp.data.cache import LRUCache
from retention_mcp.errors import InputError


def test_concurrent_first_requests_wait_for_one_create() -> None:
    cache = LRUCache()
    calls = []
    gate = threading.Barrier(20)

    def create() -> tuple[object, int]:
        calls.append(threading.get_ident())
        time.sleep(0.2)  # long enough for every other thread to arrive while it runs
        return {"parsed": True}, 10

    def ask() -> object:
        gate.wait()
        return cache.get_or_create("k", create)

    with ThreadPoolExecutor(20) as pool:
        results = list(pool.map(lambda _: ask(), range(20)))
    assert len(calls) == 1
    assert all(r is results[0] for r in results)  # everyone got the one parsed value
    assert cache.creations == 1


def test_a_failure_reaches_the_waiters_and_is_not_cached() -> None:
    cache = LRUCache()
    attempts = []
    gate = threading.Barrier(8)

    def failing() -> tuple[object, int]:
        attempts.append(1)
        time.sleep(0.1)
        raise InputError("bad file")

    def ask() -> str:
        gate.wait()
        try:
            cache.get_or_create("k", failing)
        except InputError as exc:
            return str(exc)
        return "no error"

    with ThreadPoolExecutor(8) as pool:
        messages = list(pool.map(lambda _: ask(), range(8)))
    assert messages == ["bad file"] * 8
    assert len(attempts) == 1  # the waiters shared the one attempt
    assert cache.get_or_create("k", lambda: ("fixed", 1)) == "fixed"  # the error was not kept
    assert len(attempts) == 1


def test_eviction_by_count_and_bytes() -> None:
    cache = LRUCache(max_entries=2, max_bytes=100)
    cache.put("a", 1, 10)
    cache.put("b", 2, 10)
    cache.put("c", 3, 10)
    assert cache.get("a") is None and cache.get("c") == 3
    cache.put("d", 4, 95)  # over the byte budget: the older entries go
    assert cache.get("b") is None and cache.get("d") == 4
