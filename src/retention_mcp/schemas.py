"""Tool schemas every client accepts, and what ``tools/list`` costs.

Pydantic writes full JSON Schema: ``X | None`` as ``anyOf`` with a null branch (or, compacted, a type array
``["string", "null"]``), nested models as ``$defs`` + ``$ref``, dict values as ``additionalProperties``,
strict bounds as ``exclusiveMinimum``. Clients that map tool schemas onto the OpenAPI 3.0 subset of Gemini's
function declarations (one ``type`` per schema; no ``$ref``, ``additionalProperties``, ``const``,
``exclusiveMinimum``…) reject such a tool or drop it, and the MCP Inspector flags every type array as a
portability warning. So what is listed is rewritten, and validation still uses the full models:

- **input schemas** keep only the keywords of that subset (:data:`INPUT_KEYWORDS`): references are inlined,
  an optional argument's null branch is dropped (absent means "not given", which is what null meant),
  a null that carries meaning (a missing rating inside a list) stays an ``anyOf`` branch, ``const`` becomes a
  one-value ``enum``, ``exclusiveMinimum`` a ``minimum``; unknown arguments are still refused by name on call.
- **output schemas** stay JSON Schema for the clients that validate results against them, without type arrays
  (``anyOf`` branches, one type each) and without prose, titles, defaults or required lists (the text block of
  each result explains the fields); tuples become arrays of fixed length.
"""

from __future__ import annotations

import json
from typing import Any

#: The Schema object of Gemini's function declarations (a subset of OpenAPI 3.0), the strictest common client.
INPUT_KEYWORDS = frozenset({
    "type", "description", "enum", "items", "properties", "required", "minItems", "maxItems", "minLength",
    "maxLength", "pattern", "minimum", "maximum", "minProperties", "maxProperties", "anyOf", "default",
})
#: JSON Schema keywords kept in output schemas (structure and types; validation-relevant only).
OUTPUT_KEYWORDS = frozenset({
    "type", "enum", "items", "properties", "anyOf", "$defs", "$ref", "additionalProperties", "minItems", "maxItems",
})
NULL = {"type": "null"}


def _resolve(schema: Any, defs: dict[str, Any], depth: int = 0) -> Any:
    """``schema`` with every local ``$ref`` replaced by its definition (our models are not recursive)."""
    if depth > 32:
        raise ValueError("schema nests too deeply (a recursive model?)")
    if isinstance(schema, list):
        return [_resolve(item, defs, depth + 1) for item in schema]
    if not isinstance(schema, dict):
        return schema
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        merged = {**defs[name], **{k: v for k, v in schema.items() if k != "$ref"}}
        return _resolve(merged, defs, depth + 1)
    return {key: ({name: _resolve(sub, defs, depth + 1) for name, sub in value.items()} if key == "properties"
                  else _resolve(value, defs, depth + 1))
            for key, value in schema.items() if key != "$defs"}


def _single_types(schema: dict[str, Any]) -> dict[str, Any]:
    """A type array written as ``anyOf`` branches of one type each."""
    kinds = schema.get("type")
    if not isinstance(kinds, list):
        return schema
    rest = {k: v for k, v in schema.items() if k != "type"}
    if len(kinds) == 1:
        return {**rest, "type": kinds[0]}
    return {**{k: v for k, v in rest.items() if k in ("description", "default")},
            "anyOf": [{"type": kind, **{k: v for k, v in rest.items() if k not in ("description", "default")}}
                      if kind != "null" else dict(NULL) for kind in kinds]}


def _input(schema: Any, optional: bool = False) -> Any:
    """One node of an input schema, in the subset. ``optional``: a property that may be left out."""
    if not isinstance(schema, dict):
        return schema
    schema = _single_types(schema)
    node = dict(schema)
    if "const" in node:
        node["enum"] = [node.pop("const")]
    for strict, loose in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        if strict in node and loose not in node:
            bound = node[strict]
            # An integer's strict bound is the next integer; a number keeps the bound (the server checks it).
            node[loose] = bound + (1 if loose == "minimum" else -1) if node.get("type") == "integer" else bound
    if "anyOf" in node:
        branches = [b for b in node["anyOf"] if b != NULL] if optional else list(node["anyOf"])
        if optional and node.get("default", 0) is None:
            node.pop("default")
        if len(branches) == 1:
            outer = {k: v for k, v in node.items() if k != "anyOf"}
            return _input({**branches[0], **outer}, optional=False)
        node["anyOf"] = [_input(b) for b in branches]
    if isinstance(node.get("enum"), list) and optional and None in node["enum"]:
        node["enum"] = [v for v in node["enum"] if v is not None]
    if optional and node.get("default", 0) is None:
        node.pop("default")
    required = set(node.get("required", []))
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key not in INPUT_KEYWORDS:
            continue
        if key == "properties":
            out[key] = {name: _input(sub, optional=name not in required) for name, sub in value.items()}
        elif key == "items":
            out[key] = _input(value)
        else:
            out[key] = value
    return out


def portable_input_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """The listed input schema of a tool: the Gemini/OpenAPI subset, no type arrays, references inlined."""
    return _input(_resolve(schema, schema.get("$defs", {})))


def portable_output_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """The listed output schema: JSON Schema without type arrays, prose, titles, defaults or required lists."""

    def walk(node: Any) -> Any:
        if isinstance(node, list):
            return [walk(item) for item in node]
        if not isinstance(node, dict):
            return node
        node = _single_types(node)
        if "prefixItems" in node:  # a fixed-length tuple: an array of that length of the items' common type
            kinds = {json.dumps(item, sort_keys=True) for item in node["prefixItems"]}
            node = {**{k: v for k, v in node.items() if k != "prefixItems"},
                    "items": json.loads(kinds.pop()) if len(kinds) == 1 else {"anyOf": node["prefixItems"]},
                    "minItems": len(node["prefixItems"]), "maxItems": len(node["prefixItems"])}
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key in ("properties", "$defs"):
                out[key] = {name: walk(sub) for name, sub in value.items()}
            elif key in OUTPUT_KEYWORDS:
                out[key] = walk(value)
        return out

    return walk(schema)


def listing_bytes(tools: list[dict[str, Any]]) -> dict[str, int]:
    """What a ``tools/list`` answer costs, in bytes of compact JSON: total, and per part over all tools."""

    def size(value: Any) -> int:
        return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))

    return {"total": size({"tools": tools}), "tools": len(tools),
            "input_schemas": sum(size(t.get("inputSchema")) for t in tools),
            "output_schemas": sum(size(t["outputSchema"]) for t in tools if t.get("outputSchema")),
            "descriptions": sum(size(t.get("description", "")) for t in tools)}


def listed_tool(tool: dict[str, Any], output_schemas: bool = True) -> dict[str, Any]:
    """One ``tools/list`` entry (wire form) as clients get it: portable input schema, and the portable output
    schema or, for clients with a small budget (``output_schemas=False``), none."""
    entry = {key: value for key, value in tool.items() if key != "outputSchema"}
    entry["inputSchema"] = portable_input_schema(tool.get("inputSchema") or {"type": "object"})
    if output_schemas and tool.get("outputSchema"):
        entry["outputSchema"] = portable_output_schema(tool["outputSchema"])
    return entry
