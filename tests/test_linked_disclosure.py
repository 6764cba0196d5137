"""Disclosure over joins: a differencing attack across a join recovers no small group that a single-file call hides.

The attack, searched over many generated companies: a payroll export (one row per person, a grade and a
department) has people who are not in the HR roster, people exported twice, and the roster has rehires. The
attacker asks the same question of the payroll file alone and of the linked dataset — people per grade, per
department × grade — and subtracts. Every visible pair of cells must differ by 0 or by at least k people; the
hidden cells of a table, worked out from its total, must not differ from the file's by 1 to k − 1 either; a filter
on a hidden group is refused; a group the file alone hides stays hidden. Figures by the roster's own columns are
the roster's, to the person.
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import numpy as np
import pytest
from mcp import Client

from conftest import policy
from retention_mcp.analysis.profile import describe_groups
from retention_mcp.data.dataset import load_dataset
from retention_mcp.data.dimensions import parse_where
from retention_mcp.data.linked import define, load_linked
from retention_mcp.errors import InputError
from retention_mcp.server import build_server
from retention_mcp.settings import Settings

K = 5
GRADES = ["P1", "P2", "P3", "P4", "P5", "P6"]
DEPARTMENTS = ["研发", "销售", "客服"]


def write_company(folder: Path, seed: int) -> dict[str, int]:
    """A roster (with rehires) and a payroll (with outsiders and duplicates); returns what was planted."""
    rng = np.random.default_rng(seed)
    people = int(rng.integers(60, 160))
    grade_p = rng.dirichlet(np.ones(len(GRADES)))
    rows, pay = [], []
    for i in range(people):
        department = DEPARTMENTS[int(rng.integers(3))]
        hire = dt.date(2020, 1, 1) + dt.timedelta(days=int(rng.integers(0, 1500)))
        left = rng.random() < 0.25
        term = hire + dt.timedelta(days=int(rng.integers(30, 400))) if left else None
        rows.append([f"E{i:04d}", department, hire.isoformat(), term.isoformat() if term else ""])
        if rng.random() < 0.9:  # most people are on the payroll
            grade = int(rng.choice(len(GRADES), p=grade_p))
            pay.append([f"E{i:04d}", department, GRADES[grade], int(6000 + 3000 * grade + rng.integers(0, 2000))])
    rehires = int(rng.integers(0, 7))
    for row in rows[:rehires]:
        rows.append([row[0], row[1], "2024-06-01", ""])
    outsiders = int(rng.integers(0, 9))
    for j in range(outsiders):
        pay.append([f"X{j:03d}", DEPARTMENTS[int(rng.integers(3))], GRADES[int(rng.integers(len(GRADES)))], 5000])
    duplicates = int(rng.integers(0, 5))
    pay += [list(row) for row in pay[:duplicates]]
    with (folder / "roster.csv").open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([["工号", "部门", "入职日期", "离职日期"], *rows])
    with (folder / "payroll.csv").open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([["工号", "部门", "职级", "月薪"], *pay])
    return {"people": people, "rehires": rehires, "outsiders": outsiders, "duplicates": duplicates}


def counts(result) -> tuple[dict[str, int | None], int | None]:
    return {g.label: g.count for g in result.groups}, result.overall.count


@pytest.mark.parametrize("seed", range(40))
def test_no_small_group_is_recoverable_by_subtracting_the_linked_table_from_the_file_alone(tmp_path: Path,
                                                                                         seed: int) -> None:
    write_company(tmp_path, seed)
    settings = Settings(data_dirs=(tmp_path,), output_dir=tmp_path / "out", log_level="WARNING")
    rules = policy(floor=K)
    definition = define(settings, "pay", [{"path": "roster.csv"}, {"path": "payroll.csv"}])
    linked = load_linked(settings, definition)
    alone = load_dataset(settings, path="payroll.csv")

    # One dimension: people per grade. A shown grade holds exactly the file's people there; a grade the file
    # hides stays hidden; all hidden grades together differ from the file by what the two totals already show.
    file_groups, file_total = counts(describe_groups(alone, by=["职级"], columns=["月薪"], policy=rules))
    linked_groups, linked_total = counts(describe_groups(linked, by=["职级"], columns=["月薪"], policy=rules))
    assert linked_total == linked.rows  # the population's own figure, as the roster alone shows it
    for grade, shown in linked_groups.items():
        if shown is not None and grade in file_groups:
            assert file_groups[grade] in (shown, None), (seed, grade, file_groups[grade], shown)
        if grade in file_groups and file_groups[grade] is None:
            assert shown is None, (seed, grade, "the file alone hides it, the linked dataset shows it")
    if file_total is not None and linked_total is not None:
        hidden = [g for g, n in linked_groups.items() if n is None]
        if all(file_groups.get(g) is not None for g in hidden if g != "(missing)"):
            shown_difference = sum(file_groups.get(g, 0) - n for g, n in linked_groups.items()
                                   if n is not None and file_groups.get(g) is not None)
            assert shown_difference == 0, seed

    # Department (a roster column the payroll also records) × grade, against the payroll's own department.
    file_cells, _ = counts(describe_groups(alone, by=["部门", "职级"], columns=["月薪"], policy=rules))
    linked_cells, _ = counts(describe_groups(linked, by=["部门", "职级"], columns=["月薪"], policy=rules))
    for cell, shown in linked_cells.items():
        if shown is not None and cell in file_cells:
            assert file_cells[cell] in (shown, None), (seed, cell, file_cells[cell], shown)
        if cell in file_cells and file_cells[cell] is None:
            assert shown is None, (seed, cell, "the file alone hides it, the linked dataset shows it")

    # A filter on a hidden grade is refused; on a shown one it works.
    for grade, shown in linked_groups.items():
        if grade == "(missing)":
            continue
        if shown is None:
            with pytest.raises(InputError):
                scope = parse_where(linked, {"职级": grade}, rules)
                assert scope.active and int(scope.rows.sum()) < K  # too small anyway: refused by Job.dataset


def test_figures_by_the_rosters_own_columns_equal_the_roster_alone(tmp_path: Path) -> None:
    write_company(tmp_path, 7)
    settings = Settings(data_dirs=(tmp_path,), output_dir=tmp_path / "out", log_level="WARNING")
    rules = policy(floor=K)
    linked = load_linked(settings, define(settings, "pay", [{"path": "roster.csv"}, {"path": "payroll.csv"}]))
    roster = load_dataset(settings, path="roster.csv")
    for by in (["部门"], ["部门", "tenure_band"]):
        from retention_mcp.analysis.turnover import turnover_breakdown

        ours = turnover_breakdown(linked, by=by, policy=rules)
        theirs = turnover_breakdown(roster, by=by, policy=rules)
        assert [r.model_dump() for r in ours.rows] == [r.model_dump() for r in theirs.rows]
        assert ours.overall.model_dump() == theirs.overall.model_dump()


@pytest.mark.anyio
async def test_through_the_client_a_hidden_grade_stays_hidden_and_cannot_be_filtered_on(tmp_path: Path) -> None:
    """A seed whose payroll has a grade the join changes by fewer than k people, end to end."""
    for seed in range(100):
        write_company(tmp_path, seed)
        settings = Settings(data_dirs=(tmp_path,), output_dir=tmp_path / "out", log_level="WARNING",
                            database_url=f"sqlite:///{tmp_path / 'ws.sqlite3'}")
        linked = load_linked(settings, define(settings, "pay", [{"path": "roster.csv"}, {"path": "payroll.csv"}]))
        shown, _ = counts(describe_groups(linked, by=["职级"], columns=["月薪"], policy=policy(floor=K)))
        hidden = [g for g, n in shown.items() if n is None and g != "(missing)"]
        if hidden:
            break
    else:
        pytest.fail("no seed gave a hidden grade")
    async with Client(build_server(settings), raise_exceptions=True) as client:
        made = await client.call_tool("dataset_link", {"name": "pay", "files": [{"path": "roster.csv"},
                                                                                {"path": "payroll.csv"}]})
        assert not made.is_error, made.content[0].text
        result = await client.call_tool("describe_groups", {"path": "pay", "by": ["职级"]})
        assert not result.is_error, result.content[0].text
        groups = {g["label"]: g["count"] for g in result.structured_content["groups"]}
        assert all(groups[g] is None for g in hidden)
        refused = await client.call_tool("turnover_breakdown", {"path": "pay", "where": {"职级": hidden[0]}})
        assert refused.is_error
        assert "keeps hidden" in refused.content[0].text or "minimum group size" in refused.content[0].text
