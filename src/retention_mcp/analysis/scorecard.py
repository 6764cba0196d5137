"""Call-center agent scorecard: per-agent metrics with 95% intervals, tests of whether agents differ at all,
scores in standard errors from the rest of the team, tiers only where the evidence separates an agent, CSAT linkage.

Input is either one row per contact (detected when an agent appears on several rows) or one row per
agent. Unanswered contacts are left out of CSAT, resolution, handle time and speed of answer; a CSAT
of 0 on a 1-5 scale is a missing rating, not a zero.

Scores (contact input): each agent's metric is compared with the rest of the scored agents, z = (agent − rest)
÷ standard error of the difference (Welch for means, pooled two-proportion for rates), signed so that positive is
better. The total is the weighted sum of an agent's z-scores divided by its standard deviation under "no
difference" (the weights and the metrics' within-agent correlations), so it is again a z-score; its p-value is
Holm-adjusted across agents. An agent goes to the top or bottom tier only when it ranks in the top / bottom 20%
AND its total is separated from the rest (Holm p < 0.05); otherwise it is "not distinguishable" and no tier
consequence follows. Min-max scaling is not used: it stretches differences of noise to 0-100. Agent names are
the grouping key the manager asks for; no other identifier from the data (call ids, dates, free text) leaves
this module.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from retention_mcp.analysis.stats import holm
from retention_mcp.data.dataset import Dataset
from retention_mcp.data.disclosure import Policy
from retention_mcp.errors import InputError
from retention_mcp.runtime.spec import Evidenced
from retention_mcp.wording import ResultLanguage, Words, words

N = "scorecard.notes"

if TYPE_CHECKING:
    import pandas as pd

METRICS = ("csat", "resolution_rate", "aht", "asa", "compliance", "empathy")
MEANS = ("csat", "aht", "asa", "compliance", "empathy")  # means (t interval); resolution_rate is a rate (Wilson)
Tier = Literal["top", "middle", "bottom", "not distinguishable"]
ALPHA = 0.05
Z_CRITICAL = 1.959963984540054
#: Roles of a call log (see tools/column_aliases.yaml, kind "calls") that carry metrics.
METRIC_ROLES = ("answered", "resolved", "csat", "aht", "asa", "compliance", "empathy", "contacts")
MAX_AGENT_ROWS = 500


class AgentRow(BaseModel):
    agent: str = Field(description="the agent (a stable pseudonym unless the operator allows names)")
    contacts: int | None = Field(description="rows (contacts) for this agent, answered or not")
    answered: int | None = Field(description="answered contacts (the base of every metric)")
    rated: int | None = Field(None, description="answered contacts with a CSAT rating")
    csat_mean: float | None = Field(None, description="mean CSAT of rated answered contacts, 1-5")
    resolution_rate: float | None = Field(None, description="resolved / answered contacts, a fraction")
    aht_seconds: float | None = Field(None, description="mean talk duration of answered contacts, seconds")
    asa_seconds: float | None = Field(None, description="mean speed of answer of answered contacts, seconds")
    compliance: float | None = Field(None, description="mean script compliance (as in the data)")
    empathy: float | None = Field(None, description="mean empathy score (as in the data)")
    intervals: dict[str, list[float] | None] = Field(
        default_factory=dict, description="metric -> [low, high] 95% interval of the agent's value (t interval for "
        "means, Wilson for the resolution rate); None without per-contact data")
    scores: dict[str, float | None] = Field(description="metric -> z-score against the rest of the scored agents "
                                            "(standard errors; positive = better); per-agent input: standard "
                                            "deviations from the agents' mean")
    total_score: float = Field(description="weighted total of the metric z-scores, itself a z-score (0 = like the "
                               "rest; beyond ±1.96 before adjustment = unusual)")
    p_value: float | None = Field(None, description="two-sided p of the total against 'no difference from the rest'")
    p_holm: float | None = Field(None, description="p_value Holm-adjusted across the scored agents")
    rank: int = Field(description="1 = highest total score")
    rank_tier: Literal["top", "middle", "bottom"] = Field(description="the 20/60/20 tier by rank alone")
    tier: Tier = Field(description="top / bottom only when the agent ranks there AND its total is separated from the "
                       "rest (p_holm < 0.05); 'not distinguishable' otherwise; middle for the middle ranks")
    weakest_metric: str | None = Field(description="a weighted metric on which the agent is below the rest beyond "
                                       "chance (z <= -1.96), the lowest such; None when there is none")


class NotScored(BaseModel):
    agent: str
    contacts: int | None
    answered: int | None
    reason: str


class TierSummary(BaseModel):
    tier: Tier
    label: str
    agents: list[str]
    actions: list[str] = Field(description="what the appraisal scheme prescribes for this tier (only tiers that "
                               "the evidence supports are listed)")


class MetricTest(BaseModel):
    metric: str
    test: str = Field(description="one-way ANOVA (means), Pearson χ² (rates) or Kruskal–Wallis (skewed durations)")
    statistic: float
    df: str = Field(description="degrees of freedom, e.g. '7, 4046' for F")
    p_value: float
    agents_differ: bool = Field(description="p < 0.05: the agents are not all alike on this metric")


class Coefficient(BaseModel):
    metric: str
    coefficient: float = Field(description="CSAT points per unit of the metric (unit in `unit`)")
    unit: str
    std_coefficient: float = Field(description="standardised beta: coefficient x sd(metric) / sd(CSAT)")
    std_error: float
    t: float
    p_value: float
    significant: bool = Field(description="p < 0.05")
    sentence: str = Field("", description="plain reading, for significant metrics")


class Linkage(BaseModel):
    level: Literal["contact", "agent"] = Field(description="rows of the regression: contacts or agents")
    n: int = Field(description="observations used")
    r_squared: float
    adj_r_squared: float | None
    intercept: float
    coefficients: list[Coefficient]
    notes: list[str] = []


class ScorecardResult(Evidenced):
    input_shape: Literal["contacts", "agents"]
    agent_column: str
    columns_used: dict[str, str] = Field(description="metric role -> column name in the data")
    method: str = Field(description="how metric scores, totals and tiers are computed")
    metric_tests: list[MetricTest] = Field(default_factory=list, description="per metric: do the scored agents "
                                           "differ at all? (contact input only)")
    distinguishable: list[str] = Field(default_factory=list, description="agents whose total is separated from "
                                       "the rest (p_holm < 0.05)")
    weights: dict[str, float] = Field(description="weights used, fractions summing to 1 over the metrics present")
    weights_note: str
    min_contacts: int
    agents: list[AgentRow]
    truncated: bool
    not_scored: list[NotScored]
    tiers: list[TierSummary]
    tier_labels: dict[str, str] = Field(default_factory=dict, description="tier -> label, e.g. top -> top 20%")
    linkage: Linkage | None
    notes: list[str]
    language: ResultLanguage = "en"


# --------------------------------------------------------------------------- parsing helpers


def parse_flag(series: pd.Series, what: str, words: tuple[frozenset[str], frozenset[str]]) -> pd.Series:
    """Y/N, yes/no, 1/0, 是/否 (the role table's words) -> 1.0 / 0.0, NaN when blank; refuses a column that is
    mostly something else."""
    from retention_mcp.data.dates import parse_flags

    parsed = parse_flags(series, words)
    if parsed.unknown > 0.2 * max(len(series), 1):
        raise InputError(f"column {what!r} should hold yes/no flags (Y/N, 1/0, 是/否) but {parsed.unknown} values are "
                         "something else; map the right column with column_map")
    return parsed.values


def to_seconds(series: pd.Series) -> pd.Series:
    """Seconds from numbers, h:mm:ss / mm:ss strings or timedeltas (blank -> NaN)."""
    import pandas as pd

    if pd.api.types.is_timedelta64_dtype(series):
        return series.dt.total_seconds()
    if pd.api.types.is_numeric_dtype(series):
        return series.astype(float)
    text = series.astype("string").str.strip()
    seconds = pd.to_numeric(text, errors="coerce").astype(float)
    clock = text.str.fullmatch(r"\d+:\d{1,2}(:\d{1,2}(\.\d+)?)?").fillna(False).astype(bool)

    def clock_seconds(value: str) -> float:
        parts = [float(p) for p in value.split(":")]
        return sum(p * 60 ** i for i, p in enumerate(reversed(parts)))

    seconds[clock] = text[clock].map(clock_seconds).astype(float)
    return seconds


def to_number(series: pd.Series) -> pd.Series:
    import pandas as pd

    if pd.api.types.is_numeric_dtype(series):
        return series.astype(float)
    text = series.astype("string").str.strip().str.replace(",", "", regex=False)
    percent = text.str.endswith("%").fillna(False).astype(bool)
    values = pd.to_numeric(text.str.rstrip("%"), errors="coerce").astype(float)
    values[percent] = values[percent] / 100
    return values


def to_rate(series: pd.Series) -> pd.Series:
    """A per-agent rate as a fraction: 0.75, 75 or '75%' -> 0.75."""
    values = to_number(series)
    if values.dropna().gt(1).any():
        values = values / 100
    return values


# --------------------------------------------------------------------------- weights


def resolve_weights(weights: dict[str, Any] | None, present: list[str], w: Words,
                    catalog: dict[str, Any]) -> tuple[dict[str, float], str]:
    """Weights as fractions over the metrics present, plus a sentence saying where they came from."""
    if weights:
        parsed: dict[str, float] = {}
        for key, raw in weights.items():
            metric = catalog["weight_aliases"].get(str(key).strip().lower())
            if metric is None:
                raise InputError(f"unknown weight key {key!r}; use {', '.join(METRICS)}")
            if isinstance(raw, bool):
                raise InputError(f"weight for {key} must be a number, not {raw!r}")
            try:
                value = float(str(raw).strip().rstrip("%")) if isinstance(raw, str) else float(raw)
            except (TypeError, ValueError):
                raise InputError(f"weight for {key} must be a number (e.g. 40), not {raw!r}") from None
            if value < 0 or math.isnan(value) or math.isinf(value):
                raise InputError(f"weight for {key} must be a finite number >= 0, not {raw!r}")
            parsed[metric] = value
        source = w("scorecard.your_weights")
    else:
        parsed = {m: float(weight) for m, weight in catalog["default_weights"].items()}
        source = w("scorecard.default_weights")
    dropped = [m for m, weight in parsed.items() if weight > 0 and m not in present]
    used = {m: weight for m, weight in parsed.items() if m in present and weight > 0}
    total = sum(used.values())
    if total <= 0:
        raise InputError(f"none of the weighted metrics is in the data (present: {', '.join(present) or 'none'}); "
                         "give weights for the metrics you have, e.g. {'csat': 50, 'resolution_rate': 50}")
    fractions = {m: round(weight / total, 6) for m, weight in used.items()}
    note = w("scorecard.weights", source=source)
    if dropped:
        note += w("scorecard.weights_dropped", metrics=w.enumeration.join(dropped))
    note += w("scorecard.weights_renormalised", fractions=w.enumeration.join(f"{m} {f:.1%}"
                                                                              for m, f in fractions.items()))
    unweighted = [m for m in present if m not in used]
    if unweighted:
        note += w("scorecard.weights_unweighted", metrics=w.enumeration.join(unweighted))
    return fractions, note


# --------------------------------------------------------------------------- main


def build_scorecard(ds: Dataset, *, policy: Policy, catalog: dict[str, Any], weights: dict[str, Any] | None = None,
                    min_contacts: int = 30, input_shape: str = "auto", w: Words | None = None) -> ScorecardResult:
    """Per-agent metrics, weighted score and tiers from a call log (``ds`` read with kind="calls"); texts in ``w``'s
    language."""
    import pandas as pd

    w = w or words("en")
    if min_contacts < 1:
        raise InputError("min_contacts must be at least 1")
    if min_contacts < policy.floor:
        raise InputError(f"min_contacts={min_contacts} is below this server's minimum group size of {policy.floor}: "
                         "an agent's figures over fewer contacts are nearly single contacts' values. Use "
                         f"min_contacts of {policy.floor} or more")
    from retention_mcp.analysis.file_kind import looks_like

    agent_col = ds.roles.get("agent")
    found = {role: ds.roles.get(role) for role in METRIC_ROLES if ds.roles.get(role) is not None}
    metric_found = [role for role in found if role not in ("answered", "contacts")]
    missing = []
    if agent_col is None:
        missing.append("an agent column (agent, 坐席, 客服 …; name it with agent_column)")
    if not metric_found:
        missing.append("a metric column (CSAT / satisfaction rating, resolved, talk duration, speed of answer, "
                       "compliance, empathy; name it with column_map, e.g. {'csat': 'Rating'})")
    if missing:
        raise InputError("this is not a call log or agent table; missing: " + "; ".join(missing) + "."
                         + looks_like(ds, "calls") + f" Columns: {', '.join(ds.columns[:60])}")
    for role, column in found.items():
        if ds.identity(column) is not None:
            raise InputError(f"{column!r} identifies or names people; it cannot be the {role} metric")
    frame = ds.frame
    frame = frame[frame[agent_col].notna() & (frame[agent_col].astype(str).str.strip() != "")]
    if frame.empty:
        raise InputError(f"column {agent_col!r} is empty; choose the column that holds the agents")
    agents = frame[agent_col].astype(str).str.strip()
    shape = input_shape.strip().lower()
    if shape not in ("auto", "contacts", "agents"):
        raise InputError("input_shape must be 'auto', 'contacts' (one row per contact) or 'agents' (one per agent)")
    if shape == "auto":
        shape = "agents" if agents.is_unique else "contacts"
    if shape == "agents" and "contacts" not in found:
        raise InputError("one row per agent needs a contacts column (calls handled), so that only agents with at "
                         "least min_contacts contacts are scored: an agent's figures over fewer are nearly single "
                         "contacts' values. Name it with column_map, e.g. {\"contacts\": \"Calls\"}, or give the "
                         "contact log (one row per contact)")
    notes: list[str] = []
    flag_words = (ds.table.true_words, ds.table.false_words)
    view = policy.cells(ds).over(ds.frame.index.get_indexer(frame.index), labels=frame.index)
    if shape == "contacts":
        table, per_contact, present = _aggregate_contacts(frame, agents, found, notes, flag_words, w, policy.floor,
                                                          view.count if view.protected else None)
    else:
        table, per_contact, present = _agent_table(frame, agents, found, notes, w)
    if not present:
        raise InputError("no metric columns found (CSAT, resolved, talk duration, speed of answer, compliance, "
                         "empathy); name them with column_map, e.g. {'csat': 'Rating', 'resolved': 'Solved'}")
    # People-level results: pseudonyms unless the operator allows names.
    names = [str(a) for a in table.index]
    shown, key_file = policy.pseudonyms("agent", names, source=f"{_source_name(ds)}:{agent_col}")
    table.index = pd.Index(shown, name="agent")
    if per_contact is not None:
        per_contact = per_contact.assign(agent=per_contact["agent"].map(dict(zip(names, shown, strict=True))))
    if key_file:
        notes.append(w(f"{N}.pseudonyms", key_file=key_file))
    fractions, weights_note = resolve_weights(weights, present, w, catalog)

    base = table["answered"] if "answered" in table else table.get("contacts")
    if base is None:
        eligible = pd.Series(True, index=table.index)
        notes.append(w(f"{N}.no_counts"))
    else:
        eligible = base.fillna(0) >= min_contacts
    not_scored = [NotScored(agent=str(a), contacts=_int(table.at[a, "contacts"]) if "contacts" in table else None,
                            answered=_int(table.at[a, "answered"]) if "answered" in table else None,
                            reason=w(f"{N}.too_few", min=min_contacts))
                  for a in sorted(table.index[~eligible])]  # pseudonym order: never the order of the names
    scored = table[eligible].copy()
    if scored.empty:
        raise InputError(f"no agent has {min_contacts} or more answered contacts; lower min_contacts to score them")
    if view.protected:
        scored = _protected_table(scored, agents.map(dict(zip(names, shown, strict=True))), per_contact, present,
                                  view)
        for row in not_scored:
            row.contacts = row.answered = None  # eligibility is decided on true counts, which are not shown

    metric_catalog = catalog["metrics"]
    signs = {m: 1.0 if metric_catalog[m]["higher_is_better"] else -1.0 for m in present}
    tests: list[MetricTest] = []
    intervals: dict[str, dict[str, list[float] | None]] = {a: {} for a in scored.index}
    if per_contact is not None:
        contacts = per_contact[per_contact["agent"].isin(scored.index)]
        scores, total, p_values = _contact_scores(contacts, list(scored.index), present, fractions, signs, intervals,
                                                  view if view.protected else None)
        tests = _metric_tests(contacts, present, metric_catalog, w, view if view.protected else None)
        score_method = w("scorecard.method_contacts")
    else:
        scores, total, p_values = _agent_scores(scored, present, fractions, signs)
        score_method = w("scorecard.method_agents")
        notes.append(w(f"{N}.per_agent_untested"))
    if total.isna().any():
        missing = ", ".join(map(str, total.index[total.isna()]))
        notes.append(w(f"{N}.no_weighted", agents=missing))
        total = total.dropna()
    order = sorted(total.index, key=lambda a: (-round(float(total[a]), 9), str(a)))
    n = len(order)
    share = float(catalog.get("tier_share", 0.2))
    k = math.floor(share * n + 0.5) if n >= 3 else 0
    if n < 3:
        notes.append(w(f"{N}.few_agents"))
    ranks = total.round(9).rank(ascending=False, method="min").astype(int)
    adjusted = dict(zip(order, holm([p_values.get(a) for a in order]), strict=True))
    separated = {a for a in order if adjusted[a] is not None and adjusted[a] < ALPHA}
    rows: list[AgentRow] = []
    for position, agent in enumerate(order):
        rank_tier = "top" if position < k else ("bottom" if position >= n - k else "middle")
        direction_ok = (rank_tier == "top" and total[agent] > 0) or (rank_tier == "bottom" and total[agent] < 0)
        if rank_tier != "middle" and agent in separated and direction_ok:
            tier = rank_tier
        elif rank_tier == "middle" and separated:
            tier = "middle"
        else:
            tier = "not distinguishable"
        agent_scores = {m: (None if pd.isna(scores.at[agent, m]) else round(float(scores.at[agent, m]), 6))
                        for m in present}
        below = {m: z for m, z in agent_scores.items() if z is not None and m in fractions and z <= -Z_CRITICAL}
        weakest = min(below, key=lambda m: below[m]) if (below and per_contact is not None) else None
        rec = scored.loc[agent]
        rows.append(AgentRow(
            agent=str(agent), contacts=_int(rec.get("contacts")), answered=_int(rec.get("answered")),
            rated=_int(rec.get("rated")), csat_mean=_num(rec.get("csat")),
            resolution_rate=_num(rec.get("resolution_rate")), aht_seconds=_num(rec.get("aht")),
            asa_seconds=_num(rec.get("asa")), compliance=_num(rec.get("compliance")),
            empathy=_num(rec.get("empathy")), intervals=intervals.get(agent, {}), scores=agent_scores,
            total_score=round(float(total[agent]), 6), p_value=p_values.get(agent), p_holm=adjusted[agent],
            rank=int(ranks[agent]), rank_tier=rank_tier, tier=tier, weakest_metric=weakest))  # type: ignore[arg-type]
    zh = w.zh and "tier_labels_zh" in catalog  # a team catalog without translations keeps its English words
    labels = dict(catalog["tier_labels_zh" if zh else "tier_labels"])
    actions = catalog["tier_actions_zh" if zh and "tier_actions_zh" in catalog else "tier_actions"]
    tiers = [TierSummary(tier=t, label=labels[t], agents=[r.agent for r in rows if r.tier == t],  # type: ignore[arg-type]
                         actions=list(actions[t]))
             for t in ("top", "middle", "bottom", "not distinguishable") if any(r.tier == t for r in rows)]
    linkage = _linkage(per_contact, scored, present, shape, notes, w, view if view.protected else None)
    method = w("scorecard.method", scores=w.sentence(score_method) + ("" if w.zh else " "), share=f"{share:.0%}",
               k=k, n=n).replace("  ", " ")
    return ScorecardResult(
        input_shape=shape, agent_column=agent_col, tier_labels=labels,  # type: ignore[arg-type]
        columns_used={role: col for role, col in found.items() if role != "agent"}, method=method,
        metric_tests=tests, distinguishable=[a for a in order if a in separated],
        weights=fractions, weights_note=weights_note, min_contacts=min_contacts, agents=rows[:MAX_AGENT_ROWS],
        truncated=len(rows) > MAX_AGENT_ROWS, not_scored=not_scored, tiers=tiers, linkage=linkage, notes=notes,
        language=w.language)


def _contact_scores(contacts: pd.DataFrame, agents: list[str], present: list[str], fractions: dict[str, float],
                    signs: dict[str, float], intervals: dict[str, dict[str, list[float] | None]],
                    view: Any = None) -> tuple[pd.DataFrame, pd.Series, dict[str, float | None]]:
    """z-scores of each agent against the rest per metric, the standardised weighted total and its p-value; fills
    the per-agent 95% intervals.

    "The rest" is the team's typical agents: the other scored agents, leaving out those themselves shown to differ
    (Holm p < 0.05), found by repeating the comparison until that set stops changing — so one weak agent does not
    make everyone else look strong, nor one star everyone else weak."""
    import numpy as np
    import pandas as pd

    from retention_mcp.analysis.stats import t_interval, wilson_interval

    stats_: dict[str, dict[str, np.ndarray]] = {}
    for m in present:
        values = contacts[["agent", m]].dropna()
        grouped = values.groupby("agent")[m]
        table = pd.DataFrame({"n": grouped.count(), "sum": grouped.sum(),
                              "squares": (values[m] ** 2).groupby(values["agent"]).sum(),
                              "mean": grouped.mean(), "sd": grouped.std(ddof=1)}).reindex(agents)
        arrays = {column: table[column].to_numpy(dtype="float64") for column in table.columns}
        arrays["n"] = np.nan_to_num(arrays["n"])
        arrays["sum"] = np.nan_to_num(arrays["sum"])
        arrays["squares"] = np.nan_to_num(arrays["squares"])
        if view is not None:
            # Protected mode: counts and sums (and so means and the comparisons) from the perturbed figures.
            rows, codes, values_on_view = _over_view(view, contacts, agents, m)
            arrays["n"], arrays["sum"] = _shown_sums(view, rows, codes, values_on_view, len(agents), m)
            with np.errstate(divide="ignore", invalid="ignore"):
                arrays["mean"] = np.where(arrays["n"] > 0, arrays["sum"] / np.where(arrays["n"] > 0, arrays["n"], 1),
                                          np.nan)
        stats_[m] = arrays
        for i, agent in enumerate(agents):
            n_a = arrays["n"][i]
            if n_a < 1:
                intervals[agent][m] = None
                continue
            if m == "resolution_rate":
                low, high = wilson_interval(float(arrays["sum"][i]), float(n_a))
            else:
                low, high = t_interval(float(arrays["mean"][i]), float(arrays["sd"][i]), int(n_a))
            intervals[agent][m] = None if low is None or math.isnan(low) else [float(low), float(high)]
    # within-agent correlation of the (signed) metrics across contacts, for the total's standard deviation
    centred = contacts[present].astype("float64") - contacts.groupby("agent")[present].transform("mean")
    correlation = (centred * pd.Series(signs)).corr(min_periods=3).fillna(0.0)
    mask = contacts[present].notna()
    counts = mask.groupby(contacts["agent"]).sum().reindex(agents).fillna(0)
    pairs = {(a, b): (mask[a] & mask[b]).groupby(contacts["agent"]).sum().reindex(agents).fillna(0)
             for i, a in enumerate(present) for b in present[i + 1:]}
    weighted = [m for m in fractions if m in present]

    def compare(reference: np.ndarray) -> tuple[pd.DataFrame, pd.Series, dict[str, float | None]]:
        scores = pd.DataFrame(index=pd.Index(agents, name="agent"), columns=present, dtype="float64")
        for m in present:
            a = stats_[m]
            own = reference.astype("float64")
            n_r = a["n"][reference].sum() - a["n"] * own
            sum_r = a["sum"][reference].sum() - a["sum"] * own
            squares_r = a["squares"][reference].sum() - a["squares"] * own
            with np.errstate(divide="ignore", invalid="ignore"):
                mean_r = sum_r / n_r
                if m == "resolution_rate":
                    pooled = (a["sum"] + sum_r) / (a["n"] + n_r)
                    se = np.sqrt(pooled * (1 - pooled) * (1 / a["n"] + 1 / n_r))
                else:
                    var_r = np.maximum((squares_r - n_r * mean_r ** 2) / (n_r - 1), 0.0)
                    se = np.sqrt(a["sd"] ** 2 / a["n"] + var_r / n_r)
                z = signs[m] * (a["mean"] - mean_r) / se
            valid = (a["n"] >= 2) & (n_r >= 2) & (se > 0) & np.isfinite(z)
            scores[m] = np.where(valid, z, np.nan)
        total = pd.Series(np.nan, index=scores.index, dtype="float64")
        p_values: dict[str, float | None] = {}
        for agent in agents:
            p_values[agent] = None
            used = [m for m in weighted if counts.at[agent, m] > 0]
            if not used:
                continue
            z = scores.loc[agent, used].to_numpy(float)
            keep = ~np.isnan(z)
            if not keep.any():
                total[agent] = 0.0  # measured, but there is no rest to compare with
                continue
            used = [m for m, k in zip(used, keep, strict=True) if k]
            w = np.array([fractions[m] for m in used])
            w = w / w.sum()
            n_used = np.array([float(counts.at[agent, m]) for m in used])
            r = np.eye(len(used))
            for i, first in enumerate(used):
                for j in range(i + 1, len(used)):
                    second = used[j]
                    both = pairs.get((first, second), pairs.get((second, first)))
                    overlap = float(both[agent]) / math.sqrt(n_used[i] * n_used[j])
                    r[i, j] = r[j, i] = float(correlation.at[first, second]) * overlap
            spread = math.sqrt(max(float(w @ r @ w), 1e-12))
            total[agent] = float(w @ z[keep]) / spread
            p_values[agent] = math.erfc(abs(total[agent]) / math.sqrt(2))
        return scores, total, p_values

    reference = np.ones(len(agents), dtype=bool)
    seen: list[bytes] = []
    for _ in range(10):
        scores, total, p_values = compare(reference)
        adjusted = holm([p_values[a] for a in agents])
        typical = np.array([p is None or p >= ALPHA for p in adjusted])
        if (typical == reference).all() or typical.tobytes() in seen or typical.sum() < 2:
            break
        seen.append(reference.tobytes())
        reference = typical
    return scores, total, p_values


def _shown_sums(view: Any, rows: Any, codes: Any, values: Any, size: int, metric: str) -> tuple[Any, Any]:
    """Per agent code: the shown count of ``rows`` with a value of ``metric`` and the shown sum (a rate's numerator
    is a count of yeses). ``rows``, ``codes`` and ``values`` are over the view's rows."""
    import numpy as np

    present = np.asarray(rows, dtype=bool) & np.isfinite(values)
    n = view.counts(codes, size, present).astype("float64")
    if metric == "resolution_rate":
        total = np.minimum(view.counts(codes, size, present & (np.nan_to_num(values) > 0.5)), n).astype("float64")
    else:
        _, total = view.sums(values, codes, size, present, measure=metric)
    return n, np.asarray(total, dtype="float64")


def _over_view(view: Any, contacts: pd.DataFrame, agents: list[str], metric: str) -> tuple[Any, Any, Any]:
    """(rows, agent codes, values) of ``contacts`` placed on the view's rows."""
    import numpy as np

    where = view.labels.get_indexer(contacts.index)
    size = len(view.positions)
    rows = np.zeros(size, dtype=bool)
    rows[where] = True
    codes = np.zeros(size, dtype="int64")
    codes[where] = contacts["agent"].map({a: i for i, a in enumerate(agents)}).to_numpy(dtype="int64")
    values = np.full(size, np.nan)
    values[where] = contacts[metric].to_numpy(dtype="float64")
    return rows, codes, values


def _protected_table(scored: pd.DataFrame, row_agents: pd.Series, per_contact: pd.DataFrame | None,
                     present: list[str], view: Any) -> pd.DataFrame:
    """The scored agents' figures as protected mode shows them: contacts, answered and rated are perturbed
    counts of their contacts, metric means perturbed sums ÷ contacts with a value (the magnitude method); with
    one row per agent, each figure is that row's value perturbed as a cell of one."""
    import numpy as np

    agents = list(scored.index)
    out = scored.copy()
    codes = row_agents.map({a: i for i, a in enumerate(agents)}).fillna(-1).to_numpy(dtype="int64")
    scored_rows = codes >= 0
    codes = np.where(scored_rows, codes, 0)
    if per_contact is not None:
        out["contacts"] = view.counts(codes, len(agents), scored_rows)
        answered = scored_rows & view.labels.isin(per_contact.index)
        out["answered"] = view.counts(codes, len(agents), answered)
        mine = per_contact[per_contact["agent"].isin(agents)]
        for metric in present:
            rows, metric_codes, values = _over_view(view, mine, agents, metric)
            n, total = _shown_sums(view, rows, metric_codes, values, len(agents), metric)
            with np.errstate(divide="ignore", invalid="ignore"):
                out[metric] = np.where(n > 0, total / np.where(n > 0, n, 1.0), np.nan)
            if metric == "csat":
                out["rated"] = n
        return out
    for metric in [*present, *(["contacts"] if "contacts" in out else [])]:
        by_agent = out[metric].to_dict()
        values = row_agents.map(by_agent).to_numpy(dtype="float64", na_value=np.nan)
        _, total = view.sums(values, codes, len(agents), scored_rows & np.isfinite(values), measure=metric)
        out[metric] = np.where(out[metric].notna().to_numpy(), total, np.nan)
    if "contacts" in out:
        out["answered"] = out["contacts"]
    return out


def _agent_scores(scored: pd.DataFrame, present: list[str], fractions: dict[str, float],
                  signs: dict[str, float]) -> tuple[pd.DataFrame, pd.Series, dict[str, float | None]]:
    """Per-agent input: standardised across agents (no test is possible)."""
    import pandas as pd

    scores = pd.DataFrame(index=scored.index)
    for metric in present:
        values = scored[metric].astype("float64")
        sd = values.std(ddof=1)
        scores[metric] = signs[metric] * (values - values.mean()) / sd if sd and not pd.isna(sd) else 0.0 * values
    weights = pd.Series({m: w for m, w in fractions.items() if m in present})
    weighted = scores[list(weights.index)]
    available = weighted.notna().mul(weights, axis=1).sum(axis=1)
    total = weighted.mul(weights, axis=1).sum(axis=1, min_count=1) / available.where(available > 0)
    return scores, total, {a: None for a in scored.index}


def _metric_tests(contacts: pd.DataFrame, present: list[str], metric_catalog: dict[str, Any],
                  w: Words, view: Any = None) -> list[MetricTest]:
    """Do the agents differ at all on each metric? One-way ANOVA, Pearson χ² or Kruskal–Wallis (tools/call_center.yaml
    names the test per metric).

    In protected mode (``view``) the ANOVA's within-agents degrees of freedom N − k are taken from N′, the sum of the
    agents' shown (perturbed) contact counts — the same counts the table shows — and F and p follow them:
    F′ = (SS_between ÷ (k − 1)) ÷ (SS_within ÷ (N′ − k)). The exact N is a count of contacts in a scope the caller
    chooses; two scopes one contact apart would show it."""
    import numpy as np
    from scipy.special import fdtrc

    from retention_mcp.analysis.stats import chi2_homogeneity, kruskal_wallis, one_way_anova

    out = []
    for m in present:
        values = contacts[["agent", m]].dropna()
        groups = [g[m].to_numpy(float) for _, g in values.groupby("agent") if len(g)]
        kind = metric_catalog[m].get("test", "anova")
        if kind == "chi2":
            grouped = values.groupby("agent")[m]
            result = chi2_homogeneity(grouped.sum().to_numpy(float), grouped.count().to_numpy(float))
            if result:
                out.append(MetricTest(metric=m, test=w("scorecard.tests.chi2"), statistic=result[0],
                                      df=str(result[1]), p_value=result[2], agents_differ=result[2] < ALPHA))
        elif kind == "kruskal":
            result = kruskal_wallis(groups)
            if result:
                out.append(MetricTest(metric=m, test=w("scorecard.tests.kruskal"), statistic=result[0],
                                      df=str(result[1]), p_value=result[2], agents_differ=result[2] < ALPHA))
        else:
            anova = one_way_anova(groups)
            if anova and view is not None:
                agents = sorted(values["agent"].unique())
                rows, codes, numbers = _over_view(view, values, agents, m)
                shown_n = int(view.counts(codes, len(agents), rows & np.isfinite(numbers)).sum())
                within = max(1, shown_n - len(agents))
                f = anova[0] * within / anova[2]
                anova = (f, anova[1], within, float(fdtrc(anova[1], within, f)))
            if anova:
                out.append(MetricTest(metric=m, test=w("scorecard.tests.anova"), statistic=anova[0],
                                      df=f"{anova[1]}, {anova[2]}", p_value=anova[3], agents_differ=anova[3] < ALPHA))
    return out


def _small(count: int, floor: int, w: Words) -> str:
    """A count for a note: never exact below the minimum group size."""
    return w("dataset.fewer_than", k=floor) if 0 < count < floor else f"{count:,}"


def _int(value: Any) -> int | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return int(value)


def _num(value: Any, digits: int = 6) -> float | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return round(float(value), digits)


def _aggregate_contacts(frame: pd.DataFrame, agents: pd.Series, found: dict[str, str], notes: list[str],
                        flag_words: tuple[frozenset[str], frozenset[str]],
                        w: Words, floor: int = 5,
                        count: Any = None) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """Per-contact rows -> one row per agent, and the cleaned per-contact frame for the regression. ``count`` (a mask
    over ``frame``'s rows -> the shown count) counts the contacts the notes mention in protected mode."""
    import numpy as np
    import pandas as pd

    def counted(mask: pd.Series) -> int:
        return int(mask.sum()) if count is None else count(np.asarray(mask, dtype=bool))

    contact = pd.DataFrame({"agent": agents})
    if "answered" in found:
        answered = parse_flag(frame[found["answered"]], found["answered"], flag_words)
        contact["answered"] = answered.fillna(0.0)
    else:
        contact["answered"] = 1.0
        notes.append(w(f"{N}.no_answered"))
    is_answered = contact["answered"] == 1.0
    present: list[str] = []
    if "csat" in found:
        csat = to_number(frame[found["csat"]])
        top = csat[is_answered].max()
        if pd.notna(top) and top <= 5:
            zeros = counted((csat <= 0) & is_answered)
            if zeros:
                notes.append(w(f"{N}.csat_zero", count=_small(zeros, floor, w)))
            csat = csat.where(csat >= 1)
        contact["csat"] = csat.where(is_answered)
        present.append("csat")
    if "resolved" in found:
        resolved = parse_flag(frame[found["resolved"]], found["resolved"], flag_words)
        contact["resolution_rate"] = resolved.where(is_answered)
        present.append("resolution_rate")
    if "aht" in found:
        contact["aht"] = to_seconds(frame[found["aht"]]).where(is_answered)
        present.append("aht")
    if "asa" in found:
        contact["asa"] = to_seconds(frame[found["asa"]]).where(is_answered)
        present.append("asa")
    for metric in ("compliance", "empathy"):
        if metric in found:
            contact[metric] = to_number(frame[found[metric]]).where(is_answered)
            present.append(metric)
    present = [m for m in present if contact[m].notna().any()]
    grouped = contact.groupby("agent", sort=True)
    table = pd.DataFrame({"contacts": grouped.size(), "answered": grouped["answered"].sum()})
    if "csat" in contact:
        table["rated"] = grouped["csat"].count()
    for metric in present:
        table[metric] = grouped[metric].mean()
    unanswered = counted(~is_answered)
    if unanswered:
        notes.append(w(f"{N}.unanswered", count=_small(unanswered, floor, w)))
    return table, contact[is_answered], present


def _agent_table(frame: pd.DataFrame, agents: pd.Series, found: dict[str, str],
                 notes: list[str], w: Words) -> tuple[pd.DataFrame, None, list[str]]:
    import pandas as pd

    table = pd.DataFrame(index=pd.Index(agents.values, name="agent"))
    if "contacts" in found:
        table["contacts"] = to_number(frame[found["contacts"]]).values
        table["answered"] = table["contacts"]
        notes.append(w(f"{N}.per_agent_contacts", column=found["contacts"]))
    present: list[str] = []
    readers = {"csat": to_number, "resolved": to_rate, "aht": to_seconds, "asa": to_seconds,
               "compliance": to_number, "empathy": to_number}
    for role, reader in readers.items():
        if role in found:
            metric = "resolution_rate" if role == "resolved" else role
            table[metric] = reader(frame[found[role]]).values
            if table[metric].notna().any():
                present.append(metric)
    return table, None, present


def _linkage(per_contact: pd.DataFrame | None, scored: pd.DataFrame, present: list[str], shape: str,
             notes: list[str], w: Words, view: Any = None) -> Linkage | None:
    """OLS of CSAT on the other metrics: per contact when we have contacts, else across agents.

    In protected mode (``view``) the contacts used are counted as every count is (perturbed, n′): n′ is shown, and
    the residual degrees of freedom n′ − p of the t tests and of the adjusted R² come from it (the exact n would
    follow from R² and adjusted R², or from t and p)."""
    import numpy as np
    from scipy.special import stdtr

    predictors = [m for m in present if m != "csat"]
    if "csat" not in present or not predictors:
        notes.append(w(f"{N}.linkage_needs"))
        return None
    level = "contact" if per_contact is not None else "agent"
    source = per_contact if per_contact is not None else scored
    data = source[["csat", *predictors]].dropna()
    data = data.loc[:, ["csat", *[p for p in predictors if data[p].nunique() > 1]]]
    used = [c for c in data.columns if c != "csat"]
    n, p = len(data), len(used) + 1
    shown_n = n
    if view is not None and level == "contact":
        shown_n = view.count(view.labels.isin(data.index))
    if not used or n <= p + 1 or shown_n <= p + 1:
        notes.append(w(f"{N}.linkage_skipped", n=shown_n, level=w.option(f"{N}.levels", level), p=p))
        return None
    y = data["csat"].to_numpy(float)
    x = np.column_stack([np.ones(n), data[used].to_numpy(float)])
    beta, *_ = np.linalg.lstsq(x, y, rcond=None)
    residuals = y - x @ beta
    dof = shown_n - p
    sigma2 = float(residuals @ residuals) / dof
    covariance = sigma2 * np.linalg.pinv(x.T @ x)
    std_errors = np.sqrt(np.diag(covariance))
    sst = float(((y - y.mean()) ** 2).sum())
    r2 = 1 - float(residuals @ residuals) / sst if sst > 0 else 0.0
    adj = 1 - (1 - r2) * (shown_n - 1) / dof if dof > 0 else None
    sd_y = float(y.std(ddof=1))
    coefficients: list[Coefficient] = []
    for i, metric in enumerate(used, start=1):
        b, se = float(beta[i]), float(std_errors[i])
        t = b / se if se > 0 else float("inf")
        pval = float(2 * stdtr(dof, -abs(t)))
        std_beta = b * float(data[metric].std(ddof=1)) / sd_y if sd_y > 0 else 0.0
        unit, step, step_text = _step(metric, data[metric], level, w)
        sentence = ""
        if pval < 0.05:
            sentence = w("scorecard.steps.sentence", step=step_text, change=f"{b * step:+.3f}", p=f"{pval:.3g}")
        coefficients.append(Coefficient(metric=metric, coefficient=b, unit=unit,
                                        std_coefficient=std_beta, std_error=se, t=t,
                                        p_value=pval, significant=pval < 0.05, sentence=sentence))
    link_notes = []
    if level == "agent" and n < 10 * len(used):
        link_notes.append(w(f"{N}.sketch", n=n, metrics=len(used)))
    if level == "contact":
        link_notes.append(w(f"{N}.per_contact"))
    return Linkage(level=level, n=shown_n, r_squared=r2, adj_r_squared=adj,  # type: ignore[arg-type]
                   intercept=float(beta[0]), coefficients=coefficients, notes=link_notes)


def _step(metric: str, values: pd.Series, level: str, w: Words) -> tuple[str, float, str]:
    """The unit of a coefficient and a readable step for the sentence."""
    t = "scorecard.steps"
    if metric == "resolution_rate":
        unit = w(f"{t}.resolved_contact") if level == "contact" else w(f"{t}.resolution_fraction")
        return unit, 0.1, w(f"{t}.resolution")
    if metric == "aht":
        return w(f"{t}.seconds"), 60.0, w(f"{t}.aht")
    if metric == "asa":
        return w(f"{t}.seconds"), 10.0, w(f"{t}.asa")
    if values.max() <= 1:
        return w(f"{t}.fraction"), 0.1, w(f"{t}.fraction_step", metric=metric)
    return w(f"{t}.points"), 1.0, w(f"{t}.points_step", metric=metric)


# --------------------------------------------------------------------------- text


def scorecard_text(result: ScorecardResult, w: Words | None = None) -> str:
    w = w or words(result.language)
    t = "scorecard.text"

    def cell(value: float | None, kind: str, interval: list[float] | None = None) -> str:
        if value is None:
            return "—"
        if kind == "rate":
            text = f"{value * 100:.1f}%"
            return text + (w.paren(f"{interval[0] * 100:.1f}–{interval[1] * 100:.1f}%") if interval else "")
        if kind == "sec":
            return w(f"{t}.seconds", value=f"{value:.0f}") + (
                w.paren(f"{interval[0]:.0f}–{interval[1]:.0f}") if interval else "")
        return f"{value:.2f}" + (w.paren(f"{interval[0]:.2f}–{interval[1]:.2f}") if interval else "")

    def p_text(value: float | None) -> str:
        return "—" if value is None else ("< 0.001" if value < 0.001 else f"{value:.3f}")

    lines = [w(f"{t}.title", shape=w.option(f"{t}.shapes", result.input_shape), scored=len(result.agents),
               not_scored=len(result.not_scored), weights=result.weights_note), "",
             w(f"{t}.columns"), "|---|---|---|---|---|---|---|---|---|---|"]
    for r in result.agents:
        iv = r.intervals
        lines.append(f"| {r.rank} | {r.agent} | {r.answered if r.answered is not None else '—'} | "
                     f"{cell(r.csat_mean, 'num', iv.get('csat'))} | "
                     f"{cell(r.resolution_rate, 'rate', iv.get('resolution_rate'))} | "
                     f"{cell(r.aht_seconds, 'sec', iv.get('aht'))} | {cell(r.asa_seconds, 'sec')} | "
                     f"{r.total_score:+.2f} | {p_text(r.p_holm)} | {result.tier_labels.get(r.tier, r.tier)} |")
    if result.truncated:
        lines.append(w(f"{t}.truncated", count=MAX_AGENT_ROWS))
    if result.not_scored:
        lines.append("")
        lines.append(w(f"{t}.not_scored", agents=w.semicolon.join(
            w(f"{t}.not_scored_item", agent=n.agent, answered=n.answered) for n in result.not_scored),
            min=result.min_contacts))
    if result.metric_tests:
        lines += ["", w(f"{t}.differ")]
        for test in result.metric_tests:
            verdict = w(f"{t}.differ_yes") if test.agents_differ else w(f"{t}.differ_no")
            lines.append(w(f"{t}.test_line", metric=test.metric, test=test.test, statistic=f"{test.statistic:.2f}",
                           df=test.df, p=f"{test.p_value:.3g}", verdict=verdict))
    lines.append("")
    if result.distinguishable:
        lines.append(w(f"{t}.separated", agents=w.enumeration.join(result.distinguishable)))
    else:
        smallest = min((r.p_holm for r in result.agents if r.p_holm is not None), default=None)
        lines.append(w(f"{t}.none_separated",
                       smallest=w(f"{t}.smallest", p=p_text(smallest)) if smallest is not None else ""))
    unsupported = [r.agent for r in result.agents if r.tier == "not distinguishable" and r.rank_tier != "middle"]
    if unsupported and result.distinguishable:
        lines.append(w(f"{t}.unsupported", agents=w.enumeration.join(unsupported)))
    for tier in result.tiers:
        lines.append(f"**{tier.label}**{w.paren(w.enumeration.join(tier.agents))}{w.colon}"
                     + w.semicolon.join(tier.actions))
    if result.linkage:
        link = result.linkage
        lines += ["", w(f"{t}.linkage", level=w.option("scorecard.notes.levels", link.level), n=link.n,
                        r2=f"{link.r_squared:.3f}"), "", w(f"{t}.linkage_columns"), "|---|---|---|---|---|"]
        for c in link.coefficients:
            lines.append(f"| {c.metric} | {c.coefficient:+.4g} | {c.unit} | {c.std_coefficient:+.3f} "
                         f"| {c.p_value:.3g} |")
        significant = [c.sentence for c in link.coefficients if c.significant]
        lines += [f"- {s}" for s in significant] or [w(f"{t}.no_link")]
        lines += [f"- {n}" for n in link.notes]
    lines += ["", result.method]
    lines += [f"- {n}" for n in result.notes]
    return "\n".join(lines)


def _source_name(ds: Dataset) -> str:
    return str(ds.source.get("name", "")) if isinstance(ds.source, dict) else str(getattr(ds.source, "name", ""))
