"""Who may see what in the workspace: plans by their grants, evidence by its scope, files by who wrote them.

- A **plan** is read by its creator and by whom it is shared with (plan_share: a name, or ``*`` for everyone);
  written by its creator and those given write — unless their role caps them at read (a viewer).
- **Evidence** is read by a caller whose access contains the scope it was computed under (an analyst reads a
  manager's department figures; a manager never reads company-wide figures, nor another department's), or who
  can read a plan that cites it (sharing a plan shares what it cites, marked with its scope). A plan may cite only
  evidence its writer can read.
- A **file** in the output folder (an export, a chart) is read by the person who wrote it, by those who can read
  the plan it was exported from, and by analysts whose access contains its scope; a file no call recorded (written
  before this release, or by hand) by analysts only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from retention_mcp.access import Access, server_mode
from retention_mcp.errors import InputError
from retention_mcp.identity import Caller
from retention_mcp.settings import Settings

if TYPE_CHECKING:
    from retention_mcp.workspace.store import Evidence, Workspace


def evidence_access(item: Evidence) -> Access | None:
    """The access a result was computed with, or None when it read no data (a calculator: anyone may read it).
    Evidence recorded before scopes were (no scope, but a data source) covers the whole data."""
    if item.scope:
        return Access.from_record(item.scope)
    return Access() if item.sources else None


def within_reach(caller: Caller, item: Evidence, settings: Settings) -> bool:
    """True when ``caller`` could have computed ``item`` themselves: its scope is within their access."""
    scope = evidence_access(item)
    return scope is None or caller.access.contains(scope, server_mode(settings))


def readable_evidence(workspace: Workspace, caller: Caller, ids: Sequence[str], settings: Settings) -> list[str]:
    """The ``ids`` (of existing evidence) ``caller`` may read: within their access, or cited in a plan they can
    read."""
    found = workspace.get_evidence_many(ids)
    direct = {i for i, item in found.items() if within_reach(caller, item, settings)}
    rest = [i for i in found if i not in direct]
    shared = workspace.cited_in_readable_plans(rest, caller.name) if rest else set()
    return [i for i in ids if i in direct or i in shared]


def require_writer(caller: Caller, settings: Settings, what: str) -> None:
    """InputError when the caller's role may not write to the workspace at all."""
    from retention_mcp.permissions import workspace_level

    if workspace_level(caller, settings) != "write":
        raise InputError(f"your role ({caller.role}) reads plans shared with you but cannot {what}")


def file_readable(workspace: Workspace, caller: Caller, name: str, settings: Settings) -> bool:
    record = workspace.file_records([name]).get(name)
    if record is None:
        return caller.role == "analyst" and caller.access.data and not caller.access.scoped
    if record.author == caller.name:
        return True
    if record.plan_id is not None and workspace.plan_level(record.plan_id, caller.name) is not None:
        return True
    scope = Access.from_record(record.scope) if record.scope else Access()
    return caller.role == "analyst" and caller.access.contains(scope, server_mode(settings))


def readable_files(workspace: Workspace, caller: Caller, names: Sequence[str], settings: Settings) -> list[str]:
    return [name for name in names if file_readable(workspace, caller, name, settings)]


def scope_notes(evidence: dict[str, Evidence], language: str, settings: Settings) -> dict[str, str]:
    """Evidence id -> 'computed within Department = Sales, not company-wide' for each scoped result."""
    from retention_mcp.permissions import scope_label

    notes: dict[str, str] = {}
    for evidence_id, item in evidence.items():
        if (label := scope_label(item.scope, language, settings)) is not None:
            notes[evidence_id] = label
    return notes


def scoped_plan_evidence(workspace: Workspace, state: Any, settings: Settings) -> dict[str, str]:
    """The scope notes of the evidence a plan (at ``state``'s version) cites."""
    from retention_mcp.workspace.refresh import cited_evidence_ids

    ids = cited_evidence_ids(state)
    return scope_notes(workspace.get_evidence_many(ids), state.language, settings) if ids else {}
