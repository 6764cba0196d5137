"""The reports as a person sees them, on a machine with no Chinese font: the HTML in headless Chromium and the DOCX
through LibreOffice (→ PDF → PNG by poppler) draw Chinese glyphs, not boxes, because they carry the packaged font.

The font configuration handed to both programs holds only matplotlib's DejaVu fonts. Two reports differing only in
their Chinese characters (王 and 田) must then look different; the control, the same reports without the embedded
font, must look the same (every character the same box), which shows the machine really had no font to fall back on.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from retention_mcp.report import export as export_module
from retention_mcp.report.export import export_report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")
PDFTOPPM = shutil.which("pdftoppm")
#: A program that hangs is a failure, not a wait: each gets this long.
DEADLINE_SECONDS = 240


def latin_only_fonts(folder: Path) -> dict[str, str]:
    """Environment for a child process whose fontconfig sees matplotlib's DejaVu fonts and nothing else."""
    import matplotlib

    fonts = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    folder.mkdir(parents=True, exist_ok=True)
    conf = folder / "fonts.conf"
    conf.write_text(f'<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "fonts.dtd">\n<fontconfig>'
                    f"<dir>{fonts}</dir><cachedir>{folder / 'cache'}</cachedir></fontconfig>\n", encoding="utf-8")
    return {**os.environ, "FONTCONFIG_FILE": str(conf), "HOME": str(folder)}


def reports(settings, fmt: str, character: str) -> Path:
    text = character * 6
    markdown = f"## {text}\n\n{text}，{text}。\n\n| {text} | 1 |\n|---|---:|\n| {text} | 2 |\n"
    return Path(export_report(settings, text, markdown=markdown, fmt=fmt, filename=f"{ord(character)}.{fmt}").path)


def pixels(png: Path) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(png).convert("L"), dtype=np.int16)


def screenshot(html: Path, folder: Path) -> np.ndarray:
    out = folder / f"{html.stem}.png"
    subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
                    f"--user-data-dir={folder / 'chromium'}", "--window-size=800,600", f"--screenshot={out}",
                    html.as_uri()], env=latin_only_fonts(folder), check=True, capture_output=True,
                   timeout=DEADLINE_SECONDS)
    return pixels(out)


def printed(docx_files: list[Path], folder: Path) -> list[np.ndarray]:
    env = latin_only_fonts(folder)
    subprocess.run([SOFFICE, "--headless", f"-env:UserInstallation={(folder / 'office').as_uri()}",
                    "--convert-to", "pdf", "--outdir", str(folder), *map(str, docx_files)],
                   env=env, check=True, capture_output=True, timeout=DEADLINE_SECONDS)
    pages = []
    for docx in docx_files:
        subprocess.run([PDFTOPPM, "-png", "-r", "60", "-f", "1", "-l", "1", "-singlefile",
                        str(folder / f"{docx.stem}.pdf"), str(folder / docx.stem)],
                       check=True, capture_output=True, timeout=DEADLINE_SECONDS)
        pages.append(pixels(folder / f"{docx.stem}.png"))
    return pages


def differing_pixels(a: np.ndarray, b: np.ndarray) -> int:
    assert a.shape == b.shape
    return int((np.abs(a - b) > 64).sum())


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed (.ci/run installs it from apt)")
def test_html_draws_chinese_in_a_browser_without_a_chinese_font(settings, tmp_path, monkeypatch) -> None:
    wang, tian = (screenshot(reports(settings, "html", ch), tmp_path / "with" / ch) for ch in "王田")
    assert differing_pixels(wang, tian) > 500  # the two characters' glyphs, drawn 6 × 4 times
    monkeypatch.setattr(export_module, "_report_font", lambda doc: None)
    settings = dataclasses.replace(settings, output_dir=tmp_path / "bare")
    bare_wang, bare_tian = (screenshot(reports(settings, "html", ch), tmp_path / "without" / ch) for ch in "王田")
    assert differing_pixels(bare_wang, bare_tian) == 0  # control: no font on the machine, every character a box


@pytest.mark.skipif(SOFFICE is None or PDFTOPPM is None,
                    reason="LibreOffice or poppler-utils is not installed (.ci/run installs them from apt)")
def test_docx_draws_chinese_in_libreoffice_without_a_chinese_font(settings, tmp_path, monkeypatch) -> None:
    wang, tian = printed([reports(settings, "docx", ch) for ch in "王田"], tmp_path / "with")
    assert differing_pixels(wang, tian) > 300
    monkeypatch.setattr(export_module, "_report_font", lambda doc: None)
    settings = dataclasses.replace(settings, output_dir=tmp_path / "bare")
    bare_wang, bare_tian = printed([reports(settings, "docx", ch) for ch in "王田"], tmp_path / "without")
    assert differing_pixels(bare_wang, bare_tian) == 0
