"""The period a result was computed for, resolved and stored with its evidence, and how a refresh holds it or
rolls it forward.

A period is a small dict; ``kind`` says what it is:

- ``period``: a turnover-type window, ``{"start": "2025-01-01", "end": "2025-12-31", "months": 12, "source": ...}``
  (event data: separations dated in the window ÷ headcount over it);
- ``as_of``: people followed up to a date, ``{"end": "2025-12-31"}`` (retention curves, tenure, profiles);
- ``snapshot``: a file without dates (a leaver flag): the period is the export itself, ``{"file": "hr.csv",
  "modified": "..."}``;
- ``inputs``: a calculator on typed inputs (no data, no period);
- ``several``: a result computed from several results with different periods, ``{"parts": [...]}``.

A refresh **holds** each result's period: a tool that takes ``period_start``/``period_end`` (or ``as_of``) is
re-run with the stored dates, so a figure labelled "2025" stays 2025 however much later data the file now holds.
With ``roll_forward`` the period moves to the latest data, keeping its length, and the report says so per figure.
A tool without such an argument (or a snapshot) follows its file, and the report says when the period moved.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from retention_mcp.data.dataset import Dataset

PERIOD_ARGUMENTS = ("period_start", "period_end")
#: The argument naming the date a tool follows people up to (retention_curve) or forecasts from (forecast_leavers).
AS_OF_ARGUMENTS = ("as_of", "forecast_date")


def event_period(start: str | None, end: str | None, months: float | None, source: str | None) -> dict[str, Any]:
    """The stored form of a turnover window (``Definition`` of turnover_breakdown and estimate_impact)."""
    return {"kind": "period", "start": start, "end": end, "months": months, "source": source}


def as_of_period(end: str | None, source: str | None = None) -> dict[str, Any]:
    return {"kind": "as_of", "end": end, "source": source}


def snapshot_period(sources: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    first = sources[0] if sources else {}
    return {"kind": "snapshot", "file": first.get("name"), "modified": first.get("modified")}


def inferred_period(datasets: Sequence[Dataset], parent_periods: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The period of a result whose tool did not state one: its parents' (a calculator fed by results), else the
    latest date in the files it read, else the files themselves (no dates), else typed inputs."""
    if parent_periods:
        distinct = list({json.dumps(p, sort_keys=True, default=str): dict(p) for p in parent_periods}.values())
        return distinct[0] if len(distinct) == 1 else {"kind": "several", "parts": distinct}
    if datasets:
        from retention_mcp.data.dataset import day_to_date

        latest = [ds.as_of for ds in datasets if getattr(ds, "as_of", None) is not None]
        if latest:
            return as_of_period(day_to_date(max(latest)).isoformat(), "the latest date in the file")
        sources = [_as_dict(ds.source) for ds in datasets]
        return snapshot_period([s for s in sources if s])
    return {"kind": "inputs"}


def _as_dict(source: Any) -> dict[str, Any]:
    if hasattr(source, "__dataclass_fields__"):
        from dataclasses import asdict

        return asdict(source)
    return dict(source or {})


def same_period(old: Mapping[str, Any] | None, new: Mapping[str, Any] | None) -> bool:
    """Whether two stored periods cover the same dates (the source wording may differ)."""
    keys = ("kind", "start", "end", "parts")
    old, new = old or {}, new or {}
    return all(old.get(k) == new.get(k) for k in keys)


def holdable(arguments: Mapping[str, Any], period: Mapping[str, Any]) -> bool:
    """Whether the tool that made this evidence can be told its period again (it takes the dates as arguments)."""
    kind = (period or {}).get("kind")
    if kind == "period":
        return all(name in arguments for name in PERIOD_ARGUMENTS) and bool(period.get("end"))
    if kind == "as_of":
        return _as_of_argument(arguments) is not None and bool(period.get("end"))
    return False


def _as_of_argument(arguments: Mapping[str, Any]) -> str | None:
    return next((name for name in AS_OF_ARGUMENTS if name in arguments), None)


def held_arguments(arguments: Mapping[str, Any], period: Mapping[str, Any]) -> dict[str, Any]:
    """``arguments`` with the stored period written in, so a re-run covers exactly the same dates."""
    out = dict(arguments)
    if period.get("kind") == "period":
        out["period_start"], out["period_end"] = period.get("start"), period.get("end")
    elif period.get("kind") == "as_of" and (name := _as_of_argument(arguments)):
        out[name] = period.get("end")
    return out


def rolled_arguments(arguments: Mapping[str, Any], period: Mapping[str, Any], latest: str) -> dict[str, Any]:
    """``arguments`` with the period moved to end at ``latest`` (an ISO date), keeping its length."""
    out = dict(arguments)
    if period.get("kind") == "period":
        end = dt.date.fromisoformat(latest)
        start = _shift_start(period, end)
        out["period_start"], out["period_end"] = start.isoformat(), end.isoformat()
    elif period.get("kind") == "as_of" and (name := _as_of_argument(arguments)):
        out[name] = latest
    return out


def default_arguments(arguments: Mapping[str, Any]) -> dict[str, Any]:
    """``arguments`` without any period: the tool's default, which ends at the latest date in the file."""
    out = dict(arguments)
    for name in (*PERIOD_ARGUMENTS, *AS_OF_ARGUMENTS):
        if name in out:
            out[name] = None
    return out


def _shift_start(period: Mapping[str, Any], end: dt.date) -> dt.date:
    """The first day of a window as long as ``period`` that ends on ``end``: whole months when the period was
    whole months (the usual 12), else the same number of days."""
    from retention_mcp.data.dates import add_months

    old_start, old_end = dt.date.fromisoformat(period["start"]), dt.date.fromisoformat(period["end"])
    months = _months_between(old_start, old_end)
    whole = (add_months(old_start, months) - dt.timedelta(days=1) == old_end
             or add_months(old_end, -months) + dt.timedelta(days=1) == old_start)
    if whole:
        if (end + dt.timedelta(days=1)).day == 1:  # ends on a month end: whole calendar months (Sep–Feb)
            return add_months(end.replace(day=1), -(months - 1))
        return add_months(end, -months) + dt.timedelta(days=1)
    return end - (old_end - old_start)


def _months_between(start: dt.date, end: dt.date) -> int:
    after = end + dt.timedelta(days=1)
    return (after.year - start.year) * 12 + after.month - start.month


def period_end(period: Mapping[str, Any] | None) -> str | None:
    """The last date a period covers (for ``several``, the latest of its parts)."""
    period = period or {}
    if period.get("kind") == "several":
        ends = [p.get("end") for p in period.get("parts") or [] if p.get("end")]
        return max(ends) if ends else None
    return period.get("end")
