"""How a tool runs: declared once with :func:`tool`, executed in a worker process, checked on the way out.

A tool is a plain function ``fn(job, **arguments) -> ToolOutput`` in an ``endpoints`` module, decorated
with :func:`tool`. The server turns it into an MCP tool whose arguments are its parameters (``job``
left out); a call is validated (unknown arguments refused by name), sent to a worker process (bounded
in time and memory, killed when the call is cancelled), run with a :class:`~retention_mcp.runtime.job.Job`
(the one intake for files and the disclosure policy), checked (no identifying value, no non-finite
number), given an evidence id, and returned as text plus structured content.
"""

from retention_mcp.runtime.spec import READ_ONLY, WRITES_OUTPUT, Evidenced, ToolOutput, ToolSpec, tool, tools_in

__all__ = ["READ_ONLY", "WRITES_OUTPUT", "Evidenced", "ToolOutput", "ToolSpec", "tool", "tools_in"]
