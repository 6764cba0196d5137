"""Driver analysis: which factors move turnover (a leaver flag) or engagement (a numeric score).

Per driver: N, an effect size (point-biserial / Pearson r, Spearman rho, or eta for a categorical
driver), its share of the model R² (exact Shapley decomposition up to 12 drivers, Johnson's relative
weights beyond), direction, favourability (top-box share of a Likert item) and a priority quadrant.
The model is ordinary least squares with an intercept (a linear probability model for a leaver flag),
fitted on the rows where the outcome and every driver are present.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from itertools import combinations
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from retention_mcp.data.cellkey import CellsView
from retention_mcp.data.dataset import Dataset, leaver_source_text
from retention_mcp.data.dimensions import Scope, build_dimension, hidden_cells
from retention_mcp.data.disclosure import Policy
from retention_mcp.data.vocabulary import likert_scale
from retention_mcp.errors import InputError
from retention_mcp.runtime.spec import Evidenced
from retention_mcp.wording import ResultLanguage, Words, sensitive_caution, words

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

#: Shapley over all subsets costs 2^k regressions; beyond this many drivers use relative weights.
MAX_EXACT_SHAPLEY = 12
#: A categorical driver with more levels than this is refused (it looks like an identifier or free text).
MAX_LEVELS = 50
#: Automatic driver selection keeps text columns with at most this many levels.
AUTO_MAX_LEVELS = 20
DEFAULT_FAVOURABLE_CUTOFF = 0.65
#: A driver this closely tied to the outcome restates it (termination reason, employment status): leakage.
LEAKAGE_EFFECT = 0.9
#: The model should use at least this share of the rows in scope (outcome present); below it the text warns, and
#: automatic driver selection leaves out the drivers whose gaps would cut coverage below it (tools/metrics.yaml).
COVERAGE_THRESHOLD = 0.8
#: Coverage is uneven across a grouping when its levels' kept shares differ by more than this (fraction).
COVERAGE_SPREAD = 0.2
#: Grouping columns checked for uneven coverage besides the categorical drivers and `by`.
GROUPING_ROLES = ("department", "job_role", "location", "shift")

RECOMMEND_NAME = re.compile(r"recommend|enps|\bnps\b|推荐", re.IGNORECASE)
DATE_NAME = re.compile(r"date|日期|时间", re.IGNORECASE)

Method = Literal["pearson", "spearman"]
ImportanceMethod = Literal["auto", "shapley", "relative_weights"]
Quadrant = Literal["fix first", "strength", "monitor", "maintain"]


class LevelRow(BaseModel):
    level: str = Field(description="A level of a categorical driver")
    n: int | None = Field(description="Rows at this level (None when suppressed)")
    outcome_mean: float | None = Field(
        description="Leaver rate (fraction 0..1) or mean score at this level; None when suppressed")
    suppressed: bool = Field(default=False, description="True when hidden as a small group")


class DriverRow(BaseModel):
    driver: str = Field(description="Column name")
    kind: Literal["numeric", "flag", "categorical"] = Field(
        description="numeric (Likert, hours, counts), flag (yes/no mapped to 1/0) or categorical "
                    "(one-hot in the model)")
    n: int = Field(description="Rows where both this driver and the outcome are present")
    effect_size: float | None = Field(
        description="Correlation with the outcome: point-biserial / Pearson r or Spearman rho (-1..1); "
                    "for a categorical driver eta, the correlation ratio (0..1)")
    effect_measure: str = Field(description="Which effect size: point-biserial r, Pearson r, Spearman rho or eta")
    p_value: float | None = Field(description="Two-sided p-value of the effect size (None when undefined)")
    spread: float | None = Field(
        default=None, description="Categorical only: highest minus lowest level mean of the outcome among shown levels "
                                  "(fraction for a leaver flag, score units otherwise)")
    importance: float = Field(description="Share of the model R² carried by this driver (R² units; all sum to R²)")
    importance_share: float = Field(description="importance / model R², a fraction 0..1")
    rank: int = Field(description="1 = most important")
    direction: Literal["positive", "negative", "none", "varies"] = Field(
        description="Sign of the effect: positive = higher driver values go with a higher outcome")
    direction_text: str = Field(description="The direction in words")
    favourability: float | None = Field(
        default=None, description="Top-box share (fraction 0..1) when the driver is a Likert item; else None")
    favourable_definition: str | None = Field(default=None, description="What counted as favourable, e.g. 4-5 on 1-5")
    quadrant: Quadrant | None = Field(
        default=None, description="Priority quadrant (importance x favourability); None without favourability")
    levels: list[LevelRow] | None = Field(default=None, description="Categorical only: outcome by level")


class ENPS(BaseModel):
    item: str = Field(description="The 0-10 'would recommend as a place to work' column")
    n: int = Field(description="Answers counted")
    promoters: float = Field(description="Share answering 9-10, a fraction")
    passives: float = Field(description="Share answering 7-8, a fraction")
    detractors: float = Field(description="Share answering 0-6, a fraction")
    enps: float = Field(description="eNPS = (promoters - detractors) x 100, from -100 to +100 points")


class GroupTopDriver(BaseModel):
    driver: str
    importance: float = Field(description="Share of the group model R² (R² units)")
    effect_size: float | None = Field(description="Effect size in this group (same measure as overall)")


class GroupRow(BaseModel):
    group: str = Field(description="Value of the `by` column")
    n: int | None = Field(description="Rows in the group (None when suppressed)")
    outcome_mean: float | None = Field(description="Leaver rate (fraction) or mean score in the group")
    r_squared: float | None = Field(description="Model R² within the group (None when too few rows)")
    top_drivers: list[GroupTopDriver] = Field(default_factory=list, description="Up to 3 most important drivers")
    suppressed: bool = Field(default=False, description="True when hidden as a small group")
    note: str | None = None


class DriverResult(Evidenced):
    outcome: str = Field(description="Outcome column")
    outcome_definition: str | None = Field(
        default=None, description="How the outcome was derived when the file had no such column")
    outcome_kind: Literal["leaver_flag", "score"] = Field(description="leaver_flag (1 = left) or a numeric score")
    outcome_mean: float = Field(description="Leaver rate (fraction) or mean score over the model rows")
    n: int = Field(description="Rows used by the model (outcome and every driver present)")
    rows_in_scope: int = Field(0, description="Rows in scope (the file, or the `where` filter) with the outcome "
                               "present: the model used `n` of them")
    coverage: float | None = Field(None, description="n ÷ rows_in_scope: the share of rows in scope the model used "
                                   "(rows missing any driver are dropped)")
    coverage_threshold: float = Field(COVERAGE_THRESHOLD, description="coverage below this gets a warning; "
                                      "automatic driver selection leaves out drivers that would cut coverage below it")
    coverage_by_group: dict[str, dict[str, float]] = Field(
        default_factory=dict, description="grouping column -> {level: share of its rows in scope the model used}, "
        "for groupings whose levels are kept unevenly (levels with at least min_group_size rows)")
    sensitive: list[str] = Field(default_factory=list, description="drivers or `by` columns that are protected "
                                 "attributes (gender, age, marital status, nationality): the text carries a "
                                 "fair-treatment caution")
    r_squared: float = Field(description="Model R² (OLS with intercept; linear probability model for a flag)")
    method: Method = Field(description="pearson (raw values) or spearman (ranks, model fitted on ranks)")
    importance_method: Literal["shapley", "relative_weights"] = Field(
        description="shapley = exact Shapley decomposition of R² over driver subsets; relative_weights = Johnson 2000")
    drivers: list[DriverRow] = Field(description="Drivers sorted by importance, most important first")
    importance_cutoff: float = Field(
        description="Quadrant cut-off on importance: the median driver importance (R² units)")
    favourable_cutoff: float = Field(description="Quadrant cut-off on favourability (fraction)")
    quadrant_rule: str = Field(description="How quadrants are assigned")
    enps: ENPS | None = Field(default=None, description="eNPS when a 0-10 recommend item is present")
    by: str | None = Field(default=None, description="Breakdown column, when asked")
    groups: list[GroupRow] | None = Field(default=None, description="Per-group model, small groups suppressed")
    min_group_size: int = Field(description="Groups/levels smaller than this are suppressed")
    excluded: list[str] = Field(default_factory=list, description="Columns left out and why (automatic selection)")
    warnings: list[str] = Field(default_factory=list, description="Things to check before trusting the ranking")
    caveat: str = Field(description="Correlation versus cause")
    scope: str | None = Field(None, description="the `where` filter and the rows in scope, when one was given")
    language: ResultLanguage = "en"





# -- value coercion ---------------------------------------------------------------------------------

def flag_to_number(series: pd.Series) -> pd.Series | None:
    """Map a yes/no flag column (Yes/No, 是/否, Y/N, True/False, 1/0) to 1.0/0.0; None if it is not one.

    The words are the HR reader's (``retention_mcp.data.dates``), so a column the reader takes for a
    flag is a flag here too.
    """
    from retention_mcp.data.dates import parse_flags

    if series.dropna().empty:
        return None
    parsed = parse_flags(series)
    if parsed.unknown or parsed.values.dropna().empty:
        return None
    return parsed.values


def _numeric(series: pd.Series) -> pd.Series | None:
    """A numeric view of a column (numbers stored as text included), or None. Text is converted on its distinct
    values (a million rows of a few thousand values cost a few thousand conversions)."""
    import numpy as np
    import pandas as pd

    if pd.api.types.is_bool_dtype(series):
        return series.astype("float64")
    if pd.api.types.is_numeric_dtype(series):
        return series.astype("float64")
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    if not len(uniques):
        return None
    text = pd.Series(uniques, dtype="object").astype(str).str.strip()
    converted = pd.to_numeric(text.str.replace(",", "", regex=False), errors="coerce").to_numpy(dtype="float64")
    counts = np.bincount(codes[codes >= 0], minlength=len(uniques))
    present = (text != "").to_numpy()
    if not counts[present].sum() or counts[present & np.isfinite(converted)].sum() < 0.98 * counts[present].sum():
        return None
    values = np.where(codes >= 0, converted[np.maximum(codes, 0)], np.nan)
    return pd.Series(values, index=series.index, dtype="float64")


# -- the model ----------------------------------------------------------------------------------------

def r_squared_of(cov: np.ndarray, cov_y: np.ndarray, var_y: float, columns: list[int]) -> float:
    """R² of an OLS fit (with intercept) on ``columns``, from the centred covariance matrix."""
    import numpy as np

    if not columns or var_y <= 0:
        return 0.0
    sub = cov[np.ix_(columns, columns)]
    beta = np.linalg.lstsq(sub, cov_y[columns], rcond=None)[0]
    return float(max(0.0, min(1.0, cov_y[columns] @ beta / var_y)))


@dataclass
class Moments:
    """Centred cross products of a design (one column per numeric driver, one per non-first level of a
    categorical driver) and the outcome: all OLS needs. Built with bincounts, so a million rows cost a pass per
    driver pair and no dense dummy matrix."""

    cov: np.ndarray  # Σ (x − x̄)(x − x̄)ᵀ, k × k
    cov_y: np.ndarray  # Σ (x − x̄)(y − ȳ), k
    var_y: float  # Σ (y − ȳ)²
    n: int
    groups: list[list[int]]  # design columns of each driver


def moments(frame: pd.DataFrame, outcome: str, kinds: dict[str, str]) -> Moments:
    import numpy as np
    import pandas as pd

    y = frame[outcome].to_numpy(dtype="float64")
    n = len(y)
    y = y - y.mean()
    blocks: list[tuple[str, Any, int]] = []  # ("numeric", centred values, 1) or ("categorical", codes, levels - 1)
    groups: list[list[int]] = []
    start = 0
    for name, kind in kinds.items():
        if kind == "categorical":
            codes, _ = pd.factorize(frame[name], sort=True)
            width = int(codes.max())  # level 0 is the reference
            blocks.append(("categorical", codes, width))
        else:
            values = frame[name].to_numpy(dtype="float64")
            blocks.append(("numeric", values - values.mean(), 1))
            width = 1
        groups.append(list(range(start, start + width)))
        start += width
    cov = np.zeros((start, start))
    cov_y = np.zeros(start)
    indicator_means = []
    for kind, data, width in blocks:
        if kind == "categorical":
            counts = np.bincount(data, minlength=width + 1)[1:].astype("float64")
            indicator_means.append(counts / n)
        else:
            indicator_means.append(None)
    for i, (kind_i, data_i, width_i) in enumerate(blocks):
        gi = groups[i]
        if kind_i == "numeric":
            cov_y[gi[0]] = float(data_i @ y)
        else:
            cov_y[gi] = np.bincount(data_i, weights=y, minlength=width_i + 1)[1:]  # Σ y over each level (ȳ = 0)
        for j in range(i, len(blocks)):
            kind_j, data_j, width_j = blocks[j]
            gj = groups[j]
            if kind_i == "numeric" and kind_j == "numeric":
                block = np.array([[float(data_i @ data_j)]])
            elif kind_i == "numeric":
                # Σ (x_i − x̄_i)(1[level] − p) = Σ over the level of the centred x_i (centred x sums to 0)
                block = np.bincount(data_j, weights=data_i, minlength=width_j + 1)[1:][None, :]
            elif kind_j == "numeric":
                block = np.bincount(data_i, weights=data_j, minlength=width_i + 1)[1:][:, None]
            else:
                joint = np.bincount(data_i * (width_j + 1) + data_j, minlength=(width_i + 1) * (width_j + 1))
                joint = joint.reshape(width_i + 1, width_j + 1)[1:, 1:].astype("float64")
                block = joint - n * np.outer(indicator_means[i], indicator_means[j])
            cov[np.ix_(gi, gj)] = block
            cov[np.ix_(gj, gi)] = block.T
    return Moments(cov=cov, cov_y=cov_y, var_y=float(y @ y), n=n, groups=groups)


def shapley_r2(m: Moments) -> tuple[list[float], float]:
    """Exact Shapley decomposition of R² over the drivers (a driver = its group of design columns).

    Returns the per-driver contributions (which sum to the full-model R²) and the full R².
    """
    groups = m.groups
    n_groups = len(groups)
    r2 = {}
    for size in range(n_groups + 1):
        for subset in combinations(range(n_groups), size):
            mask = sum(1 << g for g in subset)
            cols = [c for g in subset for c in groups[g]]
            r2[mask] = r_squared_of(m.cov, m.cov_y, m.var_y, cols)
    weights = [math.factorial(s) * math.factorial(n_groups - s - 1) / math.factorial(n_groups)
               for s in range(n_groups)]
    contributions = []
    for g in range(n_groups):
        bit = 1 << g
        total = 0.0
        for mask, value in r2.items():
            if mask & bit:
                continue
            total += weights[bin(mask).count("1")] * (r2[mask | bit] - value)
        contributions.append(total)
    return contributions, r2[(1 << n_groups) - 1]


def relative_weights(m: Moments) -> tuple[list[float], float]:
    """Johnson's (2000) relative weights, summed within each driver; they sum to the model R²."""
    import numpy as np

    variance = np.diag(m.cov)
    keep = variance > 0
    scale = np.sqrt(variance[keep])
    rxx = m.cov[np.ix_(keep, keep)] / np.outer(scale, scale)
    rxy = m.cov_y[keep] / (scale * math.sqrt(m.var_y or 1.0))
    eigval, eigvec = np.linalg.eigh(rxx)
    eigval = np.clip(eigval, 0, None)
    lam = eigvec @ np.diag(np.sqrt(eigval)) @ eigvec.T  # R_xx^(1/2): correlations of X with its orthogonal twin
    beta = np.linalg.pinv(lam) @ rxy
    raw = (lam ** 2) @ (beta ** 2)
    full = np.zeros(len(variance))
    full[keep] = raw
    return [float(full[cols].sum()) for cols in m.groups], float(raw.sum())


# -- main entry -----------------------------------------------------------------------------------------

def _fmt_level(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _prepare_driver(name: str, series: pd.Series) -> tuple[str, pd.Series] | None:
    """('numeric'|'flag'|'categorical', values) for a driver column, or None when unusable."""
    flag = flag_to_number(series)
    if flag is not None and series.dropna().nunique() == 2:
        return "flag", flag
    numeric = _numeric(series)
    if numeric is not None:
        return "numeric", numeric
    return "categorical", series.astype("string").str.strip().replace("", None)


def _auto_drivers(ds: Dataset, df: pd.DataFrame, outcome: str, skip: set[str],
                  w: Words) -> tuple[list[str], list[str]]:
    """Every usable column of the file, except the outcome, identifying columns, dates and columns that
    restate the outcome; with the reason for each one left out."""
    import pandas as pd

    restating = {ds.roles.get(role) for role in ("termination_date", "termination_type", "termination_reason",
                                                  "leaver_flag", "regretted")}
    chosen, excluded = [], []
    for name in ds.columns:
        if name == outcome or name in skip:
            continue
        if ds.identity(name) is not None:
            excluded.append(w("drivers.excluded.identifying", name=name))
            continue
        series = df[name] if name in df else ds.frame[name]
        present = series.dropna()
        if name in restating:
            excluded.append(w("drivers.excluded.restates", name=name))
        elif series.isna().any() and df.loc[series.notna().to_numpy(), outcome].nunique() < 2:
            # e.g. a column filled in only for leavers restates the outcome (leakage)
            excluded.append(w("drivers.excluded.one_outcome", name=name))
        elif present.nunique() < 2:
            excluded.append(w("drivers.excluded.constant", name=name))
        elif ds.roles.role_of(name) == "hire_date" or DATE_NAME.search(name) or \
                pd.api.types.is_datetime64_any_dtype(series):
            excluded.append(w("drivers.excluded.date", name=name))
        elif (_numeric(series) is not None or flag_to_number(series) is not None
              or present.nunique() <= AUTO_MAX_LEVELS):
            chosen.append(name)
        else:
            excluded.append(w("drivers.excluded.text", name=name, levels=present.nunique()))
    return chosen, excluded


def _decompose(frame: pd.DataFrame, outcome: str, kinds: dict[str, str],
               importance_method: str) -> tuple[list[float], float, str]:
    m = moments(frame, outcome, kinds)
    groups = m.groups
    use_shapley = importance_method == "shapley" or (importance_method == "auto" and len(groups) <= MAX_EXACT_SHAPLEY)
    if use_shapley:
        if len(groups) > 16:
            raise InputError(f"exact Shapley over {len(groups)} drivers is too slow (2^{len(groups)} models); "
                             "use importance_method='relative_weights' or fewer drivers")
        values, r2 = shapley_r2(m)
        return values, r2, "shapley"
    values, r2 = relative_weights(m)
    return values, r2, "relative_weights"


def _effect(driver: pd.Series, outcome: pd.Series, kind: str, method: str,
            binary_outcome: bool) -> tuple[float | None, float | None, str]:
    import numpy as np
    from scipy.special import fdtrc

    from retention_mcp.analysis.stats import correlation_p

    mask = driver.notna() & outcome.notna()
    d, o = driver[mask], outcome[mask]
    if kind == "categorical":
        # eta: square root of the share of outcome variance explained by the levels (one-way ANOVA)
        grand = o.mean()
        means = o.groupby(d).agg(["mean", "size"])
        total = float(((o - grand) ** 2).sum())
        between = float((means["size"] * (means["mean"] - grand) ** 2).sum())
        eta = math.sqrt(between / total) if total > 0 else None
        p = None
        groups, n = len(means), len(o)
        if groups > 1 and n > groups and total > 0:
            # one-way ANOVA: F = (between ÷ (k − 1)) ÷ (within ÷ (n − k))
            within = total - between
            with np.errstate(all="ignore"):
                p = float(fdtrc(groups - 1, n - groups, (between / (groups - 1)) / (within / (n - groups)))) \
                    if within > 0 else 0.0
        return eta, (p if p is None or math.isfinite(p) else None), "eta"
    if d.nunique() < 2 or o.nunique() < 2:
        return None, None, "Spearman rho" if method == "spearman" else "Pearson r"
    x, y = d.to_numpy(dtype="float64"), o.to_numpy(dtype="float64")
    if method == "spearman":
        x, y = d.rank().to_numpy(dtype="float64"), o.rank().to_numpy(dtype="float64")
    r = float(np.corrcoef(x, y)[0, 1])
    measure = "Spearman rho" if method == "spearman" else ("point-biserial r" if binary_outcome else "Pearson r")
    return r, correlation_p(r, len(x)), measure


def _direction(effect: float | None, kind: str, name: str, outcome: str,
               binary_outcome: bool, w: Words) -> tuple[str, str]:
    d = "drivers.direction"
    if kind == "categorical":
        return "varies", w(f"{d}.varies", outcome=outcome, name=name)
    if effect is None or abs(effect) < 0.01:
        return "none", w(f"{d}.none")
    subject = w(f"{d}.flag_subject", name=name) if kind == "flag" else w(f"{d}.higher_subject", name=name)
    if effect > 0:
        return "positive", w(f"{d}.more_leaving" if binary_outcome else f"{d}.higher_outcome", subject=subject,
                             outcome=outcome)
    return "negative", w(f"{d}.less_leaving" if binary_outcome else f"{d}.lower_outcome", subject=subject,
                         outcome=outcome)


def find_enps(df: pd.DataFrame, count: Any = None, min_group: int = 1) -> ENPS | None:
    """eNPS from the first 0-10 column whose name says recommend / eNPS / 推荐 (None with fewer than ``min_group``
    answers). ``count`` counts the rows of a mask (perturbed in protected mode); by default exactly."""
    import numpy as np

    count = count or (lambda mask: int(np.sum(mask)))
    for name in df.columns:
        if not RECOMMEND_NAME.search(str(name)):
            continue
        values = _numeric(df[name])
        if values is None:
            continue
        present = values.dropna()
        if present.empty or present.min() < 0 or present.max() > 10 or not (present == present.round()).all():
            continue
        if len(present) < min_group:
            return None
        answered = values.notna().to_numpy()
        n = max(1, count(answered))
        promoters = min(1.0, count(answered & (values >= 9).to_numpy()) / n)
        detractors = min(1.0 - promoters, count(answered & (values <= 6).to_numpy()) / n)
        return ENPS(item=str(name), n=n, promoters=promoters, passives=1 - promoters - detractors,
                    detractors=detractors, enps=(promoters - detractors) * 100)
    return None


def leaver_outcome(ds: Dataset, outcome: str, w: Words | None = None) -> tuple[Any, str] | None:
    """(1/0 per row, definition) when ``outcome`` asks "did this person leave?" and the file says so through its
    leaver flag or termination dates rather than a column of that name; else None."""
    import numpy as np
    import pandas as pd

    from retention_mcp.data.roles import normalise_header

    wanted = normalise_header(outcome)
    if outcome in ds.columns or ds.leaver is None:
        return None
    if wanted not in ("leaverflag", *ds.table.aliases.get("leaver_flag", ())):
        return None
    w = w or words("en")
    source = leaver_source_text(ds, w) if ds.shape == "snapshot" else \
        w("dataset.leavers_from.termination_date", column=ds.roles.get("termination_date"))
    values = pd.Series(np.asarray(ds.leaver, dtype="float64"), index=ds.frame.index)
    return values, w("drivers.outcome_definition", outcome=outcome, source=source)


def early_outcome_names(settings: Any = None) -> set[str]:
    """The outcome names that mean "left within 90 days of hire" (``tools/metrics.yaml``, early_attrition_rate)."""
    from retention_mcp.catalog import bundled_dir, load_catalog, read_yaml
    from retention_mcp.data.roles import normalise_header

    catalog = load_catalog(settings, "metrics.yaml") if settings is not None else read_yaml(
        bundled_dir("tools") / "metrics.yaml")
    metrics = (catalog or {}).get("metrics") or []
    names = next((m.get("outcome_names") or [] for m in metrics if m.get("id") == "early_attrition_rate"), [])
    return {normalise_header(n) for n in names}


def early_leaver_outcome(ds: Dataset, outcome: str, settings: Any = None,
                         w: Words | None = None) -> tuple[Any, str] | None:
    """(1/0 per row, definition) when ``outcome`` asks "did this person leave within 90 days of hire?" on event
    data: 1 when the termination date is at most 90 days after hire, 0 when not; rows hired less than 90 days before
    the as-of date (or without a hire date) are left out — the early-attrition cohort of retention_curve."""
    import numpy as np
    import pandas as pd

    from retention_mcp.data.dataset import NO_DATE, day_to_date
    from retention_mcp.data.roles import normalise_header
    from retention_mcp.data.vocabulary import EARLY_DAYS

    if outcome in ds.columns or normalise_header(outcome) not in early_outcome_names(settings):
        return None
    if ds.shape != "event" or ds.hire is None or ds.term is None or ds.as_of is None:
        raise InputError(f"outcome {outcome!r} needs hire and termination dates (event data); this file has "
                         f"{ds.shape or 'neither'} data — use outcome 'left' or a leaver flag")
    cohort = (ds.hire != NO_DATE) & (ds.hire <= ds.as_of - EARLY_DAYS) & ((ds.term == NO_DATE) | (ds.term >= ds.hire))
    early = (ds.term != NO_DATE) & (ds.term <= ds.as_of) & (ds.term - ds.hire <= EARLY_DAYS)
    values = pd.Series(np.where(cohort, early.astype("float64"), np.nan), index=ds.frame.index)
    return values, (w or words("en"))("drivers.early_outcome_definition", outcome=outcome, days=EARLY_DAYS,
                                       after=day_to_date(ds.as_of - EARLY_DAYS).isoformat(),
                                       as_of=day_to_date(ds.as_of).isoformat())


def analyse_drivers(ds: Dataset, outcome: str, *, policy: Policy, scope: Scope | None = None,
                    drivers: list[str] | None = None, by: str | None = None, method: Method = "pearson",
                    min_group_size: int | None = None, importance_method: ImportanceMethod = "auto",
                    favourable_cutoff: float = DEFAULT_FAVOURABLE_CUTOFF, settings: Any = None,
                    w: Words | None = None) -> DriverResult:
    """Rank ``drivers`` of ``outcome``: effect sizes, R² decomposition, favourability, quadrants. Texts in ``w``'s
    language."""
    import numpy as np
    import pandas as pd

    w = w or words("en")

    if method not in ("pearson", "spearman"):
        raise InputError(f"method must be 'pearson' or 'spearman', not {method!r}")
    k = policy.min_group(min_group_size)
    if not 0 < favourable_cutoff < 1:
        raise InputError("favourable_cutoff is a fraction between 0 and 1, e.g. 0.65")
    scope = scope or Scope()
    rows = scope.rows if scope.active else np.ones(ds.rows, dtype=bool)

    # Outcome: a leaver flag (1 = left) or a numeric score.
    derived = leaver_outcome(ds, outcome, w) or early_leaver_outcome(ds, outcome, settings, w)
    outcome_definition = None
    if derived is not None:
        y_all, outcome_definition = derived
        outcome_kind = "leaver_flag"
    else:
        outcome = ds.column(outcome, purpose="the outcome")
        flag = flag_to_number(ds.frame[outcome])
        if flag is not None:
            y_all, outcome_kind = flag, "leaver_flag"
        else:
            numeric = _numeric(ds.frame[outcome])
            if numeric is None:
                raise InputError(f"outcome {outcome!r} is neither a leaver flag (1/0, Yes/No, 是/否, Y/N) nor a "
                                 "numeric score; choose another column")
            y_all, outcome_kind = numeric, "score"
    binary = outcome_kind == "leaver_flag"
    dim = build_dimension(ds, by, policy, purpose="`by`", w=w) if by else None

    excluded: list[str] = []
    skip = {dim.column} if dim is not None and dim.column else set()
    if drivers:
        names = [ds.column(d, purpose="a driver", allow_people=True) for d in drivers]
        if outcome in names:
            raise InputError(f"{outcome!r} is the outcome; remove it from drivers")
        if len(set(names)) != len(names):
            raise InputError("drivers lists a column twice; list each once")
    else:
        names, excluded = _auto_drivers(ds, _with_outcome(ds, outcome, y_all), outcome, skip, w)
        if not names:
            raise InputError("no usable driver columns were found; name them with drivers=[...]")

    kinds: dict[str, str] = {}
    index = ds.frame.index[rows]
    work = pd.DataFrame({outcome: y_all[rows].to_numpy()}, index=index)
    shown_counts = policy.cells(ds).over(np.flatnonzero(rows))
    for name in names:
        series = ds.frame[name][rows]
        if ds.identity(name) == "people":
            from retention_mcp.data.dataset import header_roles

            labels = series.astype("string").str.strip()
            present = sorted(labels.dropna().unique())
            shown, _ = policy.pseudonyms(header_roles(ds).get(name, "person"), present,
                                         source=f"{ds.source.get('name', '') if isinstance(ds.source, dict) else ''}"
                                                f":{name}")
            series = labels.map(dict(zip(present, shown, strict=True)))
        kind, values = _prepare_driver(name, series)  # type: ignore[misc]
        if kind == "categorical":
            levels = values.dropna().nunique()
            if levels > MAX_LEVELS:
                raise InputError(f"driver {name!r} is text with {levels} distinct values; it looks like an "
                                 "identifier or free text, not a factor. Leave it out or group it first")
        if values.dropna().nunique() < 2:
            if drivers:
                raise InputError(f"driver {name!r} has fewer than two distinct values; leave it out")
            excluded.append(w("drivers.excluded.constant", name=name))
            continue
        kinds[name] = kind
        work[name] = values.to_numpy()
    if not kinds:
        raise InputError("no driver has at least two distinct values")
    if work[outcome].dropna().nunique() < 2:
        raise InputError(f"outcome {outcome!r} has only one value in scope; nothing to explain")
    warnings = []
    for name in list(kinds):
        effect, _, measure = _effect(work[name], work[outcome], kinds[name], method, binary)
        if effect is not None and abs(effect) >= LEAKAGE_EFFECT:
            note = w("drivers.leakage", name=name, outcome=outcome, measure=w.option("drivers.measures", measure),
                     effect=f"{effect:.2f}")
            if drivers:
                warnings.append(note + w("drivers.leakage_named"))
            elif len(kinds) > 1:
                excluded.insert(0, note)
                del kinds[name]
                work = work.drop(columns=[name])
    if dim is not None:
        assert dim.codes is not None
        work["__by__"] = dim.codes[rows]

    rows_in_scope = shown_counts.count(work[outcome].notna())
    if not drivers:
        _drop_sparse_drivers(work, outcome, kinds, rows_in_scope, excluded, warnings, w, shown_counts, policy)
    model = work.dropna(subset=[outcome, *kinds])
    n_columns = sum(1 if k_ != "categorical" else model[name].nunique() - 1 for name, k_ in kinds.items())
    if len(model) < k:
        raise InputError(f"{policy.count_text(len(model), 'complete rows')}, below the minimum group size of {k}")
    if len(model) < n_columns + 2:
        raise InputError(f"only {len(model)} rows have the outcome and every driver present, too few for "
                         f"{n_columns} model terms; use fewer drivers or fill in missing values")
    fit_frame = _ranked(model, outcome, kinds) if method == "spearman" else model
    importances, r2, used = _decompose(fit_frame, outcome, kinds, importance_method)

    driver_rows: list[DriverRow] = []
    for (name, kind), importance in zip(kinds.items(), importances, strict=True):
        effect, p_value, measure = _effect(work[name], work[outcome], kind, method, binary)
        direction, direction_text = _direction(effect, kind, name, outcome, binary, w)
        row = DriverRow(driver=name, kind=kind, n=shown_counts.count(work[name].notna() & work[outcome].notna()),
                        effect_size=effect, effect_measure=measure, p_value=p_value, importance=importance,
                        importance_share=importance / r2 if r2 > 0 else 0.0, rank=0, direction=direction,
                        direction_text=direction_text)
        if kind == "numeric":
            scale = likert_scale(name, work[name])
            if scale is not None:
                low, high, top = scale
                answered = work[name].notna().to_numpy()
                answers = shown_counts.count(answered)
                row.favourability = (min(1.0, shown_counts.count(answered & (work[name] >= top).to_numpy()) / answers)
                                     if answers else None)
                row.favourable_definition = w("drivers.favourable_definition", top=top, high=high, low=low)
        if kind == "categorical":
            row.levels, row.spread = _levels(ds, scope, work, name, outcome, k, shown_counts, binary, policy)
        driver_rows.append(row)
    driver_rows.sort(key=lambda r: r.importance, reverse=True)
    for rank, row in enumerate(driver_rows, start=1):
        row.rank = rank
    cutoff = float(np.median([r.importance for r in driver_rows]))
    for row in driver_rows:
        if row.favourability is not None:
            high_importance = row.importance >= cutoff
            favourable = row.favourability >= favourable_cutoff
            row.quadrant = ("strength" if favourable else "fix first") if high_importance else \
                ("maintain" if favourable else "monitor")

    enps = find_enps(ds.frame.loc[index], shown_counts.count, k)
    in_model = work.index.isin(model.index)
    n_model = shown_counts.count(in_model)
    coverage = min(1.0, n_model / rows_in_scope) if rows_in_scope else None
    by_group = _coverage_by_group(ds, work, outcome, kinds, in_model, rows, dim, k, shown_counts)
    warnings += _coverage_warnings(work, outcome, kinds, n_model, rows_in_scope, by_group, bool(drivers), w)
    sensitive = [name for name in [*kinds, *([dim.column] if dim is not None and dim.column else [])]
                 if ds.is_sensitive(name)]
    result = DriverResult(
        outcome=outcome, outcome_definition=outcome_definition, outcome_kind=outcome_kind,
        outcome_mean=shown_counts.mean(work[outcome], in_model, binary=binary, measure=outcome) or 0.0, n=n_model,
        rows_in_scope=rows_in_scope, coverage=coverage,
        coverage_by_group=by_group, sensitive=sensitive,
        r_squared=r2, method=method, importance_method=used, drivers=driver_rows, importance_cutoff=cutoff,
        favourable_cutoff=favourable_cutoff,
        quadrant_rule=w("drivers.quadrant_rule", cutoff=f"{cutoff:.4f}", favourable=f"{favourable_cutoff:.0%}"),
        enps=enps, min_group_size=k, excluded=excluded, warnings=warnings, caveat=w("drivers.caveat"),
        scope=scope.describe(shown_counts.cells) or None, language=w.language)
    if dim is not None:
        counted = y_all.notna().to_numpy()
        hidden = hidden_cells(ds, scope, [dim], k, counted)[(0,)]
        result.by = dim.name
        result.groups = _by_groups(work, outcome, kinds, method, binary, k, used, dim.shown or dim.labels, hidden,
                                   w, shown_counts)
    return result


def _present_share(work: pd.DataFrame, outcome: str, names: list[str]) -> float:
    in_scope = work[outcome].notna()
    if not in_scope.any():
        return 0.0
    return float(work.loc[in_scope, names].notna().all(axis=1).mean()) if names else 1.0


def _drop_sparse_drivers(work: pd.DataFrame, outcome: str, kinds: dict[str, str], rows_in_scope: int,
                         excluded: list[str], warnings: list[str], w: Words, shown: CellsView,
                         policy: Policy) -> None:
    """Automatic selection: leave out the drivers whose gaps would cut the model below COVERAGE_THRESHOLD of the
    rows in scope, one at a time (the one whose removal keeps most rows, ties: the sparsest), and say so — a driver
    filled in for one department would otherwise shrink the model to that department without a word."""
    import numpy as np

    in_scope = work[outcome].notna().to_numpy()
    if not in_scope.any():
        return
    missing = work.loc[in_scope, list(kinds)].isna().to_numpy()
    names = list(kinds)
    alive = np.ones(len(names), dtype=bool)
    dropped = []
    while alive.sum() > 1:
        gaps = missing[:, alive].sum(axis=1)
        complete = int((gaps == 0).sum())
        if complete / len(gaps) >= COVERAGE_THRESHOLD:
            break
        positions = np.flatnonzero(alive)
        # rows a driver alone keeps out of the model: removing it adds them back
        regained = ((gaps == 1)[:, None] & missing[:, positions]).sum(axis=0)
        own = 1 - missing[:, positions].mean(axis=0)
        best = positions[max(range(len(positions)), key=lambda i: (regained[i], -own[i]))]
        share = float(1 - missing[:, best].mean())
        name = names[best]
        dropped.append(w("drivers.sparse_item", name=name, share=f"{share:.0%}"))
        filled = shown.count(work[outcome].notna().to_numpy() & work[name].notna().to_numpy())
        excluded.insert(0, w("drivers.excluded.sparse", name=name, filled=policy.count_words(filled, w),
                             rows=f"{rows_in_scope:,}", share=f"{share:.1%}", threshold=f"{COVERAGE_THRESHOLD:.0%}"))
        alive[best] = False
        del kinds[name]
    if dropped:
        warnings.append(w("drivers.sparse_dropped", names=w.enumeration.join(dropped),
                          threshold=f"{COVERAGE_THRESHOLD:.0%}"))


def _coverage_by_group(ds: Dataset, work: pd.DataFrame, outcome: str, kinds: dict[str, str], used: Any,
                       rows: Any, dim: Any, k: int, shown: CellsView) -> dict[str, dict[str, float]]:
    """For each grouping (categorical and flag drivers, `by`, and department / job role / location / shift), the
    share of each level's rows in scope that the model kept — only where the shares differ by more than
    COVERAGE_SPREAD, and only for levels with at least ``k`` rows (smaller ones are never named)."""
    import pandas as pd

    in_scope = work[outcome].notna()
    kept = pd.Series(used, index=work.index)
    candidates: dict[str, pd.Series] = {}
    for name, kind in kinds.items():
        if kind in ("categorical", "flag"):
            candidates[name] = work[name]
    if dim is not None and dim.column and dim.column not in candidates:
        candidates[dim.column] = pd.Series([dim.labels[c] for c in dim.codes[rows]], index=work.index)
    for role in GROUPING_ROLES:
        column = ds.roles.get(role)
        if column and column not in candidates and ds.identity(column) is None:
            values = ds.frame.loc[work.index, column]
            if values.nunique() <= MAX_LEVELS:
                candidates[column] = values.astype("string").str.strip()
    out: dict[str, dict[str, float]] = {}
    for name, values in candidates.items():
        levels = values.astype("string")
        shares: dict[str, float] = {}
        for level, size in levels[in_scope].value_counts().items():
            if size < k:
                continue
            at_level = (levels == level).fillna(False).to_numpy(dtype=bool) & in_scope.to_numpy()
            people = shown.count(at_level)
            if people:
                shares[str(level)] = min(1.0, shown.count(at_level & kept.to_numpy()) / people)
        if len(shares) >= 2 and max(shares.values()) - min(shares.values()) > COVERAGE_SPREAD:
            out[str(name)] = dict(sorted(shares.items(), key=lambda item: -item[1]))
    return out


def _coverage_warnings(work: pd.DataFrame, outcome: str, kinds: dict[str, str], n: int, rows_in_scope: int,
                       by_group: dict[str, dict[str, float]], named: bool, w: Words) -> list[str]:
    """Say in words when the model stands on a sliver of the data, or on some groups only, and what to do."""
    if not rows_in_scope:
        return []
    coverage = n / rows_in_scope
    shares = {name: _present_share(work, outcome, [name]) for name in kinds}
    sparsest = min(shares, key=lambda name: shares[name]) if shares else None
    out = []
    if coverage < COVERAGE_THRESHOLD and sparsest is not None:
        others = [name for name in kinds if name != sparsest]
        out.append(w("drivers.coverage_low", n=f"{n:,}", rows=f"{rows_in_scope:,}", coverage=f"{coverage:.1%}",
                     threshold=f"{COVERAGE_THRESHOLD:.0%}", sparsest=sparsest, share=f"{shares[sparsest]:.1%}",
                     others=repr(others), named=w("drivers.coverage_named") if named else ""))
    for name, levels in by_group.items():
        ordered = list(levels.items())
        shown = w.enumeration.join(f"{level} {share:.0%}" for level, share in ordered[:6])
        top = ordered[0][0]
        zero_importance = name in kinds and kinds[name] in ("categorical", "flag")
        out.append(w("drivers.coverage_uneven", name=name, shown=shown, top=top)
                   + (w("drivers.coverage_zero", name=name) if zero_importance else "")
                   + (w("drivers.coverage_fix", sparsest=sparsest, top=top, name=name) if sparsest is not None
                      else ""))
    return out


def _with_outcome(ds: Dataset, outcome: str, y: Any) -> pd.DataFrame:
    """The columns automatic driver selection looks at, with the outcome as numbers."""
    frame = ds.frame.copy(deep=False)
    frame[outcome] = y.to_numpy() if hasattr(y, "to_numpy") else y
    return frame


def _ranked(model: pd.DataFrame, outcome: str, kinds: dict[str, str]) -> pd.DataFrame:
    ranked = model.copy()
    for name in [outcome, *kinds]:
        if name == outcome or kinds[name] != "categorical":
            ranked[name] = ranked[name].rank()
    return ranked


def _levels(ds: Dataset, scope: Scope, work: pd.DataFrame, name: str, outcome: str, min_group_size: int,
            shown: CellsView, binary: bool, policy: Policy) -> tuple[list[LevelRow], float | None]:
    """The outcome by level of a categorical driver. Hidden as every breakdown is (the `where` filter as a slice
    of the unfiltered table, so no two calls can be subtracted; a level copied from a linked dataset's joined file
    hidden where that file alone would hide it); counts and means as the policy shows them."""
    import numpy as np
    import pandas as pd

    from retention_mcp.data.dimensions import MISSING_LABEL, Dimension

    present = work[[name, outcome]].dropna()
    stats_ = present.groupby(name)[outcome].agg(["mean", "size"])
    # The levels as a dimension over the whole file, so suppression sees the filtered table as a slice.
    everyone = pd.Series(pd.NA, index=ds.frame.index, dtype="string")
    everyone.loc[work.index] = work[name].astype("string")
    outside = ~ds.frame.index.isin(work.index)
    if outside.any():
        raw = ds.frame.loc[outside, name].astype("string").str.strip()
        if ds.identity(name) == "people":
            raw = pd.Series(pd.NA, index=raw.index, dtype="string")  # pseudonyms are for the rows in scope
        everyone.loc[outside] = raw
    codes, labels = pd.factorize(everyone, sort=True, use_na_sentinel=True)
    labels = [str(label) for label in labels]
    codes = np.where(codes >= 0, codes, len(labels)).astype("int64")
    index = {label: i for i, label in enumerate(labels)}

    def coder(other: Any) -> Any:  # the same levels in a linked dataset's joined file (LinkInfo.forced_tables)
        raw, found = pd.factorize(pd.Series(other).reset_index(drop=True), use_na_sentinel=True)
        table = np.array([index.get(str(u).strip(), len(labels)) for u in found] + [len(labels)], dtype="int64")
        return table[np.where(raw >= 0, raw, len(found))]

    dim = Dimension(name, codes, [*labels, MISSING_LABEL], column=name, coder=coder)
    counted = np.zeros(ds.rows, dtype=bool)
    counted[shown.positions[work[outcome].notna().to_numpy() & work[name].notna().to_numpy()]] = True
    counted |= outside & ds.frame[name].notna().to_numpy()
    lattice = hidden_cells(ds, scope, [dim], min_group_size, counted)[(0,)]
    hidden = {label for label, h in zip(labels, lattice[:-1], strict=True) if bool(h)}
    rows = []
    for level, _ in stats_.sort_values("mean", ascending=False).iterrows():
        key = str(level)
        if key in hidden or key not in labels:
            rows.append(LevelRow(level=key, n=None, outcome_mean=None, suppressed=True))
            continue
        at_level = (work[name].astype("string") == key).fillna(False).to_numpy(dtype=bool)
        at_level &= work[outcome].notna().to_numpy()
        rows.append(LevelRow(level=key, n=shown.count(at_level),
                             outcome_mean=shown.mean(work[outcome], at_level, binary=binary, measure=outcome)))
    shown_means = [r.outcome_mean for r in rows if r.outcome_mean is not None]
    return rows[:AUTO_MAX_LEVELS * 2], (max(shown_means) - min(shown_means) if len(shown_means) >= 2 else None)


def _by_groups(work: pd.DataFrame, outcome: str, kinds: dict[str, str], method: str, binary: bool,
               min_group_size: int, used: str, labels: list[str], hidden: Any, w: Words,
               shown: CellsView) -> list[GroupRow]:
    present = work.dropna(subset=[outcome])
    sizes = present.groupby("__by__").size()
    rows = []
    for code in sorted(sizes.index, key=lambda c: -sizes[c]):
        group = labels[int(code)]
        if bool(hidden[int(code)]):
            rows.append(GroupRow(group=group, n=None, outcome_mean=None, r_squared=None, suppressed=True,
                                 note=w("drivers.group_suppressed", k=min_group_size)))
            continue
        part = present[present["__by__"] == code]
        in_group = ((work["__by__"] == code) & work[outcome].notna()).to_numpy()
        row = GroupRow(group=group, n=shown.count(in_group),
                       outcome_mean=shown.mean(work[outcome], in_group, binary=binary, measure=outcome),
                       r_squared=None)
        usable = {k: v for k, v in kinds.items() if part[k].dropna().nunique() >= 2}
        model = part.dropna(subset=list(usable))
        n_terms = sum(1 if v != "categorical" else model[k].nunique() - 1 for k, v in usable.items())
        # a model needs several rows per term, or its R² is mostly overfitting
        if not usable or len(model) < max(n_terms + 2, min_group_size, 3 * n_terms) or model[outcome].nunique() < 2:
            row.note = w("drivers.group_too_few", rows=len(model), terms=n_terms)
        else:
            frame = _ranked(model, outcome, usable) if method == "spearman" else model
            values, r2, _ = _decompose(frame, outcome, usable, used)
            row.r_squared = r2
            top = sorted(zip(usable, values, strict=True), key=lambda t: t[1], reverse=True)[:3]
            for name, value in top:
                effect, _, _ = _effect(part[name], part[outcome], usable[name], method, binary)
                row.top_drivers.append(GroupTopDriver(driver=name, importance=value, effect_size=effect))
        rows.append(row)
    return rows


# -- text ------------------------------------------------------------------------------------------------

def _num(value: float | None, digits: int = 2) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def _pct(value: float | None) -> str:
    return "" if value is None else f"{value * 100:.1f}%"


def drivers_markdown(result: DriverResult, max_rows: int = 30, w: Words | None = None) -> str:
    """A short markdown summary a person reads, in ``w``'s language (the result's own by default)."""
    w = w or words(result.language)
    t = "drivers.text"
    leaver = result.outcome_kind == "leaver_flag"
    what = w(f"{t}.what_leaving") if leaver else w(f"{t}.what_score", outcome=result.outcome)
    level = w(f"{t}.level_leaving", rate=_pct(result.outcome_mean)) if leaver else \
        w(f"{t}.level_score", mean=f"{result.outcome_mean:.3g}")
    used = (w(f"{t}.used", n=f"{result.n:,}", rows=f"{result.rows_in_scope:,}",
              share=f"{result.n / result.rows_in_scope:.1%}") if result.rows_in_scope
            else w(f"{t}.used_rows", n=f"{result.n:,}"))
    lines = [w(f"{t}.title", what=what, r2=f"{result.r_squared:.3f}", used=used, level=level,
               method=w(f"{t}.{result.importance_method}"),
               ranks=w(f"{t}.ranks") if result.method == "spearman" else ""), "",
             w(f"{t}.columns"), "|---|---|---|---|---|---|---|---|"]
    for row in result.drivers[:max_rows]:
        symbol = {"point-biserial r": "r", "Pearson r": "r", "Spearman rho": "ρ", "eta": "η"}[row.effect_measure]
        effect = f"{symbol} = {row.effect_size:+.3f}" if row.effect_size is not None and symbol != "η" else \
            (f"η = {row.effect_size:.3f}" if row.effect_size is not None else "")
        if row.spread is not None:
            effect += w(f"{t}.spread", spread=_pct(row.spread) if leaver else _num(row.spread))
        quadrant = w.option("charts.quadrant", row.quadrant) if row.quadrant else ""
        lines.append(f"| {row.rank} | {row.driver} | {row.n:,} | {effect} | {row.importance:.4f} "
                     f"({row.importance_share * 100:.1f}%) | {row.direction_text} | {_pct(row.favourability)} | "
                     f"{quadrant} |")
    if len(result.drivers) > max_rows:
        lines.append("\n" + w(f"{t}.truncated", count=len(result.drivers) - max_rows))
    lines += ["", w(f"{t}.quadrants", rule=result.quadrant_rule)]
    if result.scope:
        lines.insert(0, w(f"{t}.scope", scope=result.scope) + "\n")
    if result.enps:
        e = result.enps
        lines += ["", w(f"{t}.enps", item=e.item, n=f"{e.n:,}", enps=f"{e.enps:+.0f}", promoters=_pct(e.promoters),
                        detractors=_pct(e.detractors))]
    if result.groups:
        lines += ["", w(f"{t}.by", by=result.by, k=result.min_group_size), "", w(f"{t}.group_columns"),
                  "|---|---|---|---|---|"]
        for g in result.groups[:max_rows]:
            if g.suppressed:
                lines.append(f"| {g.group} | {w('common.suppressed')} | | | |")
                continue
            outcome = _pct(g.outcome_mean) if leaver else _num(g.outcome_mean)
            top = w.enumeration.join(t_.driver for t_ in g.top_drivers) or (g.note or "")
            lines.append(f"| {g.group} | {g.n:,} | {outcome} | {_num(g.r_squared, 3)} | {top} |")
    if result.warnings:
        lines += ["", w(f"{t}.check")] + [f"- {w.sentence(warning)}" for warning in result.warnings]
    if result.excluded:
        lines += ["", w(f"{t}.left_out", items=w.semicolon.join(result.excluded[:25]))]
    lines += ["", f"_{result.caveat}_"]
    if result.sensitive:
        lines += ["", sensitive_caution(result.sensitive, w)]
    return "\n".join(lines)
