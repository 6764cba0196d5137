"""The cell key method: figures that cannot be differenced (``protected`` mode), or exact figures (``exact`` mode).

Suppression decides per call which cells to hide, so two calls that slice the same people differently can be
subtracted. The cell key method (Thompson, Broadfoot & Elazar 2013, ABS TableBuilder; ONS 2021 census flexible
tables; generalised to magnitudes by Giessing & Tent 2019) makes the noise a function of *who* is in a cell,
not of the query: the same set of people always gets the same figure, whatever path the query took, and two
sets that differ by one person differ by noise, not by that person.

**Record keys.** Every row r gets a fixed 64-bit key

    k(r) = splitmix64(SipHash-2-4_K(identity(r)) + occurrence(r)·φ),   K = HMAC-SHA256(secret, "record-key")[:12]

where identity(r) is the person's ID (the ``employee_id`` column; a call id in a call log), or — without one —
their other identifying columns (name, e-mail, birth date…), or the whole row; a second row of the same
identity is numbered (rehires: occurrence 0, 1, … in file order). SipHash is the keyed hash pandas' hash_array
uses (96 bits of key here), fast enough for a million IDs in under a second. The ID is what stays with a person
from one export to the next: row order, the number of rows and the other people all change when next quarter's
file adds people, so a key from the ID keeps every person's key, and the same people keep giving the same
figures across files. The secret never leaves the server (``.pseudonym-secret`` in the output folder), so nobody
can compute keys.
Each measure m (a count, the sum of one column) uses its own 32-bit key k_m(r) = high 32 bits of
splitmix64(k(r) XOR h(m)), so the noise of a count tells nothing about the noise of a sum of the same cell.

**Cell keys.** A cell c (any set of rows: a group, a group's leavers, the people at risk at a time) has the
cell key ck_m(c) = (Σ_{r ∈ c} k_m(r)) mod 2³², read as u = (ck + ½) ÷ 2³² ∈ (0, 1). Unions of disjoint
cells add their cell keys, so a margin computed from its cells equals the margin counted directly.

**Counts** (the perturbation table). A count n ≥ 1 is shown as n + e, e drawn from the row of the perturbation
table for n at quantile u (zero stays zero: an empty cell has no keys). Each row is the maximum-entropy
distribution p(e) ∝ exp(a·e + b·e²) on e ∈ [max(−n, −D), D] with

    E[e] = 0 (unbiased),  Var[e] = V,  |e| ≤ D,  n + e ≥ 0;          D = 4, V = 1

(the construction of the ``ptable`` R package, Enderle & Giessing). For n ≥ D every row is the same discretised
Gaussian: P(e = 0) ≈ 0.40, P(±1) ≈ 0.24, P(±2) ≈ 0.05, P(±3) ≈ 0.004, P(±4) ≈ 0.0001. The tails are kept thin
on purpose: an observer who knows D learns a count exactly only when two noises sit at opposite ends
(e.g. +4 and −4), about once in 10⁸ differences.

**Magnitudes** (sums, and means as sum ÷ n). A cell's sum S = Σ x_r is shown as

    S' = S + s·ε,   s = max(m·|x|₍₁₎, δ),   ε = Φ⁻¹(Φ(−E) + u_m·(1 − 2Φ(−E))) ∈ [−E, E];   m = 0.1, E = 4

with |x|₍₁₎ the largest absolute contribution in the cell (ABS's top contributor), δ the column's resolution
(1 for whole numbers) and ε a standard normal truncated at ±E read at the cell's own quantile u_m. A
difference of two sums therefore carries noise of at least δ·√2 standard deviation, enough that a single
person's value (a satisfaction score, an age, a salary) is not pinned down by subtracting two cells. A mean is
S' ÷ n over the n rows with a value.

Rates, intervals and tests are computed from the shown (perturbed) counts and sums. Perturbed figures are
not additive (groups need not sum to the total): that is the price of consistency.
In ``exact`` mode nothing is perturbed and every function here returns the plain count or sum.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:

    from retention_mcp.data.dataset import Dataset

Mode = Literal["exact", "protected"]
MODES: tuple[Mode, ...] = ("exact", "protected")

#: Largest count noise D, and its variance V.
MAX_NOISE = 4
VARIANCE = 1.0
#: Magnitude noise: s = max(MAGNITUDE_SHARE × largest contribution, the column's resolution); ε truncated at ±E.
MAGNITUDE_SHARE = 0.1
MAGNITUDE_BOUND = 4.0
KEY_BITS = 32
_MODULUS = 1 << KEY_BITS
_MASK64 = (1 << 64) - 1


# -- the perturbation table


@functools.lru_cache(maxsize=8)
def perturbation_table(max_noise: int = MAX_NOISE, variance: float = VARIANCE) -> tuple[Any, Any]:
    """(noises, cdf): ``noises`` = −D..D; ``cdf[n]`` the cumulative probabilities of each noise for a count n
    (row 0: zero stays zero; rows 1..D−1 restricted to n + e ≥ 0; row D is every count from D up).

    Each row maximises entropy subject to a zero mean and the variance V (see the module docstring): the solution
    has the form p(e) ∝ exp(a·e + b·e²), found by Newton's method on the two moment equations."""
    import numpy as np

    noises = np.arange(-max_noise, max_noise + 1, dtype="float64")
    cdf = np.zeros((max_noise + 1, len(noises)))
    cdf[0, max_noise:] = 1.0  # n = 0 stays 0
    for n in range(1, max_noise + 1):
        allowed = noises >= -n
        probabilities = np.zeros(len(noises))
        probabilities[allowed] = _max_entropy(noises[allowed], variance)
        cdf[n] = np.cumsum(probabilities)
        cdf[n, -1] = 1.0
    return noises.astype("int64"), cdf


def _max_entropy(support: Any, variance: float) -> Any:
    """p ∝ exp(a·x + b·x²) on ``support`` with mean 0 and the given variance."""
    import numpy as np

    x = np.asarray(support, dtype="float64")
    a, b = 0.0, -0.5 / variance
    target = np.array([0.0, variance])
    for _ in range(100):
        logits = a * x + b * x * x
        p = np.exp(logits - logits.max())
        p /= p.sum()
        moments = np.array([p @ x, p @ (x * x)])
        gap = moments - target
        if np.abs(gap).max() < 1e-13:
            break
        centred = np.vstack([x, x * x])
        mean = centred @ p
        covariance = (centred * p) @ centred.T - np.outer(mean, mean)
        step = np.linalg.solve(covariance, gap)
        a, b = a - step[0], b - step[1]
    else:  # pragma: no cover - the system is smooth and small; reaching here is a bug
        raise ArithmeticError("perturbation table did not converge")
    return p


def count_noise(counts: Any, uniforms: Any, max_noise: int = MAX_NOISE, variance: float = VARIANCE) -> Any:
    """The noise the perturbation table gives each count at its cell key's quantile (0 for a count of 0)."""
    import numpy as np

    noises, cdf = perturbation_table(max_noise, variance)
    counts = np.asarray(counts, dtype="int64")
    uniforms = np.asarray(uniforms, dtype="float64")
    row = np.minimum(counts, max_noise)
    out = np.zeros(counts.shape, dtype="int64")
    for n in range(1, max_noise + 1):
        chosen = row == n
        if chosen.any():
            index = np.searchsorted(cdf[n], uniforms[chosen], side="right")
            out[chosen] = noises[np.minimum(index, len(noises) - 1)]
    return out


def magnitude_noise(uniforms: Any, bound: float = MAGNITUDE_BOUND) -> Any:
    """ε: a standard normal truncated at ±bound, read at each cell's quantile."""
    import numpy as np
    from scipy.special import ndtr, ndtri

    low = float(ndtr(-bound))
    return ndtri(low + np.asarray(uniforms, dtype="float64") * (1 - 2 * low))


# -- record keys


def _splitmix(values: Any) -> Any:
    """splitmix64's finaliser on a uint64 array (a bijective mix: every output bit depends on every input bit)."""
    import numpy as np

    with np.errstate(over="ignore"):
        x = values + np.uint64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


def _hash_key(secret: bytes) -> str:
    """The 16-character SipHash key pandas' hash_array takes, derived from the server secret."""
    import base64

    digest = hmac.new(secret, b"record-key", hashlib.sha256).digest()
    return base64.b64encode(digest[:12]).decode("ascii")  # 12 bytes -> 16 characters (96 bits)


def identity_columns(ds: Dataset) -> list[str]:
    """The columns that say who a row is: the ID, else the other identifying roles, else none (the whole row).

    Found from the headers alone (what a column is called does not change between exports)."""
    from retention_mcp.data.dataset import header_roles

    roles = header_roles(ds)
    for wanted in (("employee_id",), ("call_id",), ("name", "email", "phone", "date_of_birth", "national_id")):
        found = [column for column, role in roles.items() if role in wanted]
        if found:
            return found
    return []


def record_keys(ds: Dataset, secret: bytes) -> Any:
    """uint64 record keys of the dataset's rows (cached on the dataset): see the module docstring."""
    import numpy as np
    import pandas as pd

    fingerprint = hashlib.sha256(secret).digest()[:8]
    cached = ds.cache.get(("record_keys", fingerprint))
    if cached is not None:
        return cached
    if ds.scoped_from is not None:  # a caller's scope of a file: the whole file's keys, so a scope changes none
        whole, rows = ds.scoped_from
        keys = record_keys(whole, secret)
        keys = keys if rows is None else keys[rows]
        ds.cache[("record_keys", fingerprint)] = keys
        return keys
    key = _hash_key(secret)
    columns = identity_columns(ds)
    frame = ds.frame[columns] if columns else ds.frame
    text = pd.DataFrame({str(i): _identity_text(frame[c]) for i, c in enumerate(frame.columns)}) if columns else frame
    hashed = pd.util.hash_pandas_object(text, index=False, hash_key=key, categorize=False).to_numpy(dtype="uint64")
    repeated = pd.Series(hashed).duplicated(keep=False).to_numpy()
    occurrence = np.zeros(len(hashed), dtype="uint64")
    if repeated.any():  # the same identity on several rows (a rehire): number them in file order
        occurrence[repeated] = pd.Series(hashed[repeated]).groupby(hashed[repeated]).cumcount().to_numpy("uint64")
    with np.errstate(over="ignore"):
        keys = _splitmix(hashed + occurrence * np.uint64(0xD1B54A32D192ED03))
    ds.cache[("record_keys", fingerprint)] = keys
    return keys


def _identity_text(column: Any) -> Any:
    """An ID column as text the same way in every export: 1001, 1001.0 and ' 1001 ' are one person."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        numbers = column.astype("float64")
        whole = numbers.where(numbers == numbers.round()).astype("Int64").astype("string")
        return whole.fillna(numbers.astype("string"))
    text = pc.utf8_trim_whitespace(pc.cast(pa.array(column.astype("string[pyarrow]"), from_pandas=True), pa.string()))
    if pc.any(pc.match_substring_regex(text, r"\s\s|[\t\r\n]")).as_py():
        text = pc.replace_substring_regex(text, r"\s+", " ")
    return pd.Series(text, index=column.index, dtype="string[pyarrow]")


def measure_keys(base: Any, measure: str) -> Any:
    """The 32-bit keys of one measure ('count', 'sum:MonthlyIncome' ...), independent of the other measures'."""
    import numpy as np

    salt = int.from_bytes(hashlib.sha256(measure.encode("utf-8")).digest()[:8], "big")
    return (_splitmix(base ^ np.uint64(salt)) >> np.uint64(64 - KEY_BITS)).astype("uint64")


#: Up to this many rows a sum of 32-bit keys is exact in float64 (2^20 × 2^32 < 2^53): one bincount suffices.
EXACT_FLOAT_ROWS = 1 << 20


def key_sums(codes: Any, keys: Any, size: int, rows: Any = None) -> Any:
    """Σ keys mod 2³² per code (0..size−1), exact for any number of rows (in float64 directly up to 2^20 rows,
    else as two 16-bit halves)."""
    import numpy as np

    codes = np.asarray(codes)
    if rows is not None:
        codes, keys = codes[rows], keys[rows]
    if len(codes) <= EXACT_FLOAT_ROWS:
        total = np.bincount(codes, weights=keys.astype("float64"), minlength=size)
        return np.mod(total, float(_MODULUS)).astype("uint64")
    low = np.bincount(codes, weights=(keys & np.uint64(0xFFFF)).astype("float64"), minlength=size)
    high = np.bincount(codes, weights=(keys >> np.uint64(16)).astype("float64"), minlength=size)
    low = np.mod(low, float(_MODULUS)).astype("uint64")
    high = np.mod(high, 65536.0).astype("uint64")
    return (low + (high << np.uint64(16))) & np.uint64(_MODULUS - 1)


def uniforms(cell_keys: Any) -> Any:
    """A cell key read as a quantile in (0, 1)."""
    import numpy as np

    return (np.asarray(cell_keys, dtype="float64") + 0.5) / _MODULUS


# -- tallies: counts with their cell keys, and sums with theirs


@dataclass
class Tally:
    """Counts of rows per cell and, in protected mode, the cells' keys (Σ record keys mod 2³²)."""

    n: Any  # int64 array
    key: Any = None  # uint64 array, None in exact mode

    def __add__(self, other: Tally) -> Tally:
        import numpy as np

        key = None if self.key is None else (self.key + other.key) & np.uint64(_MODULUS - 1)
        return Tally(self.n + other.n, key)

    def __getitem__(self, index: Any) -> Tally:
        return Tally(self.n[index], None if self.key is None else self.key[index])

    def reshape(self, shape: Sequence[int]) -> Tally:
        return Tally(self.n.reshape(shape), None if self.key is None else self.key.reshape(shape))

    def total(self, axis: Any = None) -> Tally:
        """The union of cells along ``axis`` (all cells by default)."""
        import numpy as np

        key = None if self.key is None else np.mod(self.key.sum(axis=axis, dtype="uint64"), np.uint64(_MODULUS))
        return Tally(np.asarray(self.n.sum(axis=axis)), key)

    def compress(self, mask: Any, axis: int) -> Tally:
        import numpy as np

        return Tally(np.compress(mask, self.n, axis=axis),
                     None if self.key is None else np.compress(mask, self.key, axis=axis))

    def from_here_on(self, axis: int = -1) -> Tally:
        """Cumulative unions from each position to the end of ``axis`` (e.g. the people still at risk)."""
        import numpy as np

        n = np.flip(np.cumsum(np.flip(self.n, axis), axis=axis), axis)
        key = None
        if self.key is not None:
            key = np.flip(np.mod(np.cumsum(np.flip(self.key, axis), axis=axis, dtype="uint64"),
                                 np.uint64(_MODULUS)), axis)
        return Tally(n, key)


@dataclass
class Magnitude:
    """Sums of a column per cell with what the magnitude method needs: contributors, the largest |x|, the key."""

    n: Any  # rows with a value
    total: Any  # Σ x
    top: Any  # max |x|
    key: Any = None
    resolution: float = 1.0

    def __getitem__(self, index: Any) -> Magnitude:
        return Magnitude(self.n[index], self.total[index], self.top[index],
                         None if self.key is None else self.key[index], self.resolution)


# -- the counter tools use


class Cells:
    """How a tool counts and sums the rows of one dataset: exactly, or perturbed by the cell key method.

    Every figure about people goes through here, so no tool reimplements the method. ``codes`` give each row a
    cell (0..size−1); ``rows`` (a boolean mask) picks the rows counted."""

    def __init__(self, keys: Any = None, *, max_noise: int = MAX_NOISE, variance: float = VARIANCE,
                 magnitude_share: float = MAGNITUDE_SHARE, magnitude_bound: float = MAGNITUDE_BOUND) -> None:
        self._base = keys
        self._measures: dict[str, Any] = {}
        self.max_noise = max_noise
        self.variance = variance
        self.magnitude_share = magnitude_share
        self.magnitude_bound = magnitude_bound

    @property
    def protected(self) -> bool:
        return self._base is not None

    @property
    def mode(self) -> Mode:
        return "protected" if self.protected else "exact"

    def keys(self, measure: str = "count") -> Any:
        if measure not in self._measures:
            self._measures[measure] = measure_keys(self._base, measure)
        return self._measures[measure]

    # counts

    def tally(self, codes: Any, size: int, rows: Any = None) -> Tally:
        import numpy as np

        codes = np.asarray(codes, dtype="int64")
        n = np.bincount(codes[rows] if rows is not None else codes, minlength=size).astype("int64")
        key = key_sums(codes, self.keys(), size, rows) if self.protected else None
        return Tally(n, key)

    def tally_rows(self, rows: Any) -> Tally:
        """One cell: the rows of a mask."""
        import numpy as np

        rows = np.asarray(rows, dtype=bool)
        return self.tally(np.zeros(len(rows), dtype="int64"), 1, rows)[0]

    def shown(self, tally: Tally) -> Any:
        """The counts as shown: exact, or n + e from the perturbation table at each cell's key."""
        import numpy as np

        n = np.asarray(tally.n, dtype="int64")
        if not self.protected:
            return n
        return n + count_noise(n, uniforms(tally.key), self.max_noise, self.variance)

    def counts(self, codes: Any, size: int, rows: Any = None) -> Any:
        return self.shown(self.tally(codes, size, rows))

    def count(self, rows: Any) -> int:
        return int(self.shown(self.tally_rows(rows)))

    # magnitudes

    def magnitude(self, values: Any, codes: Any, size: int, rows: Any = None, *, measure: str,
                  resolution: float | None = None) -> Magnitude:
        """Per cell: rows with a finite value, their sum, the largest |value| and the cell key of ``measure``."""
        import numpy as np

        values = np.asarray(values, dtype="float64")
        codes = np.asarray(codes, dtype="int64")
        keep = np.isfinite(values) if rows is None else (np.asarray(rows, dtype=bool) & np.isfinite(values))
        c, x = codes[keep], values[keep]
        n = np.bincount(c, minlength=size).astype("int64")
        total = np.bincount(c, weights=x, minlength=size)
        top = np.zeros(size)
        if len(c):
            np.maximum.at(top, c, np.abs(x))
        key = key_sums(codes, self.keys("sum:" + measure), size, keep) if self.protected else None
        return Magnitude(n, total, top, key, resolution if resolution else column_resolution(x))

    def sums(self, magnitude: Magnitude) -> Any:
        """Σ x as shown: exact, or S + s·ε (the magnitude method)."""
        import numpy as np

        total = np.asarray(magnitude.total, dtype="float64")
        if not self.protected:
            return total
        scale = np.maximum(self.magnitude_share * np.asarray(magnitude.top, dtype="float64"), magnitude.resolution)
        noise = scale * magnitude_noise(uniforms(magnitude.key), self.magnitude_bound)
        return np.where(np.asarray(magnitude.n) > 0, total + noise, total)

    def means(self, magnitude: Magnitude) -> Any:
        """Shown sum ÷ rows with a value (NaN for an empty cell)."""
        import numpy as np

        n = np.asarray(magnitude.n, dtype="float64")
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(n > 0, self.sums(magnitude) / np.where(n > 0, n, 1.0), np.nan)

    def mean(self, values: Any, rows: Any, *, measure: str, resolution: float | None = None) -> float | None:
        """One cell's mean (None without values)."""
        import numpy as np

        values = np.asarray(values, dtype="float64")
        magnitude = self.magnitude(values, np.zeros(len(values), dtype="int64"), 1, rows, measure=measure,
                                   resolution=resolution)
        value = float(self.means(magnitude)[0])
        return value if math.isfinite(value) else None

    def over(self, positions: Any, labels: Any = None) -> CellsView:
        """Counts and means over a table whose rows are ``positions`` of this dataset (a pandas frame of the rows
        in scope, a per-contact frame): masks and values are then given over those rows (``labels``: that
        table's index, to place other frames' rows on it)."""
        import numpy as np

        return CellsView(self, np.asarray(positions, dtype="int64"), labels)

    # words

    def parameters(self) -> dict[str, float]:
        return {"max_noise": self.max_noise, "variance": self.variance, "magnitude_share": self.magnitude_share,
                "magnitude_bound": self.magnitude_bound}


@dataclass
class CellsView:
    """:class:`Cells` seen from a table of some of the dataset's rows (``positions``): the same figures, asked
    with masks and values over that table's rows."""

    cells: Cells
    positions: Any
    labels: Any = None  # the table's index (pandas), when other frames' rows are placed on it

    @property
    def protected(self) -> bool:
        return self.cells.protected

    def full(self, mask: Any) -> Any:
        """A mask over the table's rows as a mask over the dataset's rows."""
        import numpy as np

        out = np.zeros(self._size, dtype=bool)
        out[self.positions[np.asarray(mask, dtype=bool)]] = True
        return out

    @property
    def _size(self) -> int:
        base = self.cells._base
        if base is not None:
            return len(base)
        return int(self.positions.max()) + 1 if len(self.positions) else 0

    def _spread(self, values: Any, fill: Any) -> Any:
        """Per-row values of the table placed at their dataset rows (``fill`` elsewhere)."""
        import numpy as np

        values = np.asarray(values)
        out = np.full(self._size, fill, dtype=values.dtype)
        out[self.positions] = values
        return out

    def count(self, mask: Any) -> int:
        return max(0, self.cells.count(self.full(mask)))

    def counts(self, codes: Any, size: int, mask: Any = None) -> Any:
        import numpy as np

        rows = self.full(np.ones(len(self.positions), dtype=bool) if mask is None else mask)
        return np.maximum(self.cells.counts(self._spread(np.asarray(codes, dtype="int64"), 0), size, rows), 0)

    def sums(self, values: Any, codes: Any, size: int, mask: Any = None, *, measure: str) -> tuple[Any, Any]:
        """(rows with a value, shown sums) per code."""
        import numpy as np

        rows = self.full(np.ones(len(self.positions), dtype=bool) if mask is None else mask)
        magnitude = self.cells.magnitude(self._spread(np.asarray(values, dtype="float64"), np.nan),
                                         self._spread(np.asarray(codes, dtype="int64"), 0), size, rows,
                                         measure=measure)
        return magnitude.n, self.cells.sums(magnitude)

    def mean(self, values: Any, mask: Any, *, binary: bool = False, measure: str) -> float | None:
        """Mean of ``values`` over ``mask``: a yes/no value as yeses ÷ rows (two counts), a number by the magnitude
        method."""
        import numpy as np

        values = np.asarray(values, dtype="float64")
        present = np.asarray(mask, dtype=bool) & np.isfinite(values)
        n = self.count(present)
        if n <= 0:
            return None
        if binary:
            return min(1.0, self.count(present & (values > 0.5)) / n)
        return self.cells.mean(self._spread(values, np.nan), self.full(present), measure=measure)


def column_resolution(values: Any) -> float:
    """How finely values are recorded: 1 for whole numbers, else the smallest gap between distinct values (at
    most 1)."""
    import numpy as np

    finite = np.asarray(values, dtype="float64")
    finite = finite[np.isfinite(finite)]
    if not len(finite) or bool(np.all(finite == np.round(finite))):
        return 1.0
    distinct = np.unique(finite)
    gaps = np.diff(distinct)
    gaps = gaps[gaps > 1e-12]
    return float(min(1.0, gaps.min())) if len(gaps) else 1.0


def mode_statement(mode: str, floor: int, language: str = "en", settings: Any = None) -> str:
    """The line every result about people's data ends with: the privacy mode and, when protected, its
    parameters (``tools/wording/privacy.yaml``)."""
    from retention_mcp.wording import words

    w = words(language if language in ("en", "zh") else "en", settings)
    return w(f"privacy.{mode}", k=floor, max_noise=MAX_NOISE, variance=VARIANCE, bound=MAGNITUDE_BOUND,
             share=MAGNITUDE_SHARE)
