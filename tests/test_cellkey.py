"""The cell key method (retention_mcp.data.cellkey): the perturbation table against an independent construction,
the same people always giving the same figure whatever path, keys that survive next quarter's export, exact mode
untouched, and the magnitude method's bounds."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import optimize, stats

from conftest import make_dataset, policy
from retention_mcp.data.cellkey import (
    MAGNITUDE_BOUND,
    MAX_NOISE,
    VARIANCE,
    Cells,
    count_noise,
    key_sums,
    perturbation_table,
    record_keys,
    uniforms,
)


def probabilities(row: np.ndarray) -> np.ndarray:
    return np.diff(np.concatenate([[0.0], row]))


def test_the_table_for_counts_from_d_up_is_the_discretised_gaussian_with_the_stated_variance() -> None:
    noises, cdf = perturbation_table()
    assert list(noises) == list(range(-MAX_NOISE, MAX_NOISE + 1))
    # Independent construction: p(e) ∝ exp(−λ e²) on −D..D with λ found by a root finder for Var = V.
    e = np.arange(-MAX_NOISE, MAX_NOISE + 1, dtype=float)

    def variance(lam: float) -> float:
        w = np.exp(-lam * e * e)
        return float((w * e * e).sum() / w.sum())

    lam = optimize.brentq(lambda x: variance(x) - VARIANCE, 1e-3, 10)
    expected = np.exp(-lam * e * e) / np.exp(-lam * e * e).sum()
    assert probabilities(cdf[MAX_NOISE]) == pytest.approx(expected, abs=1e-10)


@pytest.mark.parametrize("n", range(1, MAX_NOISE + 1))
def test_every_row_is_unbiased_with_variance_v_and_never_negative(n: int) -> None:
    noises, cdf = perturbation_table()
    p = probabilities(cdf[n])
    assert p.sum() == pytest.approx(1.0, abs=1e-12)
    assert (p >= 0).all()
    assert float(p @ noises) == pytest.approx(0.0, abs=1e-10)
    assert float(p @ noises**2) == pytest.approx(VARIANCE, abs=1e-10)
    assert p[noises < -n].sum() == 0  # n + e >= 0
    assert (p[(noises >= -n)] > 0).all()  # every allowed value possible: nothing pins a count down


def test_zero_stays_zero_and_noise_follows_the_table() -> None:
    assert count_noise(np.zeros(1000, dtype=int), np.linspace(0.001, 0.999, 1000)).tolist() == [0] * 1000
    u = (np.arange(200_000) + 0.5) / 200_000
    noise = count_noise(np.full(len(u), 50), u)
    noises, cdf = perturbation_table()
    observed = np.array([(noise == v).mean() for v in noises])
    assert observed == pytest.approx(probabilities(cdf[MAX_NOISE]), abs=2e-5)


def test_cell_keys_are_uniform_and_add_over_unions() -> None:
    rng = np.random.default_rng(3)
    keys = rng.integers(0, 2**64, size=5000, dtype=np.uint64)
    cells = Cells(keys)
    codes = rng.integers(0, 40, size=5000)
    per_cell = cells.tally(codes, 40)
    # Two cells' union counted directly has the key of the two keys added.
    both = (codes == 3) | (codes == 7)
    direct = cells.tally_rows(both)
    assert int(direct.key) == (int(per_cell.key[3]) + int(per_cell.key[7])) % 2**32
    assert int(direct.n) == int(per_cell.n[3] + per_cell.n[7])
    # A margin of a two-way table equals the one-way table (the same people, the same figure).
    other = rng.integers(0, 5, size=5000)
    crossed = cells.tally(codes * 5 + other, 200).reshape((40, 5)).total(axis=1)
    assert crossed.key.tolist() == per_cell.key.tolist()
    assert cells.shown(crossed).tolist() == cells.shown(per_cell).tolist()
    # Cell keys of many random cells are uniform (Kolmogorov-Smirnov against U(0, 1)).
    many_keys = Cells(rng.integers(0, 2**64, size=200_000, dtype=np.uint64)).keys()
    many = key_sums(rng.integers(0, 3000, size=200_000), many_keys, 3000)
    assert stats.kstest(uniforms(many), "uniform").pvalue > 0.001


def test_the_same_people_give_the_same_count_in_any_order_and_sets_one_apart_differ_by_noise() -> None:
    keys = np.random.default_rng(5).integers(0, 2**64, size=300, dtype=np.uint64)
    cells = Cells(keys)
    people = np.zeros(300, dtype=bool)
    people[10:60] = True
    first = cells.count(people)
    reordered = Cells(keys[::-1]).count(people[::-1])
    assert first == reordered
    # Adding one person changes the cell key completely: over many such pairs, the difference of the shown counts
    # is 1 + (independent noise) − (independent noise), with the variance of two noises (2V), not 0.
    differences = []
    for start in range(0, 240):
        base = np.zeros(300, dtype=bool)
        base[start:start + 40] = True
        plus = base.copy()
        plus[(start + 40) % 300] = True
        differences.append(cells.count(plus) - cells.count(base))
    assert np.mean(differences) == pytest.approx(1.0, abs=0.3)
    assert np.var(differences) == pytest.approx(2 * VARIANCE, rel=0.35)


def test_exact_mode_counts_and_sums_are_untouched() -> None:
    cells = Cells()
    assert not cells.protected
    values = np.array([3.0, 5.0, np.nan, 8.0])
    codes = np.array([0, 0, 1, 1])
    assert cells.counts(codes, 2).tolist() == [2, 2]
    magnitude = cells.magnitude(values, codes, 2, measure="x")
    assert cells.sums(magnitude).tolist() == [8.0, 8.0]
    assert cells.means(magnitude).tolist() == [4.0, 8.0]


def test_magnitude_noise_is_bounded_by_e_times_the_scale_and_zero_mean() -> None:
    rng = np.random.default_rng(11)
    keys = rng.integers(0, 2**64, size=20_000, dtype=np.uint64)
    cells = Cells(keys)
    values = rng.integers(1, 61, size=20_000).astype(float)  # ages, whole years
    codes = rng.integers(0, 2000, size=20_000)
    magnitude = cells.magnitude(values, codes, 2000, measure="age")
    noise = cells.sums(magnitude) - magnitude.total
    scale = np.maximum(0.1 * magnitude.top, 1.0)
    assert (np.abs(noise) <= MAGNITUDE_BOUND * scale + 1e-9).all()
    assert np.mean(noise / scale) == pytest.approx(0.0, abs=0.06)
    assert np.std(noise / scale) == pytest.approx(1.0, abs=0.05)  # a standard normal truncated at ±4
    # A different column of the same cells gets independent noise.
    other = cells.magnitude(values, codes, 2000, measure="distance")
    correlation = np.corrcoef(noise, cells.sums(other) - other.total)[0, 1]
    assert abs(correlation) < 0.08


def export(rows: list[tuple[str, str, str]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["EmpID", "Department", "Attrition"])


def test_a_person_keeps_their_key_when_next_quarters_export_adds_people_and_reorders_rows(tmp_path: Path) -> None:
    secret = b"k" * 32
    rng = np.random.default_rng(2)
    first = [(f"E{i:04d}", ["Sales", "R&D"][i % 2], ["Yes", "No"][i % 3 == 0]) for i in range(200)]
    added = [(f"E{i:04d}", "Sales", "No") for i in range(200, 260)]
    later = first + added
    order = rng.permutation(len(later))
    q1 = make_dataset(export(first))
    q2 = make_dataset(export([later[i] for i in order]))
    k1 = dict(zip(q1.frame["EmpID"], record_keys(q1, secret), strict=True))
    k2 = dict(zip(q2.frame["EmpID"], record_keys(q2, secret), strict=True))
    assert all(k1[person] == k2[person] for person in k1)
    # so the same people get the same perturbed figure in both files
    cells1, cells2 = Cells(record_keys(q1, secret)), Cells(record_keys(q2, secret))
    rd1 = (q1.frame["Department"] == "R&D").to_numpy()
    rd2 = (q2.frame["Department"] == "R&D").to_numpy()
    assert cells1.count(rd1) == cells2.count(rd2)
    # another server's secret gives other keys
    assert not (record_keys(q1, b"x" * 32) == record_keys(q1, secret)).any()


def test_a_rehire_with_the_same_id_gets_a_second_key_and_ids_written_differently_are_one_person() -> None:
    frame = pd.DataFrame({"EmpID": [1001, 1002, 1001], "Department": ["A", "B", "A"]})
    keys = record_keys(make_dataset(frame), b"s" * 32)
    assert len(set(keys.tolist())) == 3
    as_text = pd.DataFrame({"EmpID": [" 1001", "1002 ", "1001"], "Department": ["A", "B", "A"]})
    assert record_keys(make_dataset(as_text), b"s" * 32).tolist() == keys.tolist()


def test_the_policy_perturbs_only_in_protected_mode(tmp_path: Path) -> None:
    frame = export([(f"E{i}", "A", "No") for i in range(30)])
    ds = make_dataset(frame)
    everyone = np.ones(30, dtype=bool)
    exact = policy(key_dir=tmp_path)
    assert exact.cells(ds).count(everyone) == 30
    import dataclasses

    protected = dataclasses.replace(exact, mode="protected")
    counts = {protected.cells(ds).count(everyone) for _ in range(3)}
    assert len(counts) == 1 and abs(counts.pop() - 30) <= MAX_NOISE  # deterministic, bounded
    assert math.isfinite(protected.cells(ds).mean(np.arange(30.0), everyone, measure="x"))
