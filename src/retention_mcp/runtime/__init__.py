"""How work runs: declared once, executed in a worker process under the server's bounds, checked on the way out.

A tool is a plain function ``fn(job, **arguments) -> ToolOutput`` in an ``endpoints`` module, decorated with
:func:`tool`; a resource is ``fn(*, settings, progress, **uri_parameters)`` decorated with :func:`resource`. The
server turns each into one small async MCP function (:mod:`.dispatch`) that sends the call to a worker process of
the shared pool (:mod:`.pool`: the same wall-time and memory bound for every request, the worker killed when the
request is cancelled or its client goes away). In the worker (:mod:`.worker`) a tool runs with a
:class:`~retention_mcp.runtime.job.Job` — the one intake for files, the disclosure policy, the workspace with this
process's own database engine, and the caller's name read in the server process — its output is checked (no
identifying value, no non-finite number), bounded in size, and for data and calculator tools recorded as evidence
before it leaves, so its evidence id is readable by every server process at once.
"""

from retention_mcp.runtime.spec import (
    READ_ONLY,
    WRITES_OUTPUT,
    Evidenced,
    ResourceSpec,
    ToolOutput,
    ToolSpec,
    resource,
    resources_in,
    tool,
    tools_in,
)

__all__ = ["READ_ONLY", "WRITES_OUTPUT", "Evidenced", "ResourceSpec", "ToolOutput", "ToolSpec", "resource",
           "resources_in", "tool", "tools_in"]
