"""File reading with an access guard. (First version: CSV only; issue 3 extends it.)"""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING

from retention_mcp.settings import Settings

if TYPE_CHECKING:
    import pandas as pd


def resolve_data_path(settings: Settings, path: str) -> Path:
    """Resolve ``path`` inside an allowed data folder (symlinks resolved) or raise ValueError."""
    candidate = Path(path).expanduser()
    if not candidate.is_absolute():
        candidate = settings.data_dirs[0] / candidate
    resolved = candidate.resolve()
    allowed = ", ".join(str(d) for d in settings.data_dirs)
    if not any(resolved.is_relative_to(d) for d in settings.data_dirs):
        raise ValueError(f"{path!r} is outside the allowed data folders ({allowed}); copy the file into one "
                         "of them or start the server with --data-dir pointing at its folder")
    if not resolved.exists():
        raise ValueError(f"file {path!r} was not found in the allowed data folders ({allowed}); check the name")
    if not resolved.is_file():
        raise ValueError(f"{path!r} is a folder, not a file; give the path of a CSV, XLSX or Parquet file")
    size = resolved.stat().st_size
    if size > settings.max_file_bytes:
        raise ValueError(f"{path!r} is {size / 1e6:.0f} MB, above the {settings.max_file_mb:.0f} MB limit; "
                         "filter it first or raise RETENTION_MCP_MAX_FILE_MB")
    return resolved


def read_table(settings: Settings, *, path: str | None = None, csv_text: str | None = None) -> pd.DataFrame:
    """Read exactly one of ``path`` or ``csv_text`` into a DataFrame."""
    import pandas as pd

    if (path is None) == (csv_text is None):
        raise ValueError("give exactly one of path (a file in the data folder) or csv_text (inline CSV)")
    if csv_text is not None:
        if len(csv_text.encode("utf-8")) > settings.max_csv_text_bytes:
            raise ValueError(f"csv_text is larger than {settings.max_csv_text_kb:.0f} KB; save it as a file "
                             "in the data folder and pass path instead")
        return pd.read_csv(io.StringIO(csv_text), sep=None, engine="python")
    resolved = resolve_data_path(settings, path)  # type: ignore[arg-type]
    return pd.read_csv(resolved, encoding="utf-8-sig")
