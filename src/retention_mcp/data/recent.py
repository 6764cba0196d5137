"""The most recently read HR file, for prompt-argument completions from the data.

Tools run in worker processes and completions in the server process, and a team server may run several
server processes (``--workers``): so the file's path lives in a small JSON file in the output folder
(``.recent-dataset.json``, written atomically), not in one process's memory. Only the path is kept — no
contents. A failure to write never fails a tool call.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from retention_mcp.settings import Settings

logger = logging.getLogger(__name__)
RECENT_FILE = ".recent-dataset.json"


def remember(settings: Settings, path: str) -> None:
    """Record ``path`` (as given to a tool, already checked to be inside a data folder) as the latest HR file."""
    try:
        from retention_mcp.data.reader import resolve_data_path

        resolved = str(resolve_data_path(settings, path))
        target = settings.output_dir / RECENT_FILE
        text = json.dumps({"path": resolved}, ensure_ascii=False)
        try:
            if target.read_text(encoding="utf-8") == text:
                return
        except OSError:
            pass
        settings.output_dir.mkdir(parents=True, exist_ok=True)
        temporary = target.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, target)
    except Exception:  # a convenience for completions: never a reason to fail the call
        logger.debug("could not record the most recent dataset", exc_info=True)


def recall(settings: Settings) -> str | None:
    """The absolute path of the most recently read HR file, when it is still inside a data folder."""
    try:
        data = json.loads((settings.output_dir / RECENT_FILE).read_text(encoding="utf-8"))
        path = Path(str(data["path"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    resolved = path.resolve()
    if not resolved.is_file() or not any(resolved.is_relative_to(d) for d in settings.data_dirs):
        return None
    return str(resolved)
