"""What one caller may see: the seam between who is asking (a token's role, OAuth scopes) and the one intake.

An :class:`Access` travels with a call's settings into the worker (``Settings.access``) and the intake
(:func:`retention_mcp.data.dataset.load_dataset`) applies it before any tool sees a file:

- ``mode``: the privacy mode of this caller's calls, never weaker than the server's: a manager's calls are
  always ``protected`` (:meth:`Access.for_manager`).
- ``rows``: a row scope, ``(("department", ("研发部",)),)``: every file is cut to these rows at intake, so no
  tool, ``where``, breakdown, completion or listing sees anyone outside them; a file without such a column is
  refused.
- ``hidden_columns``: columns (header names, roles, or column classes such as ``pay`` from ``tools/access.yaml``)
  no tool may read: they are dropped at intake, so they are neither a dimension, a driver, a profiled column nor a
  value in any message.
- ``data``: False for a caller who may read no data file at all (a viewer).

Who gets which access (the tokens file, OAuth scopes mapped to roles) is decided in the server process
(:mod:`retention_mcp.permissions`); this module only says what an access is, and when one contains another
(:meth:`Access.contains`: may a caller with this access see a result computed with that one?).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from retention_mcp.wording import Words

MODES = ("exact", "protected")


def normalise_value(value: str) -> str:
    """A scope value as it is compared with a cell: trimmed, case folded ("Sales " == "sales")."""
    return " ".join(str(value).split()).casefold()


@dataclass(frozen=True)
class Access:
    mode: str | None = None  # None: the server's mode
    rows: tuple[tuple[str, tuple[str, ...]], ...] = ()
    hidden_columns: tuple[str, ...] = ()
    label: str = ""  # who this is, as results state it ("manager of 研发部")
    data: bool = True  # False: no data file may be read (a viewer)

    def __post_init__(self) -> None:
        if self.mode is not None and self.mode not in MODES:
            raise ValueError(f"access mode must be one of {', '.join(MODES)}, not {self.mode!r}")

    @classmethod
    def for_manager(cls, rows: Mapping[str, str | Sequence[str]], hidden_columns: Sequence[str] = (),
                    label: str = "") -> Access:
        """A manager: protected mode, only their rows, none of the hidden columns."""
        scoped = tuple((str(column), (values,) if isinstance(values, str) else tuple(str(v) for v in values))
                       for column, values in rows.items())
        return cls(mode="protected", rows=scoped, hidden_columns=tuple(hidden_columns), label=label)

    @property
    def restricted(self) -> bool:
        return bool(self.rows or self.hidden_columns or not self.data)

    def describe(self, w: Words | None = None) -> str:
        """The access in ``w``'s language (plain English without one, as errors and logs give it): its row scope,
        the columns not shown, no data at all."""
        if w is None:
            parts = [f"{column} in ({', '.join(values)})" if len(values) > 1 else f"{column} = {values[0]}"
                     for column, values in self.rows]
            if self.hidden_columns:
                parts.append("not shown: " + ", ".join(self.hidden_columns))
            if not self.data:
                parts.append("no data files")
            return "; ".join(parts)
        parts = [w("dimensions.where_many", name=column, values=w.enumeration.join(values)) if len(values) > 1 else
                 w("dimensions.where_one", name=column, value=values[0]) for column, values in self.rows]
        if self.hidden_columns:
            parts.append(w("privacy.hidden_columns", columns=w.enumeration.join(self.hidden_columns)))
        if not self.data:
            parts.append(w("privacy.no_data"))
        return w.semicolon.join(parts)

    # -- comparing accesses

    def effective_mode(self, server_mode: str | None) -> str:
        return self.mode or server_mode or "exact"

    def contains(self, other: Access, server_mode: str | None = None) -> bool:
        """True when everything computed with ``other`` could have been computed with this access: its rows are
        within ours (each of our row limits is one of its limits, with no other values), it hides at least the
        columns we hide, and its figures are at least as protected as ours."""
        if not self.data:
            return False
        theirs = {_key(column): {normalise_value(v) for v in values} for column, values in other.rows}
        for column, values in self.rows:
            limit = theirs.get(_key(column))
            if limit is None or not limit <= {normalise_value(v) for v in values}:
                return False
        if not {_key(c) for c in self.hidden_columns} <= {_key(c) for c in other.hidden_columns}:
            return False
        return not (self.effective_mode(server_mode) == "protected"
                    and other.effective_mode(server_mode) != "protected")

    # -- as stored with evidence and files

    def record(self, server_mode: str | None = None) -> dict[str, Any]:
        """JSON for the workspace: the scope a result was computed under (mode resolved)."""
        return {"mode": self.effective_mode(server_mode), "rows": {c: list(v) for c, v in self.rows},
                "hidden_columns": list(self.hidden_columns), "label": self.label}

    @classmethod
    def from_record(cls, record: Mapping[str, Any] | None) -> Access:
        """The access a stored scope stands for (an empty record: the whole data, as an analyst sees it)."""
        if not record:
            return cls()
        rows = record.get("rows") or {}
        return cls(mode=record.get("mode") or None,
                   rows=tuple((str(c), tuple(str(v) for v in (vs if isinstance(vs, list) else [vs])))
                              for c, vs in rows.items()),
                   hidden_columns=tuple(str(c) for c in record.get("hidden_columns") or ()),
                   label=str(record.get("label") or ""))

    @property
    def scoped(self) -> bool:
        """True when results made with this access do not cover the whole data (a row or column scope)."""
        return bool(self.rows or self.hidden_columns)


def server_mode(settings: Any) -> str | None:
    """The server's privacy mode (``Settings.privacy_mode`` where the build has one; None: exact)."""
    return getattr(settings, "privacy_mode", None)


def _key(column: str) -> str:
    return "".join(ch for ch in str(column).casefold() if ch.isalnum())


#: The whole data, as an analyst (or a single user over stdio) sees it.
EVERYTHING = Access()
#: No data at all (a viewer).
NO_DATA = Access(data=False, label="viewer")
