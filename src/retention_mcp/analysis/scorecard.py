"""Call-center agent scorecard (seed 001): per-agent metrics, weighted score, 20/60/20 tiers, CSAT linkage.

Input is either one row per contact (detected when an agent appears on several rows) or one row per
agent. Unanswered contacts are left out of CSAT, resolution, handle time and speed of answer; a CSAT
of 0 on a 1-5 scale is a missing rating, not a zero. Metric scores are min-max normalised across the
scored agents to 0-100 (100 = best agent on that metric, direction-aware), and the total is the
weighted mean of the scores present. Agent names are the grouping key the manager asks for; no other
identifier from the data (call ids, dates, free text) leaves this module.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from retention_mcp.data.dataset import Dataset
from retention_mcp.data.disclosure import Policy
from retention_mcp.errors import InputError
from retention_mcp.runtime.spec import Evidenced

if TYPE_CHECKING:
    import pandas as pd

METRICS = ("csat", "resolution_rate", "aht", "asa", "compliance", "empathy")
#: Roles of a call log (see tools/column_aliases.yaml, kind "calls") that carry metrics.
METRIC_ROLES = ("answered", "resolved", "csat", "aht", "asa", "compliance", "empathy", "contacts")
MAX_AGENT_ROWS = 500


class AgentRow(BaseModel):
    agent: str = Field(description="the agent name from the data (the grouping key)")
    contacts: int | None = Field(description="rows (contacts) for this agent, answered or not")
    answered: int | None = Field(description="answered contacts (the base of every metric)")
    rated: int | None = Field(None, description="answered contacts with a CSAT rating")
    csat_mean: float | None = Field(None, description="mean CSAT of rated answered contacts, 1-5")
    resolution_rate: float | None = Field(None, description="resolved / answered contacts, a fraction")
    aht_seconds: float | None = Field(None, description="mean talk duration of answered contacts, seconds")
    asa_seconds: float | None = Field(None, description="mean speed of answer of answered contacts, seconds")
    compliance: float | None = Field(None, description="mean script compliance (as in the data)")
    empathy: float | None = Field(None, description="mean empathy score (as in the data)")
    scores: dict[str, float | None] = Field(description="normalised metric scores 0-100, 100 = best agent")
    total_score: float = Field(description="weighted mean of the metric scores, 0-100")
    rank: int = Field(description="1 = highest total score")
    tier: Literal["top", "middle", "bottom"]
    weakest_metric: str | None = Field(description="metric with the lowest normalised score (training focus)")


class NotScored(BaseModel):
    agent: str
    contacts: int | None
    answered: int | None
    reason: str


class TierSummary(BaseModel):
    tier: Literal["top", "middle", "bottom"]
    label: str
    agents: list[str]
    actions: list[str] = Field(description="what seed 001 prescribes for this tier")


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


def resolve_weights(weights: dict[str, Any] | None, present: list[str],
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
        source = "your weights"
    else:
        parsed = {m: float(w) for m, w in catalog["default_weights"].items()}
        source = catalog["default_weights_source"]
    dropped = [m for m, w in parsed.items() if w > 0 and m not in present]
    used = {m: w for m, w in parsed.items() if m in present and w > 0}
    total = sum(used.values())
    if total <= 0:
        raise InputError(f"none of the weighted metrics is in the data (present: {', '.join(present) or 'none'}); "
                         "give weights for the metrics you have, e.g. {'csat': 50, 'resolution_rate': 50}")
    fractions = {m: round(w / total, 6) for m, w in used.items()}
    note = f"Weights: {source}"
    if dropped:
        note += f"; {', '.join(dropped)} not in the data"
    note += (", re-normalised over the metrics present: "
             + ", ".join(f"{m} {f:.1%}" for m, f in fractions.items()) + ".")
    unweighted = [m for m in present if m not in used]
    if unweighted:
        note += f" Reported but unweighted: {', '.join(unweighted)}."
    return fractions, note


# --------------------------------------------------------------------------- main


def build_scorecard(ds: Dataset, *, policy: Policy, catalog: dict[str, Any], weights: dict[str, Any] | None = None,
                    min_contacts: int = 30, input_shape: str = "auto") -> ScorecardResult:
    """Per-agent metrics, weighted score and tiers from a call log (``ds`` read with kind="calls")."""
    import pandas as pd

    if min_contacts < 1:
        raise InputError("min_contacts must be at least 1")
    agent_col = ds.roles.get("agent")
    if agent_col is None:
        raise InputError("no agent column found; name it with agent_column (columns: "
                         f"{', '.join(ds.columns[:60])})")
    found = {role: ds.roles.get(role) for role in METRIC_ROLES if ds.roles.get(role) is not None}
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
    notes: list[str] = []
    words = (ds.table.true_words, ds.table.false_words)
    if shape == "contacts":
        table, per_contact, present = _aggregate_contacts(frame, agents, found, notes, words)
    else:
        table, per_contact, present = _agent_table(frame, agents, found, notes)
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
        notes.append(f"Agents are shown as stable pseudonyms; the key (pseudonym -> name) is in the server's output "
                     f"folder ({key_file}), for the manager to open locally.")
    fractions, weights_note = resolve_weights(weights, present, catalog)

    base = table["answered"] if "answered" in table else table.get("contacts")
    if base is None:
        eligible = pd.Series(True, index=table.index)
        notes.append("No contact counts in the data, so min_contacts could not be applied; add a contacts column.")
    else:
        eligible = base.fillna(0) >= min_contacts
    not_scored = [NotScored(agent=str(a), contacts=_int(table.at[a, "contacts"]) if "contacts" in table else None,
                            answered=_int(table.at[a, "answered"]) if "answered" in table else None,
                            reason=f"fewer than {min_contacts} answered contacts")
                  for a in table.index[~eligible]]
    scored = table[eligible].copy()
    if scored.empty:
        raise InputError(f"no agent has {min_contacts} or more answered contacts; lower min_contacts to score them")

    scores = pd.DataFrame(index=scored.index)
    for metric in present:
        values = scored[metric]
        low, high = values.min(), values.max()
        if pd.isna(low) or high == low:
            scores[metric] = values.where(values.isna(), 100.0)
            if not pd.isna(low):
                notes.append(f"{metric}: every scored agent has the same value, so everyone scores 100 on it.")
            continue
        if catalog["metrics"][metric]["higher_is_better"]:
            scores[metric] = 100 * (values - low) / (high - low)
        else:
            scores[metric] = 100 * (high - values) / (high - low)
    weight_series = pd.Series(fractions)
    weighted = scores[list(fractions)]
    available = weighted.notna().mul(weight_series, axis=1).sum(axis=1)
    total = weighted.mul(weight_series, axis=1).sum(axis=1, min_count=1) / available.where(available > 0)
    if total.isna().any():
        missing = ", ".join(map(str, total.index[total.isna()]))
        notes.append(f"No weighted metric for {missing}; they are not ranked.")
        total = total.dropna()
    if (available < 0.999).any():
        notes.append("Some agents lack a weighted metric; their total re-normalises over the metrics they have.")
    order = sorted(total.index, key=lambda a: (-round(float(total[a]), 9), str(a)))
    n = len(order)
    k = math.floor(0.2 * n + 0.5) if n >= 3 else 0
    if n < 3:
        notes.append("Fewer than 3 scored agents: everyone is in the middle tier.")
    ranks = total.round(9).rank(ascending=False, method="min").astype(int)
    rows: list[AgentRow] = []
    for position, agent in enumerate(order):
        tier = "top" if position < k else ("bottom" if position >= n - k else "middle")
        agent_scores = {m: (None if pd.isna(scores.at[agent, m]) else round(float(scores.at[agent, m]), 6))
                        for m in present}
        weighted_scores = {m: s for m, s in agent_scores.items() if s is not None and m in fractions}
        weakest = min(weighted_scores, key=lambda m: weighted_scores[m]) if weighted_scores else None
        rec = scored.loc[agent]
        rows.append(AgentRow(
            agent=str(agent), contacts=_int(rec.get("contacts")), answered=_int(rec.get("answered")),
            rated=_int(rec.get("rated")), csat_mean=_num(rec.get("csat")),
            resolution_rate=_num(rec.get("resolution_rate")), aht_seconds=_num(rec.get("aht")),
            asa_seconds=_num(rec.get("asa")), compliance=_num(rec.get("compliance")),
            empathy=_num(rec.get("empathy")), scores=agent_scores, total_score=round(float(total[agent]), 6),
            rank=int(ranks[agent]), tier=tier, weakest_metric=weakest))  # type: ignore[arg-type]
    tiers = [TierSummary(tier=t, label=catalog["tier_labels"][t], agents=[r.agent for r in rows if r.tier == t],  # type: ignore[arg-type]
                         actions=list(catalog["tier_actions"][t])) for t in ("top", "middle", "bottom")]
    linkage = _linkage(per_contact, scored, present, shape, notes)
    method = ("Per agent: CSAT mean over rated answered contacts, resolution rate = resolved / answered, AHT and "
              "speed of answer = means over answered contacts (unanswered contacts excluded; CSAT 0 on a 1-5 scale "
              "= missing). Metric score = min-max across scored agents, 0-100, 100 = best (lower is better for AHT "
              "and speed of answer). Total = weighted mean of the scores present. Tiers: top and bottom "
              f"round(20% x n) = {k} of {n} agents by total, the rest middle (seed 001).")
    return ScorecardResult(
        input_shape=shape, agent_column=agent_col, tier_labels=dict(catalog["tier_labels"]),  # type: ignore[arg-type]
        columns_used={role: col for role, col in found.items() if role != "agent"}, method=method,
        weights=fractions, weights_note=weights_note, min_contacts=min_contacts, agents=rows[:MAX_AGENT_ROWS],
        truncated=len(rows) > MAX_AGENT_ROWS, not_scored=not_scored, tiers=tiers, linkage=linkage, notes=notes)


def _int(value: Any) -> int | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return int(value)


def _num(value: Any, digits: int = 6) -> float | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return round(float(value), digits)


def _aggregate_contacts(frame: pd.DataFrame, agents: pd.Series, found: dict[str, str], notes: list[str],
                        words: tuple[frozenset[str], frozenset[str]]) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """Per-contact rows -> one row per agent, and the cleaned per-contact frame for the regression."""
    import pandas as pd

    contact = pd.DataFrame({"agent": agents})
    if "answered" in found:
        answered = parse_flag(frame[found["answered"]], found["answered"], words)
        contact["answered"] = answered.fillna(0.0)
    else:
        contact["answered"] = 1.0
        notes.append("No answered column: every contact is treated as answered.")
    is_answered = contact["answered"] == 1.0
    present: list[str] = []
    if "csat" in found:
        csat = to_number(frame[found["csat"]])
        top = csat[is_answered].max()
        if pd.notna(top) and top <= 5:
            zeros = int(((csat <= 0) & is_answered).sum())
            if zeros:
                notes.append(f"{zeros} answered contacts had a CSAT of 0 or less on a 1-5 scale: treated as missing.")
            csat = csat.where(csat >= 1)
        contact["csat"] = csat.where(is_answered)
        present.append("csat")
    if "resolved" in found:
        contact["resolution_rate"] = parse_flag(frame[found["resolved"]], found["resolved"], words).where(is_answered)
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
    unanswered = int((~is_answered).sum())
    if unanswered:
        notes.append(f"{unanswered} unanswered contacts are excluded from CSAT, resolution, AHT and speed of answer.")
    return table, contact[is_answered], present


def _agent_table(frame: pd.DataFrame, agents: pd.Series, found: dict[str, str],
                 notes: list[str]) -> tuple[pd.DataFrame, None, list[str]]:
    import pandas as pd

    table = pd.DataFrame(index=pd.Index(agents.values, name="agent"))
    if "contacts" in found:
        table["contacts"] = to_number(frame[found["contacts"]]).values
        table["answered"] = table["contacts"]
        notes.append(f"Per-agent input: min_contacts is checked against {found['contacts']!r}.")
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
             notes: list[str]) -> Linkage | None:
    """OLS of CSAT on the other metrics: per contact when we have contacts, else across agents."""
    import numpy as np
    from scipy import stats

    predictors = [m for m in present if m != "csat"]
    if "csat" not in present or not predictors:
        notes.append("CSAT linkage needs a CSAT column and at least one other metric.")
        return None
    level = "contact" if per_contact is not None else "agent"
    source = per_contact if per_contact is not None else scored
    data = source[["csat", *predictors]].dropna()
    data = data.loc[:, ["csat", *[p for p in predictors if data[p].nunique() > 1]]]
    used = [c for c in data.columns if c != "csat"]
    n, p = len(data), len(used) + 1
    if not used or n <= p + 1:
        notes.append(f"CSAT linkage skipped: {n} complete {level}s for {p} parameters.")
        return None
    y = data["csat"].to_numpy(float)
    x = np.column_stack([np.ones(n), data[used].to_numpy(float)])
    beta, *_ = np.linalg.lstsq(x, y, rcond=None)
    residuals = y - x @ beta
    dof = n - p
    sigma2 = float(residuals @ residuals) / dof
    covariance = sigma2 * np.linalg.pinv(x.T @ x)
    std_errors = np.sqrt(np.diag(covariance))
    sst = float(((y - y.mean()) ** 2).sum())
    r2 = 1 - float(residuals @ residuals) / sst if sst > 0 else 0.0
    adj = 1 - (1 - r2) * (n - 1) / dof if dof > 0 else None
    sd_y = float(y.std(ddof=1))
    coefficients: list[Coefficient] = []
    for i, metric in enumerate(used, start=1):
        b, se = float(beta[i]), float(std_errors[i])
        t = b / se if se > 0 else float("inf")
        pval = float(2 * stats.t.sf(abs(t), dof))
        std_beta = b * float(data[metric].std(ddof=1)) / sd_y if sd_y > 0 else 0.0
        unit, step, step_text = _step(metric, data[metric], level)
        sentence = ""
        if pval < 0.05:
            sentence = (f"{step_text} ↔ {b * step:+.3f} CSAT points (p = {pval:.3g}, other metrics held equal; "
                        "an association, not proof of cause)")
        coefficients.append(Coefficient(metric=metric, coefficient=b, unit=unit,
                                        std_coefficient=std_beta, std_error=se, t=t,
                                        p_value=pval, significant=pval < 0.05, sentence=sentence))
    link_notes = []
    if level == "agent" and n < 10 * len(used):
        link_notes.append(f"Only {n} agents for {len(used)} metrics: treat the agent-level regression as a sketch.")
    if level == "contact":
        link_notes.append("Per contact: resolution enters as resolved 1 / not 0, so its coefficient is the CSAT gap "
                          "between resolved and unresolved contacts.")
    return Linkage(level=level, n=n, r_squared=r2, adj_r_squared=adj,  # type: ignore[arg-type]
                   intercept=float(beta[0]), coefficients=coefficients, notes=link_notes)


def _step(metric: str, values: pd.Series, level: str) -> tuple[str, float, str]:
    """The unit of a coefficient and a readable step for the sentence."""
    if metric == "resolution_rate":
        unit = "resolved (1) vs not (0)" if level == "contact" else "resolution rate as a fraction"
        return unit, 0.1, "+10 pp resolution rate"
    if metric == "aht":
        return "seconds", 60.0, "+60 s talk time"
    if metric == "asa":
        return "seconds", 10.0, "+10 s speed of answer"
    if values.max() <= 1:
        return "fraction", 0.1, f"+10 pp {metric}"
    return "points", 1.0, f"+1 point {metric}"


# --------------------------------------------------------------------------- text


def scorecard_text(result: ScorecardResult) -> str:
    def cell(value: float | None, kind: str) -> str:
        if value is None:
            return "—"
        if kind == "rate":
            return f"{value * 100:.1f}%"
        if kind == "sec":
            return f"{value:.0f} s"
        return f"{value:.2f}"

    lines = [f"Agent scorecard ({result.input_shape} input; {len(result.agents)} agents scored, "
             f"{len(result.not_scored)} not scored). {result.weights_note}", "",
             "| rank | agent | answered | CSAT | resolution | AHT | speed of answer | score | tier | weakest |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in result.agents:
        lines.append(f"| {r.rank} | {r.agent} | {r.answered if r.answered is not None else '—'} | "
                     f"{cell(r.csat_mean, 'num')} | {cell(r.resolution_rate, 'rate')} | {cell(r.aht_seconds, 'sec')} "
                     f"| {cell(r.asa_seconds, 'sec')} | {r.total_score:.1f} | {result.tier_labels.get(r.tier, r.tier)} "
                     f"| {r.weakest_metric or '—'} |")
    if result.truncated:
        lines.append(f"(first {MAX_AGENT_ROWS} agents shown; truncated)")
    if result.not_scored:
        lines.append("")
        lines.append("Not scored: " + "; ".join(f"{n.agent} ({n.answered} answered)" for n in result.not_scored)
                     + f" — under min_contacts = {result.min_contacts}.")
    lines.append("")
    for tier in result.tiers:
        if tier.agents:
            lines.append(f"**{tier.label}** ({', '.join(tier.agents)}): " + "; ".join(tier.actions))
    if result.linkage:
        link = result.linkage
        lines += ["", f"CSAT linkage (OLS per {link.level}, N = {link.n}, R² = {link.r_squared:.3f}):", "",
                  "| metric | coefficient | unit | standardised β | p |", "|---|---|---|---|---|"]
        for c in link.coefficients:
            lines.append(f"| {c.metric} | {c.coefficient:+.4g} | {c.unit} | {c.std_coefficient:+.3f} "
                         f"| {c.p_value:.3g} |")
        significant = [c.sentence for c in link.coefficients if c.significant]
        lines += [f"- {s}" for s in significant] or ["- No metric is significantly linked to CSAT at p < 0.05."]
        lines += [f"- {n}" for n in link.notes]
    lines += ["", result.method]
    lines += [f"- {n}" for n in result.notes]
    return "\n".join(lines)


def _source_name(ds: Dataset) -> str:
    return str(ds.source.get("name", "")) if isinstance(ds.source, dict) else str(getattr(ds.source, "name", ""))
