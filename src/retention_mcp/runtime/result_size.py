"""The size bound on a tool's result: no request can make the server answer with many times its own size.

bound = max(RESULT_ALLOWANCE_BYTES, RESULT_FACTOR × the request's size in bytes), for text and structured
content together: half of it for each.

The text a person reads is cut at a line boundary when it passes its half; the structured content keeps its
schema: its longest lists are shortened (each keeps its first items) until it fits its half. Either way the text says
what was cut and why. A result that still does not fit (one huge value) is refused with what to do.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from retention_mcp.errors import LimitError
from retention_mcp.runtime.spec import ToolOutput

#: Every result may be this large, whatever the request (a big breakdown from a short question).
RESULT_ALLOWANCE_BYTES = 1024 * 1024
#: ... or this many times the request, when the request itself is large (e.g. a long KPI list).
RESULT_FACTOR = 4


def result_bound(request_bytes: int) -> int:
    return max(RESULT_ALLOWANCE_BYTES, RESULT_FACTOR * request_bytes)


def bound_result(output: ToolOutput, arguments: Mapping[str, Any]) -> ToolOutput:
    """``output`` within :func:`result_bound` of the request ``arguments`` (half for the text, half for the
    structured content), saying so in the text when anything was cut."""
    structured = _size(output)
    text = output.text.encode("utf-8")
    if max(structured, len(text)) <= RESULT_ALLOWANCE_BYTES // 2:
        return output  # within the allowance whatever the request: the usual case, no need to size the request
    total = result_bound(len(json.dumps(arguments, default=str).encode("utf-8")))
    bound = total // 2
    cuts: list[str] = []
    if structured > bound:
        cuts += _shorten_lists(output, bound)
        if _size(output) > bound:
            raise LimitError(f"the result would be {structured / 1e6:.1f} MB, above the bound of {total / 1e6:.1f} MB "
                             f"({RESULT_FACTOR}× the request, at least {RESULT_ALLOWANCE_BYTES // 1024} KB); ask for "
                             "fewer rows, groups or items, or shorter texts")
    if len(text) > bound:
        kept = text[:bound].decode("utf-8", errors="ignore")
        kept = kept[:kept.rfind("\n")] if "\n" in kept else kept
        cuts.append(f"the text after {len(kept):,} of {len(output.text):,} characters")
        output.text = kept
    if cuts:
        output.text += (f"\n\n**Result truncated** to stay within the server's result bound ({total // 1024:,} KB: "
                        f"{RESULT_FACTOR}× the request, at least {RESULT_ALLOWANCE_BYTES // 1024} KB): "
                        f"{'; '.join(cuts)}. Ask for fewer items or groups to see everything.")
    return output


def _size(output: ToolOutput) -> int:
    """Bytes of the structured content as sent: the result and its key figures."""
    return len(output.result.model_dump_json().encode("utf-8")) + len(json.dumps(output.figures, default=str))


def _shorten_lists(output: ToolOutput, bound: int) -> list[str]:
    """Keep the first items of the longest lists (the result's list fields, the key figures) until it fits."""
    model = output.result
    cuts = []
    lists: dict[str, Any] = {name: value for name, value in model.__dict__.items() if isinstance(value, list) and value}
    if output.figures:
        lists["key figures"] = list(output.figures.items())
    for name in sorted(lists, key=lambda n: -len(json.dumps(_plain(lists[n]), default=str))):
        over = _size(output) - bound
        if over <= 0:
            break
        items = lists[name]
        sizes = [len(json.dumps(_plain(item), default=str).encode("utf-8")) + 1 for item in items]
        keep, dropped = len(items), 0
        while keep > 0 and dropped < over:
            keep -= 1
            dropped += sizes[keep]
        if name == "key figures":
            output.figures = dict(items[:keep])
        else:
            setattr(model, name, items[:keep])
        cuts.append(f"{name}: the first {keep:,} of {len(items):,}")
    return cuts


def _plain(value: Any) -> Any:
    return value.model_dump(mode="json") if isinstance(value, BaseModel) else value
