"""A small, thread-safe, single-flight LRU cache for parsed tables, keyed by file version.

A changed file has a new size, mtime or inode, so it gets a new key and the stale entry ages out. The
cache is bounded by entry count and by an estimate of the memory the cached frames hold.

Single flight: when several threads ask for the same missing key at once, one of them runs
``create`` and the others wait for its result, so a file is parsed once however many calls arrive
together. A failure is handed to the callers that were waiting for that attempt and is not cached:
the next call tries again.
"""

from __future__ import annotations

import copy
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

MAX_ENTRIES = 8
MAX_BYTES = 1_500_000_000


class _Flight:
    __slots__ = ("done", "error", "value")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.value: Any = None
        self.error: BaseException | None = None


class LRUCache:
    def __init__(self, max_entries: int = MAX_ENTRIES, max_bytes: int = MAX_BYTES) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._items: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self._flights: dict[Hashable, _Flight] = {}
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        #: How many times ``create`` ran (a miss that waited for another thread's parse does not count).
        self.creations = 0

    def get(self, key: Hashable) -> Any | None:
        with self._lock:
            item = self._items.get(key)
            if item is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return item[0]

    def put(self, key: Hashable, value: Any, size: int = 0) -> None:
        with self._lock:
            self._put(key, value, size)

    def _put(self, key: Hashable, value: Any, size: int) -> None:
        self._items[key] = (value, size)
        self._items.move_to_end(key)
        while len(self._items) > self.max_entries or (
                len(self._items) > 1 and sum(s for _, s in self._items.values()) > self.max_bytes):
            self._items.popitem(last=False)

    def get_or_create(self, key: Hashable, create: Callable[[], tuple[Any, int]]) -> Any:
        """The cached value, or ``create()`` -> (value, size_bytes) run once for concurrent callers."""
        with self._lock:
            item = self._items.get(key)
            if item is not None:
                self._items.move_to_end(key)
                self.hits += 1
                return item[0]
            self.misses += 1
            flight = self._flights.get(key)
            owner = flight is None
            if owner:
                flight = self._flights[key] = _Flight()
                self.creations += 1
        assert flight is not None
        if not owner:
            flight.done.wait()
            if flight.error is not None:
                raise _fresh(flight.error)
            return flight.value
        try:
            value, size = create()
        except BaseException as exc:
            flight.error = exc
            with self._lock:
                del self._flights[key]
            flight.done.set()
            raise
        flight.value = value
        with self._lock:
            self._put(key, value, size)
            del self._flights[key]
        flight.done.set()
        return value

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        return len(self._items)


def _fresh(error: BaseException) -> BaseException:
    """A copy of ``error`` for another thread to raise (sharing one instance would tangle tracebacks)."""
    try:
        clone = copy.copy(error)
    except Exception:  # an exception type that cannot be copied: raise the original
        return error
    clone.__traceback__ = None
    return clone


def frame_bytes(frame: Any) -> int:
    """A cheap estimate of a DataFrame's memory (object columns counted shallowly)."""
    try:
        return int(frame.memory_usage(index=True, deep=False).sum())
    except Exception:  # not a DataFrame: count it as small
        return 0


#: Parsed tables (raw DataFrames as read, with their source record).
TABLES = LRUCache()
#: Prepared datasets (roles detected, dates and flags parsed), keyed by table key + column_map.
PREPARED = LRUCache()
