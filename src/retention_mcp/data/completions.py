"""Prompt-argument completions from the data: the groups of the most recently read HR file (department, job
role) for arguments such as ``employee_group``, and file names for arguments such as ``agent_data``.

Only groups of at least the minimum group size are offered, from columns that neither identify nor name
people; which argument completes from which roles or file shapes is in ``tools/grounding.yaml``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from retention_mcp.settings import Settings

MAX_VALUES = 100


def _matching(values: list[str], prefix: str) -> list[str]:
    wanted = prefix.strip().casefold()
    unique = list(dict.fromkeys(values))
    starts = [v for v in unique if v.casefold().startswith(wanted)]
    inside = [v for v in unique if wanted and wanted in v.casefold() and v not in starts]
    return (starts + inside)[:MAX_VALUES]


def group_values(settings: Settings, path: str, roles: list[str]) -> list[str]:
    """Labels of the groups (of ``roles``) with at least the minimum group size, in the file at ``path``."""
    import numpy as np

    from retention_mcp.data.dataset import load_dataset
    from retention_mcp.data.dimensions import build_dimension
    from retention_mcp.data.disclosure import Policy

    ds = load_dataset(settings, path=path)
    policy = Policy.from_settings(settings)
    values: list[str] = []
    for role in roles:
        column = ds.roles.get(role)
        if column is None or ds.identity(column) is not None:
            continue
        dim = build_dimension(ds, column, policy)
        if dim.codes is None or (dim.note and "quantile" in dim.note):
            continue
        counts = np.bincount(dim.codes, minlength=len(dim.labels))
        values += [label for label, count in zip(dim.labels[:-1], counts[:-1], strict=True) if count >= policy.floor]
    return values


def complete_from_data(settings: Settings, argument: str, prefix: str, completions: Mapping[str, Any],
                       listing: Mapping[str, Any]) -> list[str]:
    """Values for ``argument`` starting with (then containing) ``prefix``; [] when the data has none."""
    from retention_mcp.data.recent import recall

    groups = completions.get("group_arguments") or {}
    files = completions.get("file_arguments") or {}
    if argument in groups:
        path = recall(settings)
        if path is None:
            return []
        return _matching(group_values(settings, path, [str(r) for r in groups[argument] or ()]), prefix)
    if argument in files:
        from retention_mcp.data.listing import list_data_files

        shapes = {str(s) for s in files[argument] or ()}
        found = list_data_files(settings, catalog=listing)
        return _matching([f.path for f in found.files if f.shape in shapes], prefix)
    return []
