"""The parsed-table cache: one parse per key however many threads ask at once; failures not kept."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from retention_mcp.data import reader
from retention_mcp.data.cache import TABLES, LRUCache
from retention_mcp.errors import InputError
from retention_mcp.settings import Settings


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


def test_twenty_parallel_reads_of_one_file_parse_it_once(settings: Settings, data_dir: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    rows = 200_000
    (data_dir / "big.csv").write_text("id,dept\n" + "".join(f"{i},d{i % 7}\n" for i in range(rows)),
                                      encoding="utf-8")
    TABLES.clear()
    parses = []
    real = reader._parse_csv

    def counting(*args, **kwargs):
        parses.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(reader, "_parse_csv", counting)  # a counter around the real parser, not a mock
    gate = threading.Barrier(20)

    def read() -> int:
        gate.wait()
        return len(reader.open_table(settings, path="big.csv").frame)

    with ThreadPoolExecutor(20) as pool:
        sizes = list(pool.map(lambda _: read(), range(20)))
    assert sizes == [rows] * 20
    assert len(parses) == 1
