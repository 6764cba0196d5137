"""retention-mcp: an MCP server for employee-retention strategy.

Prompt templates structure the plan; analysis tools (turnover, survival, drivers, KPIs, ROI,
call-center workforce math) ground it in the company's own data. Every analysis is a plain
function in :mod:`retention_mcp.analysis`; :mod:`retention_mcp.server` only wires them to MCP.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("retention-mcp")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0"
