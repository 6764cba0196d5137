"""Reading HR files: encodings, delimiters, Excel, Parquet, dates, flags, roles, the access guard, the cache."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pandas as pd
import pytest

from conftest import shared_dataset
from retention_mcp.data.cache import TABLES
from retention_mcp.data.dates import parse_dates, parse_flags
from retention_mcp.data.reader import read_table, resolve_data_path
from retention_mcp.data.roles import detect_roles, load_roles, normalise_header
from retention_mcp.settings import Settings

ZH_CSV = ("工号,部门,入职日期,离职日期,离职类型,是否离职\n"
          "A1,研发,2024/3/5,,,否\nA2,销售,2023年1月9日,2024-02-01,主动离职,是\n")


def test_encodings_and_delimiters(settings: Settings, data_dir: Path):
    (data_dir / "gbk.csv").write_bytes(ZH_CSV.encode("gbk"))
    (data_dir / "bom.csv").write_bytes(b"\xef\xbb\xbf" + ZH_CSV.encode("utf-8"))
    (data_dir / "semi.csv").write_text(ZH_CSV.replace(",", ";"), encoding="utf-8")
    (data_dir / "tab.tsv").write_text(ZH_CSV.replace(",", "\t"), encoding="gb18030")
    for name in ("gbk.csv", "bom.csv", "semi.csv", "tab.tsv"):
        frame = read_table(settings, path=name)
        assert list(frame.columns) == ["工号", "部门", "入职日期", "离职日期", "离职类型", "是否离职"], name
        assert len(frame) == 2
        assert sorted(frame["部门"].astype(str)) == ["研发", "销售"]


def test_blank_rows_and_trailing_empty_columns_are_dropped(settings: Settings, data_dir: Path):
    text = "dept,left,,\nSales,Yes,,\n,,,\n\nR&D,No,,\n"
    (data_dir / "messy.csv").write_text(text, encoding="utf-8")
    frame = read_table(settings, path="messy.csv")
    assert list(frame.columns) == ["dept", "left"]
    assert len(frame) == 2
    inline = read_table(settings, csv_text=text)
    assert list(inline.columns) == ["dept", "left"] and len(inline) == 2


def test_xlsx_sheet_by_name_and_first_with_data(settings: Settings, data_dir: Path):
    from openpyxl import Workbook

    workbook = Workbook()
    workbook.active.title = "Cover"  # empty first sheet
    data = workbook.create_sheet("People")
    data.append([])  # a blank row above the header
    data.append(["部门", "入职日期", "离职日期", None])
    data.append(["研发", dt.datetime(2024, 3, 5), None, None])
    data.append(["销售", 45000, dt.datetime(2024, 6, 1), None])
    other = workbook.create_sheet("Other")
    other.append(["x"])
    other.append([1])
    workbook.save(data_dir / "hr.xlsx")
    frame = read_table(settings, path="hr.xlsx")
    assert list(frame.columns) == ["部门", "入职日期", "离职日期"]
    assert len(frame) == 2
    assert list(read_table(settings, path="hr.xlsx", sheet="Other").columns) == ["x"]
    with pytest.raises(ValueError, match=r"no sheet 'Nope'.*People"):
        read_table(settings, path="hr.xlsx", sheet="Nope")


def test_parquet(settings: Settings, data_dir: Path):
    pd.DataFrame({"department": ["a", "b"], "left": [1, 0]}).to_parquet(data_dir / "hr.parquet")
    frame = read_table(settings, path="hr.parquet")
    assert frame["left"].tolist() == [1, 0]


def test_dates_in_every_listed_format():
    values = pd.Series(["2024/3/5", "2024-03-05", "2024年3月5日", "45356", "2024.3.5", "", None, "2024-03-05 00:00:00",
                        "not a date"])
    parsed = parse_dates(values)
    expected = dt.date(2024, 3, 5)
    assert dt.date(1899, 12, 30) + dt.timedelta(days=45356) == expected  # the Excel serial, independently
    got = [None if pd.isna(v) else v.date() for v in parsed.values]
    assert got == [expected] * 5 + [None, None, expected, None]
    assert parsed.unparseable == 1
    us = parse_dates(pd.Series(["3/5/2024", "12/31/2023"]))  # m/d/yyyy
    assert [v.date() for v in us.values] == [expected, dt.date(2023, 12, 31)]
    day_first = parse_dates(pd.Series(["5/3/2024", "31/12/2023"]))  # a day above 12 shows the order
    assert [v.date() for v in day_first.values] == [expected, dt.date(2023, 12, 31)]
    serial = parse_dates(pd.Series([45356.0, None]))
    assert serial.values.iloc[0].date() == expected


def test_flags():
    parsed = parse_flags(pd.Series(["Yes", "no", "是", "否", "Y", "n", "1", "0", "True", "false", "maybe", None]))
    assert parsed.values.tolist()[:10] == [1, 0, 1, 0, 1, 0, 1, 0, 1, 0]
    assert parsed.unknown == 1
    assert parse_flags(pd.Series([1, 0, 1])).values.tolist() == [1, 0, 1]


def test_roles_from_chinese_and_english_aliases(settings: Settings):
    table = load_roles(settings)
    assert normalise_header(" Date of Hire ") == normalise_header("date_of_hire") == "dateofhire"
    roles = detect_roles(["工号", "部门", "入职日期", "离职日期", "离职类型", "班次", "岗位", "司龄"], table)
    assert roles.single == {"employee_id": "工号", "department": "部门", "hire_date": "入职日期",
                            "termination_date": "离职日期", "termination_type": "离职类型", "shift": "班次",
                            "job_role": "岗位", "tenure_years": "司龄"}
    roles = detect_roles(["Emp ID", "Date of Hire", "Exit", "Team"], table,
                         column_map={"termination_date": "Exit", "department": "team"})
    assert roles.get("hire_date") == "Date of Hire" and roles.get("termination_date") == "Exit"
    assert roles.get("department") == "Team" and roles.get("employee_id") == "Emp ID"
    with pytest.raises(ValueError, match="no column 'Nope'"):
        detect_roles(["a"], table, column_map={"department": "Nope"})
    with pytest.raises(ValueError, match="unknown role 'dept'"):
        detect_roles(["a"], table, column_map={"dept": "a"})


def test_access_guard(settings: Settings, data_dir: Path, tmp_path: Path):
    outside = tmp_path / "secret.csv"
    outside.write_text("a\n1\n", encoding="utf-8")
    (data_dir / "link.csv").symlink_to(outside)
    with pytest.raises(ValueError, match="outside the allowed data folders"):
        resolve_data_path(settings, str(outside))
    with pytest.raises(ValueError, match="outside the allowed data folders"):
        resolve_data_path(settings, "link.csv")  # a symlink pointing out is refused
    with pytest.raises(ValueError, match="outside the allowed data folders"):
        resolve_data_path(settings, "../secret.csv")
    with pytest.raises(ValueError, match="was not found"):
        resolve_data_path(settings, "missing.csv")
    (data_dir / "big.csv").write_text("a\n" + "1\n" * 1000, encoding="utf-8")
    with pytest.raises(ValueError, match="above the"):
        resolve_data_path(settings.with_(max_file_mb=0.001), "big.csv")
    (data_dir / "notes.docx").write_bytes(b"x")
    with pytest.raises(ValueError, match="unsupported file type"):
        read_table(settings, path="notes.docx")
    with pytest.raises(ValueError, match="exactly one"):
        read_table(settings)
    with pytest.raises(ValueError, match="only one"):
        read_table(settings, path="big.csv", csv_text="a\n1\n")
    with pytest.raises(ValueError, match="larger than"):
        read_table(settings.with_(max_csv_text_kb=0.01), csv_text="a\n" + "1\n" * 100)
    (data_dir / "empty.csv").write_bytes(b"")
    with pytest.raises(ValueError, match="empty"):
        read_table(settings, path="empty.csv")


def test_cache_by_size_and_mtime(settings: Settings, data_dir: Path):
    target = data_dir / "c.csv"
    target.write_text("a,b\n1,2\n", encoding="utf-8")
    first = read_table(settings, path="c.csv")
    hits = TABLES.hits
    second = read_table(settings, path="c.csv")
    assert TABLES.hits == hits + 1
    second["new"] = 1  # callers get a copy: the cached frame is untouched
    assert "new" not in read_table(settings, path="c.csv").columns
    target.write_text("a,b\n1,2\n3,4\n", encoding="utf-8")
    stat = target.stat()
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10_000_000))
    assert len(read_table(settings, path="c.csv")) == 2 and len(first) == 1


def test_real_ibm_file_reads(shared_settings: Settings):
    shared_dataset("ibm_hr_attrition.csv")
    frame = read_table(shared_settings, path="ibm_hr_attrition.csv")
    assert frame.shape == (1470, 35)
    assert frame.columns[0] == "Age"  # the BOM is gone


@pytest.mark.anyio
async def test_a_ragged_row_is_an_error_not_a_silently_dropped_row(client) -> None:
    ragged = "department,leaver\nSales,1\nSales,0,extra,cells\nR&D,0\n"
    result = await client.call_tool("turnover_breakdown", {"csv_text": ragged, "by": ["department"]})
    assert result.is_error
    message = result.content[0].text
    assert "line 3" in message and "quote that cell" in message
    ok = await client.call_tool("turnover_breakdown", {"csv_text": ragged.replace(",extra,cells", ""),
                                                       "by": ["department"]})
    assert not ok.is_error


def test_near_unique_text_is_read_as_plain_text_and_every_value_survives(settings: Settings, data_dir: Path):
    """IDs and names (nearly every head row different) skip the dictionary attempt; numbers, dates and repeated
    text are read as before; no value changes."""
    from retention_mcp.data.reader import load_table

    rows = ["工号,姓名,部门,月薪,入职日期"]
    rows += [f"E{i:05d},员工{i},{'研发' if i % 2 else '销售'},{8000 + i},2024-01-{1 + i % 28:02d}" for i in range(300)]
    (data_dir / "ids.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    frame, _ = load_table(settings, path="ids.csv")
    assert str(frame["工号"].dtype) == "string[pyarrow]" and str(frame["姓名"].dtype) == "string[pyarrow]"
    assert isinstance(frame["部门"].dtype, pd.CategoricalDtype)
    assert frame["月薪"].dtype.kind == "i" and frame["入职日期"].dtype.kind == "M"
    assert list(frame["工号"]) == [f"E{i:05d}" for i in range(300)]
    assert list(frame["月薪"]) == [8000 + i for i in range(300)]
