"""Which column plays which role (hire date, department, agent, answered...), from ``tools/column_aliases.yaml``.

Headers are compared after :func:`normalise_header` (case, full-width characters, spaces, ``_-./()``
removed), so ``Date of Hire``, ``date_of_hire`` and ``DateofHire`` all match the alias ``date_of_hire``.
Each file kind (``hr``, ``calls``, ``roster``) has its own roles; identifying roles (IDs, names, dates of
birth, e-mail, phone, free text) are detected in every kind. A per-call ``column_map`` ({role: column})
wins over detection. This is the only header normaliser in the package.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from retention_mcp.catalog import catalog_file, read_yaml
from retention_mcp.errors import InputError
from retention_mcp.settings import Settings

Kind = Literal["hr", "calls", "roster"]
KINDS: tuple[Kind, ...] = ("hr", "calls", "roster")
ALIASES_FILE = "column_aliases.yaml"
SEPARATIONS_FILE = "separation_types.yaml"
#: Roles that may hold several columns (each survey item is its own column).
MULTI_ROLES = frozenset({"survey_item"})
_STRIP = re.compile(r"[\s_\-./\\()（）\[\]【】:：#]+")


def normalise_header(name: Any) -> str:
    """'Date of Hire ' -> 'dateofhire'; full-width letters folded; Chinese kept."""
    text = unicodedata.normalize("NFKC", str(name)).strip().lower()
    return _STRIP.sub("", text)


def normalise_word(value: Any) -> str:
    """A cell value as compared with word lists: NFKC, trimmed, lower case."""
    return unicodedata.normalize("NFKC", str(value)).strip().lower()


@dataclass(frozen=True)
class RoleTable:
    """The alias table and the word lists, as loaded from YAML."""

    aliases: dict[str, tuple[str, ...]]  # role -> normalised aliases, in file order
    kinds: dict[str, frozenset[str]]
    identifying: frozenset[str]
    people: frozenset[str]
    sensitive: frozenset[str]
    descriptions: dict[str, str]
    identifying_headers: tuple[re.Pattern[str], ...]
    person_name_patterns: tuple[re.Pattern[str], ...]
    true_words: frozenset[str]
    false_words: frozenset[str]
    separation_classes: dict[str, tuple[str, ...]]  # class -> phrases, in matching order
    separation_definition: str
    version: tuple = ()  # identifies this version of the files

    @property
    def roles(self) -> list[str]:
        return list(self.aliases)

    def roles_of(self, kind: str) -> list[str]:
        return [role for role in self.aliases if kind in self.kinds[role]]

    def looks_like_names(self, values: Iterable[str]) -> bool:
        """True when most values look like people's names ("Ann Lee", "Becker, Renee", "王伟")."""
        values = [str(v).strip() for v in values]
        if not values:
            return False
        hits = sum(1 for v in values if any(p.match(v) for p in self.person_name_patterns))
        return hits >= 0.8 * len(values)

    def header_identifies(self, header: str) -> bool:
        text = str(header).strip().lower()
        return any(p.search(text) for p in self.identifying_headers)


_loaded: dict[tuple, RoleTable] = {}


def load_roles(settings: Settings) -> RoleTable:
    """The alias table (bundled or the team's copy), re-read when a file changes."""
    paths = [catalog_file(settings, name) for name in (ALIASES_FILE, SEPARATIONS_FILE)]
    for path in paths:
        if not path.is_file():
            raise FileNotFoundError(f"catalog file {path.name} is missing (looked in {path.parent})")
    version = tuple((str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in paths)
    if version not in _loaded:
        _loaded[version] = _parse_roles(read_yaml(paths[0]) or {}, read_yaml(paths[1]) or {}, version)
    return _loaded[version]


def _parse_roles(data: dict, separations: dict, version: tuple) -> RoleTable:
    roles = data.get("roles") or {}
    words = data.get("flag_words") or {}
    classes = separations.get("classes") or {}
    return RoleTable(
        aliases={role: tuple(normalise_header(a) for a in (spec.get("aliases") or [])) for role, spec in roles.items()},
        kinds={role: frozenset(spec.get("kinds") or ["hr"]) for role, spec in roles.items()},
        identifying=frozenset(role for role, spec in roles.items() if spec.get("identifying")),
        people=frozenset(role for role, spec in roles.items() if spec.get("people")),
        sensitive=frozenset(role for role, spec in roles.items() if spec.get("sensitive")),
        descriptions={role: str(spec.get("description", "")) for role, spec in roles.items()},
        identifying_headers=tuple(re.compile(p) for p in data.get("identifying_headers") or ()),
        person_name_patterns=tuple(re.compile(p) for p in data.get("person_name_patterns") or ()),
        true_words=frozenset(normalise_word(w) for w in words.get(True, words.get("true")) or ()),
        false_words=frozenset(normalise_word(w) for w in words.get(False, words.get("false")) or ()),
        separation_classes={str(cls): tuple(normalise_word(w) for w in phrases or ()) for cls, phrases in
                            classes.items()},
        separation_definition=" ".join(str(separations.get("definition", "")).split()),
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


def close_matches(word: str, options: Iterable[str], n: int = 3) -> list[str]:
    """Options that look like ``word`` (compared on normalised headers), best first."""
    options = list(dict.fromkeys(str(o) for o in options))
    by_key = {normalise_header(o): o for o in options}
    keys = difflib.get_close_matches(normalise_header(word), list(by_key), n=n, cutoff=0.6)
    return [by_key[k] for k in keys]


def detect_roles(columns: Iterable[str], table: RoleTable, column_map: Mapping[str, str] | None = None,
                 kind: str = "hr") -> ColumnRoles:
    """Match headers to the roles of ``kind`` (plus the identifying roles of every kind); ``column_map``
    ({role: column}) overrides. Raises InputError on a bad map."""
    columns = [str(c) for c in columns]
    result = ColumnRoles()
    taken: set[str] = set()
    wanted = [role for role in table.aliases if kind in table.kinds[role] or role in table.identifying]
    for role, column in (column_map or {}).items():
        if role not in table.aliases:
            close = close_matches(role, table.roles_of(kind))
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise InputError(f"column_map: unknown role {role!r}{hint} Roles for this kind of file: "
                             f"{', '.join(table.roles_of(kind))}")
        if not isinstance(column, str):
            raise InputError(f"column_map: the column for {role} must be a column name (text), not {column!r}")
        if column not in columns:
            close = [c for c in columns if normalise_header(c) == normalise_header(column)]
            if len(close) == 1:
                column = close[0]
            else:
                similar = close_matches(column, columns)
                hint = f"; did you mean {similar[0]!r}?" if similar else ""
                raise InputError(f"column_map: the file has no column {column!r} (for role {role}){hint} "
                                 f"Columns are: {', '.join(columns[:60])}")
        if role in MULTI_ROLES:
            result.multi.setdefault(role, []).append(column)
        else:
            result.single[role] = column
        result.overridden.add(role)
        taken.add(column)
    normalised = {c: normalise_header(c) for c in columns}
    # Exact alias matches in the order of the alias table (a role's first alias is its strongest).
    for role in wanted:
        if role in result.overridden and role not in MULTI_ROLES:
            continue
        for alias in table.aliases[role]:
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
    """Map each distinct termination-type value to a class of ``tools/separation_types.yaml``
    ('still_employed', 'involuntary', 'voluntary', 'other'), or 'unclassified' when nothing matches.

    ``still_employed`` needs the whole value to equal a listed word (so "试用期辞退" or "inactive" is not
    "still employed"); for the other classes the value contains a phrase and the longest matching phrase wins
    (ties: the order of the file)."""
    out: dict[Any, str] = {}
    for value in values:
        text = normalise_word(value)
        best, best_length = "unclassified", 0
        for cls, phrases in table.separation_classes.items():
            if cls == "still_employed":
                if text in phrases:
                    best, best_length = cls, 10**6
                continue
            for phrase in phrases:
                if phrase and phrase in text and len(phrase) > best_length:
                    best, best_length = cls, len(phrase)
        out[value] = best
    return out
