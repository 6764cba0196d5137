"""The cached tools/list is used only for exactly the code that wrote it: same fingerprint (package source, mcp and
pydantic versions); a changed source file or a foreign file is ignored, and a write is atomic."""

from __future__ import annotations

import json

from retention_mcp import tool_cache


def test_a_saved_list_is_loaded_back_only_with_the_same_fingerprint(tmp_path, monkeypatch):
    path = tmp_path / "cache" / "tools.json"
    monkeypatch.setattr(tool_cache, "cache_paths", lambda: [path])
    tools = [{"name": "ping", "inputSchema": {"type": "object"}}]
    assert tool_cache.load() is None
    assert tool_cache.save(tools) == path
    assert tool_cache.load() == tools
    assert not list(path.parent.glob(".tools-list-*"))  # no temporary file left behind
    stored = json.loads(path.read_text(encoding="utf-8"))
    stored["fingerprint"] = "0" * 64  # written by other code
    path.write_text(json.dumps(stored), encoding="utf-8")
    assert tool_cache.load() is None
    path.write_text("{not json", encoding="utf-8")
    assert tool_cache.load() is None


def test_the_fingerprint_follows_the_source(tmp_path, monkeypatch):
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "a.py").write_text("x = 1\n", encoding="utf-8")
    monkeypatch.setattr(tool_cache, "PACKAGE_DIR", package)
    tool_cache.fingerprint.cache_clear()
    before = tool_cache.fingerprint()
    (package / "a.py").write_text("x = 2\n", encoding="utf-8")
    tool_cache.fingerprint.cache_clear()
    try:
        assert tool_cache.fingerprint() != before
    finally:
        tool_cache.fingerprint.cache_clear()


def test_an_unwritable_place_is_skipped(tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("", encoding="utf-8")
    fallback = tmp_path / "ok" / "tools.json"
    assert tool_cache.save([], paths=[blocked / "tools.json", fallback]) == fallback
