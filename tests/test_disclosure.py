"""The disclosure policy on its own: the server floor, secondary suppression checked against linear algebra
(no hidden cell is determined by the visible cells and margins), pseudonyms, safe examples."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from conftest import make_dataset
from retention_mcp.data.dataset import identifying_values_in
from retention_mcp.data.disclosure import Policy, hidden_groups, normalise_value, output_strings, suppress
from retention_mcp.errors import InputError


def determined_cells(sizes: np.ndarray, hidden: dict[tuple, np.ndarray]) -> list[tuple]:
    """Hidden cells of the full table whose value the visible numbers pin down exactly.

    Unknowns: every hidden cell of the full table. Equations: each visible cell of every margin table equals
    the sum of the full-table cells under it (visible ones moved to the right-hand side); each hidden margin
    cell adds no equation. A hidden cell is determined iff the null space of the system has no component on it.
    """
    dims = sizes.ndim
    full = tuple(range(dims))
    unknown = list(zip(*np.nonzero(hidden[full]), strict=False))
    if not unknown:
        return []
    position = {cell: i for i, cell in enumerate(unknown)}
    rows = []
    for size in range(dims):  # every proper margin, the overall included
        for keep in itertools.combinations(full, size):
            margin_hidden = hidden[keep]
            for index in itertools.product(*[range(sizes.shape[d]) for d in keep]):
                if np.asarray(margin_hidden)[index] if keep else bool(margin_hidden):
                    continue
                row = np.zeros(len(unknown))
                for cell in unknown:
                    if tuple(cell[d] for d in keep) == index:
                        row[position[cell]] = 1
                if row.any():
                    rows.append(row)
    if not rows:
        return []
    matrix = np.array(rows)
    _, singular, vt = np.linalg.svd(matrix)
    rank = int((singular > 1e-9).sum())
    null_space = vt[rank:]
    return [cell for cell, i in position.items() if not null_space.shape[0] or np.abs(null_space[:, i]).max() < 1e-9]


@pytest.mark.parametrize("seed", range(60))
def test_no_hidden_cell_is_determined_by_the_visible_margins(seed: int) -> None:
    rng = np.random.default_rng(seed)
    shape = tuple(int(n) for n in rng.integers(2, 5, size=int(rng.integers(1, 4))))
    # Mostly small groups so that suppression has work to do; some empty cells.
    sizes = rng.choice([0, 1, 2, 3, 4, 6, 9, 15, 40], size=shape).astype(float)
    hidden = suppress(sizes, 5)
    for keep, mask in hidden.items():  # primary suppression holds in every table
        table = sizes.sum(axis=tuple(d for d in range(sizes.ndim) if d not in keep)) if keep != tuple(
            range(sizes.ndim)) else sizes
        small = (np.asarray(table) > 0) & (np.asarray(table) < 5)
        assert not (small & ~np.asarray(mask)).any(), (keep, table, mask)
    assert determined_cells(sizes, hidden) == []


def test_one_dimension_with_its_total_by_hand() -> None:
    # One small group: the next smallest goes too, or the total gives it away.
    assert hidden_groups([100, 3, 20, 50], 5) == [False, True, True, False]
    assert hidden_groups([100, 3, 2, 50], 5) == [False, True, True, False]
    assert hidden_groups([100, 50], 5) == [False, False]


def test_a_where_slice_hides_what_subtraction_from_the_full_table_would_reveal() -> None:
    # departments × shift; the filter keeps department 0. Cell (0, 1) is small: its row and column both need
    # a second hidden cell in the full table, and the filtered table is a slice of it.
    sizes = np.array([[30.0, 2.0, 40.0], [25.0, 35.0, 45.0]])
    full = suppress(sizes, 5)
    sliced = suppress(sizes, 5, [np.array([True, False])])
    assert list(sliced[(0,)]) == list(full[(0, 1)][0])
    assert sliced[(0,)].sum() >= 2


def test_policy_floor_can_be_raised_never_lowered(tmp_path: Path) -> None:
    policy = Policy(floor=5, allow_names=False, key_dir=tmp_path)
    assert policy.min_group(None) == 5 and policy.min_group(10) == 10
    with pytest.raises(InputError, match="below this server's minimum group size of 5"):
        policy.min_group(1)


def test_pseudonyms_are_stable_keyed_and_the_key_stays_local(tmp_path: Path) -> None:
    import base64
    import hashlib
    import hmac

    policy = Policy(floor=5, allow_names=False, key_dir=tmp_path)
    names = ["Becker, Renee", "Zhang Wei", "Ali Khan"]
    labels, key_file = policy.pseudonyms("agent", names, source="calls.csv:Agent")
    # A label is the role's word and six base-32 characters of HMAC-SHA256(server secret, name): computed here
    # independently from the secret file.
    secret = bytes.fromhex((tmp_path / ".pseudonym-secret").read_text().strip())
    for name, label in zip(names, labels, strict=True):
        digest = hmac.new(secret, b"pseudonym\x00" + name.encode(), hashlib.sha256).digest()
        assert label == "Agent " + base64.b32encode(digest).decode()[:6]
    again, _ = policy.pseudonyms("agent", list(reversed(names)), source="calls.csv:Agent")
    assert again == list(reversed(labels))
    # Next quarter's file adds people: nobody's pseudonym changes (it is not a number within the file).
    more, _ = policy.pseudonyms("agent", [*names, "Dana Scully", "Aaron Abbott"], source="calls_q2.csv:Agent")
    assert more[:3] == labels
    key = (tmp_path / key_file).read_text(encoding="utf-8")
    assert all(name.split(",")[0] in key for name in names)
    assert (tmp_path / key_file).stat().st_mode & 0o077 == 0  # readable by its owner only
    # Another server (another secret) gives other pseudonyms: they are not a public hash of the name.
    others = {tuple(Policy(floor=5, allow_names=False, key_dir=tmp_path / f"s{i}").pseudonyms("agent", names)[0])
              for i in range(3)}
    assert len(others) == 3 and tuple(labels) not in others
    assert Policy(floor=5, allow_names=True, key_dir=tmp_path).pseudonyms("agent", names) == (names, None)


def test_safe_examples_and_the_output_scan(tmp_path: Path) -> None:
    policy = Policy(floor=5, allow_names=False, key_dir=tmp_path)
    assert policy.safe_examples({"n/a": 12, "Renee Becker": 1, "unknown": 6}) == ["n/a", "unknown"]
    import pandas as pd

    people = pd.DataFrame({"Name": ["Renee Becker", "Zhang Wei", "Ann Lee"] * 2 + ["Bo Chen"],
                           "Team": ["Sales"] * 7})

    def leaked(structured, text):
        ds = make_dataset(people)
        return identifying_values_in(ds, {normalise_value(p).strip(" .:*`_()[]")
                                          for p in output_strings(structured, text)})

    assert leaked({"rows": [{"label": "Sales"}]}, "| Sales | 12 |") == []
    assert leaked({"rows": [{"label": "Sales / Renee Becker"}]}, "") == ["renee becker"]
    assert leaked({}, "values like 'Zhang  Wei' were skipped") == ["zhang wei"]


@pytest.mark.parametrize("seed", range(20))
def test_the_hidden_cells_do_not_depend_on_the_order_dimensions_are_named_in(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    sizes = rng.choice([0, 1, 2, 3, 6, 9, 20], size=(4, 3, 3)).astype(float)
    keys = ["department", "shift", "location"]
    reference = suppress(sizes, 5, keys=keys)
    for order in itertools.permutations(range(3)):
        swapped = suppress(sizes.transpose(order), 5, keys=[keys[i] for i in order])
        full = swapped[(0, 1, 2)]
        assert (np.transpose(full, np.argsort(order)) == reference[(0, 1, 2)]).all(), order
    # A filter on one department hides at least what the full table hides in that department's slice.
    mask = np.array([False, True, False, False])
    sliced = suppress(sizes, 5, [mask], keys=keys)[(0, 1)]
    assert (sliced | ~reference[(0, 1, 2)][1]).all()
