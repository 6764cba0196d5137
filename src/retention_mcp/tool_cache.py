"""The ``tools/list`` answer, cached with the package, so a cold start need not build every tool's schema.

Building 30 tools' schemas means importing every endpoint module and letting pydantic write each model's
JSON Schema (~0.2 s, half again the start of a bare ``MCPServer``). The finished list is the same every time
for the same code, so it is kept in a file: ``_tools_list.json`` beside this module (written when the package
is built into a desktop bundle, or by the first process that lists the tools when the package folder is
writable), else in the per-user cache folder. It is used only when its fingerprint matches: the SHA-256 of
every Python file of the package plus the versions of mcp and pydantic (which write the schemas), so an edit,
an upgrade or a new SDK makes it stale and it is rebuilt from the declarations. Nothing in it is kept by hand.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from contextlib import suppress
from functools import cache
from pathlib import Path
from typing import Any

from retention_mcp import __version__

logger = logging.getLogger(__name__)

PACKAGE_DIR = Path(__file__).resolve().parent
CACHE_NAME = "_tools_list.json"


@cache
def fingerprint() -> str:
    """What the listed tools are computed from: the package's Python source and the schema writers' versions."""
    from importlib.metadata import version

    digest = hashlib.sha256(f"{__version__} mcp {version('mcp')} pydantic {version('pydantic')}".encode())
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        digest.update(path.relative_to(PACKAGE_DIR).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def cache_paths() -> list[Path]:
    """Where a cached list may be: with the package first, then the per-user cache folder."""
    from platformdirs import user_cache_dir

    return [PACKAGE_DIR / CACHE_NAME, Path(user_cache_dir("retention-mcp")) / f"tools-list-{__version__}.json"]


def load() -> list[dict[str, Any]] | None:
    """The cached tools (as sent on the wire), or None when there is no cache for this exact code."""
    wanted = fingerprint()
    for path in cache_paths():
        try:
            stored = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(stored, dict) and stored.get("fingerprint") == wanted and isinstance(stored.get("tools"), list):
            return stored["tools"]
    return None


def save(tools: list[dict[str, Any]], paths: list[Path] | None = None) -> Path | None:
    """Write the list where it can be written (atomically: a reader never sees half a file); the path or None."""
    payload = json.dumps({"fingerprint": fingerprint(), "tools": tools}, ensure_ascii=False, separators=(",", ":"))
    for path in paths or cache_paths():
        temporary = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tools-list-", suffix=".tmp")
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                out.write(payload)
            os.replace(temporary, path)
            return path
        except OSError:
            logger.debug("tools list not cached in %s", path.parent, exc_info=True)
            if temporary is not None:
                with suppress(OSError):
                    os.unlink(temporary)
    return None
