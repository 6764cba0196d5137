"""A company's HR export on the usual routine: this quarter's file, then next quarter's written over it.

The people are the sample company's (``retention_mcp.sample_data.generate_company``). The first export is taken
on 2024-12-31 but, as happens, a third of the leavers of Q4 2024 were not recorded yet (they show as still
employed); the next export, taken on 2025-03-31, records them (back-dated into 2024) and adds the quarter:
leavers among the people employed at the turn of the year and new hires of Q1 2025, some of whom already left.
Both are written as HR systems in China write them: GBK, Chinese headers and values, dates like 2024/3/5.

The reference figures (turnover over a period on the average of month-end headcounts, Kaplan–Meier retention)
are computed here with pandas, the textbook way, from the same rows the files hold.
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from retention_mcp.sample_data import ZH_HEADERS, ZH_VALUES, generate_company

FIRST_EXPORT = dt.date(2024, 12, 31)
NEXT_EXPORT = dt.date(2025, 3, 31)
COLUMNS = ["employee_id", "department", "job_role", "shift", "hire_date", "termination_date", "termination_type",
           "performance", "annual_salary"]


def _quarters(seed: int = 11) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    people = generate_company()
    rng = np.random.default_rng(seed)
    late = {p["employee_id"] for p in people
            if p["termination_date"] is not None and p["termination_date"] >= dt.date(2024, 10, 1)
            and rng.random() < 1 / 3}
    first = [dict(p, termination_date=None, termination_type="") if p["employee_id"] in late else dict(p)
             for p in people]
    following = [dict(p) for p in people]
    for person in following:
        if person["termination_date"] is None and rng.random() < 0.05:
            person["termination_date"] = dt.date(2025, 1, 1) + dt.timedelta(days=int(rng.integers(0, 90)))
            person["termination_type"] = "voluntary" if rng.random() < 0.85 else "involuntary"
    template = people[-1]
    for number in range(60):
        hire = dt.date(2025, 1, 2) + dt.timedelta(days=int(rng.integers(0, 80)))
        department = ("R&D", "Sales", "Customer Service")[number % 3]
        leaves = rng.random() < 0.15
        following.append(dict(
            template, employee_id=f"E9{number:04d}", department=department,
            job_role={"R&D": "Software Engineer", "Sales": "Account Executive",
                      "Customer Service": "Service Agent"}[department],
            shift="night" if department == "Customer Service" and number % 2 else "day", hire_date=hire,
            termination_date=min(NEXT_EXPORT, hire + dt.timedelta(days=int(rng.integers(10, 60)))) if leaves else None,
            termination_type="voluntary" if leaves else ""))
    return first, following


def write_export(path: Path, people: list[dict[str, Any]]) -> pd.DataFrame:
    """The GBK export of ``people``; returns the same rows as a frame (English values, dates as Timestamps)."""
    with path.open("w", encoding="gbk", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([ZH_HEADERS[c] for c in COLUMNS])
        for person in people:
            row = []
            for column in COLUMNS:
                value = person[column]
                if isinstance(value, dt.date):
                    row.append(f"{value.year}/{value.month}/{value.day}")
                elif value is None:
                    row.append("")
                elif column in ZH_VALUES:
                    row.append(ZH_VALUES[column][value])
                else:
                    row.append(str(value))
            writer.writerow(row)
    frame = pd.DataFrame(people)[COLUMNS]
    frame["department"] = frame["department"].map(ZH_VALUES["department"])
    frame["shift"] = frame["shift"].map(ZH_VALUES["shift"])
    for column in ("hire_date", "termination_date"):
        frame[column] = pd.to_datetime(frame[column])
    return frame


def this_quarter(path: Path) -> pd.DataFrame:
    return write_export(path, _quarters()[0])


def next_quarter(path: Path) -> pd.DataFrame:
    return write_export(path, _quarters()[1])


def month_ends(start: dt.date, end: dt.date) -> list[pd.Timestamp]:
    """The last day of each month of [start, end] (periods here end on a month end)."""
    return list(pd.date_range(pd.Timestamp(start), pd.Timestamp(end), freq="ME"))


def turnover(frame: pd.DataFrame, start: dt.date, end: dt.date) -> float:
    """Leavers dated in [start, end] ÷ the mean of the month-end headcounts (everyone hired by the day and not
    gone before it)."""
    days = month_ends(start, end)
    heads = [((frame.hire_date <= day) & (frame.termination_date.isna() | (frame.termination_date >= day))).sum()
             for day in days]
    leavers = frame.termination_date.between(pd.Timestamp(start), pd.Timestamp(end)).sum()
    return leavers / np.mean(heads)


def average_headcount(frame: pd.DataFrame, start: dt.date, end: dt.date) -> float:
    return float(np.mean([((frame.hire_date <= day) & (frame.termination_date.isna()
                                                       | (frame.termination_date >= day))).sum()
                          for day in month_ends(start, end)]))


def leavers(frame: pd.DataFrame, start: dt.date, end: dt.date) -> int:
    return int(frame.termination_date.between(pd.Timestamp(start), pd.Timestamp(end)).sum())


def follow_up(frame: pd.DataFrame, as_of: dt.date) -> tuple[np.ndarray, np.ndarray]:
    """Days from hire to leaving (an event) or to ``as_of`` (still employed), for people hired by ``as_of``."""
    day = pd.Timestamp(as_of)
    hired = frame[frame.hire_date <= day]
    left = hired.termination_date.notna() & (hired.termination_date <= day)
    end = hired.termination_date.where(left, day)
    return (end - hired.hire_date).dt.days.to_numpy(dtype=float), left.to_numpy()
