"""A Chinese plan exported as the file people circulate, through the SDK client (plan_fixture composes it from a
GBK export): every cited number checked and marked, the charts of cited results placed where they are cited, the
roadmap as a Gantt chart and a table, and an appendix in Chinese a reader can use — and, rendered by LibreOffice,
no longer than the plan it supports."""

from __future__ import annotations

import base64
import hashlib
import io
import re
import shutil
import string
import subprocess
from pathlib import Path

import pytest
import yaml
from mcp import Client

from living_company import this_quarter
from plan_fixture import call, compose_plan
from retention_mcp.server import build_server
from retention_mcp.settings import Settings

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(300)]
EXPORT = "人员花名册.csv"


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
async def exported(tmp_path_factory: pytest.TempPathFactory):
    """The plan composed and exported once for the module's tests (they only read the files)."""
    tmp_path = tmp_path_factory.mktemp("plan-export")
    data = tmp_path / "data"
    data.mkdir()
    this_quarter(data / EXPORT)
    settings = Settings(data_dirs=(data,), output_dir=tmp_path / "out", log_level="WARNING", language="zh",
                        database_url=f"sqlite:///{tmp_path / 'ws.sqlite3'}")
    async with Client(build_server(settings), raise_exceptions=True) as client:
        plan = await compose_plan(client, EXPORT)
        files = {fmt: await call(client, "plan_export", {"plan_id": plan["plan_id"], "format": fmt})
                 for fmt in ("docx", "html", "md")}
    yield settings, plan, files, hashlib.sha256((data / EXPORT).read_bytes()).hexdigest()


async def test_the_word_file_marks_numbers_places_charts_and_explains_each_citation(exported) -> None:
    import docx

    settings, plan, files, sha = exported
    result = files["docx"]
    assert result["flagged_numbers"] == [] and result["verified_numbers"] >= 15
    ev = plan["evidence"]
    # turnover by department, the night-shift breakdown, the retention curves, the roadmap, the ROI's scenarios
    # and sensitivity: each placed once, drawn from the evidence in the plan's language
    assert len(result["charts"]) == 6
    for name in ("year", "shifts", "curves", "roadmap"):
        assert any(ev[name] in chart for chart in result["charts"]), name
    assert sum(ev["roi"] in chart for chart in result["charts"]) == 2
    document = docx.Document(io.BytesIO((settings.output_dir / result["filename"]).read_bytes()))
    assert len(document.inline_shapes) == 6
    paragraphs = [p.text for p in document.paragraphs]
    body = "\n".join(paragraphs[:paragraphs.index("证据附录")])
    appendix = "\n".join(paragraphs[paragraphs.index("证据附录"):])
    # each verified number carries ✓ right after it (the roadmap's passed checks start their lines with one)
    assert len(re.findall(r"\S✓", body)) == result["verified_numbers"] and "⚠" not in body
    assert "15.8%✓" in body or re.search(r"\d+\.\d%✓", body)
    # the roadmap: its table (recomputed in Chinese, KPIs named as the catalog names them) and its checks
    tables = ["\n".join(cell.text for row in t.rows for cell in row.cells) for t in document.tables]
    roadmap = next(t for t in tables if "诊断与试点" in t)
    assert "员工离职率" in roadmap and "120,000" in roadmap
    assert "各阶段预算合计 120,000 CNY，与 ROI 的 12 个月项目成本一致" in body
    # the appendix: per citation what was computed, in Chinese words, the figures as the tool shows them, the
    # definition, the file's hash; the arguments in 7 pt type
    for evidence_id in ev.values():
        assert f"[{evidence_id}]" in appendix
    assert f"[{ev['year']}] 离职率分析" in paragraphs
    assert "离职率分析（turnover_breakdown）：文件 人员花名册.csv，2024-01-01 至 2024-12-31，按部门分组" in appendix
    assert "仅限 部门 = 客服" in appendix
    assert "离职率 = 期间内离职人数 ÷ 平均在职人数（各月末人数的平均，SHRM 口径）" in appendix
    assert f"[{ev['combined']}] 多项举措合并测算" in paragraphs and "基于 [" in appendix
    assert sha in appendix
    assert "引用的数值：整体离职率" in appendix
    small = [p for p in document.paragraphs if p.runs and p.runs[0].text.startswith("完整参数")]
    assert len(small) == len(ev) and all(run.font.size.pt == 7 for p in small for run in p.runs)
    assert not re.search(r"\d\.\d{4,}e[+-]\d", appendix)  # no 1.83512e+06 anywhere
    assert '"csv_text": null' not in appendix and ": null" not in appendix  # unset arguments are left out


async def test_the_html_file_folds_the_arguments_and_embeds_the_charts(exported) -> None:
    settings, plan, files, _ = exported
    page = (settings.output_dir / files["html"]["filename"]).read_text(encoding="utf-8")
    assert page.count('<details class="small">') == len(plan["evidence"])
    assert page.count('src="data:image/png;base64,') == 6
    assert "<h2>证据附录</h2>" in page
    markdown = (settings.output_dir / files["md"]["filename"]).read_text(encoding="utf-8")
    assert markdown.count("<details><summary>完整参数</summary>") == len(plan["evidence"])
    for chart in files["md"]["charts"]:
        assert f"]({chart})" in markdown and (settings.output_dir / chart).is_file()
    first = base64.b64encode((settings.output_dir / files["md"]["charts"][0]).read_bytes()).decode()
    assert first in page  # the same chart file the markdown links


def _pages_with(pdf: Path, words: str) -> tuple[int, int]:
    """(pages in the PDF, the 1-based page where ``words`` first appear)."""
    pages = int(re.search(r"Pages:\s+(\d+)", subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True,
                                                          check=True).stdout).group(1))
    for page in range(1, pages + 1):
        text = subprocess.run(["pdftotext", "-f", str(page), "-l", str(page), str(pdf), "-"], capture_output=True,
                              text=True, check=True).stdout
        if words in text.replace(" ", ""):
            return pages, page
    raise AssertionError(f"{words!r} is on no page")


async def test_rendered_the_appendix_is_no_longer_than_the_plan(exported, tmp_path: Path) -> None:
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None or shutil.which("pdftotext") is None:
        pytest.skip("LibreOffice and poppler-utils are needed to render the Word file (.ci/run installs them)")
    settings, _, files, _ = exported
    out = tmp_path / "pdf"
    subprocess.run([soffice, f"-env:UserInstallation=file://{tmp_path / 'lo-profile'}", "--headless",
                    "--convert-to", "pdf", "--outdir", str(out), str(settings.output_dir / files["docx"]["filename"])],
                   check=True, capture_output=True, timeout=240)
    pages, appendix_starts = _pages_with(next(out.glob("*.pdf")), "证据附录")
    plan_pages = appendix_starts  # the appendix starts on the plan's last page at the latest
    appendix_pages = pages - appendix_starts + 1
    assert appendix_pages <= plan_pages, (pages, appendix_starts)


def test_every_plan_wording_entry_has_both_languages_and_the_same_placeholders() -> None:
    from retention_mcp.catalog import bundled_dir

    data = yaml.safe_load((bundled_dir("tools") / "wording" / "plan.yaml").read_text(encoding="utf-8"))
    formatter = string.Formatter()

    def fields(text: str) -> set[str]:
        return {name for _, name, _, _ in formatter.parse(text) if name}

    def walk(node: dict, where: str) -> int:
        assert all(isinstance(key, str) for key in node), f"{where}: a key YAML read as not text (quote it)"
        if set(node) == {"en", "zh"}:
            assert isinstance(node["en"], str) and isinstance(node["zh"], str), where
            assert fields(node["en"]) == fields(node["zh"]), where
            assert not re.search(r"[，；：（）]", node["en"]), where  # each language its own punctuation
            assert not re.search(r"[\u4e00-\u9fff][,;:()]", node["zh"]), where
            return 1
        return sum(walk(value, f"{where}.{key}") for key, value in node.items())

    assert walk(data, "plan") > 250
