"""QA calibration: intraclass correlation of raters scoring the same items (Shrout & Fleiss 1979).

The ratings matrix has one row per item (a call, a ticket) and one column per rater. From the
two-way ANOVA mean squares — BMS (between items), WMS (within items), JMS (between raters), EMS
(residual) — with n items and k raters:

    ICC(1,1) = (BMS − WMS) ÷ (BMS + (k−1)·WMS)                      ICC(1,k) = (BMS − WMS) ÷ BMS
    ICC(2,1) = (BMS − EMS) ÷ (BMS + (k−1)·EMS + k·(JMS − EMS) ÷ n)  ICC(2,k) = (BMS − EMS) ÷ (BMS + (JMS − EMS) ÷ n)
    ICC(3,1) = (BMS − EMS) ÷ (BMS + (k−1)·EMS)                      ICC(3,k) = (BMS − EMS) ÷ BMS

95% intervals are the F-based ones of Shrout & Fleiss (1979) and McGraw & Wong (1996): for ICC(1,·) from
F = BMS ÷ WMS on (n−1, n(k−1)) df, for ICC(3,·) from F = BMS ÷ EMS on (n−1, (n−1)(k−1)) df, and for ICC(2,1)
Satterthwaite's approximate df; ICC(2,k) by Spearman–Brown from ICC(2,1)'s bounds. Koo & Li (2016) read the band
from the interval ("poor to good"), and the target is met only when the lower bound clears it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from pydantic import BaseModel, Field

from retention_mcp.errors import InputError
from retention_mcp.runtime.spec import Evidenced
from retention_mcp.wording import ResultLanguage, Words, words

#: The QA target of the customer-service retention plan ("评估者间一致性ICC≥0.75"); tools/call_center.yaml.
DEFAULT_TARGET = 0.75
#: Koo & Li (2016), in order: {"below": x} is an exclusive upper bound, {"upto": x} an inclusive one.
DEFAULT_BANDS = ({"below": 0.5, "label": "poor"}, {"below": 0.75, "label": "moderate"},
                 {"upto": 0.9, "label": "good"}, {"label": "excellent"})

FORMS = {
    "ICC1": "ICC(1,1): one-way random, single rater — each item scored by a different random set of raters",
    "ICC2": "ICC(2,1): two-way random, absolute agreement, single rater — raters are a sample of all QA staff "
            "(the usual calibration question: would another rater give the same score?)",
    "ICC3": "ICC(3,1): two-way mixed, consistency, single rater — these raters only; a rater who is always "
            "stricter by a constant still counts as consistent",
    "ICC1k": "ICC(1,k): reliability of the mean of k raters, one-way model",
    "ICC2k": "ICC(2,k): reliability of the mean of k raters, absolute agreement",
    "ICC3k": "ICC(3,k): reliability of the mean of k raters, consistency",
}


class IccForm(BaseModel):
    form: str = Field(description="ICC1, ICC2, ICC3 (single rater) or ICC1k, ICC2k, ICC3k (mean of k raters)")
    value: float = Field(description="intraclass correlation, at most 1 (can be negative when raters disagree)")
    ci_low: float | None = Field(None, description="95% interval, lower bound (F-based, Shrout & Fleiss / McGraw & "
                                 "Wong); None when it cannot be computed (e.g. perfect agreement)")
    ci_high: float | None = Field(None, description="95% interval, upper bound")
    interpretation: str = Field(description="Koo & Li 2016 band of the point value: poor < 0.5, moderate 0.5–0.75, "
                                            "good 0.75–0.9, excellent > 0.9")
    interval_reading: str = Field("", description="Koo & Li bands the 95% interval spans, e.g. 'poor to good' — "
                                  "how Koo & Li ask an ICC to be read")
    meaning: str


class CalibrationResult(Evidenced):
    items: int = Field(description="rows: calls/tickets scored by every rater")
    raters: int = Field(description="columns: QA raters")
    forms: list[IccForm]
    headline_form: str = Field(description="the form compared with the target: ICC2 (absolute agreement, single "
                                           "rater)")
    headline_value: float
    headline_ci_low: float | None = Field(None, description="95% interval of the headline ICC, lower bound")
    headline_ci_high: float | None = Field(None, description="95% interval of the headline ICC, upper bound")
    headline_reading: str = Field("", description="Koo & Li bands the headline's interval spans")
    target: float = Field(description="the QA target for inter-rater agreement (ICC ≥ 0.75 by default)")
    meets_target: bool = Field(description="True only when the lower 95% bound of the headline ICC clears the target")
    verdict: str = Field("", description="meets (lower bound ≥ target), below (upper bound < target) or inconclusive "
                         "(the interval contains the target: more calls are needed)")
    mean_squares: dict[str, float] = Field(description="BMS (items), WMS (within items), JMS (raters), "
                                                       "EMS (residual)")
    language: ResultLanguage = "en"
    rater_means: list[float] = Field(description="mean score of each rater, in column order (spot a harsh or "
                                                 "lenient rater)")
    notes: list[str]


def koo_li(value: float, bands: Sequence[dict] = DEFAULT_BANDS) -> str:
    """Koo & Li (2016) bands for an ICC value: < 0.5 poor, 0.5–0.75 moderate, 0.75–0.9 good, > 0.9 excellent."""
    for band in bands:
        if ("below" in band and value < band["below"]) or ("upto" in band and value <= band["upto"]):
            return str(band["label"])
    return str(bands[-1]["label"])


def icc_intervals(bms: float, wms: float, jms: float, ems: float, n: int, k: int, icc2: float,
                  level: float = 0.95) -> dict[str, tuple[float, float] | None]:
    """F-based confidence intervals of the six forms (Shrout & Fleiss 1979; McGraw & Wong 1996, case 2A for
    ICC(2,1) with Satterthwaite's df). None where undefined (no residual variance, or degenerate df)."""
    from scipy.special import fdtri

    upper_p = 1 - (1 - level) / 2

    def f_quantile(df1: float, df2: float) -> float:
        return float(fdtri(df1, df2, upper_p))

    out: dict[str, tuple[float, float] | None] = {}
    if wms > 0:
        f1 = bms / wms
        df1, df2 = n - 1, n * (k - 1)
        fl, fu = f1 / f_quantile(df1, df2), f1 * f_quantile(df2, df1)
        out["ICC1"] = ((fl - 1) / (fl + k - 1), (fu - 1) / (fu + k - 1))
        out["ICC1k"] = (1 - 1 / fl, 1 - 1 / fu) if fl != 0 and fu != 0 else None
    else:
        out["ICC1"] = out["ICC1k"] = None
    if ems > 0:
        f3 = bms / ems
        df1, df2 = n - 1, (n - 1) * (k - 1)
        fl, fu = f3 / f_quantile(df1, df2), f3 * f_quantile(df2, df1)
        out["ICC3"] = ((fl - 1) / (fl + k - 1), (fu - 1) / (fu + k - 1))
        out["ICC3k"] = (1 - 1 / fl, 1 - 1 / fu) if fl != 0 and fu != 0 else None
    else:
        out["ICC3"] = out["ICC3k"] = None
    out["ICC2"] = out["ICC2k"] = None
    if ems > 0 and icc2 < 1:
        a = k * icc2 / (n * (1 - icc2))
        b = 1 + k * icc2 * (n - 1) / (n * (1 - icc2))
        denominator = (a * jms) ** 2 / (k - 1) + (b * ems) ** 2 / ((n - 1) * (k - 1))
        v = (a * jms + b * ems) ** 2 / denominator if denominator > 0 else math.nan
        if math.isfinite(v) and v > 0:
            f_star, f_star2 = f_quantile(n - 1, v), f_quantile(v, n - 1)
            c = k * jms + (k * n - k - n) * ems
            low = n * (bms - f_star * ems) / (f_star * c + n * bms)
            high = n * (f_star2 * bms - ems) / (c + n * f_star2 * bms)
            out["ICC2"] = (low, high)
            out["ICC2k"] = (_spearman_brown(low, k), _spearman_brown(high, k))
    return {form: (bounds if bounds is not None and all(math.isfinite(b) for b in bounds) else None)
            for form, bounds in out.items()}


def _spearman_brown(value: float, k: int) -> float:
    denominator = 1 + value * (k - 1)
    return value * k / denominator if denominator != 0 else math.nan


def band_range(low: float | None, high: float | None, bands: Sequence[dict] = DEFAULT_BANDS,
               w: Words | None = None) -> str:
    """Koo & Li bands an interval spans: 'poor to good', or one band when both ends share it."""
    w = w or words("en")
    if low is None or high is None:
        return ""
    first = w.option("icc.bands", koo_li(low, bands))
    last = w.option("icc.bands", koo_li(high, bands))
    return first if first == last else w("icc.band_range", first=first, last=last)


def validate_ratings(ratings: Sequence[Sequence[float | None]]) -> list[list[float]]:
    """A rectangular items × raters matrix of finite numbers, or ValueError saying how to fix it."""
    if not isinstance(ratings, Sequence) or len(ratings) < 2:
        raise InputError("ratings needs at least 2 items (rows), each with one score per rater (columns), "
                         "e.g. [[9, 2, 5, 8], [6, 1, 3, 2], ...]")
    widths = {len(row) for row in ratings}
    if len(widths) != 1:
        counts = ", ".join(f"row {i + 1}: {len(row)}" for i, row in enumerate(ratings) if len(row) != len(ratings[0]))
        raise InputError(f"ratings is ragged: row 1 has {len(ratings[0])} scores but {counts}. Every item must be "
                         "scored by every rater, in the same column order; drop items some raters skipped")
    width = widths.pop()
    if width < 2:
        raise InputError("ratings needs at least 2 raters (columns) per item")
    matrix: list[list[float]] = []
    for i, row in enumerate(ratings):
        clean: list[float] = []
        for j, value in enumerate(row):
            numeric = isinstance(value, int | float) and not isinstance(value, bool)
            if not numeric or not math.isfinite(value):
                raise InputError(f"rating for item {i + 1}, rater {j + 1} is missing or not a finite number "
                                 f"({value!r}). ICC needs a complete matrix: drop that item (row) or have the "
                                 "rater score it; do not fill in a guess")
            clean.append(float(value))
        matrix.append(clean)
    return matrix


def icc(ratings: Sequence[Sequence[float | None]], target: float = DEFAULT_TARGET,
        w: Words | None = None) -> CalibrationResult:
    """All six Shrout & Fleiss ICC forms for an items × raters matrix (no missing values)."""
    w = w or words("en")
    matrix = validate_ratings(ratings)
    n, k = len(matrix), len(matrix[0])
    grand = sum(map(sum, matrix)) / (n * k)
    item_means = [sum(row) / k for row in matrix]
    rater_means = [sum(row[j] for row in matrix) / n for j in range(k)]
    ss_total = sum((x - grand) ** 2 for row in matrix for x in row)
    ss_items = k * sum((m - grand) ** 2 for m in item_means)
    ss_raters = n * sum((m - grand) ** 2 for m in rater_means)
    ss_error = ss_total - ss_items - ss_raters
    bms = ss_items / (n - 1)
    wms = (ss_total - ss_items) / (n * (k - 1))
    jms = ss_raters / (k - 1)
    ems = ss_error / ((n - 1) * (k - 1))
    if bms <= 0 or ss_total <= 0:
        raise InputError("every item got the same average score, so ICC is undefined (no between-item variation "
                         "to agree on); calibrate on a mix of good and poor calls")

    parts = {
        "ICC1": (bms - wms, bms + (k - 1) * wms),
        "ICC2": (bms - ems, bms + (k - 1) * ems + k * (jms - ems) / n),
        "ICC3": (bms - ems, bms + (k - 1) * ems),
        "ICC1k": (bms - wms, bms),
        "ICC2k": (bms - ems, bms + (jms - ems) / n),
        "ICC3k": (bms - ems, bms),
    }
    if any(abs(denominator) < 1e-12 for _, denominator in parts.values()):
        raise InputError("these ratings leave an ICC form undefined (a zero denominator: the calls barely differ "
                         "compared with how much the raters disagree); calibrate on a mix of clearly good and poor "
                         "calls")
    values = {name: numerator / denominator for name, (numerator, denominator) in parts.items()}
    intervals = icc_intervals(bms, wms, jms, ems, n, k, values["ICC2"])
    forms = []
    for name, value in values.items():
        bounds = intervals.get(name)
        low, high = (None, None) if bounds is None else (float(bounds[0]), float(bounds[1]))
        forms.append(IccForm(form=name, value=value, ci_low=low, ci_high=high,
                             interpretation=w.option("icc.bands", koo_li(value)),
                             interval_reading=band_range(low, high, w=w), meaning=w(f"icc.forms.{name}")))
    headline = values["ICC2"]
    low, high = forms[1].ci_low, forms[1].ci_high
    if low is None or high is None:
        verdict = "meets" if headline >= target else "below"
    elif low >= target:
        verdict = "meets"
    elif high < target:
        verdict = "below"
    else:
        verdict = "inconclusive"
    notes = [w("icc.notes.headline"), w("icc.notes.koo_li")]
    if values["ICC3"] - values["ICC2"] > 0.1:
        notes.append(w("icc.notes.harsh"))
    if n < 10:
        notes.append(w("icc.notes.few_items", n=n))
    return CalibrationResult(
        items=n, raters=k, forms=forms, headline_form="ICC2", headline_value=headline, headline_ci_low=low,
        headline_ci_high=high, headline_reading=band_range(low, high, w=w), target=target,
        meets_target=verdict == "meets" and (low is None or low >= target) and headline >= target, verdict=verdict,
        mean_squares={"BMS": bms, "WMS": wms, "JMS": jms, "EMS": ems}, rater_means=rater_means, notes=notes,
        language=w.language,
    )


def calibration_text(result: CalibrationResult, w: Words | None = None) -> str:
    w = w or words(result.language)
    t = "icc.text"

    def interval(low: float | None, high: float | None) -> str:
        return "—" if low is None or high is None else f"{low:.3f}–{high:.3f}"

    reading = result.headline_reading or w.option("icc.bands", koo_li(result.headline_value))
    headline = w(f"{t}.headline", items=result.items, raters=result.raters, value=f"{result.headline_value:.3f}",
                 interval=interval(result.headline_ci_low, result.headline_ci_high), reading=reading)
    verdict = w(f"{t}.{result.verdict or ('meets' if result.meets_target else 'below')}",
                target=f"{result.target:.2f}")
    lines = [headline + ("" if w.zh else " ") + verdict, "", w(f"{t}.columns"), "|---|---:|---|---|"]
    labels = {"ICC1": "ICC(1,1)", "ICC2": "ICC(2,1)", "ICC3": "ICC(3,1)", "ICC1k": "ICC(1,k)", "ICC2k": "ICC(2,k)",
              "ICC3k": "ICC(3,k)"}
    for form in result.forms:
        lines.append(f"| {labels[form.form]} | {form.value:.3f} | {interval(form.ci_low, form.ci_high)} | "
                     f"{form.interval_reading or form.interpretation} |")
    means = ", ".join(f"{m:.2f}" for m in result.rater_means)
    lines += ["", w(f"{t}.means", means=means), ""] + [f"- {note}" for note in result.notes]
    lines.append(w(f"{t}.intervals"))
    return "\n".join(lines)
