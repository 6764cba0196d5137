"""Opening data files: once, inside the data folder, checked by descriptor; odd paths and file kinds."""

from __future__ import annotations

import hashlib
import os
import stat
import sys
import threading
import time
from pathlib import Path

import pytest

from retention_mcp.data.files import FileChanged, open_data_file
from retention_mcp.errors import InputError
from retention_mcp.settings import Settings

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX links, FIFOs and devices")


def test_a_file_swapped_for_a_link_to_outside_is_never_read(settings: Settings, data_dir: Path,
                                                            tmp_path: Path) -> None:
    """A thread swaps data/f.csv between a regular file and a symlink to a file outside the data folder,
    thousands of times, while the main thread opens and reads it: no read may return the outside bytes."""
    outside = tmp_path / "outside.csv"
    outside.write_bytes(b"name,salary\nOUTSIDE,1\n")
    master = tmp_path / "master.csv"  # the regular file's content, hard-linked in (same folder tree, same fs)
    master.write_bytes(b"name,salary\ninside,2\n")
    target = data_dir / "f.csv"
    os.link(master, target)
    stop = threading.Event()
    swaps = [0]

    def swapper() -> None:
        n = 0
        while not stop.is_set():
            link = data_dir / f".link{n}"
            os.symlink(outside, link)
            os.replace(link, target)
            regular = data_dir / f".file{n}"
            os.link(master, regular)
            os.replace(regular, target)
            n += 1
        swaps[0] = n

    counts = {"inside": 0, "outside": 0, "refused": 0}
    thread = threading.Thread(target=swapper, daemon=True)
    thread.start()
    time.sleep(0.05)  # let the swapper get going
    deadline = time.monotonic() + 20
    try:
        # At least 5,000 reads, and on until the link state was met a few times (a loaded machine may
        # schedule the swapper rarely).
        while sum(counts.values()) < 5000 or (counts["refused"] < 10 and time.monotonic() < deadline):
            try:
                with open_data_file(settings, "f.csv") as file:
                    content = os.pread(file.fd, 100, 0)
            except InputError as exc:
                assert "outside the allowed data folders" in str(exc) or "changed while" in str(exc), str(exc)
                counts["refused"] += 1
                continue
            counts["outside" if b"OUTSIDE" in content else "inside"] += 1
    finally:
        stop.set()
        thread.join(10)
    assert counts["outside"] == 0, counts
    assert counts["inside"] > 0 and counts["refused"] > 0, counts  # both states were really seen
    assert swaps[0] > 0, swaps


def test_read_all_hashes_what_it_reads_and_notices_growth(settings: Settings, data_dir: Path) -> None:
    path = data_dir / "h.csv"
    content = b"a,b\n" + b"1,2\n" * 100_000
    path.write_bytes(content)
    old = time.time() - 60
    os.utime(path, (old, old))
    with open_data_file(settings, "h.csv") as file:
        data, digest = file.read_all()
    assert bytes(data) == content and digest == hashlib.sha256(content).hexdigest()
    big = data_dir / "big.csv"  # large enough to be hashed by the second thread
    big_content = b"a,b\n" + b"".join(b"%d,%d\n" % (i, i * 7) for i in range(2_500_000))
    big.write_bytes(big_content)
    os.utime(big, (old, old))
    with open_data_file(settings, "big.csv") as file:
        data, digest = file.read_all()
    assert len(big_content) > 24 << 20 and digest == hashlib.sha256(big_content).hexdigest()

    def append(_done: int) -> None:  # another program appends while the file is read
        with path.open("ab") as handle:
            handle.write(b"3,4\n")

    with open_data_file(settings, "h.csv") as file, pytest.raises(FileChanged):
        file.read_all(append)


def test_fifo_device_and_folder_are_refused_without_blocking(settings: Settings, data_dir: Path) -> None:
    os.mkfifo(data_dir / "pipe.csv")
    (data_dir / "sub").mkdir()
    results: dict[str, str] = {}

    def attempt(name: str) -> None:
        try:
            open_data_file(settings, name).close()
        except InputError as exc:
            results[name] = str(exc)

    names = ["pipe.csv", "sub"]
    try:
        os.mknod(data_dir / "null.csv", stat.S_IFCHR | 0o600, os.makedev(1, 3))
        names.append("null.csv")
    except OSError:  # not root, or a nodev file system
        pass
    for name in names:
        worker = threading.Thread(target=attempt, args=(name,), daemon=True)
        worker.start()
        worker.join(5)
        assert not worker.is_alive(), f"opening {name} blocked"
    assert "named pipe" in results["pipe.csv"]
    assert "is a folder" in results["sub"]
    if "null.csv" in names:
        assert "device or socket" in results["null.csv"]


def test_odd_paths_get_input_errors(settings: Settings, data_dir: Path, tmp_path: Path) -> None:
    cases = {
        "a" * 300 + ".csv": "too long",
        "/".join(["d"] * 2100): "too long",
        "x\x00.csv": "NUL",
        "": "path is empty",
        "   ": "path is empty",
        "missing.csv": "was not found",
        "../outside.csv": "outside the allowed data folders",
        str(tmp_path / "elsewhere.csv"): "outside the allowed data folders",
    }
    for path, expected in cases.items():
        with pytest.raises(InputError, match=expected):
            open_data_file(settings, path).close()
    loop = data_dir / "loop"
    loop.symlink_to(loop)
    with pytest.raises(InputError, match="loop"):
        open_data_file(settings, "loop/x.csv")
    file = data_dir / "plain.csv"
    file.write_text("a\n1\n", encoding="utf-8")
    with pytest.raises(InputError, match="part of the path is a file"):
        open_data_file(settings, "plain.csv/inner.csv")


def test_links_inside_the_folder_are_followed_and_named_by_their_target(settings: Settings,
                                                                        data_dir: Path) -> None:
    (data_dir / "exports").mkdir()
    (data_dir / "exports" / "2024-06.csv").write_text("dept,left\nSales,1\n", encoding="utf-8")
    (data_dir / "latest.csv").symlink_to(data_dir / "exports" / "2024-06.csv")
    with open_data_file(settings, "latest.csv") as via_link:
        assert via_link.name == "exports/2024-06.csv"
        assert os.pread(via_link.fd, 100, 0) == b"dept,left\nSales,1\n"
        with open_data_file(settings, str(data_dir / "exports" / "2024-06.csv")) as direct:
            assert direct.version == via_link.version
