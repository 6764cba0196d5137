"""An automated adversary: it searches for pairs and triples of calls that slice the same people differently and
tries to recover one person's attribute by subtracting what the tools show.

It is not a list of known attacks. On a file it finds every person who is alone in some combination of two or
three grouping columns, and then builds the calls that isolate them:

- **where**: a `where` value list with the person's value and one without it (a pair), or split into two lists
  that together miss only the person (a triple) — on turnover_breakdown (did they leave?), describe_groups (their
  age, satisfaction, distance, pay, engagement), driver_analysis levels (did they leave?) and call_log_profile (a
  call's handle time, speed of answer, rating);
- **time points**: retention_curve at-risk counts at time points that bracket one person's tenure;
- **periods**: turnover_breakdown periods ending one day apart (who left on that day);
- **bins**: every banding the tool offers for a numeric column, and pairs of bands that differ by one person.

The shown figures come from the tools' own functions (their where parsing, suppression and refusals included);
the true sets come from the data. What the adversary concludes is what an observer who knows the mechanism and
its published parameters can be *certain* of: a value of the person's attribute is possible when some true
counts and sums agree with every shown figure within the noise the mechanism can add (the perturbation table's
support for counts, ±E × the magnitude scale for sums — the adversary is even told each cell's true largest
value and true size). An attempt is an **exact recovery** when exactly one value is possible. In ``exact`` mode
noise is zero, so any pair or triple the tools answer pins the value down; that is the documented price.
"""

from __future__ import annotations

import itertools
import math
import random
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from retention_mcp.data.cellkey import MAGNITUDE_BOUND, MAGNITUDE_SHARE, MAX_NOISE, column_resolution
from retention_mcp.data.dimensions import build_dimension, parse_where
from retention_mcp.errors import InputError

BIG = 10**9


# -- what an observer can be certain of


def possible_counts(shown: int, mode: str, capped: bool = False) -> range:
    """True counts that can show as ``shown``: itself in exact mode; within ±D (and never a positive count from
    0, whose cell has no key) in protected mode. ``capped``: the figure was capped at another one (a share of
    people cannot exceed them), so anything at or above it is possible."""
    if mode == "exact":
        return range(shown, BIG) if capped else range(shown, shown + 1)
    if shown == 0:
        return range(0, MAX_NOISE + 1)
    return range(max(1, shown - MAX_NOISE), BIG if capped else shown + MAX_NOISE + 1)


def _overlaps(a: range, b: range) -> bool:
    return max(a.start, b.start) < min(a.stop, b.stop)


def binary_outcomes(with_person: tuple[int, bool], parts: Sequence[tuple[int, bool]], mode: str,
                    values: Iterable[int] = (0, 1)) -> set[int]:
    """Values x of the person's count (0/1 for a yes/no attribute, a number of calls for an agent) that agree with
    the shown counts: one set holding the person and ``parts`` (disjoint sets) that together hold everyone else."""
    first = possible_counts(with_person[0], mode, capped=with_person[1])
    spans = [possible_counts(shown, mode, capped=capped) for shown, capped in parts]
    low = sum(span.start for span in spans)
    high = sum(min(span.stop - 1, BIG) for span in spans)
    return {x for x in values if _overlaps(first, range(low + x, high + x + 1))}


def numeric_outcomes(with_person: tuple[float, float], parts: Sequence[tuple[float, float]], domain: np.ndarray,
                     mode: str) -> np.ndarray:
    """Values of the person's number that agree with shown sums (sum, the largest magnitude noise it can carry)."""
    estimate = with_person[0] - sum(part[0] for part in parts)
    if mode == "exact":
        bound = 1e-6 * max(1.0, abs(with_person[0]))
    else:
        bound = with_person[1] + sum(part[1] for part in parts)
    return domain[np.abs(domain - estimate) <= bound + 1e-9]


def magnitude_bound(top: float, resolution: float, mode: str) -> float:
    return 0.0 if mode == "exact" else MAGNITUDE_BOUND * max(MAGNITUDE_SHARE * top, resolution)


# -- the search


@dataclass
class Report:
    """Attempts and exact recoveries, by attack family."""

    attempts: Counter = field(default_factory=Counter)
    recoveries: Counter = field(default_factory=Counter)
    refused: Counter = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)
    #: per family of count differences: how many attempts, and in how many the plain difference was the truth
    plain: Counter = field(default_factory=Counter)
    plain_hits: Counter = field(default_factory=Counter)

    def attempt(self, family: str, recovered: bool, truth: Any, possible: Iterable[Any], what: str) -> None:
        self.attempts[family] += 1
        if recovered:
            self.recoveries[family] += 1
            if len(self.examples) < 20:
                self.examples.append(f"{family}: {what} -> {truth!r} (possible: {sorted(possible)!r})")

    def difference(self, family: str, plain: int, truth: int) -> None:
        """The plain difference of the shown counts (with the person minus without), against the truth. Only where
        the person counts (truth ≠ 0): otherwise both calls count the same people and show the same figure."""
        if truth == 0:
            return
        self.plain[family] += 1
        self.plain_hits[family] += int(plain == truth)

    def unperturbed(self, least: int = 20) -> list[str]:
        """Families whose shown counts are exact whatever the mode claims: in at least ``least`` attempts where
        the person counts, the plain difference was always the person's value. Perturbed counts differ by the truth
        only when both noises are equal (P ≈ 0.28 a pair), so 20 in a row happen by chance about once in 10¹¹: an
        observer is then certain the figure carries no noise and reads every such attempt exactly."""
        return sorted(f for f, n in self.plain.items() if n >= least and self.plain_hits[f] == n)

    def settle(self, mode: str) -> None:
        """In protected mode, count every attempt of an unperturbed family as an exact recovery."""
        if mode != "protected":
            return
        for family in self.unperturbed():
            self.recoveries[family] = self.attempts[family]
            if len(self.examples) < 20:
                self.examples.append(f"{family}: shown counts never carry noise ({self.plain[family]} differences "
                                     "were all exact)")

    def add(self, other: Report) -> None:
        self.attempts.update(other.attempts)
        self.recoveries.update(other.recoveries)
        self.refused.update(other.refused)
        self.plain.update(other.plain)
        self.plain_hits.update(other.plain_hits)
        self.examples += other.examples[: max(0, 20 - len(self.examples))]

    @property
    def total_attempts(self) -> int:
        return sum(self.attempts.values())

    @property
    def total_recoveries(self) -> int:
        return sum(self.recoveries.values())

    def summary(self) -> str:
        families = sorted(set(self.attempts) | set(self.refused))
        return "; ".join(f"{f}: {self.recoveries[f]}/{self.attempts[f]} (refused {self.refused[f]})"
                         for f in families)


@dataclass
class Lone:
    """A person alone in a combination of values: ``fixed`` columns at their values, and ``varying`` at ``value``."""

    row: int
    fixed: dict[str, str]
    varying: str
    value: str


def lone_people(ds: Any, policy: Any, columns: Sequence[str], rng: random.Random, limit: int,
                sizes: Sequence[int] = (2, 3)) -> list[Lone]:
    """People alone in some combination of ``sizes`` of ``columns`` (any one of them can be the varying one)."""
    dims = {c: build_dimension(ds, c, policy, purpose="a where filter") for c in columns}
    found: list[Lone] = []
    combos = [c for size in sizes for c in itertools.combinations(columns, size)]
    rng.shuffle(combos)
    for combo in combos:
        codes = np.zeros(ds.rows, dtype="int64")
        for column in combo:
            codes = codes * len(dims[column].labels) + dims[column].codes
        values, counts = np.unique(codes, return_counts=True)
        for code in values[counts == 1]:
            row = int(np.flatnonzero(codes == code)[0])
            labels = {c: dims[c].labels[dims[c].codes[row]] for c in combo}
            if any(label == "(missing)" for label in labels.values()):
                continue
            varying = rng.choice(list(combo))
            found.append(Lone(row, {c: v for c, v in labels.items() if c != varying}, varying, labels[varying]))
        if len(found) >= limit:
            break
    rng.shuffle(found)
    return found[:limit]


def where_splits(ds: Any, policy: Any, lone: Lone, rng: random.Random, tries: int) -> list[tuple[dict, list[dict]]]:
    """Calls that isolate the lone person: (where with them, [wheres that together hold everyone else in it])."""
    labels = [label for label in build_dimension(ds, lone.varying, policy).labels if label != "(missing)"]
    others = [label for label in labels if label != lone.value]
    out = []
    for _ in range(tries):
        if not others:
            break
        chosen = rng.sample(others, rng.randint(1, len(others)))
        with_person = {**lone.fixed, lone.varying: [lone.value, *chosen]}
        out.append((with_person, [{**lone.fixed, lone.varying: chosen}]))  # a pair
        if len(chosen) >= 2:
            cut = rng.randint(1, len(chosen) - 1)
            out.append((with_person, [{**lone.fixed, lone.varying: chosen[:cut]},
                                      {**lone.fixed, lone.varying: chosen[cut:]}]))  # a triple
    return out


class Calls:
    """Runs a tool function once per distinct call (the adversary reuses calls across attempts)."""

    def __init__(self, run: Callable[[dict], Any]) -> None:
        self.run = run
        self.cache: dict[str, Any] = {}

    def __call__(self, where: dict) -> Any:
        key = repr(sorted((k, sorted(v) if isinstance(v, list) else v) for k, v in where.items()))
        if key not in self.cache:
            try:
                self.cache[key] = self.run(where)
            except InputError:
                self.cache[key] = None  # refused (a suppressed filter, a small complement …)
        return self.cache[key]


def rows_of(ds: Any, policy: Any, where: dict) -> np.ndarray:
    scope = parse_where(ds, where, policy)
    return scope.rows if scope.active else np.ones(ds.rows, dtype=bool)


def split_rows(ds: Any, policy: Any, with_person: Any, parts: Sequence[Any]) -> tuple[Any, list[Any], Any]:
    """The rows the call with the person covers, the rows of each part, and the parts' union."""
    whole = rows_of(ds, policy, with_person)
    pieces = [rows_of(ds, policy, part) for part in parts]
    union = np.zeros(ds.rows, dtype=bool)
    for piece in pieces:
        union |= piece
    return whole, pieces, union


def where_attack(report: Report, family: str, ds: Any, policy: Any, mode: str, lones: Sequence[Lone],
                 rng: random.Random, call: Calls, read: Callable[[Any], Any], kind: str, truth_of: Callable,
                 domain: np.ndarray | None = None, tries: int = 3, budget: int = 10**6) -> None:
    """Pairs and triples of `where` calls around each lone person.

    ``read(result, row)`` gives what the call shows about the attribute of the person in ``row``: for
    ``kind='binary'`` (shown count of people with it, capped?), for ``'numeric'`` (shown sum, true largest |value|
    in the set, resolution) — or None when the call shows nothing about it. ``truth_of(row)`` is the true value."""
    for lone in lones:
        if report.attempts[family] >= budget:
            return
        for with_person, parts in where_splits(ds, policy, lone, rng, tries):
            whole, pieces, union = split_rows(ds, policy, with_person, parts)
            difference = whole & ~union
            if int(difference.sum()) != 1 or int(np.flatnonzero(difference)[0]) != lone.row or \
                    any((a & b).any() for a, b in itertools.combinations(pieces, 2)) or (union & ~whole).any():
                continue  # not an isolation (a filter value that selects everyone was dropped, say)
            shown = [read(call(w), lone.row) for w in [with_person, *parts]]
            if any(s is None for s in shown):
                report.refused[family] += 1
                continue
            truth = truth_of(lone.row)
            if kind == "binary":
                possible = binary_outcomes(shown[0], shown[1:], mode)
                report.difference(family, shown[0][0] - sum(part[0] for part in shown[1:]), truth)
            else:
                assert domain is not None
                bounds = [(s[0], magnitude_bound(s[1], s[2], mode)) for s in shown]
                possible = set(numeric_outcomes(bounds[0], bounds[1:], domain, mode).tolist())
            assert truth in possible, (family, with_person, parts, shown, truth, possible)  # the harness is honest
            report.attempt(family, len(possible) == 1, truth, possible,
                           f"{ds.source.get('name') if isinstance(ds.source, dict) else ''} {with_person} − {parts}")


def numeric_reader(values: np.ndarray, mean_of: Callable[[Any], float | None]) -> Callable[[Any, int], Any]:
    """For results that carry (rows, result) — the rows the call covered — and show a mean of ``values``: (shown
    mean × true n, true largest |value|, the column's resolution). The observer is given the true n and the true
    largest value: more than anyone outside the server knows."""
    resolution = column_resolution(values)

    def read(covered: Any, row: int) -> Any:
        if covered is None:
            return None
        rows, result = covered
        mean = mean_of(result)
        if mean is None:
            return None
        present = rows & np.isfinite(values)
        n = int(present.sum())
        return (mean * n, float(np.abs(values[present]).max()) if n else 0.0, resolution)

    return read


def time_point_attack(report: Report, family: str, run: Callable[[list[float]], Any], durations: np.ndarray,
                      usable: np.ndarray, groups: dict[str, np.ndarray], mode: str, rng: random.Random, calls: int,
                      whole_units: bool) -> None:
    """retention_curve at-risk counts at points bracketing one person's tenure: at risk at t minus at risk at
    t + step is the people whose tenure is in [t, t + step); the points are chosen at tenures that one person of a
    group holds alone, so each pair of points isolates someone."""
    step = 1.0 if whole_units else 0.5
    alone: list[float] = []
    for members in groups.values():
        values, counts = np.unique(durations[members & usable], return_counts=True)
        alone += [float(v) for v in values[counts == 1] if v > 0]
    alone = sorted(set(alone))
    rng.shuffle(alone)
    for call in range(calls):
        chosen = alone[call * 10:(call + 1) * 10]
        if not chosen:
            break
        points = sorted({p for v in chosen for p in (v, v + step)})[:20]
        result = run(points)
        if result is None:
            report.refused[family] += 1
            continue
        for group in result.groups:
            members = groups.get(group.label)
            if group.suppressed or members is None:
                continue
            at_risk = [r.at_risk for r in group.retention]
            for i in range(len(points) - 1):
                inside = members & usable & (durations >= points[i]) & (durations < points[i + 1])
                if int(inside.sum()) != 1 or at_risk[i] is None or at_risk[i + 1] is None:
                    continue
                # at risk at points[i] = at risk at points[i+1] + the x people in between (x = 1 here)
                possible = {x for x in range(0, 3) if _overlaps(possible_counts(at_risk[i], mode), _shifted(
                    possible_counts(at_risk[i + 1], mode), x))}
                report.attempt(family, possible == {1}, 1, possible, f"{group.label} tenure in [{points[i]}, "
                                                                     f"{points[i + 1]})")


def _shifted(counts: range, by: int) -> range:
    return range(counts.start + by, counts.stop + by)


def period_attack(report: Report, family: str, run: Callable[[str], Any], terminations: np.ndarray,
                  groups: dict[str, np.ndarray], days: Sequence[int], mode: str) -> None:
    """turnover_breakdown periods ending one day apart, from the same start: the leavers of the later one minus the
    earlier one's are the people who left on that day (a termination date)."""
    import datetime as dt

    def iso(day: int) -> str:
        return (dt.date(1970, 1, 1) + dt.timedelta(days=int(day))).isoformat()

    cache: dict[int, Any] = {}

    def result(day: int) -> Any:
        if day not in cache:
            cache[day] = run(iso(day))
        return cache[day]

    for day in days:
        earlier, later = result(day), result(day + 1)
        if earlier is None or later is None:
            report.refused[family] += 1
            continue
        rows_earlier = {r.label: r for r in earlier.rows}
        for row in later.rows:
            before = rows_earlier.get(row.label)
            members = groups.get(row.label)
            if members is None or before is None or row.suppressed or before.suppressed:
                continue
            if int((members & (terminations == day + 1)).sum()) != 1:
                continue
            possible = {x for x in (0, 1, 2) if _overlaps(possible_counts(row.leavers, mode),
                                                          _shifted(possible_counts(before.leavers, mode), x))}
            report.attempt(family, possible == {1}, 1, possible, f"{row.label} left on {iso(day + 1)}")


def bins_attack(report: Report, family: str, run: Callable[[int], Any], values: np.ndarray, mode: str,
                bands_range: Iterable[int] = range(2, 11)) -> int:
    """Every banding the tool offers for a numeric column: pairs of bands (from any two calls) whose people differ by
    exactly one. Returns how many such pairs exist (with server bands: none)."""
    bands: list[tuple[np.ndarray, int]] = []
    for count in bands_range:
        result = run(count)
        if result is None:
            report.refused[family] += 1
            continue
        for row in result.rows:
            members = _band_members(row.label, values)
            if members is not None and not row.suppressed:
                bands.append((members, row.leavers))
    pairs = 0
    for (a, leavers_a), (b, leavers_b) in itertools.combinations(bands, 2):
        big, small, shown_big, shown_small = (a, b, leavers_a, leavers_b) if a.sum() >= b.sum() else \
            (b, a, leavers_b, leavers_a)
        if (small & ~big).any() or int((big & ~small).sum()) != 1:
            continue
        pairs += 1
        possible = binary_outcomes((shown_big, False), [(shown_small, False)], mode)
        report.attempt(family, len(possible) == 1, None, possible, "bands one person apart")
    return pairs


def _band_members(label: str, values: np.ndarray) -> np.ndarray | None:
    """The rows of a band label as the tools write them: '<= a', 'a–b' (a < x <= b), '> b'."""
    finite = np.isfinite(values)
    try:
        if label.startswith("<= "):
            return finite & (values <= float(label[3:]))
        if label.startswith("> "):
            return finite & (values > float(label[2:]))
        if "–" in label:
            low, high = (float(part) for part in label.split("–"))
            return finite & (values > low) & (values <= high)
    except ValueError:
        return None
    return None


def resolution_of(values: np.ndarray) -> float:
    return column_resolution(values)


def domain_of(values: np.ndarray) -> np.ndarray:
    return np.unique(values[np.isfinite(values)])


def close_enough(value: float, domain: np.ndarray) -> float:
    return float(domain[np.argmin(np.abs(domain - value))]) if len(domain) else math.nan


def count_probe(report: Report, family: str, ds: Any, policy: Any, mode: str, lones: Sequence[Lone],
                rng: random.Random, call: Calls, truth_call: Calls, read: Callable[[Any], int | None],
                tries: int = 2, budget: int = 10**6) -> None:
    """Counts a tool shows about the people a `where` covers that the adversary cannot name a row attribute for
    (test degrees of freedom, a regression's n, runs of nights, agents): the same pairs and triples of calls as
    :func:`where_attack`, with the truth read from the same calls in ``exact`` mode (``truth_call``). The
    difference the person makes is recovered exactly when one value agrees with the shown figures; an unperturbed
    figure is caught by :meth:`Report.unperturbed`."""
    for lone in lones:
        if report.attempts[family] >= budget:
            return
        for with_person, parts in where_splits(ds, policy, lone, rng, tries):
            whole, pieces, union = split_rows(ds, policy, with_person, parts)
            if int((whole & ~union).sum()) != 1 or any((a & b).any() for a, b in itertools.combinations(pieces, 2)):
                continue
            shown = [read(call(w)) for w in [with_person, *parts]]
            true = [read(truth_call(w)) for w in [with_person, *parts]]
            if any(s is None for s in shown) or any(t is None for t in true):
                report.refused[family] += 1
                continue
            truth = true[0] - sum(true[1:])
            possible = binary_outcomes((shown[0], False), [(s, False) for s in shown[1:]], mode,
                                       values=range(truth - 3, truth + 4))
            report.difference(family, shown[0] - sum(shown[1:]), truth)
            report.attempt(family, possible == {truth}, truth, possible, f"{with_person} − {parts}")
