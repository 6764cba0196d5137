"""Reading the HR files people have: access guard, encodings, formats, column roles.

The one entry point the tools use is :func:`read_table` (``path`` inside an allowed data folder,
or inline ``csv_text``), which returns a pandas DataFrame or raises ``ValueError`` with a message
that says what to fix.
"""

from retention_mcp.data.reader import read_table, resolve_data_path

__all__ = ["read_table", "resolve_data_path"]
