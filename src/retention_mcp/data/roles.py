"""Which column plays which role (hire date, department, leaver flag...), from ``tools/column_aliases.yaml``.

Headers are compared after normalising (case, full-width characters, spaces, ``_-./()`` removed), so
``Date of Hire``, ``date_of_hire`` and ``DateofHire`` all match the alias ``date_of_hire``. A per-call
``column_map`` ({role: column}) wins over detection.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from retention_mcp.catalog import catalog_file, read_yaml
from retention_mcp.settings import Settings

ALIASES_FILE = "column_aliases.yaml"
#: Roles that may hold several columns (each survey item is its own column).
MULTI_ROLES = frozenset({"survey_item"})
_STRIP = re.compile(r"[\s_\-./\\()（）\[\]【】:：#]+")


def normalise_header(name: Any) -> str:
    """'Date of Hire ' -> 'dateofhire'; full-width letters folded; Chinese kept."""
    text = unicodedata.normalize("NFKC", str(name)).strip().lower()
    return _STRIP.sub("", text)


@dataclass(frozen=True)
class RoleTable:
    """The alias table as loaded from YAML."""

    aliases: dict[str, tuple[str, ...]]  # role -> normalised aliases, in file order
    identifying: frozenset[str]
    descriptions: dict[str, str]
    involuntary_words: tuple[str, ...]
    voluntary_words: tuple[str, ...]
    still_employed_words: tuple[str, ...]
    version: tuple = ()  # (file, size, mtime): identifies this version of the alias table

    @property
    def roles(self) -> list[str]:
        return list(self.aliases)


_loaded: dict[tuple, RoleTable] = {}


def load_roles(settings: Settings) -> RoleTable:
    """The alias table (bundled ``tools/column_aliases.yaml`` or the team's copy), re-read when it changes."""
    path = catalog_file(settings, ALIASES_FILE)
    if not path.is_file():
        raise FileNotFoundError(f"catalog file {ALIASES_FILE} is missing (looked in {path.parent})")
    stat = path.stat()
    version = (str(path), stat.st_size, stat.st_mtime_ns)
    if version not in _loaded:
        _loaded[version] = _parse_roles(read_yaml(path) or {}, version)
    return _loaded[version]


def _parse_roles(data: dict, version: tuple) -> RoleTable:
    roles = data.get("roles") or {}
    types = data.get("separation_types") or {}
    return RoleTable(
        aliases={role: tuple(normalise_header(a) for a in (spec.get("aliases") or [])) for role, spec in roles.items()},
        identifying=frozenset(role for role, spec in roles.items() if spec.get("identifying")),
        descriptions={role: str(spec.get("description", "")) for role, spec in roles.items()},
        involuntary_words=tuple(str(w).lower() for w in types.get("involuntary") or ()),
        voluntary_words=tuple(str(w).lower() for w in types.get("voluntary") or ()),
        still_employed_words=tuple(str(w).lower() for w in types.get("still_employed") or ()),
        version=version,
    )


@dataclass
class ColumnRoles:
    """Detected roles: ``single`` role -> column, ``multi`` role -> columns, and the reverse map."""

    single: dict[str, str] = field(default_factory=dict)
    multi: dict[str, list[str]] = field(default_factory=dict)
    overridden: set[str] = field(default_factory=set)

    def get(self, role: str) -> str | None:
        return self.single.get(role)

    def role_of(self, column: str) -> str | None:
        for role, col in self.single.items():
            if col == column:
                return role
        for role, cols in self.multi.items():
            if column in cols:
                return role
        return None

    def as_dict(self) -> dict[str, str]:
        out = dict(self.single)
        for role, cols in self.multi.items():
            out[role] = ", ".join(cols)
        return out


def detect_roles(columns: Iterable[str], table: RoleTable,
                 column_map: Mapping[str, str] | None = None) -> ColumnRoles:
    """Match headers to roles; ``column_map`` ({role: column}) overrides. Raises ValueError on a bad map."""
    columns = [str(c) for c in columns]
    result = ColumnRoles()
    taken: set[str] = set()
    for role, column in (column_map or {}).items():
        if role not in table.aliases:
            raise ValueError(f"column_map: unknown role {role!r}; roles are {', '.join(table.roles)}")
        if column not in columns:
            close = [c for c in columns if normalise_header(c) == normalise_header(column)]
            if len(close) == 1:
                column = close[0]
            else:
                raise ValueError(f"column_map: the file has no column {column!r} (for role {role}); "
                                 f"columns are: {', '.join(columns[:60])}")
        if role in MULTI_ROLES:
            result.multi.setdefault(role, []).append(column)
        else:
            result.single[role] = column
        result.overridden.add(role)
        taken.add(column)
    normalised = {c: normalise_header(c) for c in columns}
    # Exact alias matches in the order of the alias table (a role's first alias is its strongest).
    for role, aliases in table.aliases.items():
        if role in result.overridden and role not in MULTI_ROLES:
            continue
        for alias in aliases:
            hits = [c for c in columns if c not in taken and normalised[c] == alias]
            if not hits:
                continue
            if role in MULTI_ROLES:
                result.multi.setdefault(role, []).extend(hits)
                taken.update(hits)
                continue
            result.single[role] = hits[0]
            taken.add(hits[0])
            break
    return result


def classify_separation(values: Iterable[Any], table: RoleTable) -> dict[Any, str]:
    """Map each distinct termination-type value to 'voluntary', 'involuntary', 'active' or 'unknown'."""
    out: dict[Any, str] = {}
    for value in values:
        text = unicodedata.normalize("NFKC", str(value)).strip().lower()
        if "involuntar" not in text and any(w in text for w in table.voluntary_words):
            out[value] = "voluntary"
        elif any(w in text for w in table.involuntary_words):
            out[value] = "involuntary"
        elif any(w in text for w in table.still_employed_words):
            out[value] = "active"
        else:
            out[value] = "unknown"
    return out
