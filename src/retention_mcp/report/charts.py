"""Charts as PNG bytes (matplotlib, Agg, imported lazily) and saving them into the output folder.

Every function takes plain lists / dicts so any tool can call it, and returns PNG bytes at most
``MAX_WIDTH_PX`` wide, its words (axes, legends, default titles) in the ``language`` asked for. Chinese labels
render as text on any machine: Noto Sans CJK ships with the package (the ``noto-cjk-sans-otc`` dependency) and is
put in matplotlib's font fallback list; a CJK font the machine has (macOS, Windows and Linux fonts, by family name
through matplotlib's font list, else at their usual file paths) is used only when that package is missing. Without
any, labels show as boxes: the per-glyph warnings matplotlib would print are silenced, and
``cjk_font_status(labels)`` gives a tool the one-line note to show instead.
"""

from __future__ import annotations

import io
import logging
import os
import re
import threading
import warnings
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from retention_mcp.errors import InputError
from retention_mcp.settings import Settings
from retention_mcp.wording import words

if TYPE_CHECKING:
    from matplotlib.figure import Figure

logger = logging.getLogger(__name__)

MAX_WIDTH_PX = 960
#: The family of the packaged collection whose glyphs suit Simplified Chinese (the users' language).
PACKAGED_FAMILY = "Noto Sans CJK SC"
DPI = 100
#: CJK-capable font families, tried in order (the first installed wins): what macOS, Windows and Linux ship.
CJK_FONT_CANDIDATES = (
    # macOS
    "PingFang SC", "Hiragino Sans GB", "STHeiti", "Heiti SC", "Songti SC", "STSong", "Arial Unicode MS",
    # Windows
    "Microsoft YaHei", "SimHei", "DengXian", "SimSun", "NSimSun",
    # Linux
    "Noto Sans CJK SC", "Noto Sans CJK JP", "Noto Sans CJK TC", "Noto Sans CJK KR", "Noto Sans SC",
    "Source Han Sans SC", "Source Han Sans CN", "Source Han Sans", "WenQuanYi Zen Hei", "WenQuanYi Micro Hei",
    "Droid Sans Fallback", "Noto Serif CJK SC", "AR PL UMing CN", "AR PL UKai CN",
)
_WINDOWS_FONTS = os.path.join(os.environ.get("WINDIR", "C:\\Windows"), "Fonts")
#: Where those fonts usually live, for when matplotlib's font list lacks them (a font cache older than the font,
#: or a folder it does not scan).
CJK_FONT_FILES = (
    "/System/Library/Fonts/PingFang.ttc", "/System/Library/Fonts/Hiragino Sans GB.ttc",
    "/System/Library/Fonts/STHeiti Light.ttc", "/System/Library/Fonts/STHeiti Medium.ttc",
    "/System/Library/Fonts/Supplemental/Songti.ttc", "/Library/Fonts/Songti.ttc",
    "/System/Library/Fonts/Supplemental/Arial Unicode.ttf", "/Library/Fonts/Arial Unicode.ttf",
    *(os.path.join(_WINDOWS_FONTS, name) for name in ("msyh.ttc", "msyh.ttf", "simhei.ttf", "Deng.ttf",
                                                      "simsun.ttc")),
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc", "/usr/share/fonts/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/adobe-source-han-sans/SourceHanSansCN-Regular.otf",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/wenquanyi/wqy-zenhei/wqy-zenhei.ttc", "/usr/share/fonts/wenquanyi/wqy-microhei/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf", "/usr/share/fonts/google-droid/DroidSansFallback.ttf",
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
)
#: Parts of file names (lower case, no '-' or '_') that mark CJK fonts elsewhere on the system.
CJK_FILE_HINTS = ("notosanscjk", "notoserifcjk", "sourcehan", "wqy", "droidsansfallback", "msyh", "simhei", "simsun",
                  "deng.ttf", "pingfang", "hiragino", "stheiti", "songti", "arialuni", "arial unicode")
MISSING_GLYPH = r"Glyph \d+ .*missing from"
#: Han, kana, hangul and CJK punctuation: text that DejaVu Sans (matplotlib's default) cannot draw.
CJK_TEXT = re.compile("[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef\U00020000-\U0003134f]")
CJK_FONT_ADVICE = ("Chinese labels may show as boxes: the packaged font (noto-cjk-sans-otc) is missing and no CJK "
                   "font is installed; reinstall retention-mcp with its dependencies, or install Noto Sans CJK, and "
                   "restart the server")
STATUS_COLOURS = {
    "green": "#2e7d32", "绿": "#2e7d32", "绿色": "#2e7d32", "on track": "#2e7d32",
    "yellow": "#f9a825", "黄": "#f9a825", "黄色": "#f9a825", "watch": "#f9a825",
    "orange": "#ef6c00", "橙": "#ef6c00", "橙色": "#ef6c00", "at risk": "#ef6c00",
    "red": "#c62828", "红": "#c62828", "红色": "#c62828", "off track": "#c62828",
}
NEUTRAL = "#607d8b"
PALETTE = ("#1f5f8b", "#e07b39", "#3a9d5d", "#8e44ad", "#c0392b", "#7f8c8d", "#d4ac0d", "#16a085")

_setup_lock = threading.Lock()
_cjk_font: list[str | None] = []  # memo: [] = not looked up yet


def cjk_font_name() -> str | None:
    """The CJK-capable font family configured for charts (None when the machine has none)."""
    _setup()
    return _cjk_font[0]


def packaged_cjk_font() -> Path | None:
    """The Noto Sans CJK collection shipped as a dependency (None when it is not installed)."""
    try:
        import noto_cjk_sans_otc
    except ImportError:
        return None
    path = Path(str(noto_cjk_sans_otc.FONT_PATH))
    return path if path.is_file() else None


def find_cjk_font(installed: Iterable[str] | None = None, font_files: Iterable[str | os.PathLike[str]] | None = None,
                  scan_system: bool | None = None) -> str | None:
    """The CJK font family charts use: the packaged Noto Sans CJK (its Simplified Chinese face) when installed and
    nothing else is asked for; else the first by name among ``installed`` families (default: matplotlib's font
    list), else from ``font_files`` that exist (default: the usual paths), registered with matplotlib, else from
    fonts on the system whose file names look CJK (when ``scan_system``; by default only with the defaults)."""
    from matplotlib import font_manager

    defaults = installed is None and font_files is None
    packaged = packaged_cjk_font() if defaults else None
    if packaged is not None:
        try:
            font_manager.fontManager.addfont(str(packaged))  # every face of the collection: SC, TC, JP, KR, HK
            return PACKAGED_FAMILY
        except (OSError, RuntimeError, ValueError):
            logger.warning("the packaged CJK font %s could not be read; looking for a system font", packaged)
    names = {f.name for f in font_manager.fontManager.ttflist} if installed is None else set(installed)
    found = next((name for name in CJK_FONT_CANDIDATES if name in names), None)
    if found:
        return found
    paths = [str(p) for p in (CJK_FONT_FILES if font_files is None else font_files)]
    if defaults if scan_system is None else scan_system:
        # The font cache may predate a font installed since: look at the system's font files themselves.
        paths += [p for p in font_manager.findSystemFonts()
                  if any(hint in Path(p).name.lower().replace("-", "").replace("_", "") for hint in CJK_FILE_HINTS)]
    for path in paths:
        if not os.path.isfile(path):
            continue
        try:
            font_manager.fontManager.addfont(path)
            return font_manager.FontProperties(fname=path).get_name()
        except (OSError, RuntimeError, ValueError):
            continue
    return None


def cjk_font_status(labels: str | Iterable[str], *, installed: Iterable[str] | None = None,
                    font_files: Iterable[str | os.PathLike[str]] | None = None) -> str | None:
    """A one-line note for a tool result when ``labels`` contain CJK text and no CJK font was found; else None.

    ``installed`` and ``font_files`` replace the machine's font list and the usual font paths (tests pass
    empty lists to see the note on any machine).
    """
    texts = [labels] if isinstance(labels, str) else [str(label) for label in labels]
    if not any(CJK_TEXT.search(text) for text in texts):
        return None
    if installed is None and font_files is None:
        font = cjk_font_name()
    else:
        _setup()
        font = find_cjk_font(installed, font_files, scan_system=False)
    return None if font else CJK_FONT_ADVICE


def _setup() -> None:
    """Agg backend, the font fallback list and quiet missing-glyph warnings, once per process."""
    with _setup_lock:
        if _cjk_font:
            return
        import matplotlib

        matplotlib.use("Agg", force=False)
        # Without a CJK font, matplotlib warns once per missing glyph on every chart: stderr fills with noise
        # the user cannot act on. The font status is reported once, below, and in results via cjk_font_status.
        warnings.filterwarnings("ignore", message=MISSING_GLYPH, category=UserWarning)
        found = find_cjk_font()
        if found is None:
            logger.warning("no CJK font found for charts. %s", CJK_FONT_ADVICE)
        # An explicit list of families (not the generic "sans-serif") is what makes matplotlib fall back
        # glyph by glyph: Latin from DejaVu Sans, Han characters from the CJK font.
        matplotlib.rcParams["font.family"] = ["DejaVu Sans"] + ([found] if found else [])
        matplotlib.rcParams["axes.unicode_minus"] = False  # the U+2212 minus is missing from some CJK fonts
        _cjk_font.append(found)


def _figure(height_in: float = 4.8) -> Figure:
    _setup()
    from matplotlib.figure import Figure

    # Figure() without pyplot: no global state, safe in worker threads.
    return Figure(figsize=(MAX_WIDTH_PX / DPI, height_in), dpi=DPI, layout="constrained")


def chart_words(fig: Figure) -> list[str]:
    """Every text drawn on ``fig``: titles, axis labels, legends, tick labels and annotations."""
    texts: list[str] = []
    for ax in fig.axes:
        texts += [ax.get_title(), ax.get_xlabel(), ax.get_ylabel()]
        legend = ax.get_legend()
        if legend is not None:
            texts += [t.get_text() for t in legend.get_texts()]
        texts += [t.get_text() for t in [*ax.get_xticklabels(), *ax.get_yticklabels(), *ax.texts]]
    return [t for t in texts if t and t.strip()]


def _png(fig: Figure) -> bytes:
    """The PNG, with its words in the file's text chunks (Title, Description): a screen reader's alt text, and what
    a test reads to check a chart speaks the caller's language."""
    buffer = io.BytesIO()
    words_drawn = chart_words(fig)
    title = next((ax.get_title() for ax in fig.axes if ax.get_title()), "")
    with warnings.catch_warnings():  # also when a caller (a notebook, a test runner) reset the filters
        warnings.filterwarnings("ignore", message=MISSING_GLYPH, category=UserWarning)
        fig.savefig(buffer, format="png", dpi=DPI,
                    metadata={"Title": title, "Description": "\n".join(words_drawn)})
    return buffer.getvalue()


def _height_for(rows: int) -> float:
    return min(12.0, max(3.0, 1.2 + 0.38 * rows))


def _check_lengths(names: Sequence[Any], **others: Sequence[Any] | None) -> None:
    if not names:
        raise InputError("a chart needs at least one label")
    for key, values in others.items():
        if values is not None and len(values) != len(names):
            raise InputError(f"{key} has {len(values)} values but there are {len(names)} labels; give one per label")


def turnover_by_group_chart(labels: Sequence[str], rates: Sequence[float | None],
                            lows: Sequence[float | None] | None = None, highs: Sequence[float | None] | None = None,
                            overall: float | None = None, title: str | None = None,
                            xlabel: str | None = None, language: str = "en") -> bytes:
    """Horizontal bars of turnover rates (fractions) with interval whiskers and an overall line."""
    from matplotlib.ticker import PercentFormatter

    w = words(language)

    _check_lengths(labels, rates=rates, lows=lows, highs=highs)
    rows = [(str(lab), r, lows[i] if lows else None, highs[i] if highs else None)
            for i, (lab, r) in enumerate(zip(labels, rates, strict=True)) if r is not None]
    if not rows:
        raise InputError("every rate is empty (suppressed); nothing to draw")
    rows.reverse()  # first label on top
    fig = _figure(_height_for(len(rows)))
    ax = fig.add_subplot()
    ys = range(len(rows))
    colours = [PALETTE[1] if overall is not None and r > overall else PALETTE[0] for _, r, _, _ in rows]
    ax.barh(list(ys), [r for _, r, _, _ in rows], color=colours, alpha=0.85)
    if lows and highs:
        err_low = [max(0.0, r - lo) if lo is not None else 0.0 for _, r, lo, _ in rows]
        err_high = [max(0.0, hi - r) if hi is not None else 0.0 for _, r, _, hi in rows]
        ax.errorbar([r for _, r, _, _ in rows], list(ys), xerr=[err_low, err_high], fmt="none", ecolor="#333333",
                    capsize=3, linewidth=1)
    if overall is not None:
        ax.axvline(overall, color="#c62828", linestyle="--", linewidth=1.2,
                   label=w("charts.overall_line", rate=f"{overall * 100:.1f}%"))
        ax.legend(loc="lower right")
    ax.set_yticks(list(ys), [lab for lab, _, _, _ in rows])
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_xlabel(xlabel or w("charts.turnover_axis"))
    ax.set_title(title or w("charts.turnover_title"))
    ax.grid(axis="x", alpha=0.3)
    return _png(fig)


def retention_curves_chart(series: Mapping[str, Sequence[Sequence[float]]], title: str | None = None,
                           time_label: str | None = None, ylabel: str | None = None, language: str = "en") -> bytes:
    """Step curves of survival (fraction still employed) over time, one per series label."""
    from matplotlib.ticker import PercentFormatter

    w = words(language)

    if not series:
        raise InputError("series is empty: give {label: [[time, survival], ...]}")
    fig = _figure(5.0)
    ax = fig.add_subplot()
    for i, (label, points) in enumerate(series.items()):
        try:
            pairs = sorted((float(t), float(s)) for t, s in points)
        except (TypeError, ValueError):
            raise InputError(f"series {label!r} must be a list of [time, survival] pairs") from None
        if not pairs:
            continue
        if pairs[0][0] > 0:
            pairs.insert(0, (0.0, 1.0))
        ax.step([t for t, _ in pairs], [s for _, s in pairs], where="post", label=str(label),
                color=PALETTE[i % len(PALETTE)], linewidth=1.8)
    ax.set_ylim(0, 1.02)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_xlabel(time_label or w("charts.since_hire.days"))
    ax.set_ylabel(ylabel or w("charts.still_employed"))
    ax.set_title(title or w("charts.retention_title"))
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left")
    return _png(fig)


def roi_scenarios_chart(names: Sequence[str], roi: Sequence[float] | None = None,
                        benefit: Sequence[float] | None = None, cost: Sequence[float] | None = None,
                        title: str | None = None, currency: str = "", language: str = "en") -> bytes:
    """ROI (fraction, (benefit - cost) / cost) per scenario; or benefit vs cost bars when those are given."""
    from matplotlib.ticker import PercentFormatter

    w = words(language)

    _check_lengths(names, roi=roi, benefit=benefit, cost=cost)
    if roi is None and (benefit is None or cost is None):
        raise InputError("give roi (fractions) or both benefit and cost")
    fig = _figure(_height_for(len(names)) if benefit is None else 4.8)
    ax = fig.add_subplot()
    labels = [str(n) for n in names]
    if benefit is not None and cost is not None:
        xs = list(range(len(labels)))
        ax.bar([x - 0.2 for x in xs], list(benefit), width=0.4, label=w("charts.benefit"), color=PALETTE[2])
        ax.bar([x + 0.2 for x in xs], list(cost), width=0.4, label=w("charts.cost"), color=PALETTE[1])
        for x, b, c in zip(xs, benefit, cost, strict=True):
            if c:
                ax.annotate(f"ROI {(b - c) / c * 100:.0f}%", (x, max(b, c)), ha="center", va="bottom", fontsize=9)
        ax.set_xticks(xs, labels)
        ax.set_ylabel(f"{w('charts.amount')} {currency}".strip())
        ax.legend(loc="upper left")
        ax.grid(axis="y", alpha=0.3)
    else:
        values = list(roi or [])
        ys = list(range(len(labels)))[::-1]
        ax.barh(ys, values, color=[PALETTE[2] if v >= 0 else PALETTE[4] for v in values])
        for y, v in zip(ys, values, strict=True):
            ax.annotate(f"{v * 100:.0f}%", (v, y), xytext=(4 if v >= 0 else -4, 0), textcoords="offset points",
                        ha="left" if v >= 0 else "right", va="center", fontsize=9)
        ax.axvline(0, color="#333333", linewidth=0.8)
        ax.set_yticks(ys, labels)
        ax.xaxis.set_major_formatter(PercentFormatter(1.0))
        ax.set_xlabel(w("charts.roi_axis"))
        ax.grid(axis="x", alpha=0.3)
    ax.set_title(title or w("charts.roi_title"))
    return _png(fig)


def kpi_scorecard_chart(names: Sequence[str], achievement: Sequence[float], status: Sequence[str] | None = None,
                        title: str | None = None, language: str = "en") -> bytes:
    """Achievement per KPI (fraction of target, 1.0 = met) coloured by status (green/yellow/orange/red)."""
    from matplotlib.patches import Patch
    from matplotlib.ticker import PercentFormatter

    w = words(language)

    _check_lengths(names, achievement=achievement, status=status)
    labels = [str(n) for n in names][::-1]
    values = [float(a) for a in achievement][::-1]
    statuses = [str(s).strip().lower() for s in (status or ["" for _ in names])][::-1]
    colours = [STATUS_COLOURS.get(s, NEUTRAL) for s in statuses]
    fig = _figure(_height_for(len(labels)))
    ax = fig.add_subplot()
    ys = list(range(len(labels)))
    ax.barh(ys, values, color=colours)
    for y, v in zip(ys, values, strict=True):
        ax.annotate(f"{v * 100:.0f}%", (v, y), xytext=(4, 0), textcoords="offset points", va="center", fontsize=9)
    ax.axvline(1.0, color="#333333", linestyle="--", linewidth=1, label=w("charts.target"))
    ax.set_yticks(ys, labels)
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_xlim(0, max(1.15, max(values) * 1.15))
    ax.set_xlabel(w("charts.achievement_axis"))
    ax.set_title(title or w("charts.kpi_title"))
    used = [s for s in dict.fromkeys(statuses) if s in STATUS_COLOURS]
    handles = [Patch(color=STATUS_COLOURS[s], label=w.option("charts.status", s)) for s in used]
    if handles:
        ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=len(handles), frameon=False)
    ax.grid(axis="x", alpha=0.3)
    return _png(fig)


def driver_importance_chart(drivers: Sequence[str], importance: Sequence[float],
                            quadrants: Sequence[str | None] | None = None,
                            title: str | None = None, language: str = "en") -> bytes:
    """Horizontal bars of each driver's share of the model R² (fractions), coloured by priority quadrant."""
    from matplotlib.patches import Patch
    from matplotlib.ticker import PercentFormatter

    w = words(language)

    _check_lengths(drivers, importance=importance, quadrants=quadrants)
    colours_by_quadrant = {"fix first": "#c62828", "strength": "#2e7d32", "monitor": "#f9a825",
                           "maintain": "#1f5f8b", None: NEUTRAL}
    quads = list(quadrants or [None] * len(drivers))[::-1]
    labels = [str(d) for d in drivers][::-1]
    values = [float(v) for v in importance][::-1]
    fig = _figure(_height_for(len(labels)))
    ax = fig.add_subplot()
    ys = list(range(len(labels)))
    ax.barh(ys, values, color=[colours_by_quadrant.get(q, NEUTRAL) for q in quads])
    for y, v in zip(ys, values, strict=True):
        ax.annotate(f"{v * 100:.1f}%", (v, y), xytext=(4, 0), textcoords="offset points", va="center", fontsize=9)
    ax.set_yticks(ys, labels)
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_xlim(0, max([*values, 0.01]) * 1.18)
    ax.set_title(title or w("charts.drivers_title"))
    present = [q for q in dict.fromkeys(quads) if q]
    if present:
        ax.legend(handles=[Patch(color=colours_by_quadrant.get(q, NEUTRAL), label=w.option("charts.quadrant", q))
                           for q in present], loc="lower right")
    ax.grid(axis="x", alpha=0.3)
    return _png(fig)


def sensitivity_chart(inputs: Sequence[str], at_low: Sequence[float | None], at_high: Sequence[float | None],
                      base: float, metric: str = "roi", title: str | None = None, low_label: str | None = None,
                      high_label: str | None = None, base_label: str | None = None, currency: str = "",
                      language: str = "en") -> bytes:
    """A tornado chart: for each input (largest swing on top) the metric with the input at −20% and at +20%, as
    bars from the base value; ``metric`` 'roi' (fractions) or 'net_benefit' (money). Words not given are in
    ``language``."""
    w = words(language)
    net = metric == "net_benefit"
    title = title or w("plan.charts.sensitivity_title_net" if net else "plan.charts.sensitivity_title")
    low_label, high_label = low_label or w("plan.charts.at_low"), high_label or w("plan.charts.at_high")
    base_label = base_label or w("roi.scenario_names.base")
    from matplotlib.ticker import FuncFormatter, PercentFormatter

    _check_lengths(inputs, at_low=at_low, at_high=at_high)
    rows = [(str(name), lo, hi) for name, lo, hi in zip(inputs, at_low, at_high, strict=True)
            if lo is not None and hi is not None][::-1]
    if not rows:
        raise InputError("no input has a value at both ends; nothing to draw")
    fig = _figure(_height_for(len(rows)))
    ax = fig.add_subplot()
    ys = list(range(len(rows)))
    ax.barh(ys, [lo - base for _, lo, _ in rows], left=base, color=PALETTE[1], alpha=0.85, label=low_label)
    ax.barh(ys, [hi - base for _, _, hi in rows], left=base, color=PALETTE[0], alpha=0.85, label=high_label)
    ax.axvline(base, color="#333333", linewidth=1)
    ax.set_yticks(ys, [name for name, _, _ in rows])
    if metric == "roi":
        ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    else:
        ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _pos: f"{value:,.0f}"))
    ax.set_xlabel(f"{base_label} {currency}".strip() if net else base_label)  # ROI is a percent, not money
    ax.set_title(title)
    ax.legend(loc="lower right")
    ax.grid(axis="x", alpha=0.3)
    return _png(fig)


def gantt_chart(names: Sequence[str], starts: Sequence[float], ends: Sequence[float],
                owners: Sequence[str] | None = None, budgets: Sequence[str] | None = None,
                milestones: Sequence[str] | None = None, title: str | None = None, xlabel: str | None = None,
                language: str = "en") -> bytes:
    """Phases as bars from the start of month ``starts[i]`` to the end of month ``ends[i]`` (1-based), first phase
    on top, labelled with the owner inside and the budget at the right; ``milestones[i]`` (e.g. the KPI targets
    due) is written under the bar's end, a diamond marking it. Words not given are in ``language``."""
    w = words(language)
    title, xlabel = title or w("plan.charts.gantt_title"), xlabel or w("plan.charts.month_axis")
    _check_lengths(names, starts=starts, ends=ends, owners=owners, budgets=budgets, milestones=milestones)
    count = len(names)
    fig = _figure(min(10.0, max(2.6, 1.1 + 0.75 * count)))
    ax = fig.add_subplot()
    last = max(float(e) for e in ends)
    for row in range(count):
        y = count - 1 - row
        start, end = float(starts[row]) - 1, float(ends[row])
        ax.barh(y, end - start, left=start, height=0.5, color=PALETTE[row % len(PALETTE)], alpha=0.9)
        if owners and owners[row]:
            ax.text(start + 0.15, y, str(owners[row]), va="center", ha="left", fontsize=9, color="white")
        if budgets and budgets[row]:
            ax.text(end + 0.15, y, str(budgets[row]), va="center", ha="left", fontsize=9)
        if milestones and milestones[row]:
            ax.plot([end], [y - 0.32], marker="D", color="#333333", markersize=5)
            ax.text(end, y - 0.42, str(milestones[row]), va="top", ha="right", fontsize=8, color="#333333")
    ax.set_yticks(list(range(count)), [str(n) for n in names][::-1])
    ax.set_xlim(0, last * 1.22 + 0.5)
    ax.set_ylim(-0.9, count - 0.4)
    ax.set_xticks(range(0, int(last) + 1, max(1, int(last) // 12)))
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    ax.grid(axis="x", alpha=0.3)
    return _png(fig)


#: Chart kinds a report section can ask for, by name (the function is looked up when drawn).
CHARTS = {
    "turnover_by_group": "turnover_by_group_chart",
    "retention_curves": "retention_curves_chart",
    "roi_scenarios": "roi_scenarios_chart",
    "roi_sensitivity": "sensitivity_chart",
    "kpi_scorecard": "kpi_scorecard_chart",
    "driver_importance": "driver_importance_chart",
    "roadmap_gantt": "gantt_chart",
}


def chart_from_spec(kind: str, data: Mapping[str, Any], language: str = "en") -> bytes:
    """Draw a chart named ``kind`` with keyword ``data`` (e.g. from a report section's chart spec); axis words and
    default titles in ``language`` unless ``data`` names one."""
    import inspect

    if kind not in CHARTS:
        raise InputError(f"unknown chart kind {kind!r}; use one of {', '.join(CHARTS)}")
    function = globals()[CHARTS[kind]]
    params = inspect.signature(function).parameters
    unknown = set(data) - set(params)
    if unknown:
        raise InputError(f"chart {kind!r} does not take {', '.join(sorted(unknown))}; it takes {', '.join(params)}")
    missing = [p.name for p in params.values() if p.default is inspect.Parameter.empty and p.name not in data]
    if missing:
        raise InputError(f"chart {kind!r} needs {', '.join(missing)}")
    try:
        return function(**{"language": language, **data})
    except (TypeError, ValueError) as exc:
        raise InputError(f"chart {kind!r}: {exc}") from None


def _safe_stem(stem: str) -> str:
    cleaned = re.sub(r"[^\w.-]+", "-", stem, flags=re.UNICODE).strip(".-_") or "chart"
    return cleaned[:80]


def save_chart(settings: Settings, png_bytes: bytes, stem: str) -> Path:
    """Write ``png_bytes`` as ``<stem>.png`` in the output folder; never overwrite (adds -2, -3...)."""
    folder = settings.output_dir
    folder.mkdir(parents=True, exist_ok=True)
    base = _safe_stem(stem.removesuffix(".png"))
    for attempt in range(1, 10_000):
        name = f"{base}.png" if attempt == 1 else f"{base}-{attempt}.png"
        target = folder / name
        try:
            # O_EXCL: the name is claimed atomically, so two concurrent calls never share a file.
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            continue
        with os.fdopen(fd, "wb") as handle:
            handle.write(png_bytes)
        return target
    raise InputError(f"too many charts named {base!r} in the output folder; clean it up")


def draw_spec(spec: Mapping[str, Any], language: str = "en") -> bytes:
    """Draw a result's chart spec (``{"kind", "data", "context"}``, stored with its evidence) with its titles and
    axes in ``language``: what chart=true returns and what plan_export places where the result is cited."""
    from retention_mcp.plan_words import plan_words

    w = plan_words(language)
    kind, data, context = spec["kind"], dict(spec.get("data") or {}), dict(spec.get("context") or {})
    by = " × ".join(w.option("vocabulary.dimension", b) for b in context.get("by") or [])
    if kind == "turnover_by_group":
        title = w("charts.turnover_title_by", by=by) if by else w("charts.turnover_title_all")
        if context.get("top"):
            title += w("charts.top_groups", count=context["top"])
        months = context.get("months")
        event = context.get("shape", "event" if months else "snapshot") == "event"
        xlabel = (w("charts.turnover_axis_event", months=f"{months:g}") if event and months
                  else w("charts.turnover_axis_snapshot"))
        data.update(title=title, xlabel=xlabel)
    elif kind == "retention_curves":
        overall = w("plan.charts.overall_label")
        data["series"] = {overall if label == "Overall" else label: points
                          for label, points in (data.get("series") or {}).items()}
        estimator = context.get("estimator")
        if estimator:
            title = (w("charts.retention_title_by", estimator=estimator, by=by) if by
                     else w("charts.retention_title_all", estimator=estimator))
        else:
            title = w("plan.charts.retention_title_by", by=by) if by else w("plan.charts.retention_title")
        data.update(title=title, time_label=w(f"charts.since_hire.{context.get('unit', 'days')}"),
                    ylabel=w("charts.still_employed"))
    elif kind == "roi_scenarios":
        data["names"] = [w.option("roi.scenario_names", n) for n in data.get("names") or []]
        data["title"] = w("plan.charts.roi_title", months=context.get("months", 12))
    elif kind == "roi_sensitivity":
        data["inputs"] = [w.get(f"plan.charts.inputs.{n}", n) for n in data.get("inputs") or []]
        net = data.get("metric") == "net_benefit"
        data.update(title=w("plan.charts.sensitivity_title_net" if net else "plan.charts.sensitivity_title"),
                    low_label=w("plan.charts.at_low"), high_label=w("plan.charts.at_high"),
                    base_label=w("plan.charts.base_line", value=context.get("base_shown", "")))
    elif kind == "roadmap_gantt":
        data.update(title=context.get("title") or w("plan.charts.gantt_title"), xlabel=w("plan.charts.month_axis"))
    elif kind == "driver_importance" and context.get("outcome"):
        data["title"] = w("charts.drivers_title_outcome", outcome=context["outcome"], r2=context.get("r2", ""))
    elif kind == "kpi_scorecard":
        data["title"] = (w("charts.kpi_title_score", score=context["score"]) if context.get("score")
                         else w("charts.kpi_title"))
    return chart_from_spec(kind, data, w.language)
