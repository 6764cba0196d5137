"""The prompt library as every client sees it: bundled templates, the team folder's, then those saved in the
workspace, each layer overriding the one before by name and language (workspace > team folder > bundled).

The layers meet here, so neither :mod:`retention_mcp.templates` (files, parsing, rendering) nor
:mod:`retention_mcp.workspace.templates` (saving, versions) imports the other's caller.
"""

from __future__ import annotations

import logging
from pathlib import Path

from retention_mcp.settings import Settings
from retention_mcp.templates import BrokenTemplate, Library, Template, read_library

logger = logging.getLogger(__name__)


def load_library(settings: Settings) -> Library:
    """The library now: files re-read when they change, workspace templates once per saved version."""
    return read_library(settings, saved=_workspace_templates(settings))


def _workspace_templates(settings: Settings) -> tuple[list[Template], list[BrokenTemplate]]:
    """Templates saved with ``template_save``. Nothing is read (and no database created) until a workspace exists;
    a database that cannot be read is one broken entry, and the file templates keep working."""
    try:
        from retention_mcp.workspace.templates import workspace_templates

        return workspace_templates(settings)
    except Exception as exc:
        logger.warning("workspace templates not loaded: %s", exc, exc_info=not isinstance(exc, ValueError))
        return [], [BrokenTemplate(Path("workspace"), "workspace", f"workspace templates unavailable: {exc}")]
