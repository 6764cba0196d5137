"""Streamable HTTP serving for a team: stateless, JSON responses, bearer token, Host checks, workers.

``create_app(settings)`` builds the ASGI app (testable in-process); ``serve_http(settings)`` runs it under
uvicorn. Several workers share one port: uvicorn re-imports ``create_app_from_env`` in each worker process,
and the settings travel to those processes in one environment variable.
"""

from __future__ import annotations

import contextlib
import hmac
import ipaddress
import json
import logging
import os
import socket
import sys
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mcp.server.auth.provider import AccessToken, TokenVerifier
from mcp.server.auth.settings import AuthSettings
from mcp.server.transport_security import TransportSecuritySettings

from retention_mcp import __version__
from retention_mcp.settings import Settings

if TYPE_CHECKING:
    from starlette.applications import Starlette

logger = logging.getLogger(__name__)

MCP_PATH = "/mcp"
HEALTH_PATH = "/healthz"
#: Extra Host header values to accept (comma separated), e.g. the name a reverse proxy forwards.
ALLOWED_HOSTS_ENV = "RETENTION_MCP_ALLOWED_HOSTS"
#: Private: the full Settings, as JSON, handed from ``serve_http`` to uvicorn's worker processes.
_SETTINGS_ENV = "RETENTION_MCP__HTTP_SETTINGS"
_WILDCARD_HOSTS = {"0.0.0.0", "::", ""}
_LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
TOKEN_ADVICE = ("set a bearer token with --token-file FILE, or the environment variable RETENTION_MCP_TOKEN "
                "(or RETENTION_MCP_TOKEN_FILE)")


class StaticTokenVerifier(TokenVerifier):
    """Accepts exactly one shared bearer token, compared in constant time."""

    def __init__(self, token: str) -> None:
        if not token:
            raise ValueError("the bearer token is empty; " + TOKEN_ADVICE)
        self._expected = token.encode("utf-8")

    async def verify_token(self, token: str) -> AccessToken | None:
        if hmac.compare_digest(token.encode("utf-8"), self._expected):
            # One shared token: every caller is the same principal, "team".
            return AccessToken(token=token, client_id="team", scopes=[])
        return None


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
    if not is_loopback(settings.host) and not settings.token:
        raise ValueError(
            f"refusing to listen on {settings.host!r} without a bearer token: beyond loopback (127.0.0.1) "
            f"anyone who can reach the port could read your HR data; {TOKEN_ADVICE}"
        )
    if settings.token is not None and not settings.token.strip():
        raise ValueError("the bearer token is empty; " + TOKEN_ADVICE)
    if not 0 < settings.port < 65536:
        raise ValueError(f"port must be between 1 and 65535, not {settings.port}")
    if settings.workers < 1:
        raise ValueError(f"--workers must be 1 or more, not {settings.workers}")
    if settings.max_request_kb <= 0:
        raise ValueError(f"the request size limit must be positive, not {settings.max_request_kb} KB")


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


def create_app(settings: Settings) -> Starlette:
    """The ASGI app: POST /mcp (stateless streamable HTTP, JSON responses) and GET /healthz (no auth)."""
    from starlette.requests import Request
    from starlette.responses import JSONResponse

    from retention_mcp.server import build_server

    check_serving_settings(settings)
    server = build_server(settings)

    @server.custom_route(HEALTH_PATH, methods=["GET"])
    async def healthz(request: Request) -> JSONResponse:  # no auth: load balancers and probes call it
        return JSONResponse({"status": "ok", "version": __version__})

    verifier = StaticTokenVerifier(settings.token) if settings.token else None
    # A static shared token has no authorization server; the issuer is ourselves, and no resource URL is
    # advertised, so clients are not sent on an OAuth discovery they cannot complete.
    auth = AuthSettings(issuer_url=public_url(settings), resource_server_url=None) if verifier else None
    # MCPServer takes token_verifier/auth only in its constructor (build_server owns that), so the low-level
    # app factory, which accepts them per app, builds the HTTP app.
    return server._lowlevel_server.streamable_http_app(
        streamable_http_path=MCP_PATH,
        json_response=True,
        stateless_http=True,
        max_request_body_size=int(settings.max_request_kb * 1024),
        transport_security=transport_security(settings),
        host=settings.host,
        auth=auth,
        token_verifier=verifier,
        custom_starlette_routes=server._custom_starlette_routes,
    )


# -- settings across processes (uvicorn workers re-import the app by name)

def settings_to_env(settings: Settings) -> str:
    values: dict[str, Any] = {}
    for f in fields(Settings):
        value = getattr(settings, f.name)
        if isinstance(value, Path):
            value = str(value)
        elif isinstance(value, tuple):
            value = [str(v) for v in value]
        values[f.name] = value
    return json.dumps(values)


def settings_from_env_json(text: str) -> Settings:
    values = json.loads(text)
    values["data_dirs"] = tuple(Path(p) for p in values["data_dirs"])
    for key in ("output_dir", "prompts_dir", "catalog_dir"):
        if values.get(key) is not None:
            values[key] = Path(values[key])
    return Settings(**values)


def create_app_from_env() -> Starlette:
    """uvicorn factory for worker processes: settings from the environment ``serve_http`` prepared."""
    text = os.environ.get(_SETTINGS_ENV)
    settings = settings_from_env_json(text) if text else Settings.from_env()
    _configure_worker_logging(settings.log_level)
    return create_app(settings)


def _configure_worker_logging(level: str) -> None:
    # A spawned worker starts with unconfigured logging; like the CLI, everything goes to stderr.
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(stream=sys.stderr, level=level,
                            format="%(asctime)s %(levelname)s %(name)s[%(process)d]: %(message)s")


def uvicorn_log_config(level: str) -> dict[str, Any]:
    """uvicorn's logging, all on stderr (its default sends access lines to stdout). Headers are never logged."""
    fmt = "%(asctime)s %(levelname)s %(name)s[%(process)d]: %(message)s"
    quiet = level if level == "DEBUG" else "WARNING"  # per-request lines only when debugging
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"plain": {"format": fmt}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "plain", "stream": "ext://sys.stderr"}},
        "loggers": {
            "uvicorn": {"handlers": ["stderr"], "level": level, "propagate": False},
            "uvicorn.error": {"level": level},
            # Access lines: client address, method, path, status (never headers, so never the token).
            "uvicorn.access": {"handlers": ["stderr"], "level": quiet, "propagate": False},
            # The stateless transport logs "Terminating session: None" at INFO after every request.
            "mcp.server.streamable_http": {"level": quiet},
        },
    }


def serve_http(settings: Settings) -> int:
    """Run the server over stateless streamable HTTP at http://HOST:PORT/mcp until interrupted.

    Raises ValueError (before binding anything) for a refused configuration, e.g. no token beyond loopback.
    """
    import uvicorn

    check_serving_settings(settings)
    logger.info("retention-mcp %s serving MCP over HTTP at %s (health: %s), workers=%d, auth=%s, "
                "request limit %.0f KB", __version__, public_url(settings),
                public_url(settings).removesuffix(MCP_PATH) + HEALTH_PATH, settings.workers,
                "bearer token" if settings.token else "off (loopback only)", settings.max_request_kb)
    common: dict[str, Any] = dict(host=settings.host, port=settings.port, log_config=uvicorn_log_config(
        settings.log_level), server_header=False, lifespan="on", timeout_graceful_shutdown=5)
    if settings.workers == 1:
        uvicorn.run(create_app(settings), **common)
    else:
        os.environ[_SETTINGS_ENV] = settings_to_env(settings)
        try:
            uvicorn.run("retention_mcp.http:create_app_from_env", factory=True, workers=settings.workers, **common)
        finally:
            os.environ.pop(_SETTINGS_ENV, None)
    return 0
