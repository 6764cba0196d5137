"""Streamable HTTP serving (stateless, JSON responses)."""

from __future__ import annotations

import logging

from retention_mcp.settings import Settings

logger = logging.getLogger(__name__)


def serve_http(settings: Settings) -> int:
    """Run the server over stateless streamable HTTP at http://HOST:PORT/mcp until interrupted."""
    from retention_mcp.server import build_server

    server = build_server(settings)
    logger.info("serving MCP over HTTP at http://%s:%d/mcp", settings.host, settings.port)
    server.run("streamable-http", host=settings.host, port=settings.port, stateless_http=True, json_response=True)
    return 0
