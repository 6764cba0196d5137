"""Erlang C staffing for a call-center interval: agents for a service-level target, ASA, occupancy.

Traffic A = calls × AHT ÷ interval (Erlangs). P_wait (Erlang C) comes from Erlang B computed by the
recursion B(0) = 1, B(k) = A·B(k−1) ÷ (k + A·B(k−1)), which never forms A^N or N! and so stays
exact-ish and overflow-free for thousands of Erlangs; C = N·B ÷ (N − A·(1 − B)).
"""

from __future__ import annotations

import math

from pydantic import BaseModel, Field

from retention_mcp.analysis.erlang_a import ErlangAResult
from retention_mcp.errors import InputError
from retention_mcp.runtime.spec import Evidenced
from retention_mcp.units import percent, plain_number

#: Above this the O(N) search is still fast, but a single interval this large is almost surely a unit slip.
MAX_TRAFFIC_ERLANGS = 100_000.0


class StaffingRow(BaseModel):
    agents: int = Field(description="agents on the phones (N)")
    service_level: float | None = Field(
        description="fraction of calls answered within the threshold, 0..1 (None when N ≤ traffic: queue unstable)")
    asa_seconds: float | None = Field(description="average speed of answer, seconds (None when unstable)")
    occupancy: float | None = Field(description="traffic ÷ agents, fraction 0..1 (None when N ≤ traffic)")
    probability_wait: float = Field(description="Erlang C probability a call waits, fraction 0..1")
    meets_target: bool = Field(description="service level ≥ target and occupancy ≤ max_occupancy")


class StaffingResult(Evidenced):
    traffic_erlangs: float = Field(description="offered load A = calls × AHT ÷ interval length, in Erlangs")
    calls: float = Field(description="calls offered in the interval")
    interval_minutes: float
    aht_seconds: float = Field(description="average handling time, seconds")
    service_level_target: float = Field(description="target fraction answered within the threshold, 0..1")
    answer_within_seconds: float
    shrinkage: float = Field(description="fraction of paid time not on the phones (breaks, training, absence)")
    max_occupancy: float | None = Field(description="occupancy cap, fraction 0..1, or None")
    required_agents: int = Field(description="smallest N > A meeting the service level (and occupancy cap)")
    agents_for_service_level: int = Field(description="smallest N meeting the service level alone")
    service_level: float = Field(description="achieved service level with the required agents, fraction")
    asa_seconds: float = Field(description="average speed of answer with the required agents, seconds")
    occupancy: float = Field(description="A ÷ N with the required agents, fraction")
    probability_wait: float = Field(description="P(wait) with the required agents, fraction")
    scheduled_headcount: int = Field(description="⌈required agents ÷ (1 − shrinkage)⌉: people to schedule")
    binding_constraint: str = Field(description="'service_level' or 'max_occupancy': which rule set N")
    table: list[StaffingRow] = Field(description="N−2 … N+2 around the required agents")
    formula: str = Field(description="the formulas with this interval's numbers filled in")
    assumptions: list[str]
    erlang_a: ErlangAResult | None = Field(None, description="the same interval by Erlang A (callers hang up after "
                                           "patience_seconds on average), when patience is given")


def erlang_b(traffic: float, agents: int) -> float:
    """Blocking probability B(N, A) by the stable recursion (no factorials, no powers)."""
    blocking = 1.0
    for k in range(1, agents + 1):
        blocking = traffic * blocking / (k + traffic * blocking)
    return blocking


def erlang_c_from_b(traffic: float, agents: int, blocking: float) -> float:
    """P(wait) from Erlang B; 1.0 when N ≤ A (the queue grows without bound)."""
    if agents <= traffic:
        return 1.0
    return agents * blocking / (agents - traffic * (1.0 - blocking))


def erlang_c(traffic: float, agents: int) -> float:
    """Erlang C probability that a call has to wait, for N agents and A Erlangs."""
    return erlang_c_from_b(traffic, agents, erlang_b(traffic, agents))


def service_level(traffic: float, agents: int, aht_seconds: float, within_seconds: float,
                  p_wait: float | None = None) -> float | None:
    """SL = 1 − P_wait · exp(−(N − A) · t ÷ AHT); None when N ≤ A."""
    if agents <= traffic:
        return None
    p_wait = erlang_c(traffic, agents) if p_wait is None else p_wait
    return 1.0 - p_wait * math.exp(-(agents - traffic) * within_seconds / aht_seconds)


def average_speed_of_answer(traffic: float, agents: int, aht_seconds: float, p_wait: float) -> float | None:
    """ASA = P_wait · AHT ÷ (N − A), seconds; None when N ≤ A."""
    if agents <= traffic:
        return None
    return p_wait * aht_seconds / (agents - traffic)


def _ceil_clean(value: float) -> int:
    # 14 / 0.7 is 20.000000000000004 in binary floating point; round away that noise before ⌈⌉.
    return math.ceil(round(value, 9))


def _row(traffic: float, agents: int, aht: float, within: float, target: float, max_occ: float | None,
         blocking: float) -> StaffingRow:
    p_wait = erlang_c_from_b(traffic, agents, blocking)
    sl = service_level(traffic, agents, aht, within, p_wait)
    occupancy = traffic / agents if agents > traffic else None
    meets = sl is not None and sl >= target and (max_occ is None or (occupancy is not None and occupancy <= max_occ))
    asa = average_speed_of_answer(traffic, agents, aht, p_wait)
    return StaffingRow(agents=agents, service_level=sl, asa_seconds=asa, occupancy=occupancy,
                       probability_wait=p_wait, meets_target=meets)


def erlang_staffing(calls: float, interval_minutes: float, aht_seconds: float, service_level_target: float,
                    answer_within_seconds: float, shrinkage: float = 0.0,
                    max_occupancy: float | None = None) -> StaffingResult:
    """Agents needed for one interval by Erlang C. Rates are fractions (parse them before calling)."""
    _check_inputs(calls, interval_minutes, aht_seconds, service_level_target, answer_within_seconds, shrinkage,
                  max_occupancy)
    traffic = calls * aht_seconds / (interval_minutes * 60.0)

    # Walk N upwards carrying the Erlang B recursion: O(N) in total, however large the traffic.
    blockings: dict[int, float] = {}
    blocking = 1.0
    agents = 0
    agents_for_sl: int | None = None
    required: int | None = None
    while required is None:
        agents += 1
        blocking = traffic * blocking / (agents + traffic * blocking)
        blockings[agents] = blocking
        if agents <= traffic:
            continue
        p_wait = erlang_c_from_b(traffic, agents, blocking)
        sl = service_level(traffic, agents, aht_seconds, answer_within_seconds, p_wait)
        assert sl is not None
        if agents_for_sl is None and sl >= service_level_target:
            agents_for_sl = agents
        if agents_for_sl is not None and (max_occupancy is None or traffic / agents <= max_occupancy):
            required = agents
    assert agents_for_sl is not None
    for extra in (1, 2):  # the table shows N+1 and N+2 too
        n = required + extra
        blockings[n] = traffic * blockings[n - 1] / (n + traffic * blockings[n - 1])

    table = [_row(traffic, n, aht_seconds, answer_within_seconds, service_level_target, max_occupancy, blockings[n])
             for n in range(max(1, required - 2), required + 3)]
    chosen = next(row for row in table if row.agents == required)
    assert chosen.service_level is not None and chosen.asa_seconds is not None and chosen.occupancy is not None
    scheduled = _ceil_clean(required / (1.0 - shrinkage))
    binding = "service_level" if required == agents_for_sl else "max_occupancy"

    formula = (
        f"A = {plain_number(calls, 2)} calls × {plain_number(aht_seconds, 1)} s ÷ "
        f"({plain_number(interval_minutes, 2)} × 60 s) = {traffic:.3f} Erlangs; "
        f"with N = {required}: P(wait) = {chosen.probability_wait:.4f}; "
        f"SL = 1 − {chosen.probability_wait:.4f} × e^(−({required} − {traffic:.3f}) × "
        f"{plain_number(answer_within_seconds, 1)} ÷ {plain_number(aht_seconds, 1)}) = "
        f"{percent(chosen.service_level)}; "
        f"ASA = {chosen.probability_wait:.4f} × {plain_number(aht_seconds, 1)} ÷ ({required} − {traffic:.3f}) = "
        f"{chosen.asa_seconds:.1f} s; occupancy = {traffic:.3f} ÷ {required} = {percent(chosen.occupancy)}; "
        f"scheduled = ⌈{required} ÷ (1 − {percent(shrinkage)})⌉ = {scheduled}"
    )
    assumptions = [
        "Erlang C: Poisson arrivals, exponential handling times, no abandonment, no retrials, calls wait "
        "as long as needed (it tends to overstate agents when many callers hang up).",
        "Traffic is steady within the interval; run it per interval (e.g. each 30 minutes) for a day's plan.",
        "Scheduled headcount covers shrinkage only; it does not round to shift patterns.",
    ]
    return StaffingResult(
        traffic_erlangs=traffic, calls=calls, interval_minutes=interval_minutes, aht_seconds=aht_seconds,
        service_level_target=service_level_target, answer_within_seconds=answer_within_seconds,
        shrinkage=shrinkage, max_occupancy=max_occupancy, required_agents=required,
        agents_for_service_level=agents_for_sl, service_level=chosen.service_level,
        asa_seconds=chosen.asa_seconds, occupancy=chosen.occupancy, probability_wait=chosen.probability_wait,
        scheduled_headcount=scheduled, binding_constraint=binding, table=table, formula=formula,
        assumptions=assumptions,
    )


def _check_inputs(calls: float, interval_minutes: float, aht_seconds: float, target: float, within: float,
                  shrinkage: float, max_occupancy: float | None) -> None:
    for name, value in (("calls", calls), ("interval_minutes", interval_minutes), ("aht_seconds", aht_seconds),
                        ("answer_within_seconds", within)):
        if not math.isfinite(value):
            raise InputError(f"{name} must be a finite number, not {value!r}")
    if calls <= 0:
        raise InputError(f"calls must be above 0 (calls offered in the interval), not {plain_number(calls)}")
    if interval_minutes <= 0:
        raise InputError("interval_minutes must be above 0, e.g. 30 for half-hour intervals")
    if aht_seconds <= 0:
        raise InputError("aht_seconds must be above 0: average handling time in seconds, e.g. 180")
    if within < 0:
        raise InputError("answer_within_seconds must be 0 or more, e.g. 20 for '80% in 20 seconds'")
    if not 0 < target < 1:
        raise InputError("service_level_target must be above 0% and below 100% (100% is never reached under "
                         "Erlang C), e.g. '80%' or 0.8")
    if not 0 <= shrinkage < 1:
        raise InputError("shrinkage must be at least 0% and below 100%, e.g. '30%' or 0.3")
    if max_occupancy is not None and not 0 < max_occupancy <= 1:
        raise InputError("max_occupancy must be above 0% and at most 100%, e.g. '85%' or 0.85")
    traffic = calls * aht_seconds / (interval_minutes * 60.0)
    if traffic > MAX_TRAFFIC_ERLANGS:
        raise InputError(f"traffic of {traffic:,.0f} Erlangs in one interval is above {MAX_TRAFFIC_ERLANGS:,.0f}; "
                         "check the units (calls per interval, AHT in seconds, interval in minutes)")


def staffing_text(result: StaffingResult) -> str:
    """Markdown summary: the headline, the N−2 … N+2 table, the formula."""
    cap = f", occupancy ≤ {percent(result.max_occupancy)}" if result.max_occupancy is not None else ""
    lines = [
        f"**Erlang C staffing** — {plain_number(result.calls, 2)} calls per "
        f"{plain_number(result.interval_minutes)} min, "
        f"AHT {plain_number(result.aht_seconds)} s, target {percent(result.service_level_target)} in "
        f"{plain_number(result.answer_within_seconds)} s{cap}",
        "",
        f"- Traffic: {result.traffic_erlangs:.2f} Erlangs",
        f"- **Required agents: {result.required_agents}** (set by {result.binding_constraint.replace('_', ' ')}); "
        f"service level {percent(result.service_level)}, ASA {result.asa_seconds:.1f} s, occupancy "
        f"{percent(result.occupancy)}, P(wait) {percent(result.probability_wait)}",
        f"- **Scheduled headcount: {result.scheduled_headcount}** with {percent(result.shrinkage)} shrinkage",
        "",
        "| agents | service level | ASA (s) | occupancy | P(wait) | meets target |",
        "|---:|---:|---:|---:|---:|:---:|",
    ]
    for row in result.table:
        sl = percent(row.service_level) if row.service_level is not None else "unstable"
        asa = f"{row.asa_seconds:.1f}" if row.asa_seconds is not None else "∞"
        occ = percent(row.occupancy) if row.occupancy is not None else "≥100%"
        mark = "✓" if row.meets_target else ""
        name = f"**{row.agents}**" if row.agents == result.required_agents else str(row.agents)
        lines.append(f"| {name} | {sl} | {asa} | {occ} | {percent(row.probability_wait)} | {mark} |")
    lines += ["", f"Formula: {result.formula}", "", "Assumptions: " + " ".join(result.assumptions)]
    if result.erlang_a is not None:
        lines += ["", erlang_a_text(result.erlang_a)]
    return "\n".join(lines)


def erlang_a_text(a: ErlangAResult) -> str:
    """The Erlang A half of the result: headline, N−2 … N+2 table with abandonment, the difference in words."""
    lines = [f"**Erlang A** (mean patience {a.patience_seconds:.0f} s): **{a.required_agents} agents**, "
             f"{a.scheduled_headcount} scheduled; service level {percent(a.service_level)} (answered in time ÷ "
             f"offered), abandonment {percent(a.probability_abandon)}, ASA {a.asa_seconds:.1f} s, occupancy "
             f"{percent(a.occupancy)}.", "",
             "| agents | service level | abandoned | ASA (s) | occupancy | meets target |",
             "|---:|---:|---:|---:|---:|:---:|"]
    for row in a.table:
        name = f"**{row.agents}**" if row.agents == a.required_agents else str(row.agents)
        lines.append(f"| {name} | {percent(row.service_level)} | {percent(row.probability_abandon)} | "
                     f"{row.asa_seconds:.1f} | {percent(row.occupancy)} | {'✓' if row.meets_target else ''} |")
    lines += ["", a.difference, "", f"Method: {a.method}"]
    return "\n".join(lines)
