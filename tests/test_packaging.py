"""The package as people install it: server.json, the wheel, the console script over real stdio."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters

import retention_mcp
from retention_mcp.cli import build_parser
from retention_mcp.settings import ENVIRONMENT_VARIABLES

REPO_ROOT = Path(__file__).resolve().parent.parent

SCHEMA = REPO_ROOT.parent / "shared" / "schemas" / "server.schema.json"
PROMPTS = ["kpi_decomposition", "performance_csat_linkage", "performance_improvement_plan",
           "retention_strategy", "service_efficiency_project", "supervisor_plan"]
RETENTION_ARGS = {
    "company_info": "华东一家 800 人的电商客服中心",
    "employee_group": "夜班客服专员",
    "satisfaction_score": "62",
    "turnover_rate": "17.8%",
    "engagement_score": "58",
    "employee_feedback": "排班不公平，夜班太多，晋升通道不清楚",
}
ZH_SECTIONS = ["现状分析", "根本原因分析", "战略建议", "实施路线图", "预期成果"]


def server_json() -> dict:
    return json.loads((REPO_ROOT / "server.json").read_text(encoding="utf-8"))


def test_server_json_matches_the_registry_schema() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    if not SCHEMA.is_file():
        pytest.skip(f"{SCHEMA} is not here (it lives in ../shared beside the repository)")
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker()).validate(server_json())


def test_server_json_describes_the_real_package() -> None:
    doc = server_json()
    assert doc["name"] == "io.github.retention-mcp/retention-mcp"
    assert doc["version"] == retention_mcp.__version__
    package = doc["packages"][0]
    assert (package["registryType"], package["identifier"], package["runtimeHint"]) == ("pypi", "retention-mcp", "uvx")
    assert package["version"] == retention_mcp.__version__
    assert package["transport"] == {"type": "stdio"}
    # Every variable the server reads is declared, and nothing it does not read.
    assert {e["name"] for e in package["environmentVariables"]} == set(ENVIRONMENT_VARIABLES)
    # Every declared flag is one the CLI really takes.
    cli_flags = {flag for action in build_parser()._actions for flag in action.option_strings}
    assert {a["name"] for a in package["packageArguments"]} <= cli_flags


def test_pyproject_reads_the_same_version_and_readme_has_the_registry_line() -> None:
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert pyproject["tool"]["hatch"]["version"]["path"] == "src/retention_mcp/__init__.py"
    assert "mcp-name: io.github.retention-mcp/retention-mcp" in (REPO_ROOT / "README.md").read_text(encoding="utf-8")


def child_env(**extra: str) -> dict[str, str]:
    env = {key: os.environ[key] for key in ("PATH", "HOME", "LANG", "SYSTEMROOT") if key in os.environ}
    env.update(extra)
    return env


async def exercise_over_stdio(params: StdioServerParameters) -> None:
    async with Client(params) as client:
        prompts = {p.name: p for p in (await client.list_prompts()).prompts}
        assert sorted(prompts) == PROMPTS
        assert [a.name for a in prompts["retention_strategy"].arguments] == [*RETENTION_ARGS, "language"]
        for name, prompt in prompts.items():
            arguments = {a.name: "42" if a.name.endswith(("score", "csat")) else "示例" for a in prompt.arguments
                         if a.required}
            if name == "retention_strategy":
                arguments = dict(RETENTION_ARGS)
            for language in ("en", "zh"):
                rendered = await client.get_prompt(name, {**arguments, "language": language})
                assert len(rendered.messages[0].content.text) > 300, (name, language)
        zh = (await client.get_prompt("retention_strategy", {**RETENTION_ARGS, "language": "zh"})).messages[0]
        for heading in ZH_SECTIONS:
            assert heading in zh.content.text
        for value in RETENTION_ARGS.values():
            assert value in zh.content.text
        tools = {t.name for t in (await client.list_tools()).tools}
        assert {"list_templates", "render_template"} <= tools


@pytest.mark.anyio
async def test_console_script_serves_over_real_stdio(tmp_path: Path) -> None:
    params = StdioServerParameters(command=sys.executable, args=["-m", "retention_mcp", "--data-dir", str(tmp_path)],
                                   env=child_env(), cwd=str(tmp_path))
    await exercise_over_stdio(params)


@pytest.mark.slow
@pytest.mark.anyio
async def test_built_wheel_in_a_fresh_venv_serves_every_prompt(tmp_path: Path) -> None:
    """Build the wheel, install it (not editable) in a new venv, and talk to its console script.

    The new venv borrows the test environment's installed dependencies through a path file, so the
    test needs no network; the retention_mcp it imports is the wheel's (checked below).
    """
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(wheels), str(REPO_ROOT)], check=True)
    wheel = next(wheels.glob("retention_mcp-*.whl"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    purelib = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                  check=True, capture_output=True, text=True).stdout.strip())
    # A plain path line: the parent's site-packages joins sys.path, but its .pth files (the editable
    # install's among them) are not processed.
    (purelib / "_borrowed_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "-q", str(wheel)],
                   check=True)
    where = subprocess.run([str(python), "-c", "import retention_mcp, pathlib; print(retention_mcp.__file__)"],
                           check=True, capture_output=True, text=True, cwd=tmp_path).stdout.strip()
    assert where.startswith(str(venv)), where
    bundled = Path(where).parent / "_bundled"
    assert sorted(p.name for p in (bundled / "prompts").glob("*.md")) == sorted(
        f"{name}.{lang}.md" for name in PROMPTS for lang in ("en", "zh"))
    assert (bundled / "tools").is_dir()

    params = StdioServerParameters(command=str(venv / "bin" / "retention-mcp"), args=["--data-dir", str(tmp_path)],
                                   env=child_env(), cwd=str(tmp_path))
    await exercise_over_stdio(params)


def test_the_suite_runs_on_the_pandas_users_get():
    """`pip install retention-mcp` resolves pandas 3; no test dependency may drag CI back to pandas 2."""
    from importlib.metadata import version

    assert int(version("pandas").split(".")[0]) >= 3


def test_the_readme_configuration_table_lists_every_setting() -> None:
    """Each environment variable and each command-line option is in the README's configuration table."""
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    table = readme.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    missing = [name for name in ENVIRONMENT_VARIABLES if f"`{name}" not in table]
    parser = build_parser()
    options = {option for action in parser._actions for option in action.option_strings}
    for sub in parser._subparsers._group_actions[0].choices.values():  # serve's own options
        options |= {option for action in sub._actions for option in action.option_strings}
    missing += [o for o in sorted(options) if o.startswith("--") and o not in ("--help", "--version")
                and o not in table]
    assert not missing, f"add to the README's configuration table: {missing}"


def test_the_installed_mcp_is_the_newest_release_the_package_allows() -> None:
    """The wiring is checked against the SDK users get: `scripts/dev.sh setup` upgrades eagerly, and this compares
    the installed `mcp` with the newest release the package index offers inside pyproject's range."""
    from importlib.metadata import version

    from packaging.requirements import Requirement
    from packaging.version import Version

    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    requirement = next(Requirement(r) for r in pyproject["project"]["dependencies"] if r.startswith("mcp"))
    try:
        out = subprocess.run([sys.executable, "-m", "pip", "index", "versions", "mcp", "--disable-pip-version-check"],
                             capture_output=True, text=True, timeout=90)
    except subprocess.TimeoutExpired:
        pytest.skip("the package index did not answer within 90 s")
    listed = next((line for line in out.stdout.splitlines() if line.startswith("Available versions:")), None)
    if out.returncode != 0 or listed is None:
        pytest.skip(f"the package index cannot be reached: {(out.stderr or out.stdout).strip()[-300:]}")
    offered = [Version(v.strip()) for v in listed.split(":", 1)[1].split(",") if v.strip()]
    allowed = [v for v in offered if not v.is_prerelease and v in requirement.specifier]
    assert allowed, f"the index offers no mcp release in {requirement.specifier}"
    assert Version(version("mcp")) == max(allowed), (
        f"mcp {version('mcp')} is installed but {max(allowed)} is the newest release in {requirement.specifier}: "
        "run `bash scripts/dev.sh setup` (it upgrades to the newest allowed releases) and run the suite on it")
