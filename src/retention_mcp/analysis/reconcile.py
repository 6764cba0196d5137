"""Where the systems disagree: the reconciliation report of a linked dataset — counts only, never people.

For every pair of files that both record a fact about the population's people:

- **presence**: people in both files, in the first only, in the second only;
- **status**: leaver in one and active in the other (a person's status in a file is that of their latest row:
  latest hire date in the population, latest ``order_by`` value in a file with several rows per person);
- **termination date**: within ``tolerance_days`` of each other (agree), further apart, or in one file only;
- **department**: the same after trimming and case folding, or not (with the commonest differing pairs, each
  shared by at least k people);
- **headcount on a date**: who each file counts as employed on ``on`` — from hire and termination dates, from a
  termination date and presence, from a status, or from a record (attendance day, payroll month) in the
  ``window_days`` ending on it.

Within each file: rows, people, people with several rows, exact duplicate rows, rehires (several population rows
with different hire dates), the same person twice for one ``order_by`` value (a cycle rated twice), rows whose
person is not in the population, and rows whose name matched several people. And the rule every tool uses.

Every count passes the disclosure policy: a count of 1 to k − 1 is hidden, and so is any count that would give
it away by subtraction from the counts beside it (the line's total, a file's people).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from retention_mcp.data.dataset import NO_DATE, Dataset, date_to_day, day_to_date
from retention_mcp.data.disclosure import Policy, suppress
from retention_mcp.errors import InputError
from retention_mcp.runtime.spec import Evidenced
from retention_mcp.wording import words

if TYPE_CHECKING:
    import numpy as np

    from retention_mcp.data.linked import FileLink

Fact = Literal["presence", "status", "termination_date", "department", "headcount"]
DEFAULT_TOLERANCE_DAYS = 30
DEFAULT_WINDOW_DAYS = 7
#: Most differing department pairs named per file pair.
MAX_DEPARTMENT_PAIRS = 5


class Count(BaseModel):
    kind: str = Field(description="what is counted, e.g. agree, leaver_in_a_active_in_b, only_in_a")
    count: int | None = Field(description="people (or rows); None when hidden (1 to k − 1, or it would give a "
                              "hidden count away by subtraction)")


class PairFact(BaseModel):
    fact: Fact
    file_a: str
    file_b: str
    compared: int | None = Field(description="people the comparison covers (None: hidden)")
    counts: list[Count] = Field(description="agree and each kind of disagreement; they add up to compared")
    note: str | None = None


class FileCheck(BaseModel):
    file: str
    role: Literal["population", "joined"]
    key: list[str] = Field(description="the columns that name the person (never shown as values)")
    matched_on: list[str] = Field(description="the population's columns the key is compared with")
    rows_per_person: Literal["one", "many"]
    counts: list[Count] = Field(description="rows, people, people_with_several_rows, exact_duplicate_rows, "
                                "rehires, same_person_same_period, rows_matched, rows_outside_population, "
                                "rows_ambiguous_name")
    adds: list[str] = Field(description="the columns this file adds to the linked table, each with its rule")


class ReconcileResult(Evidenced):
    dataset: str
    version: int
    population: str
    on: str = Field(description="the date headcounts are compared on (ISO)")
    window_days: int
    tolerance_days: int
    min_group_size: int
    files: list[FileCheck]
    pairs: list[PairFact]
    rules: list[str] = Field(description="the rule every tool uses on this dataset")


# -- per person facts of one file


class _Facts:
    """One file's facts per population person (arrays over persons; people absent from the file: missing)."""

    def __init__(self, link: FileLink, persons: int, on: int, window: int) -> None:
        import numpy as np

        ds = link.source
        self.name = link.spec.path
        person = np.asarray(link.person)
        rows = np.flatnonzero(person >= 0)
        self.present = np.zeros(persons, dtype=bool)
        self.present[person[rows]] = True
        # The row that speaks for a person: the latest (hire date in the population, order_by elsewhere).
        order = np.zeros(len(person), dtype="float64")
        if link.spec.order_by is not None:
            from retention_mcp.data.linked import order_values

            order = np.asarray(order_values(ds, link.spec.order_by).to_numpy(zero_copy_only=False))
        elif ds.hire is not None:
            order = np.where(ds.hire == NO_DATE, -np.inf, ds.hire.astype("float64"))
        ranked = rows[np.lexsort((rows, order[rows], person[rows]))]
        last = np.ones(len(ranked), dtype=bool)
        last[:-1] = person[ranked][1:] != person[ranked][:-1]
        chosen = ranked[last]
        owner = person[chosen]

        self.leaver = None  # float: 1 leaver, 0 active, NaN unknown
        if ds.leaver is not None:
            self.leaver = np.full(persons, np.nan)
            self.leaver[owner] = ds.leaver[chosen].astype("float64")
        self.term = None
        if ds.term is not None and ds.roles.get("termination_date") is not None:
            self.term = np.full(persons, NO_DATE, dtype="int64")
            self.term[owner] = ds.term[chosen]
        self.department = None
        if (column := ds.roles.get("department")) is not None:
            from retention_mcp.data.linked import _arrow, normalise_names

            codes, labels = _department_codes(normalise_names(_arrow(ds.frame[column])))
            self.department = np.full(persons, -1, dtype="int64")
            self.department[owner] = codes[chosen]
            self.department_labels = labels
            self.department_shown = _shown_labels(ds.frame[column], codes, len(labels))
        self.headcount, self.headcount_rule = self._headcount(link, person, rows, owner, chosen, on, window, persons)

    def _headcount(self, link: FileLink, person: Any, rows: Any, owner: Any, chosen: Any, on: int, window: int,
                   persons: int) -> tuple[Any, tuple[str, dict[str, Any]] | None]:
        import numpy as np

        ds = link.source
        counted = np.zeros(persons, dtype=bool)
        if ds.hire is not None and ds.term is not None and ds.roles.get("hire_date") is not None:
            employed = rows[(ds.hire[rows] <= on) & ((ds.term[rows] == NO_DATE) | (ds.term[rows] >= on))]
            counted[person[employed]] = True
            return counted, ("hired", {})
        if self.term is not None:
            active = self.present & ((self.term == NO_DATE) | (self.term >= on))
            if self.leaver is not None:
                active &= ~((self.leaver == 1) & (self.term == NO_DATE))
            return active, ("no_termination", {})
        if self.leaver is not None:
            return self.present & (self.leaver == 0), ("not_leaver", {})
        if link.spec.order_by is not None:
            from retention_mcp.data.dataset import day_numbers
            from retention_mcp.data.dates import parse_dates

            parsed = parse_dates(ds.frame[link.spec.order_by])
            if parsed.values.notna().sum() >= 0.9 * max(1, ds.frame[link.spec.order_by].notna().sum()):
                days = day_numbers(parsed.values)
                in_window = (days != NO_DATE) & (days <= on) & (days > on - window)
                # A file of records counts people only where it keeps records day by day around the date
                # (attendance): records on at least half the window's days. Training sessions do not.
                if 2 * len(np.unique(days[in_window])) >= window:
                    counted[person[rows[in_window[rows]]]] = True
                    return counted, ("records", {"window": window})
        return None, None


def _department_codes(values: Any) -> tuple[Any, list[str]]:
    import numpy as np

    encoded = values.dictionary_encode()
    codes = np.asarray(encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False), dtype="int64")
    return codes, [str(v) for v in encoded.dictionary.to_pylist()]


def _shown_labels(column: Any, codes: Any, count: int) -> list[str]:
    """A readable label per normalised department (the first spelling the file uses)."""
    import numpy as np

    shown = [""] * count
    positions = np.full(count, -1)
    valid = np.flatnonzero(codes >= 0)
    first = np.unique(codes[valid], return_index=True)
    positions[first[0]] = valid[first[1]]
    values = column.to_numpy()
    for code, row in enumerate(positions):
        if row >= 0:
            shown[code] = str(values[row]).strip()
    return shown


# -- the report


def _hidden(counts: Sequence[int], k: int) -> tuple[list[int | None], int | None]:
    """Counts of one line and their total: each hidden where small or where it would give a hidden one away."""
    import numpy as np

    lattice = suppress(np.asarray(counts, dtype="float64"), k)
    total = None if bool(lattice[()]) else int(sum(counts))
    return [None if h else int(c) for c, h in zip(counts, lattice[(0,)], strict=True)], total


def _two_by_two(both: int, only_a: int, only_b: int, k: int) -> tuple[list[int | None], int | None, int | None]:
    """(both, only_a, only_b) and the totals of a and b, hidden as a 2 × 2 table whose margins are public."""
    import numpy as np

    lattice = suppress(np.array([[both, only_a], [only_b, 0]], dtype="float64"), k)
    cells = lattice[(0, 1)]
    shown = [None if cells[0, 0] else both, None if cells[0, 1] else only_a, None if cells[1, 0] else only_b]
    total_a = None if lattice[(0,)][0] else both + only_a
    total_b = None if lattice[(1,)][0] else both + only_b
    return shown, total_a, total_b


def _line(fact: Fact, a: _Facts, b: _Facts, compared: int, kinds: Sequence[tuple[str, int]], k: int,
          note: str | None = None) -> PairFact:
    shown, total = _hidden([count for _, count in kinds], k)
    assert sum(count for _, count in kinds) == compared
    return PairFact(fact=fact, file_a=a.name, file_b=b.name, compared=total,
                    counts=[Count(kind=kind, count=count) for (kind, _), count in zip(kinds, shown, strict=True)],
                    note=note)


def compare(a: _Facts, b: _Facts, k: int, tolerance: int, w: Any = None) -> list[PairFact]:
    """The facts two files both record, compared over the people in both (notes in ``w``'s language)."""
    import numpy as np

    out: list[PairFact] = []
    both = a.present & b.present
    cells, total_a, total_b = _two_by_two(int(both.sum()), int((a.present & ~b.present).sum()),
                                          int((b.present & ~a.present).sum()), k)
    out.append(PairFact(fact="presence", file_a=a.name, file_b=b.name, compared=None, counts=[
        Count(kind="in_a", count=total_a), Count(kind="in_b", count=total_b), Count(kind="in_both", count=cells[0]),
        Count(kind="only_in_a", count=cells[1]), Count(kind="only_in_b", count=cells[2])]))
    if a.leaver is not None and b.leaver is not None:
        known = both & ~np.isnan(a.leaver) & ~np.isnan(b.leaver)
        la, lb = a.leaver[known] == 1, b.leaver[known] == 1
        out.append(_line("status", a, b, int(known.sum()), [
            ("agree", int((la == lb).sum())), ("leaver_in_a_active_in_b", int((la & ~lb).sum())),
            ("active_in_a_leaver_in_b", int((~la & lb).sum()))], k))
    if a.term is not None and b.term is not None:
        has_a, has_b = both & (a.term != NO_DATE), both & (b.term != NO_DATE)
        dated = has_a & has_b
        gap = np.abs(a.term[dated] - b.term[dated])
        out.append(_line("termination_date", a, b, int((has_a | has_b).sum()), [
            ("agree", int((gap <= tolerance).sum())), ("more_than_days_apart", int((gap > tolerance).sum())),
            ("date_only_in_a", int((has_a & ~has_b).sum())), ("date_only_in_b", int((has_b & ~has_a).sum()))], k))
    if a.department is not None and b.department is not None:
        known = both & (a.department >= 0) & (b.department >= 0)
        same = np.array([a.department_labels[i] for i in a.department[known]], dtype=object) == np.array(
            [b.department_labels[i] for i in b.department[known]], dtype=object)
        out.append(_line("department", a, b, int(known.sum()), [
            ("agree", int(same.sum())), ("different_department", int((~same).sum()))], k,
            note=_department_pairs(a, b, known, same, k)))
    if a.headcount is not None and b.headcount is not None:
        counted_a, counted_b = a.headcount, b.headcount
        cells, total_a, total_b = _two_by_two(int((counted_a & counted_b).sum()), int((counted_a & ~counted_b).sum()),
                                              int((counted_b & ~counted_a).sum()), k)
        out.append(PairFact(fact="headcount", file_a=a.name, file_b=b.name, compared=None, counts=[
            Count(kind="headcount_a", count=total_a), Count(kind="headcount_b", count=total_b),
            Count(kind="counted_by_both", count=cells[0]), Count(kind="only_by_a", count=cells[1]),
            Count(kind="only_by_b", count=cells[2])],
            note=(w or words("en")).semicolon.join(f"{f.name}{(w or words('en')).colon}{_rule(f, w)}" for f in (a, b))))
    return out


def _rule(facts: _Facts, w: Any) -> str:
    """How a file counts its headcount on the date, in ``w``'s language."""
    key, fields = facts.headcount_rule or ("none", {})
    return (w or words("en"))(f"reconcile.headcount_rule.{key}", **fields)


def _department_pairs(a: _Facts, b: _Facts, known: Any, same: Any, k: int) -> str | None:
    """The commonest (department in a → in b) pairs among those who differ, each shared by at least k people."""
    from collections import Counter

    pairs = Counter(zip(a.department[known][~same].tolist(), b.department[known][~same].tolist(), strict=True))
    shown = [f"{a.department_shown[x]} → {b.department_shown[y]}: {n}" for (x, y), n in pairs.most_common()
             if n >= k][:MAX_DEPARTMENT_PAIRS]
    return "; ".join(shown) or None


def _distinct(values: np.ndarray) -> np.ndarray:
    """The distinct values, sorted (a sort: numpy's hash-based unique is several times slower on millions)."""
    import numpy as np

    ordered = np.sort(values, kind="stable")
    if not len(ordered):
        return ordered
    return ordered[np.concatenate([[True], ordered[1:] != ordered[:-1]])]


def file_checks(ds: Dataset, policy: Policy) -> list[FileCheck]:
    """Per file of a linked dataset: rows, people, duplicates, rehires, matches (counts through the policy)."""
    import numpy as np

    from retention_mcp.data.engine import distinct_rows
    from retention_mcp.data.linked import key_values

    info = ds.linked
    k = policy.floor
    out = []
    for position, link in enumerate(info.files):
        source = link.source
        rows = len(source.frame)
        # Keys as numbers (one per distinct key): counting millions of rows by them costs no Python strings.
        codes = key_values(source, link.spec.key).dictionary_encode().indices
        codes = np.asarray(codes.fill_null(-1).to_numpy(zero_copy_only=False), dtype="int64")
        keyed = codes[codes >= 0]
        per_key = np.bincount(keyed) if len(keyed) else np.zeros(0, dtype="int64")
        several = int((per_key > 1).sum())
        counts: list[tuple[str, int]] = [("rows", rows), ("people", int((per_key > 0).sum()))]
        exact = rows - distinct_rows(source.frame)
        if position == 0:
            rehires = 0
            if source.hire is not None:
                present = codes >= 0
                pairs = _distinct(codes[present] * (2**31) + (source.hire[present] % 2**31))
                rehires = int((np.bincount(pairs // 2**31) > 1).sum()) if len(pairs) else 0
            counts += [("people_with_several_rows", several), ("exact_duplicate_rows", exact), ("rehires", rehires)]
            shown = [Count(kind=kind, count=None if 0 < n < k else n) for kind, n in counts]
        else:
            counts += [("people_with_several_rows", several), ("exact_duplicate_rows", exact)]
            if link.spec.rows == "many" and link.spec.order_by is not None:
                import pandas as pd

                period = pd.factorize(source.frame[link.spec.order_by], use_na_sentinel=True)[0].astype("int64")
                present = (codes >= 0) & (period >= 0)
                pairs = codes[present] * (2**31) + period[present]
                counts.append(("same_person_same_period", int(len(pairs) - len(_distinct(pairs)))))
            shown = [Count(kind=kind, count=None if 0 < n < k else n) for kind, n in counts]
            ambiguous = link.ambiguous()
            outside = int(link.outside.sum()) - ambiguous
            line, _ = _hidden([rows - outside - ambiguous, outside, ambiguous], k)
            shown += [Count(kind="rows_matched", count=line[0]), Count(kind="rows_outside_population", count=line[1]),
                      Count(kind="rows_ambiguous_name", count=line[2])]
        out.append(FileCheck(file=link.spec.path, role="population" if position == 0 else "joined",
                             key=list(link.spec.key), matched_on=list(link.spec.match),
                             rows_per_person="one" if position == 0 else link.spec.rows, counts=shown,
                             adds=[f"{output} = {a.describe()}" + (f" by {link.spec.order_by}"
                                                                    if a.rule in ("earliest", "latest") else "")
                                   for output, a in link.added.items()]))
    return out


def rules(ds: Dataset, k: int, w: Mapping[str, Any]) -> list[str]:
    """The rule every tool uses on this linked dataset, in the caller's words."""
    info = ds.linked
    population = info.definition.population.path
    out = [str(w["reconcile.rule_population"]).format(population=population),
           str(w["reconcile.rule_rows"]).format(population=population, rows=f"{ds.rows:,}")]
    for link in info.files[1:]:
        spec = link.spec
        out.append(str(w["reconcile.rule_file"]).format(
            file=spec.path, key=" + ".join(spec.key), match=" + ".join(spec.match), population=population,
            how=w["reconcile.how_id"] if spec.key_kind == "id" else w["reconcile.how_name"],
            rows=w["reconcile.rows_one"] if spec.rows == "one" else w["reconcile.rows_many"],
            order=str(w["reconcile.order"]).format(column=spec.order_by) if spec.order_by else "",
            adds="; ".join(f"{output} = {a.describe()}" for output, a in link.added.items())))
    out.append(str(w["reconcile.rule_missing"]).format(population=population))
    out.append(str(w["reconcile.rule_hidden"]).format(population=population, limit=k - 1))
    return out


def reconcile(ds: Dataset, policy: Policy, *, on: str | None = None, window_days: int = DEFAULT_WINDOW_DAYS,
              tolerance_days: int = DEFAULT_TOLERANCE_DAYS, language: str | None = "en",
              settings: Any = None) -> ReconcileResult:
    """The reconciliation report of a linked dataset (see the module docstring)."""
    if ds.linked is None:
        raise InputError("reconcile_datasets reads a linked dataset: pass its name as path (dataset_link makes one, "
                         "list_datasets lists them)")
    if not 1 <= int(window_days) <= 366 or not 0 <= int(tolerance_days) <= 3660:
        raise InputError("window_days is 1 to 366 and tolerance_days 0 to 3660")
    info = ds.linked
    if on:
        try:
            day = date_to_day(dt.date.fromisoformat(str(on).strip()))
        except ValueError:
            raise InputError(f"on must be a date like '2024-12-31', not {on!r}") from None
    elif ds.as_of is not None:
        day = int(ds.as_of)
    else:
        raise InputError("the population file has no dates to take the headcount date from; give on='2024-12-31'")
    facts = [_Facts(link, info.persons, day, int(window_days)) for link in info.files]
    k = policy.floor
    w = words(language, settings)
    pairs = [fact for i, a in enumerate(facts) for b in facts[i + 1:]
             for fact in compare(a, b, k, int(tolerance_days), w)]
    definition = info.definition
    return ReconcileResult(dataset=definition.name, version=definition.version, population=definition.population.path,
                           on=day_to_date(day).isoformat(), window_days=int(window_days),
                           tolerance_days=int(tolerance_days), min_group_size=k, files=file_checks(ds, policy),
                           pairs=pairs, rules=rules(ds, k, w))


# -- text


def _n(count: int | None, w: Mapping[str, Any], k: int) -> str:
    return str(w["reconcile.hidden"]).format(k=k) if count is None else f"{count:,}"


def reconcile_markdown(result: ReconcileResult, w: Mapping[str, Any]) -> str:
    k = result.min_group_size

    def kind(name: str) -> str:
        return str(w.get(f"reconcile.kind.{name}", name)).format(tolerance=result.tolerance_days)

    lines = [str(w["reconcile.title"]).format(dataset=result.dataset, version=result.version,
                                              population=result.population, on=result.on,
                                              tolerance=result.tolerance_days, window=result.window_days), ""]
    lines += [f"| {w['reconcile.col_file']} | {w['reconcile.col_key']} | " + " | ".join(
        kind(c) for c in ("rows", "people", "people_with_several_rows", "exact_duplicate_rows",
                                       "rehires", "same_person_same_period", "rows_outside_population",
                                       "rows_ambiguous_name")) + " |", "|---|---|" + "---:|" * 8]
    for check in result.files:
        by_kind = {c.kind: c.count for c in check.counts}
        cells = [_n(by_kind[c], w, k) if c in by_kind else "—" for c in (
            "rows", "people", "people_with_several_rows", "exact_duplicate_rows", "rehires", "same_person_same_period",
            "rows_outside_population", "rows_ambiguous_name")]
        lines.append(f"| {check.file} | {' + '.join(check.key)} | " + " | ".join(cells) + " |")
    lines += ["", f"| {w['reconcile.col_fact']} | {w['reconcile.col_pair']} | {w['reconcile.col_compared']} | "
              f"{w['reconcile.col_counts']} |", "|---|---|---:|---|"]
    for pair in result.pairs:
        counts = "; ".join(f"{kind(c.kind)} {_n(c.count, w, k)}" for c in pair.counts)
        compared = "—" if pair.fact in ("presence", "headcount") else _n(pair.compared, w, k)
        lines.append(f"| {w[f'reconcile.facts.{pair.fact}']} | {pair.file_a} ↔ {pair.file_b} | {compared} | "
                     f"{counts} |")
        if pair.note:
            lines.append(f"| | | | {pair.note} |")
    lines += ["", f"**{w['reconcile.rules_heading']}**", *[f"- {rule}" for rule in result.rules], "",
              str(w["reconcile.footer"]).format(k=k)]
    return "\n".join(lines)
