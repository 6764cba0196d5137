"""What one caller may see: the seam between who is asking (a token's role, OAuth scopes) and the one intake.

An :class:`Access` travels with a call's settings into the worker (``Settings.access``) and the intake
(``Job.dataset``) applies it before any tool sees a file:

- ``mode``: the privacy mode of this caller's calls, never weaker than the server's: a manager's calls are
  always ``protected`` (:meth:`Access.for_manager`).
- ``rows``: a row scope, ``(("department", ("研发部",)),)``: every file is cut to these rows at intake, so no
  tool, ``where``, breakdown or listing sees anyone outside them; a file without such a column is refused.
- ``hidden_columns``: columns (header names or roles such as ``pay``) no tool may read: they are dropped at
  intake, so they are neither a dimension, a driver, a profiled column nor a value in any message.

Who gets which access (the tokens file, OAuth scopes mapped to roles) is decided by the HTTP layer; this module
only says what an access is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from retention_mcp.wording import Words

MODES = ("exact", "protected")


@dataclass(frozen=True)
class Access:
    mode: str | None = None  # None: the server's mode
    rows: tuple[tuple[str, tuple[str, ...]], ...] = ()
    hidden_columns: tuple[str, ...] = ()
    label: str = ""  # who this is, as results state it ("manager of 研发部")

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
        return bool(self.rows or self.hidden_columns)

    def describe(self, w: Words | None = None) -> str:
        """The access in ``w``'s language (English without one): its row scope and the columns not shown."""
        if w is None:
            from retention_mcp.wording import words

            w = words("en")
        parts = [w("dimensions.where_many", name=column, values=w.enumeration.join(values)) if len(values) > 1 else
                 w("dimensions.where_one", name=column, value=values[0]) for column, values in self.rows]
        if self.hidden_columns:
            parts.append(w("privacy.hidden_columns", columns=w.enumeration.join(self.hidden_columns)))
        return w.semicolon.join(parts)
