"""What kind of file a table looks like, so a tool given the wrong kind can refuse it by name.

Each tool checks, by column role, that the file has what its analysis needs (a roster: agent + shift date +
shift label or start time; a scorecard: agent + a metric; turnover: dates or a leaver flag; a retention curve:
dates, or tenure + a leaver flag). When something is missing, :func:`looks_like` adds which kind of file the
columns suggest and the tool that reads it.
"""

from __future__ import annotations

from retention_mcp.data.dataset import Dataset
from retention_mcp.data.roles import detect_roles

#: Roles that mark each kind of file (at least two of them must be present to say "it looks like").
MARKERS = {
    "calls": (("answered", "csat", "aht", "asa", "resolved", "call_id", "call_time"),
              "a call log (one row per contact: answered, CSAT, talk time ...)",
              "agent_scorecard or call_log_profile"),
    "hr": (("hire_date", "termination_date", "leaver_flag", "termination_type", "department", "job_role",
            "tenure_years", "tenure_months", "satisfaction", "pay"),
           "an HR export (one row per employee: hire dates, leaver flag, department ...)",
           "turnover_breakdown, retention_curve or driver_analysis"),
    "roster": (("shift", "shift_start", "shift_date"), "a shift roster (one row per shift)", "schedule_fairness"),
}


def looks_like(ds: Dataset, expected: str) -> str:
    """' It looks like a call log (...): use agent_scorecard ...' when the columns fit another kind; else ''."""
    best, best_hits = None, 1
    for kind, (roles, _, _) in MARKERS.items():
        if kind == expected:
            continue
        detected = detect_roles(ds.columns, ds.table, kind=kind)
        hits = sum(1 for role in roles if detected.get(role) is not None)
        if hits > best_hits:
            best, best_hits = kind, hits
    if best is None:
        return ""
    _, what, tools = MARKERS[best]
    return f" It looks like {what}: use {tools}."
