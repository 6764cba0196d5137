"""open_table: races through the whole reader, title rows above the header, the source record, odd files."""

from __future__ import annotations

import codecs
import dataclasses
import datetime as dt
import gzip
import hashlib
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

from conftest import shared_dataset
from retention_mcp.data.cache import TABLES
from retention_mcp.data.reader import SourceInfo, choose_header_row, load_table, open_table, read_table
from retention_mcp.errors import InputError, LimitError
from retention_mcp.settings import Settings

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX links")


# -- races through the whole reader


@posix_only
def test_a_file_swapped_for_an_outside_link_never_yields_outside_rows(settings: Settings, data_dir: Path,
                                                                     tmp_path: Path) -> None:
    outside = tmp_path / "outside.csv"
    outside.write_bytes(b"name,salary\nOUTSIDE,1\n")
    master = tmp_path / "master.csv"
    master.write_bytes(b"name,salary\ninside,2\n")
    target = data_dir / "f.csv"
    os.link(master, target)
    stop = threading.Event()

    def swapper() -> None:
        n = 0
        while not stop.is_set():
            link, regular = data_dir / f".l{n}", data_dir / f".r{n}"
            os.symlink(outside, link)
            os.replace(link, target)
            os.link(master, regular)
            os.replace(regular, target)
            n += 1

    thread = threading.Thread(target=swapper, daemon=True)
    thread.start()
    time.sleep(0.05)
    seen: set[str] = set()
    answered = 0
    try:
        for _ in range(1000):
            try:
                frame = open_table(settings, path="f.csv").frame
            except InputError:
                continue
            answered += 1
            seen.update(frame["name"].astype(str))
    finally:
        stop.set()
        thread.join(10)
    assert seen == {"inside"} and answered > 0


WRITER = """
import sys, time
path, seconds = sys.argv[1], float(sys.argv[2])
content = open(path, "rb").read()
end = time.monotonic() + seconds
rewrites = 0
while time.monotonic() < end:
    with open(path, "r+b") as handle:  # in place: same inode, truncated, then written in 16 KB pieces
        handle.truncate(0)
        for start in range(0, len(content), 16384):
            handle.write(content[start:start + 16384])
            handle.flush()
            time.sleep(0.001)
    rewrites += 1
    time.sleep(0.12)  # a quiet spell between exports, longer than the reader's settle pause
print(rewrites)
"""


def test_a_file_rewritten_during_reads_is_never_analysed_half_written(settings: Settings, data_dir: Path) -> None:
    """Another process rewrites the file in place while reads run: every read returns all 20,000 rows
    or says the file is being written; none returns part of it."""
    rows = 20_000
    content = ("id,value\n" + "".join(f"{i},{i % 97}\n" for i in range(rows))).encode()
    path = data_dir / "live.csv"
    path.write_bytes(content)
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(path), "3"], stdout=subprocess.PIPE, text=True)
    outcomes = {"complete": 0, "being_written": 0, "partial": 0, "other_error": 0}
    errors: list[str] = []
    try:
        time.sleep(0.3)
        while writer.poll() is None:
            TABLES.clear()  # every read parses the bytes it read
            try:
                frame = open_table(settings, path="live.csv").frame
            except InputError as exc:
                outcomes["being_written" if "being written" in str(exc) else "other_error"] += 1
                errors.append(str(exc))
                continue
            complete = len(frame) == rows and int(frame["id"].iloc[-1]) == rows - 1
            outcomes["complete" if complete else "partial"] += 1
    finally:
        rewrites = int(writer.communicate(timeout=30)[0])
    assert outcomes["partial"] == 0 and outcomes["other_error"] == 0, (outcomes, errors[:3])
    assert outcomes["complete"] > 0, outcomes
    assert rewrites > 10, rewrites


# -- title rows above the header

ZH_TITLED = ("XX公司员工花名册,,,,,\n导出日期: 2024-06-30,,,,,\n,,,,,\n工号,姓名,部门,入职日期,离职日期,离职类型\n"
             + "".join(f"A{i},张{i},{'研发' if i % 2 else '销售'},2024/3/{i % 28 + 1},,\n" for i in range(30)))
EN_TITLED = ("ACME Corp - employee roster\nExported: 2024-06-30 by HRIS\n\n"
             "Employee ID;Name;Department;Hire Date;Termination Date\n"
             + "".join(f"E{i};Person {i};{'Sales' if i % 3 else 'R&D'};2024-03-{i % 28 + 1:02d};\n"
                       for i in range(25)))


def titled_workbook(path: Path, titles: list[list[object]], header: list[str], rows: int) -> None:
    from openpyxl import Workbook

    workbook = Workbook()
    workbook.active.title = "说明"  # a first sheet with a note only: not a table, but it has data
    workbook.active.append(["本文件由系统导出"])
    sheet = workbook.create_sheet("花名册")
    for title in titles:
        sheet.append(title)
    sheet.append(header)
    for i in range(rows):
        sheet.append([f"A{i}", f"张{i}", "研发" if i % 2 else "销售", dt.datetime(2024, 3, i % 28 + 1), None])
    workbook.save(path)


def test_title_rows_above_the_header_are_skipped_in_csv(settings: Settings, data_dir: Path) -> None:
    (data_dir / "zh.csv").write_bytes(ZH_TITLED.encode("gbk"))
    (data_dir / "en.csv").write_text(EN_TITLED, encoding="utf-8")
    zh = open_table(settings, path="zh.csv")
    assert zh.source.header_row == 4 and zh.source.encoding == "gb18030"
    assert list(zh.frame.columns) == ["工号", "姓名", "部门", "入职日期", "离职日期", "离职类型"]
    assert zh.frame.shape[0] == 30 and set(zh.frame["部门"].astype(str)) == {"研发", "销售"}
    en = open_table(settings, path="en.csv")
    assert en.source.header_row == 4 and en.source.delimiter == ";"
    assert list(en.frame.columns) == ["Employee ID", "Name", "Department", "Hire Date", "Termination Date"]
    assert en.frame.shape[0] == 25
    inline = open_table(settings, csv_text=ZH_TITLED)
    assert inline.source.header_row == 4 and inline.frame.shape == (30, 6)


def test_title_rows_above_the_header_are_skipped_in_xlsx(settings: Settings, data_dir: Path) -> None:
    header = ["工号", "姓名", "部门", "入职日期", "离职日期"]
    titled_workbook(data_dir / "zh.xlsx", [["XX公司员工花名册"], ["导出日期: 2024-06-30"], []], header, 30)
    table = open_table(settings, path="zh.xlsx", sheet="花名册")
    assert table.source.header_row == 4 and table.source.sheet == "花名册"
    assert list(table.frame.columns) == header and table.frame.shape[0] == 30
    assert pd.api.types.is_datetime64_any_dtype(table.frame["入职日期"])
    en = ["Employee ID", "Name", "Department", "Hire Date", "Termination Date"]
    titled_workbook(data_dir / "en.xlsx", [["ACME Corp - employee roster"], ["Exported:", dt.datetime(2024, 6, 30)]],
                    en, 12)
    table = open_table(settings, path="en.xlsx", sheet="花名册")
    assert table.source.header_row == 3 and list(table.frame.columns) == en and table.frame.shape[0] == 12


def test_an_ordinary_file_still_uses_row_one(settings: Settings, data_dir: Path) -> None:
    (data_dir / "plain.csv").write_text("dept,left,tenure\nSales,Yes,3\nR&D,No,4\nSales,No,1\n", encoding="utf-8")
    assert open_table(settings, path="plain.csv").source.header_row == 1
    (data_dir / "years.csv").write_text("name,2022,2023\nA,1,2\nB,3,4\n", encoding="utf-8")  # numbers as labels
    years = open_table(settings, path="years.csv")
    assert years.source.header_row == 1 and list(years.frame.columns) == ["name", "2022", "2023"]
    (data_dir / "text.csv").write_text("dept,shift\nSales,night\nR&D,day\n", encoding="utf-8")  # all text
    assert open_table(settings, path="text.csv").source.header_row == 1
    from openpyxl import Workbook

    workbook = Workbook()
    for row in (["dept", "left"], ["Sales", 1], ["R&D", 0]):
        workbook.active.append(row)
    workbook.save(data_dir / "plain.xlsx")
    assert open_table(settings, path="plain.xlsx").source.header_row == 1


def test_real_files_use_row_one(shared_settings: Settings) -> None:
    for name in ("ibm_hr_attrition.csv", "hrdataset_v14.csv", "pwc_call_center.csv"):
        shared_dataset(name)
        assert open_table(shared_settings, path=name).source.header_row == 1, name


def test_header_row_given_by_the_caller(settings: Settings, data_dir: Path) -> None:
    (data_dir / "zh.csv").write_bytes(ZH_TITLED.encode("gbk"))
    as_given = open_table(settings, path="zh.csv", header_row=1)
    assert as_given.source.header_row == 1 and as_given.frame.columns[0] == "XX公司员工花名册"
    detected = open_table(settings, path="zh.csv")
    assert detected.key != as_given.key and detected.frame.columns[0] == "工号"  # header_row is in the key
    assert open_table(settings, path="zh.csv", header_row=4).frame.equals(detected.frame)
    with pytest.raises(InputError, match=r"row 3 of 'zh\.csv' is empty"):
        open_table(settings, path="zh.csv", header_row=3)
    with pytest.raises(InputError, match="no row 900"):
        open_table(settings, path="zh.csv", header_row=900)
    for bad in (0, -1, 5000, "4", 2.0, True):
        with pytest.raises(InputError, match="header_row must be"):
            open_table(settings, path="zh.csv", header_row=bad)  # type: ignore[arg-type]
    titled_workbook(data_dir / "zh.xlsx", [["XX公司员工花名册"]], ["工号", "姓名", "部门", "入职日期", "离职日期"], 5)
    assert open_table(settings, path="zh.xlsx", sheet="花名册", header_row=2).frame.shape == (5, 5)
    with pytest.raises(InputError, match="row 12 of sheet '花名册' is empty"):
        open_table(settings, path="zh.xlsx", sheet="花名册", header_row=12)  # past the last row


def test_choose_header_row_rules() -> None:
    # (row, non-empty cells, label cells)
    assert choose_header_row([(1, 1, 1), (2, 1, 1), (4, 6, 6)] + [(n, 6, 3) for n in range(5, 30)]) == 4
    assert choose_header_row([(1, 6, 6)] + [(n, 5, 2) for n in range(2, 30)]) == 1
    assert choose_header_row([(1, 3, 1)] + [(n, 3, 1) for n in range(2, 30)]) == 1  # no labels anywhere
    assert choose_header_row([(3, 1, 1), (4, 1, 0)]) == 3  # one column: the first row
    assert choose_header_row([(1, 4, 4), (2, 6, 0), (3, 3, 1)]) == 1  # a header with gaps over a short table
    assert choose_header_row([(1, 1, 1), (2, 3, 1), (3, 3, 0)]) == 2  # a title, then a header of years
    assert choose_header_row([]) == 1


# -- the source record


def test_source_info_describes_what_was_read(settings: Settings, data_dir: Path) -> None:
    path = data_dir / "exports" / "hr.csv"
    path.parent.mkdir()
    raw = ("\ufeffdept;left\nSales;1\nR&D;0\n").encode()
    path.write_bytes(raw)
    stamp = dt.datetime(2024, 6, 30, 8, 15, 0, tzinfo=dt.UTC).timestamp()
    os.utime(path, (stamp, stamp))
    table = open_table(settings, path="exports/hr.csv")
    assert table.source == SourceInfo(name="exports/hr.csv", size=len(raw), modified="2024-06-30T08:15:00+00:00",
                                      sha256=hashlib.sha256(raw).hexdigest(), format="csv", encoding="utf-8-sig",
                                      delimiter=";", sheet=None, header_row=1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        table.source.name = "other"  # type: ignore[misc]
    frame, key = load_table(settings, path="exports/hr.csv")
    assert frame is table.frame and key == table.key  # the old API gives the same cached frame
    text = "部门,离职\n销售,是\n"
    inline = open_table(settings, csv_text=text).source
    assert (inline.name, inline.sha256, inline.size, inline.modified, inline.format) == (
        "csv_text", hashlib.sha256(text.encode("utf-8")).hexdigest(), len(text.encode("utf-8")), "", "csv")


def test_xlsx_and_parquet_sources(settings: Settings, data_dir: Path) -> None:
    titled_workbook(data_dir / "r.xlsx", [], ["工号", "姓名", "部门", "入职日期", "离职日期"], 3)
    source = open_table(settings, path="r.xlsx").source
    raw = (data_dir / "r.xlsx").read_bytes()
    assert (source.format, source.sheet, source.header_row, source.encoding, source.delimiter) == (
        "xlsx", "说明", 1, None, None)  # the first sheet with data, as before
    assert source.sha256 == hashlib.sha256(raw).hexdigest()
    pd.DataFrame({"dept": ["a", "b"], "left": [1, 0]}).to_parquet(data_dir / "p.parquet")
    source = open_table(settings, path="p.parquet").source
    assert (source.format, source.header_row) == ("parquet", 0)


# -- odd files, each an InputError that says what to do


def test_mixed_encodings_are_refused_with_the_lines(settings: Settings, data_dir: Path) -> None:
    head = "工号,部门\n" + "".join(f"A{i},研发\n" for i in range(50))
    late_gbk = (head + "".join(f"B{i},销售\n" for i in range(200_000))).encode("utf-8") + "C1,客服\n".encode("gbk")
    (data_dir / "late_gbk.csv").write_bytes(late_gbk)  # the GBK line is past the 2 MB sample
    (data_dir / "early_gbk.csv").write_bytes(head.encode("utf-8") + "C1,客服中心\n".encode("gbk"))
    gbk_then_utf8 = (head.encode("gbk") + "C2,客服中心\n".encode() + "C3,研发\n".encode("gbk"))
    (data_dir / "gbk_utf8.csv").write_bytes(gbk_then_utf8)
    for name, words in (("late_gbk.csv", "not UTF-8 (GBK or another encoding) line(s): 200,052"),
                        ("early_gbk.csv", "not UTF-8 (GBK or another encoding) line(s): 52"),
                        ("gbk_utf8.csv", "the 1 UTF-8 line(s): 52")):
        with pytest.raises(InputError, match=r"mixes encodings") as caught:
            open_table(settings, path=name)
        assert words in str(caught.value), (name, str(caught.value))


def test_utf16_files_are_read(settings: Settings, data_dir: Path) -> None:
    text = "部门\t离职\n销售\t是\n研发\t否\n"  # Excel's "Unicode text" export: UTF-16 LE with BOM, tabs
    (data_dir / "le.txt").write_bytes(codecs.BOM_UTF16_LE + text.encode("utf-16-le"))
    (data_dir / "be.csv").write_bytes(codecs.BOM_UTF16_BE + text.replace("\t", ",").encode("utf-16-be"))
    (data_dir / "nobom.csv").write_bytes(text.replace("\t", ",").encode("utf-16-le"))
    for name in ("le.txt", "be.csv", "nobom.csv"):
        table = open_table(settings, path=name)
        assert list(table.frame.columns) == ["部门", "离职"] and table.frame.shape == (2, 2), name
        assert table.source.encoding == "utf-16"
    (data_dir / "bad16.csv").write_bytes(codecs.BOM_UTF16_LE + "ab\n".encode("utf-16-le") + b"\x00\xdc")
    with pytest.raises(InputError, match="not valid UTF-16"):
        open_table(settings, path="bad16.csv")


def test_odd_files_get_clear_errors(settings: Settings, data_dir: Path) -> None:
    (data_dir / "empty.csv").write_bytes(b"")
    (data_dir / "blank.csv").write_bytes(b"\n\n  \n")
    (data_dir / "junk.csv").write_bytes(bytes(range(256)) * 40)
    (data_dir / "packed.csv").write_bytes(gzip.compress(b"a,b\n1,2\n"))
    (data_dir / "folder.csv").mkdir()
    (data_dir / "notes.docx").write_bytes(b"PK\x03\x04")
    (data_dir / "half.parquet").write_bytes(b"PAR1" + b"\x00" * 100)
    pd.DataFrame({"a": [1, 2]}).to_parquet(data_dir / "ok.parquet")
    raw = (data_dir / "ok.parquet").read_bytes()
    (data_dir / "cut.parquet").write_bytes(raw[:20] + raw[-8:])
    cases = {"empty.csv": r"empty \(0 bytes\)", "blank.csv": "is empty", "junk.csv": "not a text file",
             "packed.csv": r"compressed \(gzip\)", "folder.csv": "is a folder", "notes.docx": "unsupported file type",
             "half.parquet": "not a complete Parquet file", "cut.parquet": "could not be read as Parquet",
             "missing.xlsx": "was not found"}
    for name, words in cases.items():
        with pytest.raises(InputError, match=words):
            open_table(settings, path=name)


def test_nested_parquet_is_flattened_or_refused(settings: Settings, data_dir: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"id": [1, 2], "address": [{"city": "Wuhan", "zip": "430000"},
                                                       {"city": "Xi'an", "zip": "710000"}]}),
                   data_dir / "struct.parquet")
    frame = read_table(settings, path="struct.parquet")
    assert list(frame.columns) == ["id", "address.city", "address.zip"]
    assert frame["address.city"].tolist() == ["Wuhan", "Xi'an"]
    pq.write_table(pa.table({"id": [1], "skills": [["excel", "sql"]]}), data_dir / "list.parquet")
    with pytest.raises(InputError, match=r"lists or maps \('skills'\)"):
        open_table(settings, path="list.parquet")
    pq.write_table(pa.table({"a": list(range(100)), "b": list(range(100))}), data_dir / "wide.parquet")
    with pytest.raises(LimitError, match=r"100 rows × 2 columns.*RETENTION_MCP_MAX_CELLS"):
        open_table(settings.with_(max_cells=150), path="wide.parquet")


def test_no_cell_value_in_messages_or_logs(settings: Settings, data_dir: Path,
                                           caplog: pytest.LogCaptureFixture) -> None:
    """A ragged row holding a person's name, salary and birth date: the error and the log name the line only."""
    (data_dir / "people.csv").write_text("name,salary,dob\nAda Lovelace,5000,1815-12-10\n"
                                         "Zhang Wei,8000,1990-01-01,extra\n", encoding="utf-8")
    with caplog.at_level("DEBUG"), pytest.raises(InputError) as caught:
        open_table(settings, path="people.csv")
    shown = str(caught.value) + "\n".join(r.getMessage() for r in caplog.records)
    assert "line 3" in str(caught.value)
    for secret in ("Zhang", "8000", "1990", "Ada"):
        assert secret not in shown
