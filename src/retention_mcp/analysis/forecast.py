"""The do-nothing forecast: leavers expected per group over the next 3/6/12 months, from the data's own hazard,
and a backtest of the same model on the data itself.

Model (piecewise-exponential, fitted on the ``fit_months`` before the forecast date t₀): the hazard of leaving at
tenure u in group g is λ_g(u) = r_g · h_b(u), h_b constant within the tenure bands 0–3, 3–6, 6–12, 12–24, 24–36,
36–60 and 60+ months. With E_gb the person-months of group g in band b inside the window and D_gb the leavers
(their tenure band at leaving), the Poisson likelihood is maximised by iterating

    h_b = D_·b ÷ Σ_g r_g·E_gb,        r_g = (D_g· + c) ÷ (Σ_b h_b·E_gb + c),

the group ratio r_g shrunk towards 1 by c = 2 expected leavers (a Gamma(c, c) prior), so a small group with no
leaver in the window is not forecast to lose nobody. A person on the books at t₀ with tenure τ leaves within H
months with probability p = 1 − exp(−r_g·∫_τ^{τ+H} h(u) du): a group of new hires passes through the high early
bands and is expected to lose more. Expected leavers = Σ p over the group (no new hires are added: the forecast
is for today's people). The 95% interval draws h_b ~ Gamma(D_·b + ½) ÷ Σ_g r_g E_gb and r_g ~ Gamma(D_g· + c) ÷
(Σ_b h_b E_gb + c) (parameter uncertainty), then each person's leaving (Bernoulli p), 1,000 times with a fixed
seed; the bounds are the 2.5% and 97.5% quantiles.

Backtest: the same fit on the ``fit_months`` before t₀ − 12 months, the people on the books then, and the
leavers that actually followed, per group and tenure band; calibration = how many groups' actual counts fall in
their 95% interval, Σ(O − E)² ÷ Var against χ² with one degree of freedom per group, and O ÷ E overall.
Aggregates only: no person's probability leaves this module, and groups are suppressed like every breakdown.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from retention_mcp.data.dataset import NO_DATE, Dataset, date_to_day, day_to_date
from retention_mcp.data.dimensions import Scope, build_dimension, combined_codes, decode, hidden_cells, is_tenure_band
from retention_mcp.data.disclosure import Policy
from retention_mcp.errors import InputError
from retention_mcp.runtime.spec import Evidenced

if TYPE_CHECKING:
    from retention_mcp.wording import Words

DAYS_PER_MONTH = 365.25 / 12
BAND_EDGES = (0.0, 3.0, 6.0, 12.0, 24.0, 36.0, 60.0)
BAND_LABELS = ("0-3 months", "3-6 months", "6-12 months", "1-2 years", "2-3 years", "3-5 years", ">5 years")
SHRINK = 2.0
DRAWS = 1000
SEED = 20240531
HORIZONS = (3, 6, 12)
#: Tenure now is bucketed to a quarter month for the simulation (its error is far below the interval's width).
BUCKETS_PER_MONTH = 4


class HorizonFigure(BaseModel):
    months: int
    expected: float = Field(description="expected leavers among today's people within `months`")
    low: float = Field(description="95% interval, lower bound (leavers)")
    high: float = Field(description="95% interval, upper bound (leavers)")
    rate: float = Field(description="expected ÷ headcount, a fraction")


class ForecastGroup(BaseModel):
    group: dict[str, str]
    label: str
    headcount: int | None = Field(description="people on the books at the forecast date; None when suppressed")
    new_hire_share: float | None = Field(None, description="share with under 12 months of tenure")
    relative_hazard: float | None = Field(None, description="r_g: the group's hazard ÷ the tenure-band hazard")
    horizons: list[HorizonFigure] = Field(default_factory=list)
    suppressed: bool


class BacktestFigure(BaseModel):
    months: int
    predicted: float
    low: float
    high: float
    actual: int
    inside: bool = Field(description="the actual count lies within the 95% interval")


class BacktestGroup(BaseModel):
    group: dict[str, str]
    label: str
    cohort: int | None = Field(description="people on the books at the backtest date; None when suppressed")
    horizons: list[BacktestFigure] = Field(default_factory=list)
    suppressed: bool


class Calibration(BaseModel):
    months: int
    groups_tested: int
    inside: int = Field(description="groups whose actual leavers lie within their 95% interval")
    chi2: float | None = Field(description="Σ (actual − predicted)² ÷ simulated variance over the groups tested")
    df: int
    p_value: float | None = Field(description="χ² test of the predictions (small = miscalibrated)")
    predicted_total: float
    actual_total: int
    overall_inside: bool | None = Field(None, description="everyone's actual count lies within its 95% interval")
    ratio: float | None = Field(description="actual ÷ predicted over everyone in the backtest")
    verdict: str


class TenureCheck(BaseModel):
    band: str
    people: int | None
    predicted: float | None
    actual: int | None


class Backtest(BaseModel):
    cutoff: str = Field(description="the backtest's forecast date (12 months before the forecast date)")
    fit_start: str
    fit_end: str
    overall: BacktestGroup
    groups: list[BacktestGroup]
    calibration: list[Calibration]
    by_tenure: list[TenureCheck] = Field(description="12-month predicted vs actual leavers by tenure band at the "
                                         "cutoff (everyone in scope)")


class HazardBand(BaseModel):
    band: str
    person_years: float | None
    annual_hazard: float | None = Field(description="leavers per person-year in this tenure band (fit window)")


class ForecastResult(Evidenced):
    by: list[str]
    forecast_date: str
    fit_start: str
    fit_end: str
    separation_type: str
    overall: ForecastGroup
    groups: list[ForecastGroup]
    hazard: list[HazardBand]
    backtest: Backtest | None
    method: str
    scope: str | None = None
    notes: list[str] = Field(default_factory=list)


@dataclass
class _Fit:
    hazard: Any  # (B,) per person-month
    ratio: Any  # (G,)
    deaths_band: Any
    deaths_group: Any
    exposure: Any  # (G, B) person-months
    people_band: Any  # (B,) people contributing exposure


def _overlap(t0: Any, t1: Any) -> Any:
    """(n, B) months of [t0, t1] inside each tenure band."""
    import numpy as np

    lower = np.asarray(BAND_EDGES)
    upper = np.append(lower[1:], np.inf)
    return np.clip(np.minimum(t1[:, None], upper) - np.maximum(t0[:, None], lower), 0.0, None)


def _band_of(months: Any) -> Any:
    import numpy as np

    return np.searchsorted(np.asarray(BAND_EDGES[1:]), months, side="right")


def _fit(ds: Dataset, code: Any, groups: int, rows: Any, leavers: Any, start: int, end: int,
         counter: Any = None) -> _Fit:
    """The Poisson fit (see the module docstring). In protected mode (``counter``) the leavers D_gb are perturbed
    counts and the person-months E_gb perturbed sums (the magnitude method) of each group × band cell: the model,
    its hazard table and everything forecast from it are fitted on the protected tables, not on exact counts of
    people in a scope the caller chooses."""
    import numpy as np

    hire, term = ds.hire, ds.term
    ends = np.where(term == NO_DATE, end, np.minimum(term, end))
    entry = np.maximum(hire, start)
    inside = rows & (hire <= end) & (ends >= entry)
    t0 = (entry[inside] - hire[inside]) / DAYS_PER_MONTH
    t1 = (ends[inside] - hire[inside]) / DAYS_PER_MONTH
    months = _overlap(t0, t1)
    exposure = np.zeros((groups, len(BAND_EDGES)))
    np.add.at(exposure, code[inside], months)
    people_band = (months > 0).sum(axis=0)
    left = rows & leavers & (term >= start) & (term <= end) & (term >= hire)
    band = _band_of((term[left] - hire[left]) / DAYS_PER_MONTH)
    deaths = np.zeros((groups, len(BAND_EDGES)))
    np.add.at(deaths, (code[left], band), 1.0)
    if counter is not None and counter.protected:
        cells = groups * len(BAND_EDGES)
        band_all = np.zeros(ds.rows, dtype="int64")
        band_all[left] = band
        deaths = np.maximum(counter.counts(code * len(BAND_EDGES) + band_all, cells, left), 0)
        deaths = deaths.reshape(groups, len(BAND_EDGES)).astype("float64")
        where = np.flatnonzero(inside)
        for b in range(len(BAND_EDGES)):
            values = np.full(ds.rows, np.nan)
            values[where] = months[:, b]
            contributing = np.isfinite(values) & (values > 0)
            magnitude = counter.magnitude(values, code, groups, contributing, measure=f"forecast:months:{b}",
                                          resolution=1.0 / DAYS_PER_MONTH)
            exposure[:, b] = np.maximum(counter.sums(magnitude), 0.0)
    d_band, d_group = deaths.sum(axis=0), deaths.sum(axis=1)
    ratio = np.ones(groups)
    hazard = np.zeros(len(BAND_EDGES))
    for _ in range(200):
        weight = ratio @ exposure
        hazard = np.where(weight > 0, d_band / np.where(weight > 0, weight, 1), 0.0)
        new_ratio = (d_group + SHRINK) / (exposure @ hazard + SHRINK)
        if np.max(np.abs(new_ratio - ratio)) < 1e-10:
            ratio = new_ratio
            break
        ratio = new_ratio
    return _Fit(hazard, ratio, d_band, d_group, exposure, people_band)


@dataclass
class _Cells:
    group: Any  # (C,) group code of each cell
    people: Any  # (C,) people in each cell
    future: dict[int, Any]  # horizon -> (C, B) months ahead inside each band
    rows: Any = None  # positions of the people in the dataset
    cell_of: Any = None  # each of them's cell


def _cells(ds: Dataset, code: Any, on_books: Any, day: int, horizons: Sequence[int]) -> _Cells:
    import numpy as np

    tenure = (day - ds.hire[on_books]) / DAYS_PER_MONTH
    cap = BAND_EDGES[-1]
    bucket = np.floor(np.minimum(tenure, cap) * BUCKETS_PER_MONTH).astype("int64")
    width = int(cap * BUCKETS_PER_MONTH) + 1
    key = code[on_books] * width + bucket
    unique, cell_of, counts = np.unique(key, return_inverse=True, return_counts=True)
    start = (unique % width) / BUCKETS_PER_MONTH
    future = {h: _overlap(start, start + h) for h in horizons}
    return _Cells(unique // width, counts, future, np.flatnonzero(on_books), cell_of)


def _simulate(fit: _Fit, cells: _Cells, groups: int, horizon: int,
              rng: Any, counter: Any = None, measure: str = "") -> tuple[Any, Any, Any, Any]:
    """(point expected per group, draws × groups simulated leavers, point overall, draws of the overall).

    In protected mode (``counter``) each expected count is the sum of its people's probabilities shown by the
    magnitude method (the cell key of those people, measure ``measure``), and its draws are moved by the same
    noise, so the interval stays around the point shown: two scopes one person apart differ by noise, not by that
    person's probability of leaving."""
    import numpy as np

    future = cells.future[horizon]
    point = 1 - np.exp(-fit.ratio[cells.group] * (future @ fit.hazard))
    expected = np.bincount(cells.group, weights=cells.people * point, minlength=groups)
    weight = fit.ratio @ fit.exposure
    hazard_draws = rng.gamma(fit.deaths_band + 0.5, size=(DRAWS, len(fit.hazard))) / np.where(weight > 0, weight, 1)
    hazard_draws[:, weight <= 0] = 0.0
    ratio_draws = rng.gamma(fit.deaths_group + SHRINK, size=(DRAWS, groups)) / (fit.exposure @ fit.hazard + SHRINK)
    cumulative = ratio_draws[:, cells.group] * (hazard_draws @ future.T)
    leaving = rng.binomial(cells.people, 1 - np.exp(-cumulative))
    one_hot = np.zeros((len(cells.group), groups))
    one_hot[np.arange(len(cells.group)), cells.group] = 1.0
    per_group = leaving @ one_hot
    overall, overall_draws = float(expected.sum()), leaving.sum(axis=1)
    if counter is not None and counter.protected and cells.rows is not None:
        size = len(counter.keys())
        values = np.full(size, np.nan)
        values[cells.rows] = point[cells.cell_of]
        codes = np.zeros(size, dtype="int64")
        codes[cells.rows] = cells.group[cells.cell_of]
        present = np.isfinite(values)
        shown = np.maximum(counter.sums(counter.magnitude(values, codes, groups, present, measure=measure)), 0.0)
        shown_overall = max(0.0, float(counter.sums(counter.magnitude(values, np.zeros(size, dtype="int64"), 1,
                                                                     present, measure=measure))[0]))
        per_group = np.maximum(per_group + (shown - expected)[None, :], 0.0)
        overall_draws = np.maximum(overall_draws + (shown_overall - overall), 0.0)
        expected, overall = shown, shown_overall
    return expected, per_group, overall, overall_draws


def _figure(months: int, expected: float, draws: Any, heads: int) -> HorizonFigure:

    low, high = _bounds(draws)
    return HorizonFigure(months=months, expected=round(float(expected), 2), low=float(low), high=float(high),
                         rate=float(expected) / heads if heads else 0.0)


def _bounds(draws: Any) -> tuple[float, float]:
    """The 95% interval of simulated leaver counts, as counts (the draws at the 2.5% and 97.5% ranks)."""
    import numpy as np

    return (float(np.quantile(draws, 0.025, method="lower")), float(np.quantile(draws, 0.975, method="higher")))


def _add_months(day: int, months: int) -> int:
    from retention_mcp.analysis.turnover import add_months

    return date_to_day(add_months(day_to_date(day), months))


def leaver_forecast(ds: Dataset, *, by: Sequence[str] = (), policy: Policy, scope: Scope | None = None,
                    min_group_size: int | None = None, horizons: Sequence[int] = HORIZONS, fit_months: int = 12,
                    forecast_date: str | None = None, separation_type: str = "all",
                    backtest: bool = True, w: Words | None = None) -> ForecastResult:
    """Expected leavers per group over each horizon, with the backtest (see the module docstring); method and
    notes in ``w``'s language."""
    import numpy as np

    from retention_mcp.wording import words

    w = w or words("en")
    from retention_mcp.analysis.turnover import _leaver_filter, parse_day
    from retention_mcp.data.vocabulary import separation_argument

    if ds.hire is None or ds.term is None or ds.as_of is None:
        raise InputError("the forecast needs hire and termination dates (event data): a leaver flag alone does not "
                         "say when people left, so no hazard per month of tenure can be fitted. For a rough figure "
                         "use turnover_breakdown's rate × headcount")
    if any(is_tenure_band(b) for b in by):
        raise InputError("tenure is already in the model (the hazard is by tenure band); group by department, role, "
                         "shift or similar")
    if len(by) > 3:
        raise InputError("`by` takes at most 3 dimensions for the forecast")
    horizons = sorted({int(h) for h in horizons})
    if not horizons or horizons[0] < 1 or horizons[-1] > 24:
        raise InputError("horizons are months ahead, 1 to 24, e.g. [3, 6, 12]")
    if not 3 <= fit_months <= 60:
        raise InputError("fit_months must be 3 to 60 (the months of history the hazard is fitted on)")
    separation_type = separation_argument(separation_type)
    k = policy.min_group(min_group_size)
    scope = scope or Scope()
    notes: list[str] = []
    dims = [build_dimension(ds, name, policy, w=w) for name in by]
    notes += [d.note for d in dims if d.note]
    code = combined_codes(dims, ds.rows)
    groups = int(np.prod([len(d.labels) for d in dims], dtype="int64")) if dims else 1
    leavers = _leaver_filter(ds, separation_type)
    valid = (ds.hire != NO_DATE) & ~((ds.term != NO_DATE) & (ds.term < ds.hire))
    rows = valid & (scope.rows if scope.active else True)
    day = parse_day(forecast_date, "forecast_date") if forecast_date else ds.as_of
    assert day is not None
    earliest = int(ds.hire[valid].min()) if valid.any() else day
    rng = np.random.default_rng(SEED)

    counter = policy.cells(ds)  # headcounts and actual leavers as every figure is counted (perturbed if protected)

    def run(at: int) -> tuple[_Fit, _Cells, Any, int, int]:
        start = _add_months(at, -fit_months) + 1
        fit = _fit(ds, code, groups, rows, leavers, start, at, counter)
        on_books = rows & (ds.hire <= at) & ((ds.term == NO_DATE) | (ds.term > at))
        return fit, _cells(ds, code, on_books, at, horizons), on_books, start, at

    fit, cells, on_books, start, end = run(day)
    if fit.deaths_band.sum() == 0:
        raise InputError(f"nobody in scope left between {day_to_date(start)} and {day_to_date(end)}, so there is no "
                         "hazard to forecast from; widen the scope or lengthen fit_months")
    hidden = hidden_cells(ds, scope, dims, k, on_books)
    cell_hidden = hidden[tuple(range(len(dims)))].reshape(-1) if dims else np.array([bool(hidden[()])])
    heads = np.bincount(code[on_books], minlength=groups)
    heads_shown = counter.counts(code, groups, on_books)
    tenure_now = (day - ds.hire) / DAYS_PER_MONTH
    recent = on_books & (tenure_now < 12)
    new_hires = counter.counts(code, groups, recent)
    simulated = {h: _simulate(fit, cells, groups, h, rng, counter, f"forecast:{h}") for h in horizons}

    def group_row(g: int | None) -> ForecastGroup:
        if g is None:
            label, group, size, hide = "Overall", {}, max(0, counter.count(on_books)), bool(hidden[()])
            ratio = None
            fresh = max(0, counter.count(recent))
        else:
            group = decode(g, dims)
            label, size, hide = " / ".join(group.values()), max(0, int(heads_shown[g])), bool(cell_hidden[g])
            ratio, fresh = float(fit.ratio[g]), max(0, int(new_hires[g]))
        if hide:
            return ForecastGroup(group=group, label=label, headcount=None, suppressed=True)
        figures = []
        for h in horizons:
            expected, per_group, overall, overall_draws = simulated[h]
            figures.append(_figure(h, overall, overall_draws, size) if g is None
                           else _figure(h, expected[g], per_group[:, g], size))
        return ForecastGroup(group=group, label=label, headcount=size,
                             new_hire_share=min(1.0, fresh / size) if size else None,
                             relative_hazard=ratio, horizons=figures, suppressed=False)

    overall = group_row(None)
    present = [g for g in range(groups) if heads[g] > 0] if dims else []
    rows_out = sorted((group_row(g) for g in present),
                      key=lambda r: (r.suppressed, -(r.horizons[-1].rate if r.horizons else 0), r.label))
    hazard_rows = [HazardBand(band=label, person_years=round(float(fit.exposure[:, b].sum()) / 12, 1),
                              annual_hazard=float(fit.hazard[b]) * 12) if fit.people_band[b] >= k
                   else HazardBand(band=label, person_years=None, annual_hazard=None)
                   for b, label in enumerate(BAND_LABELS)]
    result_backtest = None
    cutoff = _add_months(day, -12)
    if backtest:
        if _add_months(cutoff, -fit_months) + 1 < earliest:
            notes.append(w("forecast.notes.no_backtest", start=day_to_date(earliest), months=fit_months,
                           cutoff=day_to_date(cutoff)))
        else:
            result_backtest = _backtest(ds, run, cutoff, code, groups, dims, scope, k, leavers, horizons, rng,
                                        hidden_cells, counter, w)
    kind = w.option("vocabulary.separation", separation_type)
    method = w("forecast.method", shrink=f"{SHRINK:g}", months=fit_months, end=day_to_date(day), draws=f"{DRAWS:,}",
               separation=kind)
    if separation_type != "all":
        notes.append(w("forecast.notes.competing", separation=kind))
    if counter.protected:
        notes.append(w("forecast.notes.protected"))
    return ForecastResult(
        by=[d.name for d in dims], forecast_date=day_to_date(day).isoformat(), fit_start=day_to_date(start).isoformat(),
        fit_end=day_to_date(end).isoformat(), separation_type=separation_type, overall=overall, groups=rows_out,
        hazard=hazard_rows, backtest=result_backtest, method=method,
        scope=scope.describe(counter) or None, notes=notes)


def _backtest(ds: Dataset, run: Any, cutoff: int, code: Any, groups: int, dims: Sequence[Any], scope: Scope, k: int,
              leavers: Any, horizons: Sequence[int], rng: Any, hidden_cells: Any, counter: Any,
              w: Words) -> Backtest:
    import numpy as np
    from scipy.special import chdtrc

    from retention_mcp.data.disclosure import suppress

    fit, cells, cohort, start, end = run(cutoff)
    hidden = hidden_cells(ds, scope, dims, k, cohort)
    cell_hidden = hidden[tuple(range(len(dims)))].reshape(-1) if dims else np.array([bool(hidden[()])])
    sizes = np.bincount(code[cohort], minlength=groups)
    sizes_shown = counter.counts(code, groups, cohort)
    actual, actual_total = {}, {}
    for h in horizons:
        until = _add_months(cutoff, h)
        left = cohort & leavers & (ds.term > cutoff) & (ds.term <= until)
        actual[h] = np.maximum(counter.counts(code, groups, left), 0)
        actual_total[h] = max(0, counter.count(left))
    simulated = {h: _simulate(fit, cells, groups, h, rng, counter, f"backtest:{h}") for h in horizons}

    def figures(g: int | None) -> list[BacktestFigure]:
        out = []
        for h in horizons:
            expected, per_group, overall, overall_draws = simulated[h]
            draws = overall_draws if g is None else per_group[:, g]
            point = overall if g is None else expected[g]
            observed = actual_total[h] if g is None else int(actual[h][g])
            low, high = _bounds(draws)
            out.append(BacktestFigure(months=h, predicted=round(float(point), 2), low=float(low), high=float(high),
                                      actual=observed, inside=bool(low <= observed <= high)))
        return out

    overall = (BacktestGroup(group={}, label="Overall", cohort=None, suppressed=True) if bool(hidden[()]) else
               BacktestGroup(group={}, label="Overall", cohort=max(0, counter.count(cohort)), horizons=figures(None),
                             suppressed=False))
    shown = []
    for g in range(groups):
        if not dims or sizes[g] == 0:
            continue
        group = decode(g, dims)
        if bool(cell_hidden[g]):
            shown.append(BacktestGroup(group=group, label=" / ".join(group.values()), cohort=None, suppressed=True))
        else:
            shown.append(BacktestGroup(group=group, label=" / ".join(group.values()), cohort=int(sizes_shown[g]),
                                       horizons=figures(g), suppressed=False))
    calibration = []
    for h in horizons:
        expected, per_group, overall_point, _ = simulated[h]
        tested = [g for g in range(groups) if sizes[g] > 0 and not bool(cell_hidden[g])] if dims else []
        units = [(float(expected[g]), float(per_group[:, g].var()), int(actual[h][g])) for g in tested]
        if not dims and not bool(hidden[()]):
            _, _, point, draws = simulated[h]
            units = [(point, float(np.var(draws)), actual_total[h])]
        units = [u for u in units if u[1] > 0]
        inside = sum(1 for row in (shown if dims else [overall]) if not row.suppressed
                     for f in row.horizons if f.months == h and f.inside)
        chi2 = sum((o - e) ** 2 / v for e, v, o in units) if units else None
        p = float(chdtrc(len(units), chi2)) if chi2 is not None else None
        total_actual = actual_total[h]
        ratio = total_actual / overall_point if overall_point > 0 else None
        overall_inside = next((f.inside for f in overall.horizons if f.months == h), None)
        calibrated = p is not None and p >= 0.05 and overall_inside is not False
        verdict = (w("forecast.verdict_calibrated") if calibrated else w("forecast.verdict_none") if p is None else
                   w("forecast.verdict_off"))
        calibration.append(Calibration(months=h, groups_tested=len(units), inside=inside, chi2=chi2, df=len(units),
                                       p_value=p, predicted_total=round(overall_point, 2), actual_total=total_actual,
                                       overall_inside=overall_inside, ratio=ratio, verdict=verdict))
    # by tenure band at the cutoff, 12 months (or the longest horizon)
    longest = max(horizons)
    tenure = (cutoff - ds.hire) / DAYS_PER_MONTH
    band = _band_of(np.where(cohort, tenure, 0.0))
    people = np.bincount(band[cohort], minlength=len(BAND_LABELS))
    band_hidden = suppress(people.astype("float64"), k)[(0,)]
    people_shown = counter.counts(band, len(BAND_LABELS), cohort)
    per_person_cells = _cells(ds, code * len(BAND_LABELS) + band, cohort, cutoff, [longest])
    expected_cells = 1 - np.exp(-fit.ratio[per_person_cells.group // len(BAND_LABELS)]
                                * (per_person_cells.future[longest] @ fit.hazard))
    predicted_band = np.bincount(per_person_cells.group % len(BAND_LABELS),
                                 weights=per_person_cells.people * expected_cells, minlength=len(BAND_LABELS))
    if counter.protected:  # the same people's probabilities, summed by the magnitude method per band
        values = np.full(ds.rows, np.nan)
        values[per_person_cells.rows] = expected_cells[per_person_cells.cell_of]
        predicted_band = np.maximum(counter.sums(counter.magnitude(values, band, len(BAND_LABELS),
                                                                   np.isfinite(values), measure="backtest:band")), 0)
    left = cohort & leavers & (ds.term > cutoff) & (ds.term <= _add_months(cutoff, longest))
    actual_band = np.maximum(counter.counts(band, len(BAND_LABELS), left), 0)
    by_tenure = [TenureCheck(band=label, people=None, predicted=None, actual=None) if bool(band_hidden[b]) else
                 TenureCheck(band=label, people=int(people_shown[b]), predicted=round(float(predicted_band[b]), 2),
                             actual=int(actual_band[b]))
                 for b, label in enumerate(BAND_LABELS) if people[b] > 0]
    return Backtest(cutoff=day_to_date(cutoff).isoformat(), fit_start=day_to_date(start).isoformat(),
                    fit_end=day_to_date(end).isoformat(), overall=overall, groups=shown, calibration=calibration,
                    by_tenure=by_tenure)


# -- text


def forecast_markdown(result: ForecastResult, language: str = "en", settings: Any = None) -> str:
    """The forecast table (expected leavers with 95% intervals per horizon), the hazard by tenure, the backtest
    table and its calibration, in ``language``."""
    from retention_mcp.units import percent
    from retention_mcp.wording import words

    w = words(language, settings)
    separation = w.option("vocabulary.separation", result.separation_type)
    o = result.overall
    lines = [f"_{result.scope}_"] if result.scope else []

    def row_label(label: str) -> str:  # the overall row keeps the code "Overall" (hiring_forecast's group) in data
        return w["forecast.overall"] if label == "Overall" else label

    lines.append(w["forecast.title"].format(headcount=o.headcount if o.headcount is not None else "—",
                                            date=result.forecast_date, fit_start=result.fit_start,
                                            fit_end=result.fit_end, separation=separation))
    if not o.suppressed:
        for figure in o.horizons:
            lines.append("- " + w["forecast.rate_line"].format(months=figure.months, expected=f"{figure.expected:.1f}",
                                                               low=f"{figure.low:g}", high=f"{figure.high:g}",
                                                               rate=percent(figure.rate)))
    if result.groups:
        horizons = [f.months for f in o.horizons] or [3, 6, 12]
        heads = [w["forecast.col_group"], w["forecast.col_people"], w["forecast.col_new"], w["forecast.col_ratio"],
                 *(w["forecast.col_horizon"].format(months=h) for h in horizons)]
        lines += ["", "| " + " | ".join(heads) + " |", "|---|" + "---:|" * (len(heads) - 1)]
        for g in result.groups:
            if g.suppressed:
                lines.append(f"| {row_label(g.label)} | {w['common.suppressed']} |" + " |" * (len(heads) - 2))
                continue
            cells = [w["forecast.cell"].format(expected=f"{f.expected:.1f}", low=f"{f.low:g}", high=f"{f.high:g}")
                     for f in g.horizons]
            lines.append(f"| {row_label(g.label)} | {g.headcount} | {percent(g.new_hire_share)} | "
                         f"{g.relative_hazard:.2f} | " + " | ".join(cells) + " |")
    shown = [h for h in result.hazard if h.annual_hazard is not None]
    if shown:
        lines += ["", w["forecast.hazard_title"] + w.semicolon.join(
            w["forecast.hazard_cell"].format(band=w.option("forecast.band", h.band), rate=percent(h.annual_hazard))
            for h in shown) + w.stop]
    b = result.backtest
    if b is not None:
        lines += ["", w["forecast.backtest_title"].format(fit_start=b.fit_start, fit_end=b.fit_end,
                                                          cohort=b.overall.cohort if b.overall.cohort else "—",
                                                          cutoff=b.cutoff)]
        months = [f.months for f in b.overall.horizons]
        heads = [w["forecast.col_group"], *(part for m in months for part in
                                            (w["forecast.col_predicted"].format(months=m), w["forecast.col_actual"]))]
        lines += ["", "| " + " | ".join(heads) + " |", "|---|" + "---:|" * (len(heads) - 1)]
        for row in [b.overall, *b.groups]:
            if row.suppressed:
                lines.append(f"| {row_label(row.label)} | {w['common.suppressed']} |" + " |" * (len(heads) - 2))
                continue
            cells = [part for f in row.horizons for part in
                     (w["forecast.cell"].format(expected=f"{f.predicted:.1f}", low=f"{f.low:g}", high=f"{f.high:g}"),
                      f"{f.actual}" + ("" if f.inside else " ✗"))]
            lines.append(f"| {row_label(row.label)} | " + " | ".join(cells) + " |")
        lines.append("")
        for c in b.calibration:
            verdict = w["forecast.verdict_none"] if c.p_value is None else (
                w["forecast.verdict_ok"] if c.p_value >= 0.05 and c.overall_inside is not False
                else w["forecast.verdict_off"])
            lines.append("- " + w["forecast.calibration"].format(
                months=c.months, inside=c.inside, tested=c.groups_tested,
                chi2="—" if c.chi2 is None else f"{c.chi2:.2f}", df=c.df,
                p="—" if c.p_value is None else f"{c.p_value:.3f}",
                ratio="—" if c.ratio is None else f"{c.ratio:.2f}", verdict=verdict))
        tenure = [t for t in b.by_tenure if t.people is not None]
        if tenure:
            lines.append(w["forecast.tenure_title"].format(cutoff=b.cutoff, months=max(months)) + w.semicolon.join(
                w["forecast.tenure_cell"].format(band=w.option("forecast.band", t.band),
                                                 predicted=f"{t.predicted:.1f}", actual=t.actual)
                for t in tenure) + w.stop)
    twelve = next((f for f in o.horizons if f.months == 12), None)
    if twelve is not None:
        lines += ["", w["forecast.hiring"].format(headcount=o.headcount, expected=f"{twelve.expected:.1f}")]
    lines += ["", result.method, w["forecast.aggregates"]]
    for note in result.notes:
        lines.append(f"\n{w['common.note']}{w.colon}{note}")
    return "\n".join(lines)
