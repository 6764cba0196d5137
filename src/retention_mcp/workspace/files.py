"""Exported reports and charts as MCP resources, so a file reaches the user wherever their client runs.

``retention://reports/{name}`` reads a file directly inside the output folder: binary files (DOCX, XLSX,
PNG, PDF) as a base64 blob, text files (Markdown, HTML, SVG) as text, each with its mime type. Names
are checked: a plain file name (no folders, no ``..``, no hidden files), a report or chart type only
(never a CSV/JSON key file that may sit beside them), resolving to a regular file whose folder is the
output folder (a symlink pointing elsewhere is refused).

``report_link(settings, filename)`` is the ``resource_link`` content block a tool result adds for a
file it wrote, so a client on another machine (HTTP) can fetch the file through ``resources/read``.
"""

from __future__ import annotations

import re
from pathlib import Path

from mcp.types import ResourceLink

from retention_mcp.errors import InputError
from retention_mcp.settings import Settings

URI_PREFIX = "retention://reports/"
URI_TEMPLATE = URI_PREFIX + "{name}"
#: Report and chart types served, with their mime types (anything else in the output folder is not).
MIME_TYPES = {
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".pdf": "application/pdf",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".svg": "image/svg+xml",
    ".html": "text/html",
    ".htm": "text/html",
    ".md": "text/markdown",
}
TEXT_SUFFIXES = (".md", ".html", ".htm", ".svg")
#: Largest file served as a resource (base64 makes it a third bigger on the wire).
MAX_RESOURCE_BYTES = 50 * 1024 * 1024
_BAD_NAME = re.compile(r'[\\/\x00-\x1f<>:"|?*]')


def mime_type(name: str) -> str:
    return MIME_TYPES.get(Path(name).suffix.lower(), "application/octet-stream")


def report_path(settings: Settings, name: str) -> Path:
    """The file ``name`` directly in the output folder; InputError for any other name."""
    shown = name if len(name) <= 80 else name[:77] + "..."
    if not name or _BAD_NAME.search(name) or ".." in name or name.startswith(".") or name != name.strip():
        raise InputError(f"report name {shown!r} must be a plain file name in the output folder (no folders, "
                         "'..' or leading dot), e.g. retention-plan.docx")
    if Path(name).suffix.lower() not in MIME_TYPES:
        raise InputError(f"{shown!r} is not a report or chart; served types: {', '.join(sorted(MIME_TYPES))}")
    folder = settings.output_dir.resolve()
    path = (folder / name).resolve()
    if path.parent != folder or not path.is_file():
        raise InputError(f"there is no report {shown!r} in the output folder; export one first "
                         "(export_report or plan_export) and use the name it returns")
    size = path.stat().st_size
    if size > MAX_RESOURCE_BYTES:
        raise InputError(f"{shown!r} is {size / 1024 / 1024:.0f} MB; files over "
                         f"{MAX_RESOURCE_BYTES // 1024 // 1024} MB are not served as resources")
    return path


def read_report(settings: Settings, name: str) -> str | bytes:
    """The file's content: text for Markdown/HTML/SVG, bytes for everything else."""
    path = report_path(settings, name)
    data = path.read_bytes()
    if path.suffix.lower() in TEXT_SUFFIXES:
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            return data
    return data


def list_reports(settings: Settings) -> list[str]:
    """Names of the files the resource serves, newest first."""
    folder = settings.output_dir
    if not folder.is_dir():
        return []
    found = []
    for path in folder.iterdir():
        if path.suffix.lower() in MIME_TYPES and not path.name.startswith(".") and path.is_file():
            found.append((path.stat().st_mtime, path.name))
    return [name for _, name in sorted(found, reverse=True)]


def report_uri(filename: str) -> str:
    from urllib.parse import quote

    return URI_PREFIX + quote(filename, safe="")


def report_link(settings: Settings, filename: str) -> ResourceLink:
    """A ``resource_link`` block for a file a tool just wrote into the output folder.

    ``filename`` may be the bare name or the path the tool wrote; it must be directly in the output
    folder. Example: ``CallToolResult(content=[TextContent(...), report_link(settings, result.filename)])``.
    """
    name = Path(filename).name
    path = report_path(settings, name)
    return ResourceLink(type="resource_link", uri=report_uri(name), name=name, title=name,
                        mime_type=mime_type(name), size=path.stat().st_size,
                        description="the exported file; read this resource to download it")
