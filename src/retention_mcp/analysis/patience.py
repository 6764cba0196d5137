"""Callers' patience from a call log, for Erlang A: exponential patience with rate θ (mean 1 ÷ θ).

Two estimators, chosen by what the log records:

- **abandoned calls carry their wait** (time to hang up): each answered call is a patience longer than its wait
  (censored), each abandoned call a patience equal to its wait, so the maximum-likelihood estimate is
  θ̂ = abandoned ÷ Σ waits of all calls — Mandelbaum & Zeltyn's P(abandon) ÷ E[wait]. 95% interval: the exact
  (Garwood) Poisson interval of the abandoned count over the total wait.
- **abandoned calls have no wait** (the PwC layout): a caller is answered when its patience τ outlasts the wait
  V it was offered, τ independent of V. Answered waits then follow V weighted by e^{−θV}, so
  E[e^{θW} | answered] = 1 ÷ P(answered): θ̂ solves mean(e^{θ·wᵢ}) over answered calls = offered ÷ answered.
  95% interval by the sandwich variance of that estimating equation (ψ = 1{answered}·e^{θw} − 1 per offered
  call), mapped to the mean patience.
"""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import BaseModel, Field

Z_95 = 1.959963984540054


class PatienceEstimate(BaseModel):
    patience_seconds: float | None = Field(description="mean caller patience, seconds (erlang_staffing "
                                           "patience_seconds); None when nobody hung up")
    ci_low: float | None = None
    ci_high: float | None = None
    offered: int
    abandoned: int
    answered_with_wait: int = Field(description="answered calls with a speed of answer, used by the estimate")
    method: Literal["censored_mle", "answered_waits", "none"]
    method_text: str


def estimate_patience(answered_waits: Any, offered: int, abandoned_waits: Any = None,
                      abandoned: int | None = None) -> PatienceEstimate:
    """``answered_waits``: waits (s) of answered calls; ``offered``: calls with a known answered flag;
    ``abandoned_waits``: waits of the unanswered calls when the log has them (else None) and ``abandoned``
    their count."""
    import numpy as np

    waits = np.asarray(answered_waits, dtype="float64")
    waits = waits[np.isfinite(waits) & (waits >= 0)]
    lost = np.asarray(abandoned_waits if abandoned_waits is not None else [], dtype="float64")
    lost = lost[np.isfinite(lost) & (lost >= 0)]
    n_abandoned = int(abandoned if abandoned is not None else len(lost))
    common = {"offered": int(offered), "abandoned": n_abandoned, "answered_with_wait": len(waits)}
    if n_abandoned == 0 or len(waits) == 0:
        return PatienceEstimate(patience_seconds=None, method="none", **common,
                                method_text="no call was abandoned (or no answered call has a wait): patience "
                                            "cannot be estimated and Erlang C's no-hang-up assumption fits the log")
    if len(lost) == n_abandoned:  # every abandoned call has its wait: censored maximum likelihood
        from scipy.special import gammaincinv

        exposure = float(waits.sum() + lost.sum())
        if exposure <= 0:
            return PatienceEstimate(patience_seconds=None, method="none", **common,
                                    method_text="every wait is 0 s: patience cannot be estimated")
        rate = n_abandoned / exposure
        rate_low = float(gammaincinv(n_abandoned, 0.025)) / exposure
        rate_high = float(gammaincinv(n_abandoned + 1, 0.975)) / exposure
        return PatienceEstimate(
            patience_seconds=1 / rate, ci_low=1 / rate_high, ci_high=1 / rate_low, method="censored_mle", **common,
            method_text=(f"exponential patience by maximum likelihood: {n_abandoned} abandoned ÷ {exposure:,.0f} s "
                         "of waiting by all calls (answered calls' waits count as patience not yet used up); exact "
                         "Poisson 95% interval"))
    answered = len(waits)
    if float(waits.max()) <= 0:
        return PatienceEstimate(patience_seconds=None, method="none", **common,
                                method_text="every answered call waited 0 s: patience cannot be estimated")
    target = offered / answered  # E[e^{θW} | answered] = 1 ÷ P(answered)
    theta = _solve_rate(waits, target)
    growth = np.exp(theta * waits)
    slope = float((waits * growth).sum()) / offered  # mean ∂ψ/∂θ over offered calls
    spread = (float(((growth - 1) ** 2).sum()) + (offered - answered)) / offered  # mean ψ², unanswered ψ = −1
    se = math.sqrt(spread / (offered * slope * slope))
    low_rate, high_rate = max(theta - Z_95 * se, 1e-12), theta + Z_95 * se
    return PatienceEstimate(
        patience_seconds=1 / theta, ci_low=1 / high_rate, ci_high=1 / low_rate, method="answered_waits", **common,
        method_text=(f"exponential patience from the answered calls' waits (the log has no wait for the "
                     f"{n_abandoned} abandoned calls): θ solves mean(e^(θ·wait)) over the {answered:,} answered "
                     f"calls = offered ÷ answered = {target:.4f}, assuming patience is independent of the wait a "
                     "caller is offered; 95% interval by the sandwich variance of that equation"))


def _solve_rate(waits: Any, target: float) -> float:
    """θ > 0 with mean(e^{θ·w}) = target (> 1): increasing in θ, so bisection on a bracket."""
    import numpy as np

    def gap(theta: float) -> float:
        return float(np.mean(np.exp(theta * waits))) - target

    high = 1.0 / max(float(waits.mean()), 1e-9)
    while gap(high) < 0:
        high *= 2
    low = 0.0
    for _ in range(200):
        middle = (low + high) / 2
        if gap(middle) < 0:
            low = middle
        else:
            high = middle
        if high - low <= 1e-15 * high:
            break
    return (low + high) / 2
