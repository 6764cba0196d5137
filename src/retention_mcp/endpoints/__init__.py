"""MCP wiring: each module registers one family of tools on the server, and nothing else.

Each module exposes ``register(server, settings)``; the analysis itself lives in
:mod:`retention_mcp.analysis` and :mod:`retention_mcp.data` as plain functions.
"""

#: Every endpoint module, in the order their tools are listed.
MODULES = ("templates", "turnover", "kpis", "workforce", "drivers", "reports", "grounding", "forecast", "benchmarks",
           "workspace")
