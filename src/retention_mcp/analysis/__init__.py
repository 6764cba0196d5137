"""Plain analysis functions (pandas/numpy/scipy, imported lazily): no MCP here."""
