"""A realistic, synthetic company for demos and tests (fixed seed, numpy only, no network).

About 1,500 people over three years (2022-01-01 .. 2024-12-31) in R&D, Sales and Customer Service
(day / evening / night shifts), with hire and termination dates, termination type, performance, and
survey items (1–5 Likert: workload, manager support, growth, pay fairness; 0–10 "would recommend as a
place to work") that really drive leaving — so driver analysis finds something, and Customer Service
nights show the highest turnover — plus annual salary and monthly overtime hours (overtime follows the
workload answer, so it goes with leaving as it does in real exports).

``write_sample_company(folder)`` writes two twins of the same people:

- ``sample_company.csv``: UTF-8, English headers, ISO dates;
- ``sample_company_zh.csv``: GBK, Chinese headers (部门, 入职日期, 离职日期, 离职类型 主动离职/被动离职, 班次, ...),
  mixed date formats (2024/3/5, 2024-03-05, 2024年3月5日, Excel serial numbers), a blank row and a
  trailing empty column, as real exports have;

and ``sample_calls.csv``, the customer-service center's call log for the last four weeks (one row per call,
the PwC call-center layout: agent, date, time, answered Y/N, speed of answer, talk duration h:mm:ss, a 1-5
rating with 0 on unanswered calls, resolved Y/N), with a morning and an evening peak.
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path
from typing import Any

SEED = 20240531
WINDOW_START = dt.date(2022, 1, 1)
WINDOW_END = dt.date(2024, 12, 31)
EXCEL_EPOCH = dt.date(1899, 12, 30)

DEPARTMENTS = {  # share of people, annual leaving hazard, early (90-day) leaving probability for new hires
    "R&D": (0.40, 0.09, 0.02),
    "Sales": (0.30, 0.17, 0.05),
    "Customer Service": (0.30, 0.22, 0.08),
}
ROLES = {
    "R&D": (["Software Engineer", "Senior Engineer", "Test Engineer"], [0.5, 0.25, 0.25]),
    "Sales": (["Account Executive", "Sales Manager"], [0.8, 0.2]),
    "Customer Service": (["Service Agent", "Team Lead"], [0.88, 0.12]),
}
SHIFT_HAZARD = {"day": 1.0, "evening": 1.25, "night": 1.7}
#: Median annual salary by role (one currency, e.g. CNY); people vary around it (log-normal, sd 0.15).
SALARY = {"Software Engineer": 300_000, "Senior Engineer": 420_000, "Test Engineer": 220_000,
          "Account Executive": 180_000, "Sales Manager": 300_000, "Service Agent": 72_000, "Team Lead": 108_000}
#: Mean monthly overtime hours by department; +4 hours per workload point above 3, more on evening/night shifts.
OVERTIME = {"R&D": 14.0, "Sales": 10.0, "Customer Service": 12.0}
OVERTIME_SHIFT = {"day": 0.0, "evening": 3.0, "night": 5.0}

ZH_HEADERS = {
    "employee_id": "工号", "department": "部门", "job_role": "岗位", "shift": "班次", "hire_date": "入职日期",
    "termination_date": "离职日期", "termination_type": "离职类型", "regretted": "是否惋惜", "performance": "绩效",
    "workload": "工作负荷", "manager_support": "上级支持", "growth": "成长机会", "pay_fairness": "薪酬公平",
    "recommend": "推荐意愿", "annual_salary": "年薪", "overtime_hours": "月加班时长",
}
ZH_VALUES = {
    "department": {"R&D": "研发", "Sales": "销售", "Customer Service": "客服"},
    "job_role": {"Software Engineer": "软件工程师", "Senior Engineer": "高级工程师", "Test Engineer": "测试工程师",
                 "Account Executive": "客户经理", "Sales Manager": "销售经理", "Service Agent": "客服专员",
                 "Team Lead": "客服组长"},
    "shift": {"day": "白班", "evening": "中班", "night": "夜班"},
    "termination_type": {"voluntary": "主动离职", "involuntary": "被动离职", "": ""},
    "regretted": {"Yes": "是", "No": "否", "": ""},
}
COLUMNS = list(ZH_HEADERS)


def generate_company(seed: int = SEED, initial_headcount: int = 900,
                     hires_per_year: int = 200) -> list[dict[str, Any]]:
    """The people of the sample company, one dict per person (English values, dates as ``datetime.date``)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    window_days = (WINDOW_END - WINDOW_START).days
    extra = np.random.default_rng(seed + 2)  # pay and overtime: their own stream, the other columns unchanged
    people: list[dict[str, Any]] = []
    names = list(DEPARTMENTS)
    shares = np.array([DEPARTMENTS[d][0] for d in names])
    n_hires = hires_per_year * 3
    total = initial_headcount + n_hires
    for index in range(total):
        initial = index < initial_headcount
        dept = names[rng.choice(len(names), p=shares)]
        roles, role_p = ROLES[dept]
        role = roles[rng.choice(len(roles), p=role_p)]
        if dept == "Customer Service" and role == "Service Agent":
            shift = ["day", "evening", "night"][rng.choice(3, p=[0.5, 0.3, 0.2])]
        else:
            shift = "day"
        if initial:
            years_before = min(rng.exponential(4.0), 15.0)
            hire = WINDOW_START - dt.timedelta(days=int(years_before * 365.25) + 1)
        else:
            hire = WINDOW_START + dt.timedelta(days=int(rng.integers(0, window_days - 30)))
        # Engagement drives the survey answers and the leaving hazard; CS and nights are less engaged.
        engagement = rng.normal(0, 1) - (0.35 if dept == "Customer Service" else 0.0) - (0.4 if shift == "night" else 0)
        performance = int(np.clip(np.round(rng.normal(3.2, 0.9) + 0.25 * engagement), 1, 5))

        def likert(loading: float, shift_mean: float = 3.2, engagement: float = engagement) -> int:
            return int(np.clip(np.round(shift_mean + 0.9 * (loading * engagement + rng.normal(0, 0.75))), 1, 5))

        workload = likert(-0.8, 3.3 + (0.4 if dept == "Customer Service" else 0.0))
        manager_support = likert(0.9)
        growth = likert(0.8, 3.0)
        pay_fairness = likert(0.6, 2.9)
        recommend = int(np.clip(np.round(6.5 + 1.8 * engagement + rng.normal(0, 1.2)), 0, 10))

        base = DEPARTMENTS[dept][1] * SHIFT_HAZARD[shift]
        hazard = base * np.exp(-0.45 * engagement - 0.25 * (pay_fairness - 3) + 0.2 * (workload - 3)
                               - 0.15 * (performance - 3))
        start = max(hire, WINDOW_START)
        termination = None
        if not initial and rng.random() < DEPARTMENTS[dept][2] * np.exp(-0.5 * engagement):
            termination = hire + dt.timedelta(days=int(rng.integers(5, 90)))
        else:
            days = rng.exponential(365.25 / hazard)
            if start + dt.timedelta(days=int(days)) <= WINDOW_END:
                termination = start + dt.timedelta(days=max(int(days), 1))
        if termination is not None and termination > WINDOW_END:
            termination = None
        kind = regretted = ""
        if termination is not None:
            involuntary_p = 0.1 + (0.35 if performance <= 2 else 0.0)
            kind = "involuntary" if rng.random() < involuntary_p else "voluntary"
            regretted = "Yes" if kind == "voluntary" and performance >= 4 else "No"
        people.append({
            "employee_id": f"E{index + 1:05d}", "department": dept, "job_role": role, "shift": shift,
            "hire_date": hire, "termination_date": termination, "termination_type": kind, "regretted": regretted,
            "performance": performance, "workload": workload, "manager_support": manager_support, "growth": growth,
            "pay_fairness": pay_fairness, "recommend": recommend,
            "annual_salary": int(round(SALARY[role] * float(np.exp(extra.normal(0, 0.15))), -2)),
            "overtime_hours": int(max(0.0, round(OVERTIME[dept] + OVERTIME_SHIFT[shift] + 4 * (workload - 3)
                                                 + extra.normal(0, 4)))),
        })
    return people


def _zh_date(value: dt.date | None, style: int) -> str:
    if value is None:
        return ""
    if style == 0:
        return f"{value.year}/{value.month}/{value.day}"
    if style == 1:
        return value.isoformat()
    if style == 2:
        return f"{value.year}年{value.month}月{value.day}日"
    return str((value - EXCEL_EPOCH).days)  # Excel serial number, as a pasted-in cell shows it


def write_sample_company(folder: Path, seed: int = SEED) -> dict[str, Path]:
    """Write ``sample_company.csv`` (UTF-8, English), ``sample_company_zh.csv`` (GBK, Chinese) and
    ``sample_calls.csv`` (the call log) into ``folder``; return {"en": path, "zh": path, "calls": path}.
    The two HR files hold the same people and give the same numbers."""
    import numpy as np

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    people = generate_company(seed)
    english = folder / "sample_company.csv"
    chinese = folder / "sample_company_zh.csv"
    with english.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        for person in people:
            writer.writerow([_en(person[c]) for c in COLUMNS])
    styles = np.random.default_rng(seed + 1).choice(4, size=len(people), p=[0.4, 0.3, 0.25, 0.05])
    with chinese.open("w", encoding="gbk", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([ZH_HEADERS[c] for c in COLUMNS] + [""])  # a trailing empty column, as exports have
        for i, person in enumerate(people):
            row = []
            for column in COLUMNS:
                value = person[column]
                if column in ("hire_date", "termination_date"):
                    row.append(_zh_date(value, int(styles[i])))
                elif column in ZH_VALUES:
                    row.append(ZH_VALUES[column][value])
                else:
                    row.append(_en(value))
            writer.writerow([*row, ""])
            if i == len(people) // 2:
                writer.writerow([""] * (len(COLUMNS) + 1))  # a blank row in the middle
    calls = write_call_log(folder / "sample_calls.csv", seed)
    return {"en": english, "zh": chinese, "calls": calls}


#: The call log covers these four weeks (Monday to Sunday), 24 hours a day.
CALLS_START = dt.date(2024, 12, 2)
CALLS_DAYS = 28
#: Mean calls per 30-minute interval by hour of day (a morning and an evening peak), and by weekday.
CALLS_BY_HOUR = (2, 1.5, 1, 1, 1, 1.5, 3, 6, 10, 14, 16, 15, 12, 11, 11, 12, 12, 13, 15, 17, 18, 14, 8, 4)
CALLS_WEEKDAY = (1.15, 1.0, 1.0, 1.0, 1.05, 0.8, 0.7)
CALL_TOPICS = ("Billing", "Technical support", "Orders", "Account")


def write_call_log(path: Path, seed: int = SEED) -> Path:
    """The customer-service call log (PwC layout): arrivals are Poisson per 30 minutes around CALLS_BY_HOUR; the
    wait grows with the load, callers hang up when it exceeds their patience, ratings fall with the wait."""
    import numpy as np

    rng = np.random.default_rng(seed + 3)
    agents = [f"A{i:03d}" for i in range(1, 41)]
    rows = []
    call = 0
    for day in range(CALLS_DAYS):
        date = CALLS_START + dt.timedelta(days=day)
        for slot in range(48):
            mean = CALLS_BY_HOUR[slot // 2] * CALLS_WEEKDAY[date.weekday()]
            for _ in range(int(rng.poisson(mean))):
                call += 1
                second = slot * 1800 + int(rng.integers(0, 1800))
                wait = float(rng.exponential(8 + 2.5 * mean))
                answered = wait <= rng.exponential(120)
                resolved = answered and rng.random() < 0.78
                if answered:
                    talk = int(np.clip(rng.lognormal(np.log(280), 0.45), 30, 3600))
                    score = 3.2 + (0.9 if resolved else -0.8) - wait / 90 + rng.normal(0, 0.9)
                    rating = int(np.clip(np.round(score), 1, 5))
                else:
                    talk, rating = 0, 0
                rows.append([f"C{call:06d}", agents[int(rng.integers(0, len(agents)))], date.isoformat(),
                             f"{second // 3600:02d}:{second % 3600 // 60:02d}:{second % 60:02d}",
                             CALL_TOPICS[int(rng.integers(0, len(CALL_TOPICS)))], "Y" if answered else "N",
                             "Y" if resolved else "N", str(round(wait)) if answered else "",
                             f"{talk // 3600}:{talk % 3600 // 60:02d}:{talk % 60:02d}" if answered else "", rating])
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Call Id", "Agent", "Date", "Time", "Topic", "Answered (Y/N)", "Resolved",
                         "Speed of answer in seconds", "AvgTalkDuration", "Satisfaction rating"])
        writer.writerows(rows)
    return path


def _en(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def write_large_event_file(path: Path, rows: int = 1_000_000, seed: int = 7) -> Path:
    """A large synthetic event export (hire/termination dates, department, role, shift, location) for
    benchmarks and load tests: ``rows`` employments over 15 years, written atomically as CSV."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    start = np.datetime64("2010-01-01")
    hire = start + rng.integers(0, 365 * 15, rows).astype("timedelta64[D]")
    stay = rng.exponential(365 * 4, rows).astype("int64")
    term = hire + stay.astype("timedelta64[D]")
    left = term <= np.datetime64("2024-12-31")
    departments = np.array(["R&D", "Sales", "Customer Service", "Finance", "HR", "Operations", "Legal", "IT"])
    frame = pd.DataFrame({
        "employee_id": [f"E{i:07d}" for i in range(rows)],
        "department": departments[rng.integers(0, len(departments), rows)],
        "job_role": np.array([f"Role {i}" for i in range(20)])[rng.integers(0, 20, rows)],
        "shift": np.array(["day", "evening", "night"])[rng.integers(0, 3, rows)],
        "location": np.array([f"City {i}" for i in range(10)])[rng.integers(0, 10, rows)],
        "hire_date": pd.to_datetime(hire).strftime("%Y-%m-%d"),
        "termination_date": np.where(left, pd.to_datetime(term).strftime("%Y-%m-%d"), ""),
        "termination_type": np.where(left, np.where(rng.random(rows) < 0.8, "voluntary", "involuntary"), ""),
        "performance": rng.integers(1, 6, rows),
    })
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    frame.to_csv(temporary, index=False)
    temporary.replace(path)
    return path


def write_large_attendance_file(path: Path, people: int = 1_000_000, days: int = 5, seed: int = 11) -> Path:
    """Attendance for :func:`write_large_event_file`'s employees: ``days`` rows per person (``people`` × ``days``
    rows: 5,000,000 by default), one per working day, each person on their own distinct dates, with the hours and
    shift of the day; rows shuffled as a time clock exports them. Written atomically as CSV."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    rows = people * days
    person = np.tile(np.arange(people), days)
    offset = rng.integers(0, 7, people)
    day = np.datetime64("2024-12-01") - (np.repeat(np.arange(days), people) * 7 + offset[person]).astype(
        "timedelta64[D]")
    order = rng.permutation(rows)
    ids = np.char.add("E", np.char.zfill(person[order].astype(str), 7))
    frame = pd.DataFrame({
        "employee_id": ids,
        "date": pd.to_datetime(day[order]).strftime("%Y-%m-%d"),
        "hours": np.round(rng.normal(8, 1.5, rows).clip(0, 14), 1),
        "shift": np.array(["day", "evening", "night"])[rng.integers(0, 3, rows)],
    })
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    frame.to_csv(temporary, index=False)
    temporary.replace(path)
    return path
