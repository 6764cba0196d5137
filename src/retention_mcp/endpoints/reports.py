"""Tool registrations for this family (filled in by its issue)."""

from __future__ import annotations

from typing import Any

from retention_mcp.settings import Settings


def register(server: Any, settings: Settings) -> None:
    return None
