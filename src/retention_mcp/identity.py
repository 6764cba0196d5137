"""Who is asking: the author recorded with every plan version, evidence record and saved template.

- Over HTTP with bearer tokens: the name the caller's token maps to (the access token's ``client_id``).
  With a tokens file (``name: token`` per line) that is the person's name; with the single shared
  token it is ``"team"``.
- Otherwise (stdio, or HTTP on loopback without a token): the operating-system user running the server,
  which for a desktop client is the person at the keyboard.

Call it on the event loop, inside the request (the token lives in a context variable set by the auth
middleware), and pass the result into worker threads.
"""

from __future__ import annotations

import getpass

#: Recorded when no name can be found at all (no token, and the OS cannot name the user).
UNKNOWN = "unknown"


def current_author() -> str:
    """The caller's name: the bearer token's client id over HTTP, else the OS user."""
    from mcp.server.auth.middleware.auth_context import get_access_token

    token = get_access_token()
    if token is not None and token.client_id:
        return token.client_id
    return os_user()


def os_user() -> str:
    try:
        return getpass.getuser() or UNKNOWN
    except Exception:  # no USER/LOGNAME and no passwd entry (some containers): not worth failing a write
        return UNKNOWN
