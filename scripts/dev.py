"""One entry point for people and CI, the same on Windows, macOS and Linux (no shell needed):

    python scripts/dev.py demo    set up .venv and run the demo session on generated sample data
    python scripts/dev.py test    set up .venv (with test extras), run ruff and the whole test suite
    python scripts/dev.py bench   set up .venv and run the benchmarks in bench/
    python scripts/dev.py setup   set up .venv with the test extras only

On Windows use ``py scripts\\dev.py ...`` (or ``python``). Arguments after the command go to the tool it runs,
e.g. ``python scripts/dev.py test tests/test_roi.py -x``. The interpreter running this script makes .venv.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
BENCHES = ("cold_start.py", "bench_peers.py", "bench_xlsx.py", "bench_turnover.py", "bench_isolation.py",
           "bench_export.py", "load_test.py")


def venv_bin(name: str, os_name: str = os.name) -> Path:
    """A program inside .venv: Scripts\\name.exe on Windows, bin/name elsewhere."""
    if os_name == "nt":
        return VENV / "Scripts" / f"{name}.exe"
    return VENV / "bin" / name


def setup_commands(extras: str, os_name: str = os.name) -> list[list[str]]:
    python = str(venv_bin("python", os_name))
    commands = []
    if not venv_bin("python", os_name).exists():
        commands += [[sys.executable, "-m", "venv", str(VENV)],
                     [python, "-m", "pip", "install", "-q", "--upgrade", "pip"]]
    # --upgrade eagerly: the suite runs on the newest releases the package allows, as users get them
    # (tests/test_packaging.py checks the mcp SDK is the newest in range).
    return [*commands, [python, "-m", "pip", "install", "-q", "--upgrade", "--upgrade-strategy", "eager",
                        "-e", f".{extras}"]]


def commands(target: str, argv: list[str], os_name: str = os.name) -> list[list[str]]:
    """The commands ``target`` runs, in order (each must succeed before the next)."""
    python = str(venv_bin("python", os_name))
    if target == "demo":
        return [*setup_commands("", os_name), [str(venv_bin("retention-mcp", os_name)), "demo", *argv]]
    if target == "test":
        return [*setup_commands("[test]", os_name), [str(venv_bin("ruff", os_name)), "check", "src", "tests", "bench"],
                [python, "-m", "pytest", "-q", *argv]]
    if target == "setup":
        return setup_commands("[test]", os_name)
    if target == "bench":
        return [*setup_commands("[test]", os_name), *[[python, str(Path("bench") / name)] for name in BENCHES]]
    raise ValueError(target)


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("demo", "test", "bench", "setup"):
        print("usage: python scripts/dev.py demo|test|bench|setup [arguments for the tool]", file=sys.stderr)
        return 2
    for command in commands(argv[0], argv[1:]):
        status = subprocess.call(command, cwd=ROOT)
        if status != 0:
            return status
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
