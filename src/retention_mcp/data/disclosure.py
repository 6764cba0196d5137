"""The disclosure policy: what any tool may show about people. Every tool's output passes through it.

- **Minimum group size** is a server setting (``--min-group-size``, default 5). A call may raise it for
  itself, never lower it (:meth:`Policy.min_group`).
- **Small groups are suppressed**, and so is every group whose count could be recovered by subtraction
  (secondary suppression, :func:`suppress`): in a table with its margins — the one-dimension totals and
  crossed tables the server would also give for the same data, the overall included — no line (a row or
  column together with its margin) has exactly one hidden cell.
- **Group means** (pay, tenure, scores) need one more rule (:func:`protect_means`): with a line's margin
  shown, its hidden cells together are the margin minus the visible ones, so their mean could be worked
  out. In every such line the hidden cells must hold no one or at least ``min_group`` people.
- **Identifying columns** (IDs, names, dates of birth, e-mail, phone, free text) are never a dimension,
  driver, outcome or shown value; the intake decides which they are (``Dataset.is_identifying``).
- **People** in people-level results (agents) and columns naming people who are not the rows (managers)
  get stable pseudonyms (``Agent K7F3QM``): a keyed hash of the name alone, so a person keeps their pseudonym
  when next quarter's file adds people, and lists of them are in pseudonym order (which says nothing about the
  names) — unless the operator started the server with ``--allow-names``. The key (pseudonym → name) is written
  to the output folder, never returned.
- **Figures** are exact (``exact`` mode) or perturbed by the cell key method (``protected`` mode:
  :mod:`retention_mcp.data.cellkey`), a server setting: :meth:`Policy.cells` is what every tool counts with.
- **Counts in messages** below the minimum group size are never exact: :meth:`Policy.count_text` says
  "fewer than 5".
- **Examples of cell values** in messages are shown only for values that at least ``min_group`` rows share
  (:meth:`Policy.safe_examples`); logs carry no cell values at all.
- A last check (``Job.check``, with :func:`output_strings` and ``Dataset``'s identifying values) looks through
  each result for values of identifying columns and stops the call as a bug if one got through.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import math
import os
import re
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from retention_mcp.errors import InputError

if TYPE_CHECKING:
    import numpy as np

    from retention_mcp.data.cellkey import Cells
    from retention_mcp.data.dataset import Dataset
    from retention_mcp.settings import Settings
    from retention_mcp.wording import Words


class DisclosureError(Exception):
    """A value of an identifying column reached a tool's output: a bug, never shown to the client."""


@dataclass(frozen=True)
class Policy:
    floor: int
    allow_names: bool
    key_dir: Path
    mode: str = "exact"  # exact | protected (see retention_mcp.data.cellkey)

    @classmethod
    def from_settings(cls, settings: Settings) -> Policy:
        return cls(floor=settings.min_group_size, allow_names=settings.allow_names,
                   key_dir=settings.output_dir, mode=settings.mode_for_call())

    @property
    def protected(self) -> bool:
        return self.mode == "protected"

    def cells(self, ds: Dataset) -> Cells:
        """How the tool counts and sums ``ds``'s rows: exactly, or by the cell key method in protected mode."""
        from retention_mcp.data.cellkey import Cells, record_keys

        if not self.protected:
            return Cells()
        return Cells(record_keys(ds, _secret(self.key_dir)))

    def count_text(self, count: int, noun: str = "row(s)") -> str:
        """A count for a message: exact from the minimum group size up, "fewer than 5" below it."""
        if 0 < count < self.floor:
            return f"fewer than {self.floor} {noun}"
        return f"{count:,} {noun}"

    def count_words(self, count: int, w: Words) -> str:
        """A count for a text in ``w``'s language: exact from the minimum group size up, "fewer than 5" below it."""
        return w("dataset.fewer_than", k=self.floor) if 0 < count < self.floor else f"{count:,}"

    def min_group(self, requested: int | None) -> int:
        """The group size to suppress below: the server floor, or more if the call asks for more."""
        if requested is None:
            return self.floor
        if isinstance(requested, bool) or not isinstance(requested, int):
            raise InputError(f"min_group_size must be a whole number, not {requested!r}")
        if requested < self.floor:
            raise InputError(f"min_group_size={requested} is below this server's minimum group size of {self.floor}; "
                             "groups smaller than that are always suppressed to protect privacy. Leave "
                             "min_group_size out (or raise it); the operator sets the floor with --min-group-size")
        return requested

    def safe_examples(self, counts: Mapping[Any, int], limit: int = 3) -> list[str]:
        """Up to ``limit`` values that at least ``floor`` rows share: safe to quote in a message."""
        shown = [str(value) for value, count in sorted(counts.items(), key=lambda kv: -kv[1])
                 if count >= self.floor and len(str(value)) <= 40]
        return shown[:limit]

    # -- pseudonyms

    def pseudonyms(self, role: str, names: Sequence[str], *, source: str = "") -> tuple[list[str], str | None]:
        """Labels for people: stable pseudonyms (``Agent K7F3QM``) unless names are allowed.

        Returns (labels in the order of ``names``, the key file written, or None). A label is a keyed hash of the
        name and the server's secret alone — not a number within this file — so the same person keeps the same
        label from call to call and from file to file (next quarter's export adding people changes nobody's),
        and nobody without the secret can tell who is who by hashing candidate names. Two names of one file
        whose short codes collide both get a longer code.
        """
        names = [str(n) for n in names]
        if self.allow_names or not names:
            return list(names), None
        secret = _secret(self.key_dir)
        word = role.replace("_", " ").title()
        distinct = sorted(set(names))
        short = {name: _pseudonym_code(secret, name, 6) for name in distinct}
        clashes: dict[str, int] = {}
        for code in short.values():
            clashes[code] = clashes.get(code, 0) + 1
        label = {name: f"{word} {code if clashes[code] == 1 else _pseudonym_code(secret, name, 12)}"
                 for name, code in short.items()}
        key_file = _write_key(self.key_dir, role, source, {label[n]: n for n in distinct})
        return [label[n] for n in names], key_file


def _pseudonym_code(secret: bytes, name: str, length: int) -> str:
    """``length`` base-32 characters (A-Z, 2-7) of HMAC-SHA256(secret, name)."""
    import base64

    digest = hmac.new(secret, b"pseudonym\x00" + " ".join(name.split()).encode("utf-8"), hashlib.sha256).digest()
    return base64.b32encode(digest).decode("ascii")[:length]


def _secret(folder: Path) -> bytes:
    """The pseudonym key of this server's output folder (created once, readable by its owner only)."""
    path = folder / ".pseudonym-secret"
    try:
        return bytes.fromhex(path.read_text(encoding="ascii").strip())
    except (OSError, ValueError):
        pass
    folder.mkdir(parents=True, exist_ok=True)
    value = secrets.token_hex(32)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return bytes.fromhex(path.read_text(encoding="ascii").strip())
    with os.fdopen(descriptor, "w", encoding="ascii") as handle:
        handle.write(value)
    return bytes.fromhex(value)


def _write_key(folder: Path, role: str, source: str, mapping: dict[str, str]) -> str:
    """Write (or refresh) the pseudonym key for one source; returns its file name. Owner-readable only."""
    digest = hashlib.sha256(json.dumps([role, source], ensure_ascii=False).encode()).hexdigest()[:10]
    keys = folder / "pseudonym-keys"
    keys.mkdir(parents=True, exist_ok=True)
    path = keys / f"{role}-{digest}.csv"
    lines = ["pseudonym,name", *(f"{label},{_csv_cell(name)}" for label, name in sorted(mapping.items()))]
    text = "\n".join(lines) + "\n"
    try:
        if path.read_text(encoding="utf-8") == text:
            return f"pseudonym-keys/{path.name}"
    except OSError:
        pass
    temporary = path.with_suffix(f".{os.getpid()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(temporary, path)
    return f"pseudonym-keys/{path.name}"


def _csv_cell(text: str) -> str:
    return '"' + text.replace('"', '""') + '"' if any(c in text for c in ',"\n') else text


# -- suppression


def suppress(sizes: np.ndarray, k: int, selections: Sequence[np.ndarray] | None = None,
             keys: Sequence[str] | None = None, forced: Mapping[tuple, Any] | None = None) -> dict[tuple, Any]:
    """Which cells of a crossed table to hide, and of every margin of it.

    ``sizes`` holds the group sizes of the full cross of d dimensions (shape n1 × … × nd); the margins
    are the sums over any subset of dimensions. Returns ``{dims: hidden}`` for every subset of
    dimension positions (``()`` is the overall, a 0-d array), computed bottom-up so each table agrees
    with the smaller ones a separate call would give:

    1. primary: a cell with 0 < size < k is hidden;
    2. secondary: along every line of a table (one dimension varying, the others fixed) together with
       its margin cell, the number of hidden entries must not be exactly one — otherwise the hidden one
       is the margin minus the rest. The smallest visible non-empty cell of such a line is hidden too,
       until no line has exactly one.
    3. audit: a hidden cell can still be pinned down by combining several lines (in three or more
       dimensions); while the visible cells and margins determine some hidden cell exactly (its column of
       the equation system has no null-space component), another cell next to it is hidden too.

    ``selections`` (one boolean mask per leading dimension) restricts those dimensions to a subset of their
    values, as a ``where`` filter does: the result is then the lattice of the remaining dimensions over the
    selected population (positions counted among those dimensions), whose cells are sums over the selected
    values. Such a sum is hidden when it is small, or when exactly one of the cells it adds up is hidden
    (else it would give that cell away by subtraction).

    ``keys`` name the dimensions. The work is done in the order of the keys, so the same dimensions give the
    same hidden cells whichever order a call names them in (by=[A, B] and by=[B, A], or A as a filter and B
    as a breakdown), and no two calls can be combined to see more than one of them shows.

    ``forced`` maps a table (a sorted tuple of dimension positions, as in the result) to a boolean array of its
    cells that are hidden whatever their size — a linked dataset's cells that differ from a joined file alone by a
    small group (see :meth:`retention_mcp.data.linked.LinkInfo.forced_tables`); the secondary rule then protects
    them like any other hidden cell.
    """
    import numpy as np

    sizes = np.asarray(sizes, dtype="float64")
    dims = sizes.ndim
    selections = list(selections or ())
    lead = len(selections)
    order = sorted(range(dims), key=lambda axis: keys[axis]) if keys is not None else list(range(dims))
    selected = {order.index(axis): mask for axis, mask in enumerate(selections)}
    in_order: dict[tuple, Any] = {}
    for subset, cells in (forced or {}).items():
        axes = sorted(order.index(axis) for axis in subset)
        in_order[tuple(axes)] = np.transpose(np.asarray(cells, dtype=bool),
                                             [list(subset).index(order[axis]) for axis in axes])
    canonical = _suppress_in_order(sizes.transpose(order) if dims else sizes, k, selected, in_order)
    if order == list(range(dims)):
        return canonical
    # Back to the caller's order: canonical table keys index the remaining (unselected) canonical axes.
    remaining = [axis for axis in range(dims) if axis not in selected]
    out: dict[tuple, Any] = {}
    for key, table in canonical.items():
        original = [order[remaining[i]] - lead for i in key]
        permutation = sorted(range(len(original)), key=lambda i: original[i])
        out[tuple(sorted(original))] = np.transpose(table, permutation) if len(original) > 1 else table
    return out


def _suppress_in_order(sizes: np.ndarray, k: int, selected: Mapping[int, Any],
                       forced: Mapping[tuple, Any] | None = None) -> dict[tuple, Any]:
    """:func:`suppress` with dimensions taken in the order given; ``selected`` maps axes to value masks."""
    import numpy as np

    full = _lattice(sizes, k, forced)
    if not selected:
        return full
    chosen = sorted(selected)
    rest = [axis for axis in range(sizes.ndim) if axis not in selected]
    out: dict[tuple, Any] = {}
    for size in range(len(rest) + 1):
        for subset in itertools.combinations(range(len(rest)), size):
            keep = tuple(sorted([*chosen, *(rest[i] for i in subset)]))
            table = _margin(sizes, keep)
            hidden_full = np.asarray(full[keep])
            for axis in chosen:
                position = keep.index(axis)
                table = np.compress(selected[axis], table, axis=position)
                hidden_full = np.compress(selected[axis], hidden_full, axis=position)
            positions = tuple(keep.index(axis) for axis in chosen)
            combined = table.sum(axis=positions)
            hidden_count = hidden_full.sum(axis=positions)
            base = ((combined > 0) & (combined < k)) | (hidden_count == 1)
            if forced and keep in forced:
                # A sum over selected values that holds a forced cell would give it away with the others'.
                forced_full = np.asarray(forced[keep])
                for axis in chosen:
                    forced_full = np.compress(selected[axis], forced_full, axis=keep.index(axis))
                base = base | ((forced_full.sum(axis=positions) > 0) & (combined > 0))
            margins = {tuple(d for d in subset if d != axis): out[tuple(d for d in subset if d != axis)]
                       for axis in subset}
            out[subset] = _audited(combined, _secondary(combined, base, subset, margins), subset, out)
    return out


def _margin(sizes: np.ndarray, keep: tuple[int, ...]) -> np.ndarray:
    drop = tuple(d for d in range(sizes.ndim) if d not in keep)
    return sizes.sum(axis=drop) if drop else sizes


def _lattice(sizes: np.ndarray, k: int, forced: Mapping[tuple, Any] | None = None) -> dict[tuple, Any]:
    import numpy as np

    hidden: dict[tuple, Any] = {}
    dims = tuple(range(sizes.ndim))
    for size in range(len(dims) + 1):
        for subset in itertools.combinations(dims, size):
            table = _margin(sizes, subset)
            base = (table > 0) & (table < k)
            if forced and subset in forced:
                base = base | (np.asarray(forced[subset], dtype=bool) & (table > 0))
            margins = {tuple(d for d in subset if d != axis): hidden[tuple(d for d in subset if d != axis)]
                       for axis in subset}
            hidden[subset] = _audited(table, _secondary(table, base, subset, margins), subset, hidden)
    return hidden


#: Tables with more hidden cells than this get the line rule only (the audit's SVD grows with their square).
MAX_AUDITED_CELLS = 300


def _determined(table: np.ndarray, hidden: np.ndarray, subset: tuple[int, ...],
                lattice: Mapping[tuple, Any]) -> list[tuple[int, ...]]:
    """Hidden cells of ``table`` whose values follow from its visible cells and the visible cells of its
    margins (the tables over fewer of its dimensions)."""
    import numpy as np

    unknown = [tuple(int(i) for i in cell) for cell in np.argwhere(hidden)]
    if not unknown or len(unknown) > MAX_AUDITED_CELLS:
        return []
    column = {cell: i for i, cell in enumerate(unknown)}
    rows = []
    for size in range(len(subset)):
        for keep in itertools.combinations(range(len(subset)), size):
            margin_hidden = np.asarray(lattice[tuple(subset[i] for i in keep)])
            groups: dict[tuple, list[int]] = {}
            for cell, i in column.items():
                groups.setdefault(tuple(cell[j] for j in keep), []).append(i)
            for index, members in groups.items():
                if not (margin_hidden[index] if keep else bool(margin_hidden)):
                    row = np.zeros(len(unknown))
                    row[members] = 1.0
                    rows.append(row)
    if not rows:
        return []
    _, singular, vt = np.linalg.svd(np.array(rows))
    null_space = vt[int((singular > 1e-9).sum()):]
    if not len(null_space):
        return unknown
    return [cell for cell, i in column.items() if np.abs(null_space[:, i]).max() < 1e-9]


def _audited(table: np.ndarray, hidden: np.ndarray, subset: tuple[int, ...],
             lattice: Mapping[tuple, Any]) -> np.ndarray:
    import numpy as np

    while determined := _determined(table, hidden, subset, lattice):
        cell = determined[0]
        # The smallest visible non-empty cell on one of its lines (else any visible one).
        candidates = []
        for axis in range(len(subset)):
            for other in range(table.shape[axis]):
                neighbour = list(cell)
                neighbour[axis] = other
                neighbour_t = tuple(neighbour)
                if not hidden[neighbour_t]:
                    candidates.append((table[neighbour_t] <= 0, table[neighbour_t], neighbour_t))
        if not candidates:
            break
        hidden = np.array(hidden, dtype=bool)
        hidden[min(candidates)[2]] = True
        margins = {tuple(d for d in subset if d != dim): lattice[tuple(d for d in subset if d != dim)]
                   for dim in subset}
        hidden = _secondary(table, hidden, subset, margins)
    return hidden


def _secondary(table: np.ndarray, hidden: np.ndarray, subset: tuple[int, ...],
               margins: Mapping[tuple, np.ndarray]) -> np.ndarray:
    """Hide more cells of ``table`` until no line with its margin has exactly one hidden entry."""
    import numpy as np

    hidden = np.array(hidden, dtype=bool)
    if table.ndim == 0:
        return hidden
    changed = True
    while changed:
        changed = False
        for axis_position, dim in enumerate(subset):
            margin = margins[tuple(d for d in subset if d != dim)]
            moved = np.moveaxis(hidden, axis_position, -1)
            values = np.moveaxis(table, axis_position, -1)
            count = moved.sum(axis=-1) + np.asarray(margin, dtype=int)
            for row in np.argwhere(count == 1):
                index = tuple(int(i) for i in row)
                line_hidden = moved[index]
                line_values = values[index]
                candidates = np.flatnonzero(~line_hidden & (line_values > 0))
                if not len(candidates):
                    candidates = np.flatnonzero(~line_hidden)
                if not len(candidates):
                    continue
                pick = candidates[np.argmin(line_values[candidates])]
                full_index = list(index)
                full_index.insert(axis_position, pick)
                hidden[tuple(full_index)] = True
                moved = np.moveaxis(hidden, axis_position, -1)
                changed = True
    return hidden


def protect_means(sizes: np.ndarray, hidden: np.ndarray, k: int,
                  margins: Mapping[int, np.ndarray | bool] | None = None) -> np.ndarray:
    """Cells to hide in a table of group means (on top of ``hidden``, the count policy's cells).

    ``sizes`` are the people per cell (any number of dimensions), ``margins[axis]`` whether the margin of the
    lines along ``axis`` is hidden (an array over the other axes; default: shown). A mean of the margin
    minus the visible cells is the mean of the hidden ones, so along every line whose margin is shown the
    hidden cells must be none, or at least two holding at least ``k`` people together; the smallest visible
    non-empty cell of a line that breaks this is hidden too, until none does.
    """
    import numpy as np

    sizes = np.asarray(sizes, dtype="float64")
    hidden = np.array(hidden, dtype=bool)
    if sizes.ndim == 0:
        return hidden
    margins = dict(margins or {})
    changed = True
    while changed:
        changed = False
        for axis in range(sizes.ndim):
            margin_hidden = np.broadcast_to(np.asarray(margins.get(axis, False), dtype=bool),
                                            sizes.shape[:axis] + sizes.shape[axis + 1:])
            moved_sizes = np.moveaxis(sizes, axis, -1)
            for index in np.ndindex(*moved_sizes.shape[:-1]):
                if margin_hidden[index]:
                    continue
                line_hidden = np.moveaxis(hidden, axis, -1)[index]
                line_sizes = moved_sizes[index]
                held = float(line_sizes[line_hidden].sum())
                if not (line_hidden.sum() == 1 or 0 < held < k):
                    continue
                candidates = np.flatnonzero(~line_hidden & (line_sizes > 0))
                if not len(candidates):
                    continue
                pick = int(candidates[np.argmin(line_sizes[candidates])])
                full = list(index)
                full.insert(axis, pick)
                hidden[tuple(full)] = True
                changed = True
    return hidden


def hidden_groups(sizes: Sequence[float], k: int, forced: Sequence[bool] | None = None) -> list[bool]:
    """One dimension of groups plus their total: which to hide (a shortcut for :func:`suppress`); ``forced``
    groups are hidden whatever their size."""
    import numpy as np

    if not len(sizes):
        return []
    values = np.asarray([0.0 if s is None or (isinstance(s, float) and math.isnan(s)) else float(s)
                         for s in sizes])
    cells = {(0,): np.asarray(forced, dtype=bool)} if forced is not None else None
    return [bool(h) for h in suppress(values, k, forced=cells)[(0,)]]


# -- the last check


_SPLIT = re.compile(r"\s*(?:\||\n|/|;|,\s)\s*")
_QUOTED = re.compile(r"""['"“‘「]([^'"”’」\n]{2,80})['"”’」]""")


#: Catalog files whose words the tools print as their own fixed texts (definitions, classifications), besides the
#: wording (``tools/wording/*.yaml``, :func:`retention_mcp.wording.wording_files`).
FIXED_TEXT_FILES = ("separation_types.yaml", "metrics.yaml", "column_aliases.yaml")
_fixed: dict[tuple, frozenset[str]] = {}


def fixed_vocabulary(settings: Settings) -> frozenset[str]:
    """The pieces of the server's own texts (``tools/*.yaml``: wording, the leaver classification, definitions),
    normalised as the last check normalises output: a data value equal to one of them ("Retired") appearing in a
    tool's fixed sentence ("resigned, quit, retired …") is the sentence, not a disclosure."""
    from retention_mcp.catalog import catalog_file, read_yaml
    from retention_mcp.wording import wording_files

    paths = [catalog_file(settings, name) for name in FIXED_TEXT_FILES] + wording_files(settings)
    version = tuple((str(p), p.stat().st_mtime_ns) for p in paths if p.is_file())
    if version not in _fixed:
        pieces: set[str] = set()
        for path in paths:
            if path.is_file():
                for piece in output_strings(read_yaml(path), ""):
                    pieces.add(normalise_value(piece).strip(" .:*`_()[]"))
        _fixed[version] = frozenset(pieces)
    return _fixed[version]


def normalise_value(value: Any) -> str:
    """Text as the last check compares it: whitespace collapsed and trimmed, lower case."""
    return " ".join(str(value).split()).lower()


def output_strings(structured: Any, text: str) -> Iterable[str]:
    """Every string a reader could see: structured leaves, table cells, label parts, quoted fragments."""
    def leaves(value: Any) -> Iterable[str]:
        if isinstance(value, str):
            yield value
        elif isinstance(value, Mapping):
            for key, item in value.items():
                yield str(key)
                yield from leaves(item)
        elif isinstance(value, list | tuple):
            for item in value:
                yield from leaves(item)

    for leaf in itertools.chain(leaves(structured), [text]):
        yield leaf
        yield from _SPLIT.split(leaf)
        yield from _QUOTED.findall(leaf)
