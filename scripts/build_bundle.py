"""Build the desktop bundle ``dist/retention-mcp.mcpb`` (MCP Bundle, one double-click install in Claude Desktop).

    python scripts/build_bundle.py [--out dist/retention-mcp.mcpb]

Stages the package source (pyproject.toml, src/, prompts/, tools/, README.md) with ``manifest.json``, whose
version and tool list are filled from the package itself (the declarations, never a hand-kept list), then runs
``mcpb validate`` and ``mcpb pack`` from @anthropic-ai/mcpb (the pinned copy in tests/node, installed with
``npm ci`` when missing). The manifest's server type is ``uv``: the desktop app installs Python and the
dependencies from pyproject.toml on first start. Works on Windows, macOS and Linux (no shell needed).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NODE_DIR = ROOT / "tests" / "node"
STAGED = ("pyproject.toml", "README.md", "src", "prompts", "tools")


def mcpb() -> list[str]:
    """The mcpb command: the project's pinned copy (npm ci on first use)."""
    name = "mcpb.cmd" if os.name == "nt" else "mcpb"
    binary = NODE_DIR / "node_modules" / ".bin" / name
    if not binary.exists():
        npm = shutil.which("npm")
        if npm is None:
            sys.exit("build_bundle: npm is needed to install @anthropic-ai/mcpb (install Node.js 20 or newer)")
        subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=NODE_DIR, check=True)
    return [str(binary)]


def listed_tools() -> list[dict]:
    """The server's own tools/list answer (as clients get it), built from the declarations."""
    sys.path.insert(0, str(ROOT / "src"))
    import anyio
    from mcp import Client

    from retention_mcp.server import build_server
    from retention_mcp.settings import Settings

    async def listed() -> list[dict]:
        server = build_server(Settings(data_dirs=(ROOT,), output_dir=ROOT / "build" / "unused-output"))
        async with Client(server) as client:
            tools = (await client.list_tools()).tools
        return [tool.model_dump(mode="json", by_alias=True, exclude_none=True) for tool in tools]

    return anyio.run(listed)


def stage(folder: Path) -> dict:
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", ".DS_Store", "_tools_list.json")
    for name in STAGED:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, folder / name, ignore=ignore)
        else:
            shutil.copy2(source, folder / name)
    from retention_mcp import __version__

    manifest = json.loads((ROOT / "manifest.json").read_text(encoding="utf-8"))
    manifest["version"] = __version__
    tools = listed_tools()
    manifest["tools"] = [{"name": t["name"], "description": t.get("description", "").split("\n")[0].strip()}
                         for t in tools]
    # The finished tools/list travels with the package: the first start answers it without building schemas.
    from retention_mcp import tool_cache

    tool_cache.save(tools, paths=[folder / "src" / "retention_mcp" / tool_cache.CACHE_NAME])
    (folder / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "dist" / "retention-mcp.mcpb")
    parser.add_argument("--stage", type=Path, default=ROOT / "build" / "mcpb", help="staging folder (recreated)")
    args = parser.parse_args(argv)
    manifest = stage(args.stage)
    command = mcpb()
    subprocess.run([*command, "validate", str(args.stage / "manifest.json")], check=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([*command, "pack", str(args.stage), str(args.out)], check=True)
    print(f"built {args.out} ({args.out.stat().st_size:,} bytes): {manifest['name']} {manifest['version']}, "
          f"{len(manifest['tools'])} tools")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
