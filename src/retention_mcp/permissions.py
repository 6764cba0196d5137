"""What a role may do, from ``tools/access.yaml``: which tools it may call, how far into the workspace it may go,
and the access (mode, rows, hidden columns) a person of that role gets.

A person's role comes from the server process — a tokens-file line (:func:`parse_role`), or a verified OAuth
token's scopes and claims (:func:`role_from_scopes`, :func:`rows_from_claim`) — never from anything a caller
sends. The checks here run in the server process before a call is dispatched, and again in the worker.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from retention_mcp.access import NO_DATA, Access
from retention_mcp.identity import ROLES, Caller
from retention_mcp.settings import Settings

ACCESS_CATALOG = "access.yaml"
#: ``hide=none``: a manager who may see every column.
NO_HIDDEN = "none"


def access_catalog(settings: Settings) -> dict[str, Any]:
    from retention_mcp.catalog import load_catalog

    return load_catalog(settings, ACCESS_CATALOG) or {}


def role_policy(settings: Settings, role: str) -> dict[str, Any]:
    roles = access_catalog(settings).get("roles") or {}
    policy = roles.get(role)
    if not isinstance(policy, dict):
        raise ValueError(f"tools/access.yaml defines no role {role!r}")
    return policy


# -- building a caller's access -------------------------------------------------------------------------------

def access_for(settings: Settings, role: str, rows: Mapping[str, Sequence[str]] | None = None,
               hidden: Sequence[str] | None = None, label: str = "") -> Access:
    """The access a person of ``role`` gets: the role's mode, the row scope (required for a manager, refused for
    the others: a scoped analyst would be a manager without the protected mode), and the hidden columns (the
    role's default classes unless ``hidden`` is given; ``["none"]`` hides nothing)."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; the roles are {', '.join(ROLES)}")
    policy = role_policy(settings, role)
    if policy.get("data") is False:
        if rows:
            raise ValueError(f"a {role} reads no data, so a row scope means nothing for them")
        return NO_DATA
    rows = {str(k): [str(v) for v in vs] for k, vs in (rows or {}).items()}
    if policy.get("rows") == "required" and not rows:
        raise ValueError(f"a {role} needs a row scope, e.g. department=研发部 (the rows they may see)")
    if rows and policy.get("rows") != "required":
        raise ValueError(f"row scopes are for managers; give this person the role manager (protected mode) or "
                         f"no scope ({role} sees every row)")
    if any(not values for values in rows.values()):
        raise ValueError("a row scope needs at least one value, e.g. department=研发部")
    chosen = list(policy.get("hide") or []) if hidden is None else [h for h in hidden if h.lower() != NO_HIDDEN]
    scoped = tuple((column, tuple(values)) for column, values in rows.items())
    # A column class is named by its word (pay); anything else is a header or a role, matched at intake.
    return Access(mode=policy.get("mode"), rows=scoped, hidden_columns=tuple(chosen), label=label or role)


def parse_role(words: Sequence[str], settings: Settings) -> tuple[str, Access]:
    """``["manager", "department=研发部,测试部", "hide=pay"]`` (what follows the token on a tokens-file line, split
    by :func:`split_words`) → the role and its access. No words: an analyst. Raises ValueError saying what to fix."""
    role = "analyst"
    rows: dict[str, list[str]] = {}
    hidden: list[str] | None = None
    for index, word in enumerate(words):
        key, equals, value = word.partition("=")
        if not equals:
            if index == 0 and word.lower() in ROLES:
                role = word.lower()
                continue
            raise ValueError(f"{word!r} is not a role ({', '.join(ROLES)}) nor a scope such as department=研发部 "
                             "or hide=pay; the role comes first, right after the token")
        key = key.strip()
        values = [v.strip() for v in value.split(",") if v.strip()]
        if not key or not values:
            raise ValueError(f"{word!r}: write a scope as column=value (several values: column=A,B), e.g. "
                             "department=研发部")
        if key.lower() == "hide":
            hidden = (hidden or []) + values
        elif key.lower() == "role":
            raise ValueError("write the role as a word after the token (e.g. 'manager'), not role=...")
        else:
            rows.setdefault(key, []).extend(values)
    return role, access_for(settings, role, rows, hidden, label=access_label(role, rows))


def split_words(text: str) -> list[str]:
    """The words after a token: quotes keep spaces inside a value (department="Research & Development"),
    '#' starts a comment."""
    return shlex.split(text, comments=True)


def access_label(role: str, rows: Mapping[str, Sequence[str]]) -> str:
    """'manager: Department = 研发部' — who a scoped result was computed for, as messages state it."""
    scope = "; ".join(f"{c} = {', '.join(vs)}" for c, vs in rows.items())
    return f"{role}: {scope}" if scope else role


# -- OAuth: scopes and claims -----------------------------------------------------------------------------------

def parse_scope_roles(text: str) -> dict[str, str]:
    """``"retention:analyst=analyst,hr.read=viewer"`` → ``{scope: role}``; ValueError naming a bad entry."""
    mapping: dict[str, str] = {}
    for entry in (e.strip() for e in text.split(",")):
        if not entry:
            continue
        scope, equals, role = entry.rpartition("=")
        scope, role = scope.strip(), role.strip().lower()
        if not equals or not scope or role not in ROLES:
            raise ValueError(f"--oauth-roles entry {entry!r}: write scope=role, the role one of {', '.join(ROLES)} "
                             "(e.g. retention:manager=manager)")
        mapping[scope] = role
    if not mapping:
        raise ValueError("--oauth-roles maps no scope to a role; e.g. retention:analyst=analyst")
    return mapping


def default_scope_roles(settings: Settings) -> dict[str, str]:
    table = (access_catalog(settings).get("oauth") or {}).get("scope_roles") or {}
    return {str(k): str(v) for k, v in table.items()}


def role_from_scopes(scopes: Iterable[str], scope_roles: Mapping[str, str], settings: Settings) -> str | None:
    """The most capable role any of ``scopes`` maps to (None: no scope of this server)."""
    order = (access_catalog(settings).get("oauth") or {}).get("role_order") or list(ROLES)
    granted = {scope_roles[s] for s in scopes if s in scope_roles}
    return next((role for role in order if role in granted), None)


def rows_from_claim(value: Any) -> dict[str, list[str]]:
    """A row scope from a token claim: ``{"department": "研发部"}``, ``{"department": ["A", "B"]}``,
    ``"department=研发部"`` or a list of such strings. ValueError for anything else."""
    rows: dict[str, list[str]] = {}
    if value is None:
        return rows
    if isinstance(value, Mapping):
        for column, values in value.items():
            listed = values if isinstance(values, list) else [values]
            if not all(isinstance(v, str | int | float) and not isinstance(v, bool) for v in listed):
                raise ValueError("the row-scope claim's values must be text or lists of text")
            rows.setdefault(str(column), []).extend(str(v) for v in listed)
        return rows
    items = value if isinstance(value, list) else [value]
    for item in items:
        if not isinstance(item, str) or "=" not in item:
            raise ValueError("the row-scope claim must be an object {column: value} or text 'column=value'")
        column, _, values = item.partition("=")
        rows.setdefault(column.strip(), []).extend(v.strip() for v in values.split(",") if v.strip())
    return rows


def hidden_from_claim(value: Any) -> list[str] | None:
    if value is None:
        return None
    items = value if isinstance(value, list) else str(value).split(",")
    return [str(item).strip() for item in items if str(item).strip()]


# -- checks -----------------------------------------------------------------------------------------------------

def refusal(caller: Caller, tool: str, settings: Settings) -> str | None:
    """Why ``caller`` may not call ``tool`` (a sentence for the tool error), or None when they may."""
    policy = role_policy(settings, caller.role)
    allowed = policy.get("tools", "*")
    if allowed == "*":
        if tool not in (policy.get("except") or ()):
            return None
    elif tool in (allowed or ()):
        return None
    if allowed == "*":
        return f"{tool} is not open to your role ({caller.role}); ask an analyst, or the server's operator"
    return (f"your role ({caller.role}) cannot call {tool}; it may call {', '.join(allowed or ())}. Ask the server's "
            "operator for another role, or the plan's creator to share it with you (plan_share)")


def may_call(caller: Caller, tool: str, settings: Settings) -> bool:
    return refusal(caller, tool, settings) is None


def workspace_level(caller: Caller, settings: Settings) -> str:
    """``write`` or ``read``: the most this role may do in the workspace, whatever a plan grants."""
    return "write" if role_policy(settings, caller.role).get("workspace") == "write" else "read"


def column_class(settings: Settings, name: str) -> dict[str, Any] | None:
    """The column class called ``name`` (``pay``) in tools/access.yaml, or None."""
    classes = access_catalog(settings).get("column_classes") or {}
    found = classes.get(str(name).strip().lower())
    return found if isinstance(found, dict) else None


# -- saying what a scope covers ----------------------------------------------------------------------------------

def wording(settings: Settings, language: str) -> dict[str, str]:
    table = access_catalog(settings).get("wording") or {}
    return {**(table.get("en") or {}), **(table.get(language) or {})}


def rows_text(access: Access) -> str:
    return "; ".join(f"{column} = {', '.join(values)}" for column, values in access.rows)


def scope_statement(access: Access, language: str, settings: Settings) -> str:
    """One line (in ``language``) saying which rows a result covers and which columns it could not use."""
    words = wording(settings, language)
    role = access.label.split(":")[0] if access.label else "manager"
    parts = []
    if access.rows:
        parts.append(words["scope_rows"].format(rows=rows_text(access), role=role))
    if access.hidden_columns:
        parts.append(words["scope_hidden"].format(hidden=", ".join(access.hidden_columns)))
    return " ".join(parts)


def scope_label(record: Mapping[str, Any] | None, language: str, settings: Settings) -> str | None:
    """'computed within Department = Sales, not company-wide' for a stored scope with rows or hidden columns;
    None for a result over the whole data (or no data)."""
    access = Access.from_record(record)
    if not access.scoped:
        return None
    scope = rows_text(access) or (wording(settings, language)["whole_data"] + " − " + ", ".join(access.hidden_columns))
    if access.rows and access.hidden_columns:
        scope += f" (− {', '.join(access.hidden_columns)})"
    return wording(settings, language)["evidence_scope"].format(scope=scope)
