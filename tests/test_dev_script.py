"""scripts/dev.py, the README's setup and test entry, runs no shell and finds the virtual environment's programs
where each platform puts them (Scripts\\*.exe on Windows, bin/ elsewhere); .ci/run runs the README's command."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

from conftest import REPO_ROOT

spec = importlib.util.spec_from_file_location("dev", REPO_ROOT / "scripts" / "dev.py")
dev = importlib.util.module_from_spec(spec)
spec.loader.exec_module(dev)


def test_windows_commands_use_the_scripts_folder_and_no_shell():
    for target in ("demo", "test", "bench", "setup"):
        for command in dev.commands(target, [], os_name="nt"):
            assert "bash" not in command and not any(part.endswith(".sh") for part in command)
            program = command[0]
            assert program == sys.executable or ("Scripts" in program and program.endswith(".exe"))
    test = dev.commands("test", ["-x"], os_name="nt")
    assert test[-1][1:] == ["-m", "pytest", "-q", "-x"] and test[-1][0].endswith("python.exe")
    assert dev.venv_bin("ruff", "nt").parts[-2:] == ("Scripts", "ruff.exe")
    assert dev.venv_bin("ruff", "posix").parts[-2:] == ("bin", "ruff")


def test_the_readme_quick_start_is_what_ci_runs():
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    quick_start = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    assert "python3 scripts/dev.py demo" in quick_start and "python3 scripts/dev.py test" in quick_start
    assert "py scripts\\dev.py test" in quick_start  # the Windows spelling
    assert "python3 scripts/dev.py test" in (REPO_ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_an_unknown_command_prints_the_usage():
    done = subprocess.run([sys.executable, str(REPO_ROOT / "scripts" / "dev.py"), "deploy"], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2 and "usage: python scripts/dev.py demo|test|bench|setup" in done.stderr
