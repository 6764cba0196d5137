"""retention-mcp: an MCP server for employee-retention strategy.

Prompt templates structure the plan; analysis tools (turnover, survival, drivers, KPIs, ROI,
call-center workforce math) ground it in the company's own data. Every analysis is a plain
function in :mod:`retention_mcp.analysis`; :mod:`retention_mcp.server` only wires them to MCP.
"""

# The single source of the version (pyproject reads it; server.json must match; a test checks).
# A literal, not importlib.metadata: that lookup costs ~30 ms of every cold start.
__version__ = "0.1.0"
