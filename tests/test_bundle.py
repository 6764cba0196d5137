"""The desktop bundle: built with scripts/build_bundle.py (mcpb validate + mcpb pack), unpacked into an empty
folder, and started exactly as a desktop host would — the command and environment from the manifest, resolved
by @anthropic-ai/mcpb's own getMcpConfigForManifest — with nothing but that folder and uv: it answers
tools/list and a tool call on the IBM file."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from mcp import Client, StdioServerParameters

from conftest import REPO_ROOT, shared_dataset
from node_tools import NODE_DIR, node_bin

pytestmark = pytest.mark.slow

#: The first start installs the dependencies from PyPI into the bundle folder (minutes on a cold uv cache).
FIRST_START_TIMEOUT_S = 900


def uv_binary() -> str:
    found = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    if found is None:
        pytest.skip("uv is not installed (the test extras install it from PyPI)")
    return found


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    node_bin("mcpb")  # the pinned mcpb, installed with npm ci when missing
    out = tmp_path_factory.mktemp("bundle") / "retention-mcp.mcpb"
    stage = tmp_path_factory.mktemp("stage")
    subprocess.run([sys.executable, str(REPO_ROOT / "scripts" / "build_bundle.py"), "--out", str(out),
                    "--stage", str(stage / "mcpb")], check=True, timeout=300)
    return out


def test_the_bundle_validates_and_declares_the_user_settings(bundle):
    done = subprocess.run([str(node_bin("mcpb")), "info", str(bundle)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    manifest = json.loads((REPO_ROOT / "manifest.json").read_text(encoding="utf-8"))
    settings = manifest["user_config"]
    assert settings["data_dirs"]["type"] == "directory" and settings["data_dirs"]["multiple"] is True
    assert settings["output_dir"]["type"] == "directory"
    assert settings["database_url"]["sensitive"] is True and settings["database_url"]["required"] is False
    assert set(settings) == {"data_dirs", "output_dir", "language", "min_group_size", "database_url"}


@pytest.mark.anyio
async def test_the_unpacked_bundle_starts_with_only_its_folder_and_uv(bundle, tmp_path):
    ibm = shared_dataset("ibm_hr_attrition.csv")
    folder = tmp_path / "installed"
    folder.mkdir()
    subprocess.run([str(node_bin("mcpb")), "unpack", str(bundle), str(folder)], check=True, timeout=120,
                   capture_output=True)
    assert (folder / "manifest.json").is_file() and (folder / "pyproject.toml").is_file()
    assert (folder / "src" / "retention_mcp" / "_tools_list.json").is_file()  # tools/list, cached with the package

    user_config = {"data_dirs": [str(ibm.parent)], "output_dir": str(tmp_path / "reports"), "language": "zh",
                   "min_group_size": 5, "database_url": ""}
    home = tmp_path / "home"
    home.mkdir()
    resolved = subprocess.run(
        ["node", str(NODE_DIR / "mcp_config.mjs"), json.dumps({
            "extensionPath": str(folder), "userConfig": user_config,
            "systemDirs": {"HOME": str(home), "DOCUMENTS": str(home / "Documents"), "DESKTOP": str(home / "Desktop"),
                           "DOWNLOADS": str(home / "Downloads")}})],
        cwd=NODE_DIR, capture_output=True, text=True, check=True, timeout=60)
    config = json.loads(resolved.stdout)
    assert config["command"] == "uv"
    assert config["args"][-2:] == ["--data-dirs", str(ibm.parent)]

    uv = uv_binary()
    # Only uv on PATH; Python for uv to use (a desktop host's uv runtime brings its own) and uv's download cache.
    env = {"PATH": _only(uv, tmp_path),
           "HOME": str(home), "UV_PYTHON": _base_python(), "UV_PYTHON_DOWNLOADS": "never",
           "UV_CACHE_DIR": os.environ.get("UV_CACHE_DIR") or str(Path.home() / ".cache" / "uv"),
           # The system's certificate store, as behind a TLS-inspecting proxy (the README's UV_NATIVE_TLS advice).
           "UV_NATIVE_TLS": "true",
           **config.get("env", {})}
    if os.name == "nt":
        env["SYSTEMROOT"] = os.environ.get("SYSTEMROOT", "")
    params = StdioServerParameters(command=uv, args=config["args"], env=env, cwd=str(home))
    async with Client(params, read_timeout_seconds=FIRST_START_TIMEOUT_S) as client:
        tools = (await client.list_tools()).tools
        assert len(tools) == len(json.loads((folder / "manifest.json").read_text(encoding="utf-8"))["tools"])
        result = await client.call_tool("turnover_breakdown", {"path": ibm.name, "by": ["Department"]})
    assert not result.is_error, result.content[0].text
    frame = pd.read_csv(ibm)
    assert result.structured_content["overall"]["rate"] == pytest.approx((frame["Attrition"] == "Yes").mean())
    assert "离职率" in result.content[0].text  # language from the user's settings
    # The server ran from the bundle folder's own environment, not from this checkout.
    assert (folder / ".venv").is_dir()


def _only(uv: str, tmp_path: Path) -> str:
    """A folder holding nothing but uv, for PATH (uv installed beside this test's Python)."""
    folder = tmp_path / "only-uv"
    folder.mkdir(exist_ok=True)
    target = folder / Path(uv).name
    if not target.exists():
        os.symlink(uv, target)
    return str(folder)


def _base_python() -> str:
    """The interpreter this virtual environment was made from (not the environment itself)."""
    base = Path(sys.base_prefix) / ("python.exe" if os.name == "nt" else "bin")
    if os.name == "nt":
        return str(base)
    for name in (f"python{sys.version_info.major}.{sys.version_info.minor}", "python3"):
        if (base / name).exists():
            return str(base / name)
    return sys.executable
