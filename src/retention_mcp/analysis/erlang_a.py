"""Erlang A (M/M/n+M, Palm 1943; Garnett, Mandelbaum & Reiman 2002): Erlang C with callers who hang up.

Calls arrive at rate λ, an agent serves at rate μ = 1 ÷ AHT, a waiting caller abandons at rate θ = 1 ÷ mean
patience. With k callers in the system the chain moves up at λ and down at min(k, n)·μ + (k − n)⁺·θ, so
its stationary law is, with A = λ ÷ μ,

    π_k ∝ A^k ÷ k!                                    k ≤ n
    π_{n+j} = π_n · Π_{m=1..j} λ ÷ (nμ + mθ)          j ≥ 1

and it exists for every n (abandonment keeps the queue finite; Erlang C needs n > A). A caller arriving to
find j callers waiting (probability π_{n+j}, PASTA) advances at rate nμ + mθ while m are ahead, so with
a = nμ ÷ θ its offered wait V satisfies θV = −ln U, U ~ Beta(a, j + 1) (the Mellin transforms agree:
E[e^{−sV}] = Π_{m=0..j} (nμ + mθ) ÷ (nμ + mθ + s)). It is answered when its own patience outlasts V:

    P(answered | j)             = E[U]              = a ÷ (a + j + 1)
    P(answered within t | j)    = E[U; U ≥ e^{−θt}] = a ÷ (a + j + 1) · I_{1−e^{−θt}}(j + 1, a + 1)
    E[V; answered | j]          = a ÷ (a + j + 1) · (ψ(a + j + 2) − ψ(a + 1)) ÷ θ

(I the regularised incomplete beta function, ψ the digamma function). Summing over the arrival's view gives
P(wait), P(abandon), the service level (answered within t ÷ offered: a caller who hangs up counts as
missed), the ASA of answered calls and the occupancy λ·(1 − P(abandon)) ÷ (nμ). As θ → 0 every measure
tends to Erlang C's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from pydantic import BaseModel, Field

from retention_mcp.errors import InputError

#: Tail mass left out of the stationary sum.
TAIL = 1e-15


@dataclass(frozen=True)
class ErlangAMeasures:
    agents: int
    probability_wait: float
    probability_abandon: float
    service_level: float  # answered within t ÷ offered
    asa_seconds: float  # mean wait of answered calls
    average_wait_seconds: float  # mean wait of every caller (answered or not) = P(abandon) ÷ θ
    occupancy: float


def erlang_a(arrival_per_second: float, aht_seconds: float, patience_seconds: float, agents: int,
             within_seconds: float) -> ErlangAMeasures:
    """The steady-state measures of M/M/n+M for ``agents`` agents (see the module docstring)."""
    import numpy as np
    from scipy.special import betainc, gammaln, psi

    lam, mu, theta, n = arrival_per_second, 1.0 / aht_seconds, 1.0 / patience_seconds, int(agents)
    traffic = lam / mu
    # log weights of k = 0..n, then of n + j for j = 1..J, J past the mode with the ratio below 1.
    k = np.arange(n + 1, dtype="float64")
    log_low = k * math.log(traffic) - gammaln(k + 1)
    mode_j = max(0.0, (lam - n * mu) / theta)
    spread = math.sqrt(lam / theta) + 1.0
    size = int(mode_j + 40 * spread + 200)
    j = np.arange(1, size + 1, dtype="float64")
    log_high = log_low[-1] + np.cumsum(math.log(lam) - np.log(n * mu + j * theta))
    log_all = np.concatenate([log_low, log_high])
    top = log_all.max()
    weights = np.exp(log_all - top)
    total = weights.sum()
    if weights[-1] / total > TAIL:  # not far enough into the tail: never expected, refuse rather than be wrong
        raise ArithmeticError("Erlang A tail not reached")
    pi = weights / total
    queue = np.arange(0, size + 1, dtype="float64")  # j waiting when the arrival comes: π_{n+j}
    pi_busy = pi[n:]
    a = n * mu / theta
    answered = a / (a + queue + 1)
    reach = 1.0 - math.exp(-theta * within_seconds)
    within = answered * betainc(queue + 1, a + 1, reach) if reach > 0 else np.zeros_like(answered)
    wait_answered = answered * (psi(a + queue + 2) - psi(a + 1)) / theta
    p_wait = float(pi_busy.sum())
    p_abandon = float((pi_busy * (1 - answered)).sum())
    sl = float(pi[:n].sum() + (pi_busy * within).sum())
    asa = float((pi_busy * wait_answered).sum()) / (1 - p_abandon)
    occupancy = lam * (1 - p_abandon) / (n * mu)
    return ErlangAMeasures(agents=n, probability_wait=p_wait, probability_abandon=p_abandon, service_level=sl,
                           asa_seconds=asa, average_wait_seconds=p_abandon / theta, occupancy=occupancy)


class ErlangARow(BaseModel):
    agents: int
    service_level: float = Field(description="answered within the threshold ÷ offered (hang-ups count as missed)")
    probability_abandon: float = Field(description="share of callers who hang up before an answer")
    asa_seconds: float = Field(description="mean wait of answered calls, seconds")
    occupancy: float = Field(description="answered traffic ÷ agents")
    probability_wait: float
    meets_target: bool


class ErlangAResult(BaseModel):
    patience_seconds: float = Field(description="mean caller patience used (exponential)")
    required_agents: int = Field(description="smallest N meeting the service level (and the abandonment and "
                                 "occupancy caps when given)")
    scheduled_headcount: int = Field(description="⌈required agents ÷ (1 − shrinkage)⌉")
    service_level: float
    probability_abandon: float
    asa_seconds: float
    occupancy: float
    probability_wait: float
    table: list[ErlangARow] = Field(description="N−2 … N+2 around the required agents")
    agents_fewer_than_erlang_c: int = Field(description="Erlang C's required agents − Erlang A's (negative: more)")
    difference: str = Field(description="why the two models differ here, in words")
    method: str


def _meets(m: ErlangAMeasures, target: float, max_abandon: float | None, max_occupancy: float | None) -> bool:
    return (m.service_level >= target and (max_abandon is None or m.probability_abandon <= max_abandon)
            and (max_occupancy is None or m.occupancy <= max_occupancy))


def erlang_a_staffing(*, calls: float, interval_minutes: float, aht_seconds: float, patience_seconds: float,
                      service_level_target: float, answer_within_seconds: float, shrinkage: float,
                      max_occupancy: float | None, max_abandonment: float | None,
                      erlang_c_agents: int) -> ErlangAResult:
    """Fewest agents whose Erlang A service level (and abandonment, occupancy) meets the targets."""
    if not math.isfinite(patience_seconds) or patience_seconds <= 0:
        raise InputError("patience_seconds must be above 0: the mean time a caller waits before hanging up, e.g. "
                         "180 (call_log_profile estimates it from the abandoned calls)")
    if max_abandonment is not None and not 0 < max_abandonment < 1:
        raise InputError("max_abandonment must be above 0% and below 100%, e.g. '5%'")
    lam = calls / (interval_minutes * 60.0)

    def measure(n: int) -> ErlangAMeasures:
        return erlang_a(lam, aht_seconds, patience_seconds, n, answer_within_seconds)

    def ok(n: int) -> bool:
        return _meets(measure(n), service_level_target, max_abandonment, max_occupancy)

    # The measures improve with every agent added: find the first N that meets the targets by doubling, then
    # bisection, from below (the occupancy cap alone needs at least λ·AHT ÷ cap agents).
    high = 1
    while not ok(high):
        high *= 2
        if high > 4 * (erlang_c_agents + 10):
            raise InputError("the targets cannot be met with any number of agents: lower the service level or "
                             "raise max_abandonment")
    low = high // 2
    while high - low > 1:
        middle = (low + high) // 2
        if ok(middle):
            high = middle
        else:
            low = middle
    required = high
    table = []
    for n in range(max(1, required - 2), required + 3):
        m = measure(n)
        table.append(ErlangARow(agents=n, service_level=m.service_level, probability_abandon=m.probability_abandon,
                                asa_seconds=m.asa_seconds, occupancy=m.occupancy,
                                probability_wait=m.probability_wait,
                                meets_target=_meets(m, service_level_target, max_abandonment, max_occupancy)))
    chosen = measure(required)
    scheduled = math.ceil(round(required / (1.0 - shrinkage), 9))
    fewer = erlang_c_agents - required
    if fewer > 0:
        difference = (f"Erlang A needs {fewer} agent(s) fewer than Erlang C ({required} vs {erlang_c_agents}): "
                      f"callers who hang up (mean patience {patience_seconds:.0f} s; {chosen.probability_abandon:.1%} "
                      "of calls at this staffing) leave the queue, so the callers behind them wait less. Erlang C "
                      "assumes nobody hangs up and overstates the agents needed; staffing to Erlang A accepts those "
                      "hang-ups, so watch the abandonment rate beside the service level.")
    elif fewer < 0:
        difference = (f"Erlang A needs {-fewer} agent(s) more than Erlang C ({required} vs {erlang_c_agents}): it "
                      "counts callers who hang up before the threshold as missed, and with this patience that costs "
                      "more service level than the shorter queue gains (or the abandonment cap binds).")
    else:
        difference = (f"Both models need {required} agents: at this staffing few callers wait long enough to hang up "
                      f"({chosen.probability_abandon:.1%}), so abandonment barely changes the queue.")
    method = ("Erlang A (M/M/n+M): Poisson arrivals, exponential handling and exponential patience with mean "
              f"{patience_seconds:.0f} s; exact stationary law of the birth–death chain and the offered wait of a "
              "caller with j ahead (θV = −ln Beta(nμ/θ, j + 1)); service level = answered within "
              f"{answer_within_seconds:g} s ÷ offered (hang-ups count as missed).")
    return ErlangAResult(
        patience_seconds=patience_seconds, required_agents=required, scheduled_headcount=scheduled,
        service_level=chosen.service_level, probability_abandon=chosen.probability_abandon,
        asa_seconds=chosen.asa_seconds, occupancy=chosen.occupancy, probability_wait=chosen.probability_wait,
        table=table, agents_fewer_than_erlang_c=fewer, difference=difference, method=method)
