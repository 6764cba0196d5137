"""The columnar engine behind linked datasets: DuckDB, on Arrow tables, inside the worker process only.

Why DuckDB (measured in ``bench/bench_peers.py`` and the commit that chose it): aggregating a 5,000,000-row
attendance file per person and joining it onto a 1,000,000-row roster took DuckDB about a second on two
cores, polars about 1.4×, pandas about 5× and Arrow's own compute (Acero, which cannot take the last value of
a dictionary column per group) about 6× as long; its wheel is half the size of polars' and it imports in
~80 ms. Our reader still parses the files (it is faster than DuckDB's at materialising every column, and it
is the one intake: guarded open, encodings, header rows, XLSX checks); DuckDB only scans the Arrow tables.

The connection is locked down: no file system access (it sees only the tables it is given), no spilling to
disk (HR rows never land in a temporary file), a memory limit below the call's bound. No text a caller sent
reaches the SQL: columns are renamed ``c0``, ``c1``... before they are registered.

Nothing here is imported by the MCP server process; the worker's fork server preloads :mod:`duckdb`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from retention_mcp.errors import InputError

if TYPE_CHECKING:
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


@dataclass
class Joined:
    """The result of :func:`join_file`: per population row, the aggregated columns; per file row, its person."""

    columns: list[Any]  # Arrow arrays, one per Aggregation, aligned with the population rows
    person: Any  # Arrow int64 array per file row: the population person it matched, null if none
    candidates: Any  # Arrow int64 array per file row: population people its key matched (0, 1 or more)


def connect(memory_mb: float | None = None) -> Any:
    """A DuckDB connection that can read nothing but the tables registered on it."""
    import os

    import duckdb

    config = {"enable_external_access": False, "temp_directory": "", "threads": max(1, os.cpu_count() or 1)}
    if memory_mb:
        config["memory_limit"] = f"{max(64, int(memory_mb * MEMORY_SHARE))}MB"
    return duckdb.connect(config=config)


def join_file(population_match: pa.Array, population_person: pa.Array, persons: int, file_key: pa.Array,
              values: Sequence[pa.Array], order: pa.Array | None, aggregations: Sequence[Aggregation],
              *, memory_mb: float | None = None) -> Joined:
    """Aggregate one file's rows per person and line the result up with the population's rows.

    ``population_match``: per population row, the normalised key this file is matched on (null: unmatchable);
    ``population_person``: per population row, its person number (0 .. ``persons`` − 1; rehires share one).
    A file row belongs to a person when its key equals the match key of population rows of exactly one person
    (a name two people share matches nobody). ``order`` (a number per file row) orders a person's rows for
    first / last / earliest / latest; ties go to the later row of the file.
    """
    import pyarrow as pa

    con = connect(memory_mb)
    try:
        con.register("pop", pa.table({"r": pa.array(range(len(population_match)), pa.int64()),
                                      "m": population_match, "p": population_person}))
        columns = {f"c{i}": array for i, array in enumerate(values)}
        file_table = pa.table({"fr": pa.array(range(len(file_key)), pa.int64()), "k": file_key,
                               "o": order if order is not None else pa.array(range(len(file_key)), pa.float64()),
                               **columns})
        con.register("f", file_table)
        outputs = []
        for i, aggregation in enumerate(aggregations):
            column = "*" if aggregation.column is None else f"c{aggregation.column}"
            if aggregation.rule not in RULES or (column == "*" and aggregation.rule != "count"):
                raise InputError(f"unknown aggregation rule {aggregation.rule!r}")
            order_by = "(o, fr)" if aggregation.rule in ("earliest", "latest") else "fr"
            outputs.append(RULES[aggregation.rule].format(c=column, o=order_by) + f" AS a{i}")
        selected = ", ".join(f"g.a{i}" for i in range(len(aggregations))) or "NULL AS none"
        aggregated = ", ".join(outputs) or "count(*) AS none"
        con.execute("""
            CREATE TEMP TABLE lookup AS
              SELECT m, min(p) AS p, count(DISTINCT p) AS n FROM pop WHERE m IS NOT NULL GROUP BY m;
            CREATE TEMP TABLE fp AS
              SELECT f.*, CASE WHEN l.n = 1 THEN l.p END AS person, coalesce(l.n, 0) AS n
              FROM f LEFT JOIN lookup l ON f.k = l.m;""")
        table = con.sql(f"""
            WITH g AS (SELECT person, {aggregated} FROM fp WHERE person IS NOT NULL GROUP BY person)
            SELECT {selected} FROM pop LEFT JOIN g ON pop.p = g.person ORDER BY pop.r""").to_arrow_table()
        rows = con.sql("SELECT person, n FROM fp ORDER BY fr").to_arrow_table()
    except Exception as exc:
        raise _translated(exc) from None
    finally:
        con.close()
    return Joined(columns=[table.column(i).combine_chunks() for i in range(len(aggregations))],
                  person=rows.column(0).combine_chunks(), candidates=rows.column(1).combine_chunks())


def _translated(exc: Exception) -> Exception:
    """DuckDB's out-of-memory error is the call's memory bound; anything else stays a bug."""
    name = type(exc).__name__
    if name == "OutOfMemoryException" or "Out of Memory" in str(exc):
        return MemoryError()
    return exc
