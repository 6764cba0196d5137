"""Charts: PNG bytes at most 1000 px wide, Chinese labels drawn with a CJK font, saving without overwrite."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from PIL import Image

from retention_mcp.report import charts


def png_size(data: bytes) -> tuple[int, int]:
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    return Image.open(io.BytesIO(data)).size


CHINESE_CHARTS = [
    lambda: charts.turnover_by_group_chart(["客服中心", "研发部", "销售部"], [0.31, 0.08, None], [0.28, 0.05, None],
                                           [0.34, 0.12, None], overall=0.19, title="各部门离职率"),
    lambda: charts.retention_curves_chart({"销售": [(0, 1.0), (30, 0.9), (90, 0.82)], "研发": [(90, 0.95)]},
                                          title="留存曲线", time_label="入职天数"),
    lambda: charts.roi_scenarios_chart(["保守", "基准", "乐观"], roi=[-0.1, 0.8, 2.1], title="投资回报"),
    lambda: charts.roi_scenarios_chart(["保守", "基准"], benefit=[100, 300], cost=[120, 120], currency="元"),
    lambda: charts.kpi_scorecard_chart(["首次解决率", "客户满意度"], [0.9, 1.1], ["黄", "绿"], title="KPI 计分卡"),
    lambda: charts.driver_importance_chart(["工作满意度", "加班"], [0.6, 0.4], ["fix first", None]),
]


@pytest.mark.parametrize("draw", CHINESE_CHARTS)
def test_charts_are_small_pngs_with_chinese_glyphs(draw) -> None:
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        data = draw()
    width, height = png_size(data)
    assert 300 <= width <= 1000 and height > 100
    assert charts.cjk_font_name() == charts.PACKAGED_FAMILY  # the font shipped with the package, whatever the system


def _glyph(text: str, family: list[str]) -> bytes:
    """``text`` drawn alone in ``family`` (with matplotlib's glyph fallback), as raw RGBA pixels."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(0.6, 0.6), dpi=100)
    canvas = FigureCanvasAgg(figure)
    figure.text(0.5, 0.5, text, fontsize=30, family=family, ha="center", va="center")
    canvas.draw()
    return bytes(canvas.buffer_rgba())


def test_chinese_characters_are_drawn_as_glyphs_not_boxes() -> None:
    """A font without Han glyphs draws every character as the same empty box; the charts' font list draws each
    character as itself. Compared pixel by pixel, so the test fails if the labels turn into boxes."""
    import matplotlib

    charts.cjk_font_name()  # sets the charts' font list up
    family = list(matplotlib.rcParams["font.family"])
    assert charts.PACKAGED_FAMILY in family
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        boxes = {_glyph(ch, ["DejaVu Sans"]) for ch in "离职率"}
        glyphs = {_glyph(ch, family) for ch in "离职率"}
    assert len(boxes) == 1  # DejaVu has none of them: three identical boxes
    assert len(glyphs) == 3 and not glyphs & boxes  # three different characters, none a box


def test_chart_input_errors() -> None:
    with pytest.raises(ValueError, match="one per label"):
        charts.turnover_by_group_chart(["a", "b"], [0.1])
    with pytest.raises(ValueError, match="suppressed"):
        charts.turnover_by_group_chart(["a"], [None])
    with pytest.raises(ValueError, match="roi"):
        charts.roi_scenarios_chart(["a"])
    with pytest.raises(ValueError, match="unknown chart kind"):
        charts.chart_from_spec("pie", {})
    with pytest.raises(ValueError, match="does not take"):
        charts.chart_from_spec("kpi_scorecard", {"names": ["a"], "achievement": [1], "colour": ["x"]})
    with pytest.raises(ValueError, match="time, survival"):
        charts.retention_curves_chart({"a": [1, 2]})


def test_save_chart_never_overwrites(settings) -> None:
    data = charts.kpi_scorecard_chart(["A"], [1.0], ["green"])
    first = charts.save_chart(settings, data, "scorecard")
    second = charts.save_chart(settings, b"other", "scorecard.png")
    third = charts.save_chart(settings, b"x", "../../escape")
    assert first.name == "scorecard.png" and second.name == "scorecard-2.png"
    assert first.read_bytes() == data and second.read_bytes() == b"other"
    assert third.parent == settings.output_dir and third.name == "escape.png"


def test_tool_modules_import_nothing_heavy() -> None:
    import subprocess
    import sys

    # The MCP server process registers every tool without loading the heavy libraries (workers do).
    code = ("import sys, anyio; from retention_mcp.server import build_wiring; "
            "from retention_mcp.settings import Settings; w = build_wiring(Settings(data_dirs=())); "
            "w.ensure_registered(); anyio.run(w.server.list_tools); "
            "print(sorted(m for m in ('matplotlib', 'pandas', 'numpy', 'docx', 'openpyxl', 'scipy', 'pyarrow') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]"


# -- CJK fonts: found by name or file, a note when there is none, no per-glyph noise

def test_cjk_note_when_labels_are_chinese_and_no_font_is_found() -> None:
    note = charts.cjk_font_status(["客服中心", "R&D"], installed=[], font_files=[])
    assert note is not None and "boxes" in note and "noto-cjk-sans-otc" in note and "\n" not in note
    assert charts.cjk_font_status("離職率 by team", installed=["DejaVu Sans"], font_files=[]) == note
    assert charts.cjk_font_status(["Sales", "R&D"], installed=[], font_files=[]) is None  # nothing to draw in CJK


@pytest.mark.parametrize("family", ["PingFang SC", "Hiragino Sans GB", "STHeiti", "Songti SC", "Arial Unicode MS",
                                    "Microsoft YaHei", "SimHei", "SimSun", "DengXian", "Noto Sans CJK SC",
                                    "Source Han Sans SC", "WenQuanYi Zen Hei", "Droid Sans Fallback"])
def test_the_fonts_each_platform_ships_are_recognised_by_family_name(family: str) -> None:
    assert charts.find_cjk_font(installed=["DejaVu Sans", family], font_files=[]) == family
    assert charts.cjk_font_status(["客服中心"], installed=[family], font_files=[]) is None


def test_a_font_file_at_a_known_path_is_registered_and_used(tmp_path) -> None:
    import matplotlib

    dejavu = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"  # stands in for a CJK file
    assert charts.find_cjk_font(installed=[], font_files=[tmp_path / "missing.ttc", dejavu]) == "DejaVu Sans"
    assert charts.find_cjk_font(installed=[], font_files=[tmp_path / "missing.ttc"]) is None
    assert any(path.endswith("msyh.ttc") for path in charts.CJK_FONT_FILES)
    assert "/System/Library/Fonts/PingFang.ttc" in charts.CJK_FONT_FILES


def test_drawing_chinese_labels_prints_no_per_glyph_warnings(tmp_path) -> None:
    code = ("from retention_mcp.report import charts\n"
            "charts.turnover_by_group_chart(['客服中心', '研发部', '销售部'], [0.3, 0.1, 0.2], title='各部门离职率')\n"
            "print(charts.cjk_font_name())\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "MPLCONFIGDIR": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    assert "missing from font" not in done.stderr
    if done.stdout.strip() == "None":  # no CJK font here: one line says so, not one per glyph
        assert done.stderr.count("no CJK font found") == 1 and len(done.stderr.splitlines()) <= 3


def test_an_roi_sensitivity_axis_is_a_percent_and_names_no_currency() -> None:
    """The base of an ROI tornado is a percent ("base 157.5%"), not money: no currency beside it; a net-benefit
    tornado's axis keeps its currency."""
    import io

    from PIL import Image

    from retention_mcp.report.charts import sensitivity_chart

    def words(metric: str) -> str:
        png = sensitivity_chart(["headcount", "cost"], [1.2, 1.4], [1.9, 1.7], base=1.575, metric=metric,
                                base_label="base 157.5%" if metric == "roi" else "base 300,000", currency="CNY")
        return Image.open(io.BytesIO(png)).text["Description"]

    assert "base 157.5%" in words("roi") and "CNY" not in words("roi")
    assert "CNY" in words("net_benefit")
