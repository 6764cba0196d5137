"""A small, thread-safe LRU cache for parsed tables, keyed by (path, size, mtime, ...).

A changed file has a new size or mtime, so it gets a new key and the stale entry ages out. The cache
is bounded by entry count and by an estimate of the memory the cached frames hold.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

MAX_ENTRIES = 8
MAX_BYTES = 1_500_000_000


class LRUCache:
    def __init__(self, max_entries: int = MAX_ENTRIES, max_bytes: int = MAX_BYTES) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._items: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

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
            self._items[key] = (value, size)
            self._items.move_to_end(key)
            while len(self._items) > self.max_entries or (
                    len(self._items) > 1 and sum(s for _, s in self._items.values()) > self.max_bytes):
                self._items.popitem(last=False)

    def get_or_create(self, key: Hashable, create: Callable[[], tuple[Any, int]]) -> Any:
        """The cached value, or ``create()`` -> (value, size_bytes) stored and returned."""
        value = self.get(key)
        if value is None:
            value, size = create()
            self.put(key, value, size)
        return value

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        return len(self._items)


def frame_bytes(frame: Any) -> int:
    """A cheap estimate of a DataFrame's memory (object columns counted shallowly)."""
    try:
        return int(frame.memory_usage(index=True, deep=False).sum())
    except Exception:  # not a DataFrame: count it as small
        return 0


#: Parsed tables (raw DataFrames as read).
TABLES = LRUCache()
#: Prepared datasets (roles detected, dates and flags parsed), keyed by table key + column_map.
PREPARED = LRUCache()
