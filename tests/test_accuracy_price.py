"""The accuracy price of protected mode, measured: on IBM and hrdataset_v14, every shown turnover rate (by each
grouping column) and every shown group mean (by each grouping column, of the numeric columns) in protected mode
against exact mode, on the same data with one server secret. Each change is checked against the bound the
mechanism implies (counts move by at most D = 4, a sum by at most E × max(10% of its largest value, one unit)),
and the largest changes are printed (the README quotes them)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from conftest import SHARED_DATASETS, shared_dataset
from retention_mcp.analysis.profile import describe_groups
from retention_mcp.analysis.turnover import turnover_breakdown
from retention_mcp.data.cellkey import MAGNITUDE_BOUND, MAGNITUDE_SHARE, MAX_NOISE
from retention_mcp.data.dataset import load_dataset
from retention_mcp.data.dimensions import build_dimension
from retention_mcp.data.disclosure import Policy
from retention_mcp.settings import Settings

FILES = {
    "ibm_hr_attrition.csv": (["Department", "JobRole", "EducationField", "MaritalStatus", "Gender", "BusinessTravel",
                              "OverTime", "JobLevel", "Education", "EnvironmentSatisfaction"],
                             ["Age", "MonthlyIncome", "DistanceFromHome", "JobSatisfaction", "YearsAtCompany"]),
    "hrdataset_v14.csv": (["Department", "Position", "Sex", "MaritalDesc", "RaceDesc", "RecruitmentSource",
                           "PerformanceScore", "CitizenDesc", "ManagerName"],
                          ["Salary", "EngagementSurvey", "EmpSatisfaction", "Absences"]),
}


@pytest.mark.parametrize("name", list(FILES))
def test_the_largest_change_perturbation_makes_to_a_rate_and_a_group_mean(name: str, tmp_path: Path) -> None:
    shared_dataset(name)
    ds = load_dataset(Settings(data_dirs=(SHARED_DATASETS,), output_dir=tmp_path, log_level="WARNING"), path=name)
    exact = Policy(floor=5, allow_names=False, key_dir=tmp_path)
    protected = dataclasses.replace(exact, mode="protected")
    dimensions, numbers = FILES[name]
    rate_changes, mean_changes, relative_mean_changes = [], [], []
    for by in dimensions:
        shown = {mode: turnover_breakdown(ds, by=[by], policy=policy, max_rows=500)
                 for mode, policy in (("exact", exact), ("protected", protected))}
        exact_rows = {r.label: r for r in shown["exact"].rows}
        for row in [*shown["protected"].rows, shown["protected"].overall]:
            truth = exact_rows.get(row.label, shown["exact"].overall)
            assert row.suppressed == truth.suppressed  # suppression is decided on the true counts
            if row.suppressed or row.rate is None:
                continue
            change = abs(row.rate - truth.rate)
            # leavers and headcount each move by at most D: |L'/H' − L/H| <= (D + D·L/H) / (H − D)
            heads = truth.headcount
            assert change <= (MAX_NOISE + MAX_NOISE * truth.rate) / max(heads - MAX_NOISE, 1) + 1e-9, (by, row.label)
            rate_changes.append((change, by, row.label, heads))
        profiles = {mode: describe_groups(ds, by=[by], columns=numbers, policy=policy, catalog={})
                    for mode, policy in (("exact", exact), ("protected", protected))}
        exact_groups = {g.label: g for g in [profiles["exact"].overall, *profiles["exact"].groups]}
        for group in [profiles["protected"].overall, *profiles["protected"].groups]:
            truth_group = exact_groups[group.label]
            if group.suppressed:
                continue
            for summary, truth in zip(group.columns, truth_group.columns, strict=True):
                if summary.mean is None or truth.mean is None or truth.n is None:
                    continue
                values = np.asarray(_numbers(ds.frame[summary.column]))
                rows = _group_rows(ds, exact, by, group.label)
                top = float(np.nanmax(np.abs(values[rows])))
                bound = MAGNITUDE_BOUND * max(MAGNITUDE_SHARE * top, 1e-2 if summary.column == "EngagementSurvey"
                                              else 1.0) / truth.n
                change = abs(summary.mean - truth.mean)
                assert change <= bound + 1e-9, (by, group.label, summary.column)
                mean_changes.append((change, by, group.label, summary.column, truth.n))
                relative_mean_changes.append((change / abs(truth.mean), by, group.label, summary.column, truth.n))
    rate, mean, relative = max(rate_changes), max(mean_changes), max(relative_mean_changes)
    print(f"\n{name}: {len(rate_changes)} shown rates, largest change {rate[0] * 100:.2f} pp ({rate[1]} = {rate[2]}, "
          f"headcount {rate[3]:g}); median {np.median([c[0] for c in rate_changes]) * 100:.2f} pp")
    print(f"{name}: {len(mean_changes)} shown group means, largest change {mean[0]:.4g} ({mean[3]} of {mean[1]} = "
          f"{mean[2]}, n = {mean[4]}); largest relative change {relative[0] * 100:.2f}% ({relative[3]} of "
          f"{relative[1]} = {relative[2]}, n = {relative[4]}); median relative "
          f"{np.median([c[0] for c in relative_mean_changes]) * 100:.3f}%")


def _numbers(series):
    import pandas as pd

    return pd.to_numeric(series, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)


def _group_rows(ds, policy, by: str, label: str) -> np.ndarray:
    if label == "Overall":
        return np.ones(ds.rows, dtype=bool)
    dim = build_dimension(ds, by, policy)
    return dim.codes == dim.labels.index(label)
