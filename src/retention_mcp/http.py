"""Streamable HTTP serving for a team: stateless, JSON responses, bearer tokens, Host checks, workers.

``create_app(settings)`` builds the ASGI app (testable in-process); ``serve_http(settings)`` runs it under
uvicorn, with

- per-person tokens (``--tokens-file``, ``name: token [role] [scope]`` lines) beside the one shared team token,
  and OAuth 2.1 sign-in (``--oauth-issuer``: JWT access tokens of the company's identity provider, with the
  protected-resource metadata clients discover; see :mod:`retention_mcp.oauth`); each token stands for a
  :class:`~retention_mcp.identity.Caller` — a person, a role and what they may see;
- deadlines for request headers and bodies (uvicorn has none for headers, so a slow client could hold a
  connection forever);
- several workers behind one port, handed their settings and tokens through the pipe multiprocessing
  starts them with (never through the environment), and stopped within seconds of the parent's SIGTERM,
  or of the parent's death.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import logging
import os
import signal
import socket
import stat
import threading
import time
from collections.abc import Mapping
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import h11
import uvicorn
from mcp.server.auth.settings import AuthSettings
from mcp.server.transport_security import TransportSecuritySettings
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.server import Server
from uvicorn.supervisors import Multiprocess

from retention_mcp import __version__
from retention_mcp.identity import Caller
from retention_mcp.oauth import CallerVerifier, JwtVerifier, Problem, ProviderUnavailable, oauth_config
from retention_mcp.settings import Settings, folder_problems

if TYPE_CHECKING:
    from mcp.server import MCPServer
    from starlette.applications import Starlette
    from starlette.types import ASGIApp, Receive, Scope, Send

logger = logging.getLogger(__name__)

MCP_PATH = "/mcp"
#: RFC 9728: where a protected resource's metadata lives.
WELL_KNOWN_RESOURCE = "/.well-known/oauth-protected-resource"
HEALTH_PATH = "/healthz"
#: Where the protected-resource metadata sends people who want to know how to connect.
DOCUMENTATION_URL = "https://github.com/retention-mcp/retention-mcp#deploying-for-a-team"
#: Extra Host header values to accept (comma separated), e.g. the name a reverse proxy forwards.
ALLOWED_HOSTS_ENV = "RETENTION_MCP_ALLOWED_HOSTS"
#: The author name of the single shared token (--token-file / RETENTION_MCP_TOKEN).
SHARED_TOKEN_NAME = "team"
#: Environment variables that may hold a secret; removed before worker processes are started.
SECRET_ENV = ("RETENTION_MCP_TOKEN",)
#: uvicorn's graceful shutdown: open requests get this long after SIGTERM.
GRACEFUL_SHUTDOWN_S = 5
#: A worker that is still alive this long after SIGTERM (a tool stuck in a thread) exits hard.
WORKER_EXIT_DEADLINE_S = GRACEFUL_SHUTDOWN_S + 2
#: The parent waits this long for its workers after SIGTERM, then kills what is left.
PARENT_JOIN_DEADLINE_S = WORKER_EXIT_DEADLINE_S + 1.5
#: How long uvicorn's supervisor waits for a worker to answer its ping. Its 5 s default killed workers still
#: importing their libraries on a loaded machine (load average 15 on 2 cores): killed and restarted every 5 s, they
#: never served.
WORKER_HEALTHCHECK_S = 30
MIN_TOKEN_CHARS = 16
_WILDCARD_HOSTS = {"0.0.0.0", "::", ""}
_LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
TOKEN_ADVICE = ("set a bearer token with --token-file FILE, or the environment variable RETENTION_MCP_TOKEN "
                "(or RETENTION_MCP_TOKEN_FILE), or per-person tokens with --tokens-file FILE "
                "(RETENTION_MCP_TOKENS_FILE), or OAuth sign-in with --oauth-issuer URL (RETENTION_MCP_OAUTH_ISSUER)")


# -- tokens -----------------------------------------------------------------------------------------------

def parse_tokens_file(text: str, source: str = "tokens file", settings: Settings | None = None) -> dict[str, Caller]:
    """``{token: Caller}`` from ``name: token [role] [scope]`` lines; '#' starts a comment. No role: an analyst.
    Errors name the line and the person, never the token.

    ``Zhang Min: <token> manager department=研发部`` gives a manager (protected mode, only 研发部's rows, no pay
    columns); ``Chen Jie: <token> viewer`` a viewer (plans shared with them, no data tools); values with spaces
    are quoted: ``department="Research & Development"``; ``hide=pay,performance`` / ``hide=none`` choose the
    hidden columns."""
    from retention_mcp.permissions import parse_role, split_words

    settings = settings or Settings(data_dirs=(), log_level="WARNING")
    tokens: dict[str, Caller] = {}
    first_line: dict[str, int] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, colon, rest = line.partition(":")
        name = name.strip()
        try:
            words = split_words(rest)
        except ValueError:
            raise ValueError(f"{source}, line {number} ({name}): a quote is not closed") from None
        if not colon or not name or not words:
            raise ValueError(f"{source}, line {number}: write one person per line as 'name: token', optionally "
                             "followed by a role and a scope ('name: token manager department=研发部')")
        token = words[0]
        if len(token) < MIN_TOKEN_CHARS:
            raise ValueError(f"{source}, line {number} ({name}): the token is shorter than {MIN_TOKEN_CHARS} "
                             "characters; make one with: openssl rand -base64 24")
        if token in tokens:
            raise ValueError(f"{source}, line {number} ({name}): the same token is already on line "
                             f"{first_line[token]} ({tokens[token].name}); give every person their own")
        try:
            role, access = parse_role(words[1:], settings)
        except ValueError as exc:
            raise ValueError(f"{source}, line {number} ({name}): {exc}") from None
        tokens[token] = Caller(name=name, role=role, access=access, via="token")
        first_line[token] = number
    if not tokens:
        raise ValueError(f"{source} has no 'name: token' lines")
    return tokens


def load_credentials(settings: Settings) -> dict[str, Caller]:
    """Every accepted static token with its person: the tokens file's, plus the shared token as "team" (an
    analyst)."""
    credentials: dict[str, Caller] = {}
    if settings.tokens_file is not None:
        path = Path(settings.tokens_file).expanduser()
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ValueError(f"cannot read the tokens file {path}: {exc.strerror or exc}") from None
        except UnicodeDecodeError:
            raise ValueError(f"the tokens file {path} is not UTF-8 text") from None
        credentials.update(parse_tokens_file(text, str(path), settings))
        with contextlib.suppress(OSError):
            if os.name == "posix" and path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
                logger.warning("the tokens file %s can be read by other users; chmod 600 it", path)
    if settings.token:
        # Later entries win: the shared token is "team" even if it also appears in the file.
        credentials[settings.token] = Caller(name=SHARED_TOKEN_NAME, via="shared token")
    return credentials


def caller_verifier(settings: Settings, credentials: Mapping[str, Caller]) -> CallerVerifier | None:
    """The server's token check: the static tokens, and OAuth JWTs when an issuer is configured (None: no auth)."""
    if any(not token for token in credentials):
        raise ValueError("the bearer token is empty; " + TOKEN_ADVICE)
    config = oauth_config(settings, resource_url(settings))
    if not credentials and config is None:
        return None
    return CallerVerifier(dict(credentials), JwtVerifier(config, settings) if config is not None else None)


# -- configuration checks ---------------------------------------------------------------------------------

def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and 'localhost'; False for 0.0.0.0, names and any other address."""
    host = host.strip().strip("[]")
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_serving_settings(settings: Settings) -> None:
    """Refuse configurations that would expose the server: raises ValueError saying what to change."""
    if not is_loopback(settings.host) and not settings.token and settings.tokens_file is None and \
            not settings.oauth_issuer:
        raise ValueError(
            f"refusing to listen on {settings.host!r} without a bearer token: beyond loopback (127.0.0.1) "
            f"anyone who can reach the port could read your HR data; {TOKEN_ADVICE}"
        )
    if settings.token is not None and not settings.token.strip():
        raise ValueError("the bearer token is empty; " + TOKEN_ADVICE)
    if settings.public_url is not None:
        parsed = urlparse(settings.public_url.strip())
        if parsed.scheme not in ("http", "https") or not parsed.netloc or parsed.query or parsed.fragment:
            raise ValueError("--public-url must be the MCP endpoint's full URL, e.g. "
                             f"https://hr-tools.example.com/mcp, not {settings.public_url!r}")
    if not 0 < settings.port < 65536:
        raise ValueError(f"port must be between 1 and 65535, not {settings.port}")
    if settings.workers < 1:
        raise ValueError(f"--workers must be 1 or more, not {settings.workers}")
    if settings.max_request_kb <= 0:
        raise ValueError(f"the request size limit must be positive, not {settings.max_request_kb} KB")
    for name, value in (("header", settings.header_timeout_s), ("body", settings.body_timeout_s)):
        if not value > 0:
            raise ValueError(f"the request {name} timeout must be a positive number of seconds, not {value}")


def _host_for_header(host: str) -> str:
    """How a host appears in a Host header: IPv6 addresses in brackets."""
    bare = host.strip().strip("[]")
    return f"[{bare}]" if ":" in bare else bare


def allowed_hosts(settings: Settings, environ: dict[str, str] | None = None) -> list[str]:
    """Host header values accepted (DNS-rebinding protection): the configured host:port and its aliases."""
    env = os.environ if environ is None else environ
    port = settings.port
    names: list[str] = []
    host = settings.host.strip()
    if host not in _WILDCARD_HOSTS:
        names.append(_host_for_header(host))
    if is_loopback(host) or host in _WILDCARD_HOSTS:
        names.extend(_LOOPBACK_NAMES)
    if host in _WILDCARD_HOSTS:  # listening on every interface: the machine's own names and addresses are legitimate
        names.extend(_machine_names())
    extra = [h.strip() for h in env.get(ALLOWED_HOSTS_ENV, "").split(",") if h.strip()]
    if settings.public_url:  # the name clients use behind a proxy, as the operator declared it
        extra.append(urlparse(settings.public_url).netloc)
    hosts: list[str] = []
    for name in names:
        hosts += [f"{name}:{port}", name] if port == 80 else [f"{name}:{port}"]
    hosts += extra  # given verbatim, e.g. "hr-tools.example.com" or "hr-tools.example.com:8443"
    return list(dict.fromkeys(hosts))


def _machine_names() -> list[str]:
    names = [socket.gethostname(), socket.getfqdn()]
    with contextlib.suppress(OSError):  # no resolvable hostname: names only
        names += socket.gethostbyname_ex(socket.gethostname())[2]
    return list(dict.fromkeys(n for n in names if n))


def transport_security(settings: Settings) -> TransportSecuritySettings:
    hosts = allowed_hosts(settings)
    origins = [f"{scheme}://{h}" for h in hosts for scheme in ("http", "https")]
    return TransportSecuritySettings(enable_dns_rebinding_protection=True, allowed_hosts=hosts,
                                     allowed_origins=origins)


def public_url(settings: Settings) -> str:
    host = "127.0.0.1" if settings.host.strip() in _WILDCARD_HOSTS else _host_for_header(settings.host)
    return f"http://{host}:{settings.port}{MCP_PATH}"


def resource_url(settings: Settings) -> str:
    """This server's MCP endpoint as clients reach it: ``--public-url``, else the bound address. It is the
    resource OAuth tokens are issued for (RFC 8707) and the one its metadata names (RFC 9728)."""
    return (settings.public_url or public_url(settings)).strip()


def resource_metadata_paths(settings: Settings) -> list[str]:
    """Where the protected-resource metadata is served: the root well-known path and the path-suffixed one
    (RFC 9728 §3.1: the well-known prefix inserted before the resource's path), for /mcp and for the public URL's
    own path behind a proxy."""
    paths = [WELL_KNOWN_RESOURCE, WELL_KNOWN_RESOURCE + MCP_PATH]
    public_path = urlparse(resource_url(settings)).path.rstrip("/")
    if public_path:
        paths.append(WELL_KNOWN_RESOURCE + public_path)
    return list(dict.fromkeys(paths))


def resource_metadata_url(settings: Settings) -> str:
    """The metadata URL a 401 points to (the path-suffixed form of the public URL)."""
    parsed = urlparse(resource_url(settings))
    return f"{parsed.scheme}://{parsed.netloc}{WELL_KNOWN_RESOURCE}{parsed.path.rstrip('/')}"


# -- the app ----------------------------------------------------------------------------------------------

_MISSING_TOKEN = ("this server needs the header 'Authorization: Bearer <token>' with the token its operator "
                  "gave you (a static token: this server does not use OAuth sign-in)")
_INVALID_TOKEN = ("the bearer token is not valid for this server: check the token you were given, or ask "
                  "the server's operator for a new one (a static token: this server does not use OAuth sign-in)")
_MISSING_SIGN_IN = ("this server needs 'Authorization: Bearer <token>': sign in with the company's identity provider "
                    "(OAuth; the resource metadata names it) or use the token the server's operator gave you")
_NO_OAUTH = ("retention-mcp does not use OAuth sign-in: it takes a static bearer token. If you were sent here "
             "after a 401, the token your client sent is missing or not valid: set the header "
             "'Authorization: Bearer <token>' with the token the server's operator gave you")
_NOT_THE_AUTHORIZATION_SERVER = ("retention-mcp is an OAuth resource server, not the authorization server: sign in "
                                 "at the issuer its protected-resource metadata names ({issuer})")
_PROVIDER_DOWN = ("the sign-in service could not be reached to check the token; try again shortly (the server "
                  "log says why)")
#: Where OAuth clients look after a 401 (discovery, then dynamic registration, authorize, token).
_OAUTH_PATHS = ("/.well-known/oauth-protected-resource", "/.well-known/oauth-authorization-server",
                "/.well-known/openid-configuration", "/register", "/authorize", "/token")
_STATELESS = ("this server is stateless and has no event stream to GET; send each JSON-RPC message "
              f"with POST {MCP_PATH}")


async def _send_json(send: Send, status: int, body: dict[str, Any], headers: list[tuple[bytes, bytes]]) -> None:
    data = json.dumps(body).encode("utf-8")
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(data)).encode()), *headers]})
    await send({"type": "http.response.body", "body": data})


def _challenge(metadata_url: str | None, error: str | None = None, description: str | None = None,
               scope: str | None = None) -> bytes:
    """A ``WWW-Authenticate: Bearer ...`` value (RFC 6750 §3; ``resource_metadata`` from RFC 9728 §5.1)."""
    parts = ['realm="retention-mcp"']
    if error:
        parts.append(f'error="{error}"')
    if description:
        parts.append(f'error_description="{description.replace(chr(34), chr(39))}"')
    if scope:
        parts.append(f'scope="{scope}"')
    if metadata_url:
        parts.append(f'resource_metadata="{metadata_url}"')
    return ("Bearer " + ", ".join(parts)).encode("latin-1", "replace")


class _McpGate:
    """In front of the SDK's endpoint: 405 for anything but POST, 401s and 403s that tell a client what is wrong
    (and, with OAuth, where to sign in), and a request whose client goes away is cancelled.

    The SDK answers a bad token exactly like a missing one, which OAuth-capable clients read as "start
    sign-in" and then report as a failed dynamic client registration. And in JSON-response mode the SDK
    never looks for the client's disconnect (uvicorn reports it only to whoever calls ``receive()``), so an
    abandoned call would keep its worker — and the calls queued behind it — busy until it finished.
    """

    def __init__(self, app: ASGIApp, verifier: CallerVerifier | None = None, max_body: int = 8_000 * 1024,
                 metadata_url: str | None = None, issuer: str | None = None,
                 metadata_paths: tuple[str, ...] = ()) -> None:
        self.app = app
        self.verifier = verifier
        self.max_body = max_body
        self.metadata_url = metadata_url  # set when OAuth sign-in is configured
        self.issuer = issuer
        self.metadata_paths = metadata_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if path.startswith(_OAUTH_PATHS) and path not in self.metadata_paths:
            # Clients print this body (mcp-remote: "Dynamic Client Registration rejected (HTTP 404): <body>"),
            # so it says what is really wrong instead of a bare "Not Found".
            message = (_NOT_THE_AUTHORIZATION_SERVER.format(issuer=self.issuer) if self.metadata_url
                       else _NO_OAUTH)
            await _send_json(send, 404, {"error": "invalid_request" if self.metadata_url else "invalid_token",
                                         "error_description": message}, [])
            return
        if scope["type"] != "http" or path != MCP_PATH:
            await self.app(scope, receive, send)
            return
        if scope["method"] != "POST":
            # A GET would open an event stream that a stateless server never writes to (spec: 405 is allowed).
            await _send_json(send, 405, {"jsonrpc": "2.0", "id": None,
                                         "error": {"code": -32600, "message": "Method Not Allowed: " + _STATELESS}},
                             [(b"allow", b"POST")])
            return
        if self.verifier is not None:
            authorization = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"authorization"), "")
            scheme, _, token = authorization.strip().partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                missing = _MISSING_SIGN_IN if self.metadata_url else _MISSING_TOKEN
                await _send_json(send, 401, {"error": "unauthorized", "error_description": missing},
                                 [(b"www-authenticate", _challenge(self.metadata_url))])
                return
            try:
                verdict = await self.verifier.check(token.strip())
            except ProviderUnavailable as exc:
                logger.warning("token not checked: %s", exc)
                await _send_json(send, 503, {"error": "temporarily_unavailable", "error_description": _PROVIDER_DOWN},
                                 [(b"retry-after", b"5")])
                return
            if isinstance(verdict, Problem):
                description = verdict.description if self.metadata_url else _INVALID_TOKEN
                scopes = " ".join(self.verifier.jwt.config.scopes_supported) if (
                    self.verifier.jwt is not None and verdict.error == "insufficient_scope") else None
                await _send_json(send, verdict.status, {"error": verdict.error, "error_description": description},
                                 [(b"www-authenticate", _challenge(self.metadata_url, verdict.error, description,
                                                                   scopes))])
                return
        await self._cancelled_on_disconnect(scope, receive, send)

    async def _cancelled_on_disconnect(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Read the body, then run the SDK's app with a watcher: when the client disconnects, the request's
        work is cancelled (its worker killed) and whatever waited behind it goes ahead."""
        import anyio

        body = bytearray()
        more = True
        while more and len(body) <= self.max_body:  # past the limit the SDK answers 413 from what it got
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # gone before the request was complete: nothing was started
            body += message.get("body", b"")
            more = bool(message.get("more_body", False))
        gone = anyio.Event()
        delivered = False

        async def replay() -> dict[str, Any]:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            await gone.wait()
            return {"type": "http.disconnect"}

        async with anyio.create_task_group() as group:

            async def watch() -> None:
                while (await receive())["type"] != "http.disconnect":
                    pass
                gone.set()
                group.cancel_scope.cancel()  # (after a complete response this cancels nothing left to do)

            group.start_soon(watch)
            await self.app(scope, replay, send)
            group.cancel_scope.cancel()


class _QuietDisconnects(logging.Filter):
    """The SDK logs a traceback when a client goes away mid-body, e.g. closed for missing its body deadline:
    that is the client's doing, not a server error."""

    def filter(self, record: logging.LogRecord) -> bool:
        from starlette.requests import ClientDisconnect

        return not (record.exc_info and isinstance(record.exc_info[1], ClientDisconnect))


def _quiet_disconnects() -> None:
    sdk_logger = logging.getLogger("mcp.server.streamable_http")
    if not any(isinstance(f, _QuietDisconnects) for f in sdk_logger.filters):
        sdk_logger.addFilter(_QuietDisconnects())


def http_server(settings: Settings, credentials: Mapping[str, Caller] | None = None,
                verifier: CallerVerifier | None = None) -> MCPServer:
    """The MCP server for HTTP: built with the token verifier of ``credentials`` ({token: Caller}; default: those
    ``settings`` name) and of the OAuth issuer, so the SDK's auth layer puts the caller's token where
    :func:`retention_mcp.identity.current_caller` finds it."""
    from retention_mcp.server import build_server

    if credentials is None:
        credentials = load_credentials(settings)
    if verifier is None:
        verifier = caller_verifier(settings, credentials)
    # The protected-resource metadata is served by create_app (both well-known paths, with the scopes), and the
    # gate answers every 401 itself, so the SDK is told no resource URL: it adds no route and no second check.
    issuer = settings.oauth_issuer or public_url(settings)
    auth = AuthSettings(issuer_url=issuer, resource_server_url=None) if verifier else None
    return build_server(settings, token_verifier=verifier, auth=auth)


def protected_resource_routes(settings: Settings, verifier: CallerVerifier) -> list[Any]:
    """RFC 9728 metadata (the SDK's model and handler) at every path a client may look: this resource, its
    authorization server (the issuer), the scopes that map to roles, and where the documentation is."""
    from mcp.server.auth.handlers.metadata import ProtectedResourceMetadataHandler
    from mcp.server.auth.routes import cors_middleware
    from mcp.shared.auth import ProtectedResourceMetadata
    from starlette.routing import Route

    assert verifier.jwt is not None
    config = verifier.jwt.config
    metadata = ProtectedResourceMetadata(
        resource=config.resource, authorization_servers=[config.issuer], scopes_supported=config.scopes_supported,
        resource_name="retention-mcp", resource_documentation=DOCUMENTATION_URL)
    handler = ProtectedResourceMetadataHandler(metadata)
    return [Route(path, endpoint=cors_middleware(handler.handle, ["GET", "OPTIONS"]), methods=["GET", "OPTIONS"])
            for path in resource_metadata_paths(settings)]


def create_app(settings: Settings, credentials: Mapping[str, Caller] | None = None,
               server: MCPServer | None = None) -> Starlette:
    """The ASGI app: POST /mcp (stateless streamable HTTP, JSON responses), GET /healthz (no auth) and, with OAuth
    sign-in, the protected-resource metadata.

    ``credentials`` ({token: Caller}) default to those ``settings`` name; ``server`` to :func:`http_server`
    (a server passed in must come from :func:`http_server` with the same credentials)."""
    from starlette.requests import Request
    from starlette.responses import JSONResponse

    check_serving_settings(settings)
    _quiet_disconnects()
    if credentials is None:
        credentials = load_credentials(settings)
    verifier = caller_verifier(settings, credentials)
    if server is None:
        server = http_server(settings, credentials, verifier)

    @server.custom_route(HEALTH_PATH, methods=["GET"])
    async def healthz(request: Request) -> JSONResponse:  # no auth: load balancers and probes call it
        return JSONResponse({"status": "ok", "version": __version__})

    app = server.streamable_http_app(
        streamable_http_path=MCP_PATH,
        json_response=True,
        stateless_http=True,
        max_request_body_size=int(settings.max_request_kb * 1024),
        transport_security=transport_security(settings),
        host=settings.host,
    )
    oauth = verifier is not None and verifier.jwt is not None
    if oauth:
        app.router.routes.extend(protected_resource_routes(settings, verifier))
    app.add_middleware(_McpGate, verifier=verifier, max_body=int(settings.max_request_kb * 1024),
                       metadata_url=resource_metadata_url(settings) if oauth else None,
                       issuer=settings.oauth_issuer if oauth else None,
                       metadata_paths=tuple(resource_metadata_paths(settings)) if oauth else ())
    return app


# -- uvicorn: request deadlines ---------------------------------------------------------------------------

class TimedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with two deadlines: complete headers, then the complete body.

    uvicorn only times out idle keep-alive connections, so a client that sends one header byte every few
    seconds (slow loris) or never finishes its body holds a connection and a task forever.
    """

    def __init__(self, config: Any, server_state: Any, app_state: dict[str, Any],
                 _loop: asyncio.AbstractEventLoop | None = None) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.header_timeout = float(getattr(config, "header_timeout_s", 10.0))
        self.body_timeout = float(getattr(config, "body_timeout_s", 30.0))
        self.deadline: asyncio.TimerHandle | None = None
        self.waiting_for: str | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._track()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._track()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._track()

    def connection_lost(self, exc: Exception | None) -> None:
        self._set_deadline(None)
        super().connection_lost(exc)

    def shutdown(self) -> None:
        # A request whose body is still coming has done no work yet: end it now rather than hold the
        # shutdown for the graceful period.
        if self.waiting_for == "body" and not self.transport.is_closing() and not (
                self.cycle is not None and self.cycle.response_started):
            self._set_deadline(None)
            self._close_with(503, "Service Unavailable", "the server is shutting down; send the request again")
            return
        super().shutdown()

    def _close_with(self, status: int, reason: str, message: str) -> None:
        text = (message + "\n").encode()
        self.transport.write(f"HTTP/1.1 {status} {reason}\r\ncontent-type: text/plain; charset=utf-8\r\n"
                             f"connection: close\r\ncontent-length: {len(text)}\r\n\r\n".encode() + text)
        self.transport.close()

    def _track(self) -> None:
        """Arm the deadline that fits what we wait for from the client now."""
        if self.transport.is_closing():
            self._set_deadline(None)
            return
        state = self.conn.their_state
        self._set_deadline("headers" if state is h11.IDLE else "body" if state is h11.SEND_BODY else None)

    def _set_deadline(self, waiting_for: str | None) -> None:
        if waiting_for == self.waiting_for:
            return  # keep the running deadline: it counts from when the wait began
        if self.deadline is not None:
            self.deadline.cancel()
            self.deadline = None
        self.waiting_for = waiting_for
        if waiting_for is not None:
            seconds = self.header_timeout if waiting_for == "headers" else self.body_timeout
            self.deadline = self.loop.call_later(seconds, self._expired, waiting_for, seconds)

    def _expired(self, waiting_for: str, seconds: float) -> None:
        self.deadline = None
        if self.transport.is_closing():
            return
        partial_request = waiting_for == "body" or bool(self.conn.trailing_data[0])
        response_started = waiting_for == "body" and self.cycle is not None and self.cycle.response_started
        logger.debug("closing a connection from %s: request %s not received within %g s",
                     self.client[0] if self.client else "?", waiting_for, seconds)
        if partial_request and not response_started:
            self._close_with(408, "Request Timeout",
                             f"request {waiting_for} not received within {seconds:g} s; the connection is closed")
        else:
            self.transport.close()


# -- uvicorn: configuration, workers and stopping them ----------------------------------------------------

class RetentionConfig(uvicorn.Config):
    """A uvicorn Config that carries our settings and tokens; pickled, it is how they reach each worker.

    multiprocessing sends a spawned worker its arguments through a pipe, so the tokens never sit in a
    worker's environment or command line; each worker builds its app from this object.
    """

    def __init__(self, settings: Settings, credentials: Mapping[str, Caller]) -> None:
        super().__init__(
            "retention_mcp.http:create_app", factory=True, host=settings.host, port=settings.port,
            workers=settings.workers, http=TimedH11Protocol, log_config=uvicorn_log_config(settings.log_level),
            server_header=False, lifespan="on", timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
            timeout_worker_healthcheck=WORKER_HEALTHCHECK_S)
        self.retention_settings = settings
        self.credentials = dict(credentials)
        self.header_timeout_s = settings.header_timeout_s
        self.body_timeout_s = settings.body_timeout_s

    def load_app(self) -> Any:  # runs in the process that serves: each worker, or the only process
        _arm_exit_deadline(WORKER_EXIT_DEADLINE_S)
        if self.workers > 1:
            _watch_parent()
        return partial(create_app, self.retention_settings, self.credentials)


def _arm_exit_deadline(seconds: float) -> None:
    """After SIGTERM/SIGINT, uvicorn shuts down gracefully; if that hangs (a tool's thread that never
    returns), exit anyway ``seconds`` later. Only in the main thread, where uvicorn handles signals."""
    if threading.current_thread() is not threading.main_thread():
        return
    armed = threading.Event()

    def hard_exit() -> None:
        time.sleep(seconds)
        logger.error("still running %g s after the stop signal; exiting now", seconds)
        os._exit(1)

    for sig in (signal.SIGTERM, signal.SIGINT):
        previous = signal.getsignal(sig)

        def handler(signum: int, frame: Any, previous: Any = previous) -> None:
            if not armed.is_set():
                armed.set()
                threading.Thread(target=hard_exit, name="retention-mcp-exit-deadline", daemon=True).start()
            if callable(previous):
                previous(signum, frame)

        signal.signal(sig, handler)


def _watch_parent() -> None:
    """A worker whose parent is gone (killed, crashed) stops, instead of serving on unsupervised."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.25)
        logger.warning("the parent process %d is gone; this worker stops", parent)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="retention-mcp-parent-watch", daemon=True).start()


class Supervisor(Multiprocess):
    def join_all(self) -> None:
        # uvicorn waits for each worker without a limit; a stuck one would keep the port serving.
        deadline = time.monotonic() + PARENT_JOIN_DEADLINE_S
        for worker in self.processes:
            worker.process.join(max(0.0, deadline - time.monotonic()))
        for worker in self.processes:
            if worker.process.exitcode is None:
                logger.error("worker %s did not stop within %g s; killing it", worker.pid, PARENT_JOIN_DEADLINE_S)
                worker.kill()
                worker.process.join(5)


def uvicorn_log_config(level: str) -> dict[str, Any]:
    """Logging for the server and its workers, all on stderr (uvicorn sends access lines to stdout).
    Headers are never logged."""
    fmt = "%(asctime)s %(levelname)s %(name)s[%(process)d]: %(message)s"
    quiet = level if level == "DEBUG" else "WARNING"  # per-request lines only when debugging
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"plain": {"format": fmt}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "plain", "stream": "ext://sys.stderr"}},
        # The root logger too: a spawned worker starts with logging unconfigured.
        "root": {"handlers": ["stderr"], "level": level},
        "loggers": {
            "uvicorn": {"handlers": ["stderr"], "level": level, "propagate": False},
            "uvicorn.error": {"level": level},
            # Access lines: client address, method, path, status (never headers, so never the token).
            "uvicorn.access": {"handlers": ["stderr"], "level": quiet, "propagate": False},
            # The stateless transport logs "Terminating session: None" at INFO after every request.
            "mcp.server.streamable_http": {"level": quiet},
        },
    }


def _auth_summary(credentials: Mapping[str, Caller], settings: Settings | None = None) -> str:
    oauth = bool(settings is not None and settings.oauth_issuer)
    if not credentials and not oauth:
        return "off (loopback only)"
    people = sorted({c.name for c in credentials.values()} - {SHARED_TOKEN_NAME})
    roles = sorted({c.role for c in credentials.values() if c.name != SHARED_TOKEN_NAME})
    parts = (["shared team token"] if SHARED_TOKEN_NAME in {c.name for c in credentials.values()} else []) + (
        [f"{len(people)} personal token(s) ({', '.join(roles)})"] if people else [])
    if oauth:
        parts.append(f"OAuth issuer {settings.oauth_issuer}")  # type: ignore[union-attr]
    return "bearer token (" + " + ".join(parts) + ")"


def serve_http(settings: Settings) -> int:
    """Run the server over stateless streamable HTTP at http://HOST:PORT/mcp until stopped.

    Raises ValueError (before binding anything) for a refused configuration, e.g. no token beyond loopback,
    or a tokens file with a bad line.
    """
    check_serving_settings(settings)
    if problems := folder_problems(settings):  # a team server must not start half-configured
        raise ValueError("cannot start: " + "; ".join(problems))
    # Callers over HTTP hold a token, not the files: protected figures unless the operator chose otherwise.
    settings = settings.with_(privacy_mode=settings.privacy_mode or "protected")
    credentials = load_credentials(settings)
    caller_verifier(settings, credentials)  # a bad OAuth setting stops the start, before anything is bound
    url = public_url(settings)
    logger.info("retention-mcp %s serving MCP over HTTP at %s (health: %s), workers=%d, auth=%s, "
                "request limit %.0f KB, header/body timeouts %g/%g s, privacy mode %s; data folder(s): %s; "
                "output folder: %s", __version__, url, url.removesuffix(MCP_PATH) + HEALTH_PATH, settings.workers,
                _auth_summary(credentials, settings), settings.max_request_kb, settings.header_timeout_s,
                settings.body_timeout_s, settings.privacy_mode, ", ".join(str(d) for d in settings.data_dirs),
                settings.output_dir)
    config = RetentionConfig(settings, credentials)
    if settings.workers == 1:
        server = Server(config)
        server.run()
        return 0 if server.started else 1
    # Worker processes inherit this environment: the token has been read, so it leaves it.
    for name in SECRET_ENV:
        os.environ.pop(name, None)
    sock = config.bind_socket()
    try:
        Supervisor(config, sockets=[sock]).run()
    finally:
        sock.close()
    return 0


