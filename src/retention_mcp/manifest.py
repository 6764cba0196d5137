"""The tool manifest: ``tools/list`` answered without building every tool at start-up.

Registering our tools means building pydantic models and JSON schemas for every argument list and
result, about 110 ms, which would make our cold start 30% slower than a bare MCPServer. So the
server answers ``tools/list`` from ``tool_manifest.json`` (the exact list the live registration
produces) and registers the tools on the first call that needs them.

The manifest carries a fingerprint of the package's source; when the code changes and the
manifest was not regenerated, the fingerprint differs and the server registers live instead, so a
stale list is never served (a test fails to remind you). Regenerate with::

    python -m retention_mcp.manifest
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

PACKAGE_DIR = Path(__file__).resolve().parent
MANIFEST_PATH = PACKAGE_DIR / "tool_manifest.json"


def source_fingerprint() -> str:
    """SHA-256 of every Python source file in the package, plus the pydantic version (schemas depend on it)."""
    import pydantic

    digest = hashlib.sha256(pydantic.VERSION.encode())
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        digest.update(path.relative_to(PACKAGE_DIR).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def load_manifest() -> list[dict[str, Any]] | None:
    """The recorded tool list, or None when it is missing or does not match the source."""
    try:
        document = json.loads(MANIFEST_PATH.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        logger.debug("no usable tool manifest at %s; tools register at start", MANIFEST_PATH)
        return None
    if document.get("fingerprint") != source_fingerprint():
        logger.debug("tool manifest is stale (source changed); tools register at start")
        return None
    return document["tools"]


async def live_tool_list() -> list[dict[str, Any]]:
    """The tool list as a fully registered server publishes it."""
    from retention_mcp.server import build_server
    from retention_mcp.settings import Settings

    server = build_server(Settings(), use_manifest=False)
    return [tool.model_dump(mode="json", by_alias=True, exclude_none=True) for tool in await server.list_tools()]


def write_manifest() -> Path:
    import anyio

    tools = anyio.run(live_tool_list)
    document = {"fingerprint": source_fingerprint(), "tools": tools}
    MANIFEST_PATH.write_text(json.dumps(document, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return MANIFEST_PATH


if __name__ == "__main__":
    written = write_manifest()
    print(f"wrote {written} ({written.stat().st_size:,} bytes)")
