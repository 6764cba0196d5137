"""The sample company as the five exports HR really has, with the disagreements real systems have (fixed seed).

The people are :func:`retention_mcp.sample_data.generate_company`'s (about 1,500 over 2022–2024), given Chinese
names. ``write_linked_company(folder)`` writes:

- ``hr_roster.csv`` — the HR system's 花名册: GBK, Chinese headers, two title rows above the header, dates like
  ``2024/3/5``; one row per employment (6 rehires have a second row), 5 rows exported twice, 3 pairs of different
  people sharing a name (in different departments);
- ``attendance_2024-12.xlsx`` — one row per person per working day of December 2024 (sheet 考勤明细, a title row);
  7 December leavers keep attendance rows after their last day, 9 active people have none (long leave);
- ``payroll_2024Q4.csv`` — UTF-8 with BOM, one row per person paid in Q4 2024 with a status and a termination
  date: 8 leavers still 在职, 6 active people marked 离职, 9 termination dates 40 days off (11 more a few days
  off, within tolerance), 12 people in another department (客服 → 销售), 10 people missing, 7 contractors who are
  not in the roster, 5 rows twice, and some IDs typed in lower case with spaces (they still match);
- ``performance_ratings.csv`` — a rating (A/B/C/D) per person per half-year cycle (2022H1..2024H2), for people
  employed at the cycle's end and hired at least 90 days before it; 5 person-cycles rated twice (the later row
  is the re-rating);
- ``training_records.csv`` — onboarding sessions (4 modules in the first two weeks) of the people hired in the
  window, by name and department only (no ID); people who left within 90 days attended fewer modules; 2 external
  trainees (6 rows) are not in the roster.

The planted counts are the module constants; ``truth(seed)`` returns the people with every export's view of them,
so tests compute what to expect by hand from the files.
"""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from retention_mcp.sample_data import SEED, WINDOW_END, WINDOW_START, ZH_VALUES, generate_company

AS_OF = WINDOW_END
REHIRES = 6
ROSTER_DUPLICATES = 5
SAME_NAME_PAIRS = 3
ATTENDANCE_AFTER_LEAVING = 7
ATTENDANCE_MISSING = 9
PAY_LEAVER_ACTIVE = 8
PAY_ACTIVE_LEAVER = 6
PAY_DATE_FAR = 9
PAY_DATE_FAR_DAYS = 40
PAY_DATE_NEAR = 11
PAY_DEPARTMENT = 12
PAY_MISSING = 10
PAY_CONTRACTORS = 7
PAY_DUPLICATES = 5
PAY_LOWERCASE_IDS = 20
PERF_RERATED = 5
TRAINING_EXTERNALS = 2
TRAINING_EXTERNAL_SESSIONS = 3
CYCLES = [(f"{year}H{half}", dt.date(year, 6, 30) if half == 1 else dt.date(year, 12, 31))
          for year in (2022, 2023, 2024) for half in (1, 2)]
PAY_START = dt.date(2024, 10, 1)
PAY_ACTIVE_LEAVER_DATE = dt.date(2024, 12, 15)
MODULES = ("入职培训·公司介绍", "入职培训·制度与合规", "入职培训·产品知识", "入职培训·岗位实操")
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
    "姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛"
)
GIVEN = (
    "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉萍红娥玲芬燕彩春菊兰凤洁梅琳素云莲真环雪荣爱"
    "妹霞香月莺媛艳瑞凡佳嘉琼勤珍贞莉桂娣叶璧璐娅琦晶妍茜秋珊莎锦黛青倩婷姣婉娴瑾颖露瑶怡婵雁蓓纨仪荷丹蓉"
    "眉君琴蕊薇菁梦岚苑婕馨瑗琰韵融园艺咏卿聪澜纯毓悦昭冰爽琬茗羽希宁欣飘育滢馥筠柔竹霭凝晓欢霄枫芸菲寒伊"
    "亚宜可姬舒影荔枝思丽"
)


@dataclass
class Person:
    id: str
    name: str
    department: str  # Chinese
    role: str
    shift: str
    hire: dt.date
    term: dt.date | None
    term_type: str
    performance: int
    salary: int
    rehire: dt.date | None = None  # a second employment (no end)

    @property
    def active_at_end(self) -> bool:
        return self.rehire is not None or self.term is None or self.term > AS_OF

    def employed_on(self, day: dt.date) -> bool:
        first = self.hire <= day and (self.term is None or self.term >= day)
        return first or (self.rehire is not None and self.rehire <= day)


@dataclass
class Truth:
    people: list[Person]
    contractors: list[dict[str, Any]]
    same_names: list[tuple[str, str]]  # pairs of IDs sharing a name
    chosen: dict[str, list[str]]  # planted disagreement -> IDs


def _new_names(count: int, taken: set[str], rng: Any) -> list[str]:
    """``count`` names nobody in ``taken`` has."""
    return [n for n in _names(count + len(taken), rng) if n not in taken][:count]


def _names(count: int, rng: Any) -> list[str]:
    seen: set[str] = set()
    out = []
    while len(out) < count:
        length = 1 if rng.random() < 0.3 else 2
        name = SURNAMES[rng.integers(len(SURNAMES))] + "".join(GIVEN[rng.integers(len(GIVEN))] for _ in range(length))
        if name not in seen:
            seen.add(name)
            out.append(name)
    return out


def truth(seed: int = SEED) -> Truth:
    """The people, with the planted disagreements chosen (deterministic by ``seed``)."""
    import numpy as np

    rng = np.random.default_rng(seed + 20)
    base = generate_company(seed)
    names = _names(len(base), rng)
    people = [Person(id=p["employee_id"], name=names[i], department=ZH_VALUES["department"][p["department"]],
                     role=ZH_VALUES["job_role"][p["job_role"]], shift=ZH_VALUES["shift"][p["shift"]],
                     hire=p["hire_date"], term=p["termination_date"],
                     term_type=ZH_VALUES["termination_type"][p["termination_type"]], performance=p["performance"],
                     salary=p["annual_salary"]) for i, p in enumerate(base)]
    taken: set[str] = set()

    def pick(pool: list[Person], count: int) -> list[Person]:
        pool = [p for p in pool if p.id not in taken]
        chosen = [pool[i] for i in sorted(rng.choice(len(pool), size=count, replace=False))]
        taken.update(p.id for p in chosen)
        return chosen

    chosen: dict[str, list[str]] = {}
    rehired = pick([p for p in people if p.term is not None and p.term <= dt.date(2024, 6, 30)], REHIRES)
    for p in rehired:
        p.rehire = p.term + dt.timedelta(days=60)
    chosen["rehires"] = [p.id for p in rehired]
    new_hires = [p for p in people if p.hire >= WINDOW_START]
    pairs = []
    for _ in range(SAME_NAME_PAIRS):
        first = pick(new_hires, 1)[0]
        second = pick([p for p in new_hires if p.department != first.department], 1)[0]
        second.name = first.name
        pairs.append((first.id, second.id))
    chosen["roster_duplicates"] = [p.id for p in pick(people, ROSTER_DUPLICATES)]
    december_leavers = [p for p in people if p.rehire is None and p.term is not None
                        and dt.date(2024, 12, 2) <= p.term <= dt.date(2024, 12, 20)]
    chosen["attendance_after_leaving"] = [p.id for p in pick(december_leavers, ATTENDANCE_AFTER_LEAVING)]
    active = [p for p in people if p.active_at_end]
    chosen["attendance_missing"] = [p.id for p in pick(active, ATTENDANCE_MISSING)]
    q4_leavers = [p for p in people if p.rehire is None and p.term is not None
                  and PAY_START <= p.term <= dt.date(2024, 12, 15)]
    chosen["pay_leaver_active"] = [p.id for p in pick(q4_leavers, PAY_LEAVER_ACTIVE)]
    chosen["pay_date_far"] = [p.id for p in pick(q4_leavers, PAY_DATE_FAR)]
    chosen["pay_date_near"] = [p.id for p in pick(q4_leavers, PAY_DATE_NEAR)]
    active_q4 = [p for p in people if p.active_at_end and p.hire < PAY_START]
    chosen["pay_active_leaver"] = [p.id for p in pick(active_q4, PAY_ACTIVE_LEAVER)]
    chosen["pay_department"] = [p.id for p in pick([p for p in active_q4 if p.department == "客服"], PAY_DEPARTMENT)]
    chosen["pay_missing"] = [p.id for p in pick(active_q4, PAY_MISSING)]
    chosen["pay_duplicates"] = [p.id for p in pick(active_q4, PAY_DUPLICATES)]
    rated = [p for p in people if any(_rated(p, end) for _, end in CYCLES)]
    chosen["perf_rerated"] = [p.id for p in pick(rated, PERF_RERATED)]
    contractors = [{"id": f"C{i + 1:04d}", "name": name, "department": "客服"}
                   for i, name in enumerate(_new_names(PAY_CONTRACTORS, {p.name for p in people}, rng))]
    return Truth(people=people, contractors=contractors, same_names=pairs, chosen=chosen)


def _rated(p: Person, end: dt.date) -> bool:
    """Rated in a cycle: employed on its last day and hired at least 90 days before (either employment)."""
    if p.hire <= end - dt.timedelta(days=90) and (p.term is None or p.term >= end):
        return True
    return p.rehire is not None and p.rehire <= end - dt.timedelta(days=90)


def _slash(day: dt.date | None) -> str:
    return "" if day is None else f"{day.year}/{day.month}/{day.day}"


def rating(p: Person, rng: Any) -> str:
    score = p.performance + rng.normal(0, 0.6)
    return "A" if score >= 4.3 else "B" if score >= 3.3 else "C" if score >= 2.3 else "D"


def write_linked_company(folder: Path, seed: int = SEED) -> dict[str, Path]:
    """Write the five exports into ``folder``; return their paths by kind (roster, attendance, payroll,
    performance, training)."""
    import numpy as np

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    t = truth(seed)
    rng = np.random.default_rng(seed + 21)
    chosen = {name: set(ids) for name, ids in t.chosen.items()}
    paths = {"roster": folder / "hr_roster.csv", "attendance": folder / "attendance_2024-12.xlsx",
             "payroll": folder / "payroll_2024Q4.csv", "performance": folder / "performance_ratings.csv",
             "training": folder / "training_records.csv"}

    # The HR roster: GBK, title rows, one row per employment.
    header = ["工号", "姓名", "部门", "岗位", "班次", "入职日期", "离职日期", "离职类型"]
    rows = [[p.id, p.name, p.department, p.role, p.shift, _slash(p.hire), _slash(p.term), p.term_type]
            for p in t.people]
    rows += [[p.id, p.name, p.department, p.role, p.shift, _slash(p.rehire), "", ""] for p in t.people
             if p.rehire is not None]
    rows += [row for row in rows[:len(t.people)] if row[0] in chosen["roster_duplicates"]]
    with paths["roster"].open("w", encoding="gbk", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["星辰科技有限公司 员工花名册"])
        writer.writerow(["导出日期：2025-01-02"])
        writer.writerow(header)
        writer.writerows(rows)

    # Attendance: one row per person per working day of December 2024.
    from openpyxl import Workbook

    days = [dt.date(2024, 12, d) for d in range(1, 32) if dt.date(2024, 12, d).weekday() < 5]
    book = Workbook(write_only=True)
    sheet = book.create_sheet("考勤明细")
    sheet.append(["2024年12月考勤明细"])
    sheet.append(["工号", "日期", "班次", "出勤状态", "工时"])
    for day in days:
        for p in t.people:
            present = p.employed_on(day) or (p.id in chosen["attendance_after_leaving"])
            if not present or p.id in chosen["attendance_missing"]:
                continue
            late = rng.random() < 0.05
            sheet.append([p.id, day.isoformat(), p.shift, "迟到" if late else "正常",
                          round(float(np.clip(rng.normal(8.4, 0.8), 4, 12)), 1)])
    book.save(paths["attendance"])

    # Payroll Q4 2024: one row per person paid (employed on any day from October 1).
    header = ["工号", "姓名", "部门", "发薪月份", "应发工资", "离职状态", "离职日期"]
    pay_rows = []
    lower = 0
    planted = set().union(*chosen.values())
    for p in t.people:
        paid = p.rehire is not None or p.term is None or p.term >= PAY_START
        if not paid or p.hire > AS_OF or p.id in chosen["pay_missing"]:
            continue
        status, end = ("在职", None) if p.active_at_end else ("离职", p.term)
        if p.id in chosen["pay_leaver_active"]:
            status, end = "在职", None
        elif p.id in chosen["pay_active_leaver"]:
            status, end = "离职", PAY_ACTIVE_LEAVER_DATE
        elif p.id in chosen["pay_date_far"]:
            end = p.term - dt.timedelta(days=PAY_DATE_FAR_DAYS)
        elif p.id in chosen["pay_date_near"]:
            end = p.term - dt.timedelta(days=int(rng.integers(1, 11)))
        department = "销售" if p.id in chosen["pay_department"] else p.department
        key = p.id
        if lower < PAY_LOWERCASE_IDS and p.id not in planted and rng.random() < 0.05:
            key, lower = f" {p.id.lower()} ", lower + 1  # typed by hand: still the same person
        pay_rows.append([key, p.name, department, "2024-12", round(p.salary / 12), status,
                         "" if end is None else end.isoformat()])
    pay_rows += [[c["id"], c["name"], c["department"], "2024-12", 6000, "在职", ""] for c in t.contractors]
    pay_rows += [row for row in pay_rows if row[0] in chosen["pay_duplicates"]]
    with paths["payroll"].open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(pay_rows)

    # Performance ratings per cycle.
    perf_rows = []
    for p in t.people:
        for cycle, end in CYCLES:
            if _rated(p, end):
                perf_rows.append([p.id, cycle, rating(p, rng), p.department])
    again = [row for row in perf_rows if row[0] in chosen["perf_rerated"]]
    seen: set[str] = set()
    for row in again:
        if row[0] not in seen:  # each re-rated person: one cycle rated again, one grade lower
            seen.add(row[0])
            perf_rows.append([row[0], row[1], {"A": "B", "B": "C", "C": "D", "D": "C"}[row[2]], row[3]])
    with paths["performance"].open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["工号", "考核周期", "绩效等级", "部门"])
        writer.writerows(perf_rows)

    # Onboarding training, by name and department only.
    train_rows = []
    for p in t.people:
        if p.hire < WINDOW_START:
            continue
        early = p.term is not None and (p.term - p.hire).days <= 90
        attend = 0.45 if early else 0.85
        taken = [m for m in MODULES if rng.random() < attend] or [MODULES[0]]
        for number, module in enumerate(taken):
            day = p.hire + dt.timedelta(days=int(2 + 3 * number + rng.integers(0, 2)))
            train_rows.append([p.name, p.department, module, day.isoformat(), float(rng.choice([2.0, 3.0, 4.0]))])
    for name in _new_names(TRAINING_EXTERNALS, {p.name for p in t.people}, rng):
        for module in MODULES[:TRAINING_EXTERNAL_SESSIONS]:
            train_rows.append([name, "客服", module, "2024-09-02", 2.0])
    with paths["training"].open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["姓名", "部门", "课程名称", "培训日期", "培训时长（小时）"])
        writer.writerows(train_rows)
    return paths
