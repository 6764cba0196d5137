"""Who is asking: the person, their role and what they may see, decided in the server process and handed to the
worker with every call; the author recorded with every plan version, evidence record and saved template.

- Over HTTP with bearer tokens: the person the caller's token names — a line of the tokens file (``name: token``
  with an optional role and scope), the single shared token (``team``, an analyst), or a verified OAuth access
  token (its name claim, its scopes mapped to a role, a manager's rows from a claim). The token verifier puts a
  :class:`CallerToken` in the SDK's auth context; nothing in a request's body can change it.
- Otherwise (stdio, or HTTP on loopback without a token): the operating-system user running the server, an
  analyst: for a desktop client that is the person at the keyboard, reading their own files.

Call :func:`current_caller` on the event loop, inside the request (the token lives in a context variable set by
the auth middleware), and pass the result to the worker.
"""

from __future__ import annotations

import getpass
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace

from mcp.server.auth.provider import AccessToken
from pydantic import ConfigDict

from retention_mcp.access import EVERYTHING, Access

#: Recorded when no name can be found at all (no token, and the OS cannot name the user).
UNKNOWN = "unknown"
ROLES = ("analyst", "manager", "viewer")


@dataclass(frozen=True)
class Caller:
    """A person and what their role lets them see: ``access`` is applied at the intake of every file."""

    name: str
    role: str = "analyst"
    access: Access = field(default=EVERYTHING)
    via: str = "os"  # os | token | shared token | oauth

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}, not {self.role!r}")

    def describe(self) -> str:
        """'li.wei (manager: Department = 研发部; not shown: pay)'."""
        scope = self.access.describe()
        return f"{self.name} ({self.role}{': ' + scope if scope else ''})"


class CallerToken(AccessToken):
    """The SDK's AccessToken with the caller it stands for (the SDK keeps extra fields of a subclass to itself)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    caller: Caller


#: Set only by :func:`narrowed`, in the server process: a step of a server-side tool (plan_refresh) acting for the
#: caller with less access than theirs.
_narrowed: ContextVar[Caller | None] = ContextVar("retention_mcp_narrowed_caller", default=None)


@contextmanager
def narrowed(caller: Caller, access: Access, server_mode: str | None = None) -> Iterator[Caller]:
    """Within the block, :func:`current_caller` is ``caller`` with ``access`` — which must be within theirs: a
    re-run of a manager's evidence by an analyst is computed on the manager's rows, never the other way round."""
    if not caller.access.contains(access, server_mode):
        raise PermissionError(f"{caller.name}'s access does not contain {access.describe() or 'the whole data'}")
    token = _narrowed.set(replace(caller, access=access))
    try:
        yield replace(caller, access=access)
    finally:
        _narrowed.reset(token)


def current_caller() -> Caller:
    """The caller of the request being served: from the verified bearer token over HTTP, else the OS user (an
    analyst). A token of a kind this server did not issue to itself grants nothing: a viewer without a name."""
    from mcp.server.auth.middleware.auth_context import get_access_token

    if (acting := _narrowed.get()) is not None:
        return acting
    token = get_access_token()
    if token is None:
        return Caller(name=os_user())
    if isinstance(token, CallerToken):
        return token.caller
    from retention_mcp.access import NO_DATA

    return Caller(name=token.client_id or UNKNOWN, role="viewer", access=NO_DATA, via="token")


def current_author() -> str:
    """The caller's name: the bearer token's person over HTTP, else the OS user."""
    return current_caller().name


def os_user() -> str:
    try:
        return getpass.getuser() or UNKNOWN
    except Exception:  # no USER/LOGNAME and no passwd entry (some containers): not worth failing a write
        return UNKNOWN
