"""The columnar engine behind linked datasets: DuckDB, on Arrow tables, inside the worker process only.

Why DuckDB (measured in ``bench/bench_peers.py`` and the commit that chose it): aggregating a 5,000,000-row
attendance file per person and joining it onto a 1,000,000-row roster took DuckDB about a second on two
cores, polars about 1.4×, pandas about 5× and Arrow's own compute (Acero, which cannot take the last value of
a dictionary column per group) about 6× as long; its wheel is half the size of polars' and it imports in
~80 ms. Our reader still parses the files (it is faster than DuckDB's at materialising every column, and it
is the one intake: guarded open, encodings, header rows, XLSX checks); DuckDB only scans the Arrow tables.

The work is split where each tool is best: aggregating each person's rows is DuckDB's parallel GROUP BY over the
normalised key; putting the result on the population's rows is a hash lookup of one million keys in Arrow
(``pyarrow.compute.index_in``) and a ``take``; which row of a file belongs to whom is worked out only when a
reconciliation asks (:func:`match_people`).

The connection is locked down: no file system access (it sees only the tables it is given), no spilling to
disk (HR rows never land in a temporary file), a memory limit below the call's bound. No text a caller sent
reaches the SQL: columns are named ``c0``, ``c1``... before they are registered.

Nothing here is imported by the MCP server process; the worker's fork server preloads :mod:`duckdb`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from retention_mcp.errors import InputError

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

#: Share of the call's memory bound DuckDB may use (the rest is pandas' and Arrow's).
MEMORY_SHARE = 0.5
#: Rules that aggregate a person's rows, and the SQL they become (``{c}`` the column, ``{o}`` the order).
RULES = {
    "sum": "sum({c})",
    "mean": "avg({c})",
    "min": "min({c})",
    "max": "max({c})",
    "count": "count({c})",
    "count_distinct": "count(DISTINCT {c})",
    "first": "arg_min({c}, {o})",
    "last": "arg_max({c}, {o})",
    "earliest": "arg_min({c}, {o})",
    "latest": "arg_max({c}, {o})",
}


@dataclass(frozen=True)
class Aggregation:
    """One output column: ``rule`` over input column ``column`` (None: the person's row count)."""

    rule: str
    column: int | None  # position in the file's value columns


def connect(memory_mb: float | None = None) -> Any:
    """A DuckDB connection that can read nothing but the tables registered on it."""
    import os

    import duckdb

    config = {"enable_external_access": False, "temp_directory": "", "threads": max(1, os.cpu_count() or 1)}
    if memory_mb:
        config["memory_limit"] = f"{max(64, int(memory_mb * MEMORY_SHARE))}MB"
    return duckdb.connect(config=config)


def match_people(population_match: pa.Array, population_person: np.ndarray,
                 file_key: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Each file row's person: the population person whose match key equals the row's key, when exactly one
    person has it (a name two people share matches nobody). Returns (person per file row, −1 for none; how many
    population people the row's key matched)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    keyed = pa.table({"m": population_match, "p": pa.array(population_person)}).filter(
        pc.is_valid(population_match))
    lookup = keyed.group_by("m").aggregate([("p", "min"), ("p", "count_distinct")]).combine_chunks()
    position = pc.index_in(file_key, value_set=lookup.column("m")).fill_null(-1).to_numpy(zero_copy_only=False)
    found = position >= 0
    candidates = np.zeros(len(position), dtype="int64")
    person = np.full(len(position), -1, dtype="int64")
    counts = lookup.column("p_count_distinct").to_numpy()
    owners = lookup.column("p_min").to_numpy()
    candidates[found] = counts[position[found]]
    unique = found & (candidates == 1)
    person[unique] = owners[position[unique]]
    return person, candidates


def aggregate(key: pa.Array, values: Sequence[pa.Array], order: pa.Array | None, aggregations: Sequence[Aggregation],
              *, memory_mb: float | None = None) -> tuple[pa.Array, list[pa.Array]]:
    """Each key's rows turned into one value per aggregation: (the distinct non-null keys, one Arrow array per
    aggregation aligned with them). ``order`` (a number per row) orders a key's rows for earliest / latest; first /
    last and ties go by the file's row order."""
    import numpy as np
    import pyarrow as pa

    rows = len(key)
    table = {"k": key, "fr": pa.array(np.arange(rows, dtype="int64"))}
    if order is not None:
        table["o"] = order
    for i, array in enumerate(values):
        table[f"c{i}"] = array
    # The order as one number when it can be: (order, row) packed in an int64 sorts as the pair does and is about
    # twice as fast for DuckDB as a pair. Orders of dates and text are whole numbers (day numbers, ranks).
    packed = order is not None and pa.types.is_integer(order.type) and rows < 2**26
    # o is −2^31 (no order) or a day number or rank below 2^31: (o + 2^31) · 2^26 + row stays below 2^63.
    ordered = "(o + 2147483648) * 67108864 + fr" if packed else "(o, fr)"
    outputs = []
    for i, aggregation in enumerate(aggregations):
        column = "*" if aggregation.column is None else f"c{aggregation.column}"
        if aggregation.rule not in RULES or (column == "*" and aggregation.rule != "count"):
            raise InputError(f"unknown aggregation rule {aggregation.rule!r}")
        if aggregation.rule in ("earliest", "latest") and order is None:
            raise InputError(f"{aggregation.rule}() needs a column that orders a person's rows (order_by)")
        by = ordered if aggregation.rule in ("earliest", "latest") else "fr"
        outputs.append(RULES[aggregation.rule].format(c=column, o=by) + f" AS a{i}")
    con = connect(memory_mb)
    try:
        con.register("f", pa.table(table))
        result = con.sql(f"SELECT k, {', '.join(outputs) or 'count(*) AS none'} FROM f WHERE k IS NOT NULL "
                         "GROUP BY k").to_arrow_table()
    except Exception as exc:
        raise _translated(exc) from None
    finally:
        con.close()
    return (result.column(0).combine_chunks(),
            [result.column(i + 1).combine_chunks() for i in range(len(aggregations))])


def distinct_rows(frame: Any) -> int:
    """How many different rows a DataFrame has (every column compared; blanks equal)."""
    import pyarrow as pa

    con = connect()
    try:
        table = pa.Table.from_pandas(frame, preserve_index=False)
        table = table.rename_columns([f"c{i}" for i in range(table.num_columns)])
        con.register("t", table)
        return int(con.execute("SELECT count(*) FROM (SELECT DISTINCT * FROM t)").fetchall()[0][0])
    except Exception as exc:
        raise _translated(exc) from None
    finally:
        con.close()


def _translated(exc: Exception) -> Exception:
    """DuckDB's out-of-memory error is the call's memory bound; anything else stays a bug."""
    name = type(exc).__name__
    if name == "OutOfMemoryException" or "Out of Memory" in str(exc):
        return MemoryError()
    return exc
