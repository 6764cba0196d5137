"""Exported reports and charts as MCP resources, so a file reaches the user wherever their client runs.

``retention://reports/{name}`` reads a file directly inside the output folder: binary files (DOCX, XLSX,
PNG, PDF) as a base64 blob, text files (Markdown, HTML, SVG) as text, each with its mime type. Names
are checked: a plain file name (no folders, no ``..``, no hidden files), a report or chart type only
(never a CSV/JSON key file that may sit beside them), resolving to a regular file whose folder is the
output folder. The file is opened by descriptor: the output folder is opened once, the name beneath it with
``O_NOFOLLOW`` (a link is refused, whatever it points at — a link planted as ``leak.md`` to the pseudonym key
is never served), and ``fstat`` on that descriptor must say a regular file; everything is read from it.

``report_link(settings, filename)`` is the ``resource_link`` content block a tool result adds for a
file it wrote, so a client on another machine (HTTP) can fetch the file through ``resources/read``.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from pathlib import Path
from typing import Any

from mcp_types import ResourceLink  # wire types only: worker processes import this module

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


def check_report_name(name: str) -> str:
    """``name`` if it is a plain report or chart file name; InputError saying what to send otherwise."""
    shown = name if len(name) <= 80 else name[:77] + "..."
    if not name or _BAD_NAME.search(name) or ".." in name or name.startswith(".") or name != name.strip():
        raise InputError(f"report name {shown!r} must be a plain file name in the output folder (no folders, "
                         "'..' or leading dot), e.g. retention-plan.docx")
    if Path(name).suffix.lower() not in MIME_TYPES:
        raise InputError(f"{shown!r} is not a report or chart; served types: {', '.join(sorted(MIME_TYPES))}")
    return name


_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_BY_DESCRIPTOR = bool(_NOFOLLOW and os.open in os.supports_dir_fd)


def read_output_file(settings: Settings, name: str, max_bytes: int = MAX_RESOURCE_BYTES,
                     missing: str | None = None) -> bytes:
    """The bytes of the regular file ``name`` directly in the output folder, read through one descriptor.

    Refused (InputError): a name with folders; a link (``O_NOFOLLOW`` beneath the folder's own descriptor, or
    ``lstat`` then ``samestat`` where the OS has no ``dir_fd``); anything that is not a regular file (a folder,
    a FIFO: opened non-blocking, never waited on); a file over ``max_bytes``."""
    shown = name if len(name) <= 80 else name[:77] + "..."
    missing_error = InputError(missing or f"there is no report {shown!r} in the output folder; export one first "
                               "(export_report or plan_export) and use the name it returns")
    if "/" in name or "\\" in name or name in ("", ".", ".."):
        raise missing_error
    flags = os.O_RDONLY | _NOFOLLOW | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) \
        | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    try:
        if _BY_DESCRIPTOR:
            folder = os.open(settings.output_dir, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0)
                             | getattr(os, "O_CLOEXEC", 0))
            try:
                fd = os.open(name, flags, dir_fd=folder)
            finally:
                os.close(folder)
        else:
            path = settings.output_dir / name
            before = os.lstat(path)
            if stat.S_ISLNK(before.st_mode):
                raise OSError(errno.ELOOP, "a link")
            fd = os.open(path, flags)
            if not os.path.samestat(before, os.fstat(fd)):
                os.close(fd)
                raise OSError(errno.ELOOP, "swapped while opened")
    except FileNotFoundError:
        raise missing_error from None
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.EMLINK):  # O_NOFOLLOW on a link (EMLINK on FreeBSD)
            raise InputError(f"{shown!r} in the output folder is a link, not a file; only files written there "
                             "are served") from None
        raise InputError(f"{shown!r} cannot be read from the output folder ({exc.strerror or exc})") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise InputError(f"{shown!r} in the output folder is not a regular file; only files written there "
                             "are served")
        if info.st_size > max_bytes:
            raise InputError(f"{shown!r} is {info.st_size / 1024 / 1024:.0f} MB; files over "
                             f"{max_bytes // 1024 // 1024} MB are not served")
        chunks, total = [], 0
        while chunk := os.read(fd, 1 << 20):
            total += len(chunk)
            if total > max_bytes:
                raise InputError(f"{shown!r} grew past {max_bytes // 1024 // 1024} MB while it was read")
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def read_report(settings: Settings, name: str) -> str | bytes:
    """The file's content: text for Markdown/HTML/SVG, bytes for everything else."""
    data = read_output_file(settings, check_report_name(name))
    if Path(name).suffix.lower() in TEXT_SUFFIXES:
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
        if path.suffix.lower() in MIME_TYPES and not path.name.startswith("."):
            info = path.lstat()  # a link is not listed: it is not served
            if stat.S_ISREG(info.st_mode):
                found.append((info.st_mtime, path.name))
    return [name for _, name in sorted(found, reverse=True)]


def report_uri(filename: str) -> str:
    from urllib.parse import quote

    return URI_PREFIX + quote(filename, safe="")


def report_link(settings: Settings, filename: str) -> ResourceLink:
    """A ``resource_link`` block for a file a tool just wrote into the output folder.

    ``filename`` may be the bare name or the path the tool wrote; it must be a regular file directly in the
    output folder (checked without following a link). Example:
    ``CallToolResult(content=[TextContent(...), report_link(settings, result.filename)])``.
    """
    name = check_report_name(Path(filename).name)
    try:
        info = os.lstat(settings.output_dir / name)
    except OSError:
        raise InputError(f"there is no report {name!r} in the output folder") from None
    if not stat.S_ISREG(info.st_mode):
        raise InputError(f"{name!r} in the output folder is not a regular file")
    return ResourceLink(type="resource_link", uri=report_uri(name), name=name, title=name,
                        mime_type=mime_type(name), size=info.st_size,
                        description="the exported file; read this resource to download it")


def record_files(settings: Settings, names: list[str], caller: Any, *, scope: dict[str, Any] | None = None,
                 plan_id: int | None = None) -> None:
    """Record who wrote the output files ``names`` (and the plan or scope behind them), so the report resource
    serves each only to those who may read it. A workspace that cannot be reached leaves a file to analysts."""
    import logging

    from retention_mcp.workspace.store import workspace_for

    try:
        workspace = workspace_for(settings)
        for name in names:
            workspace.record_file(Path(name).name, author=caller.name, plan_id=plan_id, scope=scope)
    except (InputError, OSError) as exc:
        logging.getLogger(__name__).warning("output file(s) not recorded: %s", exc)
