"""Opening a data file once, inside an allowed folder, and reading it in one verified pass.

The path a caller gives is resolved (symlinks followed) and must land inside an allowed data folder.
That canonical path is then opened component by component from ``/`` with ``O_NOFOLLOW`` and
``dir_fd``, so no symlink is followed after the check: a file swapped for a link between the check
and the open makes the open fail (and the whole resolution is tried once more) instead of reading
whatever the link points at. The descriptor is checked with ``fstat`` (a regular file: never a FIFO,
device or folder, and never a blocking open) and everything is read from it — nothing opens the file
by name again.

:meth:`DataFile.read_all` reads the whole file into memory, hashing it (SHA-256) as it goes, and
compares ``fstat`` before and after (size, mtime, ctime, inode); a file modified in the last moments is
looked at once more after a short pause. A change raises :class:`FileChanged`; the reader then reads
the file again once and, if it changes again, tells the user it is being written.
"""

from __future__ import annotations

import errno
import hashlib
import io
import os
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from retention_mcp.errors import InputError, LimitError
from retention_mcp.settings import data_folder_problem

if TYPE_CHECKING:
    from retention_mcp.settings import Settings

#: Longest path string accepted (Linux PATH_MAX); longer ones are refused before touching the disk.
MAX_PATH_CHARS = 4096
#: A file modified less than this long before it was read is checked once more after the rest of it.
SETTLE_SECONDS = 0.05
_READ_CHUNK = 8 << 20
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_O_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_O_NOCTTY = getattr(os, "O_NOCTTY", 0)
_O_BINARY = getattr(os, "O_BINARY", 0)
#: Opening beneath a folder without following links needs dir_fd and O_NOFOLLOW (Linux, macOS, BSD).
_WALK = bool(_O_NOFOLLOW and _O_DIRECTORY and os.open in os.supports_dir_fd
             and os.stat in os.supports_dir_fd and os.stat in os.supports_follow_symlinks)
#: errno values meaning "a path component is (now) a symlink or not a folder": the path was swapped.
_SWAPPED = {errno.ELOOP, errno.ENOTDIR, getattr(errno, "EMLINK", errno.ELOOP)}


class FileChanged(Exception):  # internal signal, never shown
    """The file changed while it was read; the caller reads it again."""


class _Swapped(Exception):  # internal signal
    """A path component became a symlink (or stopped being a folder) after the path was checked."""


class _NotRegular(Exception):  # internal signal
    """The leaf is a folder, FIFO, device or socket (its st_mode in args[0])."""


@dataclass
class DataFile:
    """An open, checked descriptor of a regular file inside an allowed data folder."""

    fd: int
    path: Path  # canonical (symlinks resolved)
    folder: Path  # the allowed data folder it is in
    name: str  # shown to people: path relative to its data folder
    stat: os.stat_result  # fstat at open

    @property
    def size(self) -> int:
        return self.stat.st_size

    @property
    def version(self) -> tuple:
        """What identifies this version of the file: path, device, inode, size, mtime."""
        st = self.stat
        return (str(self.path), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> DataFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def read_all(self, progress: Callable[[int], None] | None = None) -> tuple[bytearray, str]:
        """All bytes of the file and their SHA-256 (hex), from this descriptor, in one pass.

        Raises :class:`FileChanged` when the file was modified while it was read.
        ``progress(bytes_read)`` is called after each chunk.
        """
        before = os.fstat(self.fd)
        if _signature(before) != _signature(self.stat):  # changed since the open: its version is stale
            raise FileChanged
        size = before.st_size
        buffer = bytearray(size)
        view = memoryview(buffer)
        digest = hashlib.sha256()
        # Big files: a second thread hashes each chunk as soon as it is read, while the next one is read
        # (both release the GIL), so hashing adds little to the wall time of the one pass.
        hasher = _Hasher(digest, view) if size > 2 * _READ_CHUNK else None
        position = 0
        try:
            with io.FileIO(self.fd, "rb", closefd=False) as raw:
                raw.seek(0)
                while position < size:
                    count = raw.readinto(view[position:position + _READ_CHUNK])
                    if not count:  # shorter than fstat said: truncated while we read
                        raise FileChanged
                    if hasher is not None:
                        hasher.add(position, position + count)
                    else:
                        digest.update(view[position:position + count])
                    position += count
                    if progress:
                        progress(position)
                if raw.read(1):  # longer than fstat said: still being appended to
                    raise FileChanged
        finally:
            if hasher is not None:
                hasher.finish()
        after = os.fstat(self.fd)
        if _signature(after) != _signature(before):
            raise FileChanged
        age = time.time_ns() - after.st_mtime_ns
        if 0 <= age < SETTLE_SECONDS * 1e9 or not size:
            # Written moments ago: a writer may be between two writes. Look again after a pause. An empty
            # file too: truncating sets the size before the mtime, so "empty, old mtime" is seen mid-truncate.
            time.sleep(max(SETTLE_SECONDS * 1e9 - max(age, 0), 0) / 1e9 if size else SETTLE_SECONDS)
            if _signature(os.fstat(self.fd)) != _signature(after):
                raise FileChanged
        del view
        return buffer, digest.hexdigest()


class _Hasher:
    """Hashes ranges of a buffer in a background thread, in order."""

    def __init__(self, digest: hashlib._Hash, view: memoryview) -> None:
        import queue
        import threading

        self.digest = digest
        self.view = view
        self.ranges: queue.SimpleQueue[tuple[int, int] | None] = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._run, name="sha256", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while (item := self.ranges.get()) is not None:
            self.digest.update(self.view[item[0]:item[1]])

    def add(self, start: int, end: int) -> None:
        self.ranges.put((start, end))

    def finish(self) -> None:
        self.ranges.put(None)
        self.thread.join()


def _signature(st: os.stat_result) -> tuple:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _allowed(settings: Settings) -> str:
    return ", ".join(str(d) for d in settings.data_dirs)


def _candidate(settings: Settings, path: object) -> Path:
    if not isinstance(path, str) or not path.strip():
        raise InputError("path is empty; give a file name inside the data folder, e.g. path='hr_export.csv'")
    if not settings.data_dirs:
        raise InputError("no data folder is configured, so the server reads no files (it was started from a folder "
                         "it must not read, such as / or your home folder). Start it with --data-dir pointing at "
                         "the folder with your HR exports (an absolute path), or paste a small table as csv_text")
    text = path.strip()
    if "\x00" in text:
        raise InputError("path contains a NUL character; give a plain file name inside the data folder")
    if len(text) > MAX_PATH_CHARS or any(len(part.encode("utf-8", "surrogateescape")) > 255
                                         for part in Path(text).parts):
        raise InputError(f"path is too long ({len(text):,} characters); give a file name of at most 255 "
                         f"characters per folder level and {MAX_PATH_CHARS:,} in all, inside the data folder")
    try:
        candidate = Path(text).expanduser()
    except RuntimeError:  # ~user that does not exist
        candidate = Path(text)
    if not candidate.is_absolute():
        candidate = settings.data_dirs[0] / candidate
        if (problem := data_folder_problem(settings.data_dirs[0])) is not None:
            raise InputError(f"{problem}. (The server started anyway: a desktop client does not show a failed "
                             "start.)")
    return candidate


def _locate(settings: Settings, candidate: Path, shown: str) -> tuple[Path, Path]:
    """The canonical path and the allowed folder it is in, or InputError."""
    try:
        real = Path(os.path.realpath(candidate))
    except OSError as exc:
        if exc.errno == errno.EINVAL:  # a link replaced while realpath read it
            raise _Swapped from None
        raise _os_error(shown, exc, settings) from None
    except ValueError as exc:
        raise _os_error(shown, exc, settings) from None
    for folder in settings.data_dirs:
        if real == folder or real.is_relative_to(folder):
            return real, folder
    raise InputError(f"{shown!r} is outside the allowed data folders ({_allowed(settings)}); copy the file into "
                     "one of them or start the server with --data-dir pointing at its folder")


def _os_error(shown: str, exc: BaseException, settings: Settings) -> InputError:
    code = getattr(exc, "errno", None)
    if code == errno.ENOENT:
        problems = [p for folder in settings.data_dirs if (p := data_folder_problem(folder))]
        return InputError(f"file {shown!r} was not found in the allowed data folders ({_allowed(settings)}); "
                          "check the name (relative paths start from the first folder)"
                          + "".join(f". Note: {problem}" for problem in problems))
    if code == errno.ENAMETOOLONG:
        return InputError(f"the path {shown[:80]!r}... is too long for the file system; use a shorter file name")
    if code in (errno.EACCES, errno.EPERM):
        return InputError(f"{shown!r} cannot be read: permission denied; make it readable by the user the "
                          "server runs as")
    if code == errno.ENXIO:
        return InputError(f"{shown!r} is not a regular file (a socket or device); give a CSV, XLSX or Parquet file")
    if code == errno.ENOTDIR:
        return InputError(f"{shown!r} was not found: part of the path is a file, not a folder; check the path")
    if code in _SWAPPED:
        return InputError(f"{shown!r} cannot be opened: a link on its path leads in a loop; check the path")
    return InputError(f"{shown!r} could not be opened ({errno.errorcode.get(code or 0, type(exc).__name__)}); "
                      "check that the file exists and is readable")


def _open_beneath(real: Path) -> int:
    """Open ``real`` (a canonical path) read-only without following any symlink on the way."""
    parts = real.parts
    directory = os.open(parts[0], os.O_RDONLY | _O_DIRECTORY | _O_CLOEXEC)
    try:
        for part in parts[1:-1]:
            try:
                child = os.open(part, os.O_RDONLY | _O_DIRECTORY | _O_NOFOLLOW | _O_CLOEXEC, dir_fd=directory)
            except OSError as exc:
                if exc.errno in _SWAPPED and _is_link(part, directory):
                    raise _Swapped from None
                raise
            os.close(directory)
            directory = child
        leaf = parts[-1]
        st = os.stat(leaf, dir_fd=directory, follow_symlinks=False)
        if stat.S_ISLNK(st.st_mode):
            raise _Swapped
        if not stat.S_ISREG(st.st_mode):
            # Never open a FIFO or device: an open could block or have side effects.
            raise _NotRegular(st.st_mode)
        try:
            return os.open(leaf, os.O_RDONLY | _O_NOFOLLOW | _O_NONBLOCK | _O_NOCTTY | _O_CLOEXEC, dir_fd=directory)
        except OSError as exc:
            if exc.errno in _SWAPPED:
                raise _Swapped from None
            raise
    finally:
        os.close(directory)


def _is_link(name: str, directory: int) -> bool:
    try:
        return stat.S_ISLNK(os.stat(name, dir_fd=directory, follow_symlinks=False).st_mode)
    except OSError:
        return False


def _open_fallback(real: Path) -> int:
    """Where dir_fd / O_NOFOLLOW are missing (Windows): open, then check the descriptor is that path's file."""
    fd = os.open(real, os.O_RDONLY | _O_BINARY | _O_NONBLOCK | _O_CLOEXEC)
    try:
        if not os.path.samestat(os.fstat(fd), os.stat(real)) or Path(os.path.realpath(real)) != real:
            raise _Swapped
    except BaseException:
        os.close(fd)
        raise
    return fd


def open_data_file(settings: Settings, path: str) -> DataFile:
    """Open ``path`` (relative to the first data folder, or absolute) once, checked; raise InputError."""
    candidate = _candidate(settings, path)
    shown = path.strip()
    for attempt in (1, 2):
        try:
            real, folder = _locate(settings, candidate, shown)
        except _Swapped:
            if attempt == 1:
                continue
            raise InputError(f"{shown!r} changed while it was being opened (a link was swapped in); make it a "
                             "plain file inside the data folder and call again") from None
        try:
            fd = _open_beneath(real) if _WALK else _open_fallback(real)
        except _Swapped:
            if attempt == 1:
                continue
            raise InputError(f"{shown!r} changed while it was being opened (a link was swapped in); make it a "
                             "plain file inside the data folder and call again") from None
        except _NotRegular as exc:
            raise _not_regular(shown, exc.args[0]) from None
        except OSError as exc:
            raise _os_error(shown, exc, settings) from None
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise _not_regular(shown, st.st_mode)
        except BaseException:
            os.close(fd)
            raise
        name = real.relative_to(folder).as_posix() if real != folder else real.name
        return DataFile(fd=fd, path=real, folder=folder, name=name, stat=st)
    raise AssertionError("unreachable")  # pragma: no cover


def _not_regular(shown: str, mode: int) -> InputError:
    if stat.S_ISDIR(mode):
        return InputError(f"{shown!r} is a folder, not a file; give the path of a CSV, XLSX or Parquet file in it")
    kind = "a named pipe (FIFO)" if stat.S_ISFIFO(mode) else "a device or socket"
    return InputError(f"{shown!r} is {kind}, not a regular file; save the data to a CSV, XLSX or Parquet file")


def check_size(file: DataFile, settings: Settings, shown: str) -> None:
    """LimitError when the file is above the server's file-size limit."""
    if file.size > settings.max_file_bytes:
        raise LimitError(f"{shown!r} is {file.size / 1e6:,.0f} MB, above the {settings.max_file_mb:,.0f} MB limit; "
                         "filter it first or raise RETENTION_MCP_MAX_FILE_MB")
