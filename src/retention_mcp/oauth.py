"""OAuth 2.1 sign-in as the MCP authorization spec (2025-06-18, 2025-11-25) describes it: this server is a
*resource server*. The company's identity provider (the issuer) signs JWT access tokens; this server

- publishes its protected-resource metadata (RFC 9728) at ``/.well-known/oauth-protected-resource`` and the
  path-suffixed ``/.well-known/oauth-protected-resource/mcp``, naming the issuer as its authorization server, so
  Claude's and ChatGPT's remote connectors find where to sign in (a 401 carries ``resource_metadata`` too);
- accepts a bearer token only when it is a JWT whose signature verifies against the issuer's published keys
  (JWKS, found from the issuer's discovery document), whose ``iss`` is the issuer, whose ``aud`` names this
  server (RFC 8707: a token issued for another resource is refused), and which has not expired;
- maps the token's scopes to a role (``--oauth-roles``; the most capable mapped role wins), takes a manager's
  rows from a claim (``retention_rows``) and the person's name from another (``preferred_username``, ``email``,
  ``sub``).

PyJWT does the JOSE work: signature algorithms (RSA, RSA-PSS, ECDSA, EdDSA through ``cryptography``), the
registered-claim checks with a stated leeway, and a JWKS client with a cached key set and a cooldown on
refetches for unknown key ids (so a stream of made-up ``kid`` values cannot hammer the provider). HMAC and
``none`` are never accepted: a public key must not double as a shared secret.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from mcp.server.auth.provider import AccessToken, TokenVerifier

from retention_mcp.identity import Caller, CallerToken
from retention_mcp.settings import Settings

logger = logging.getLogger(__name__)

#: Signature algorithms accepted (asymmetric only).
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
#: Clock skew tolerated on nbf / iat, seconds (never on exp: the SDK's auth middleware, which checks every request
#: after us, allows none, and an expired token must get the same answer from both).
LEEWAY_S = 5
#: How long the provider's key set is kept before it is fetched again, seconds.
JWKS_LIFESPAN_S = 300
#: Timeout of a request to the provider (discovery, keys), seconds.
PROVIDER_TIMEOUT_S = 10
#: Name claims tried after the configured one.
NAME_CLAIMS = ("preferred_username", "email", "sub", "client_id")


class ProviderUnavailable(Exception):
    """The identity provider's discovery document or keys could not be fetched: tokens cannot be checked now."""


@dataclass(frozen=True)
class Problem:
    """Why a request's token is not accepted: the OAuth error code, a sentence, and the HTTP status."""

    error: str  # invalid_token | insufficient_scope
    description: str
    status: int = 401


EXPIRED = Problem("invalid_token", "the access token has expired; sign in again")


@dataclass(frozen=True)
class OAuthConfig:
    issuer: str
    audience: str
    resource: str  # this server's MCP endpoint URL (the RFC 9728 resource)
    scope_roles: dict[str, str]
    jwks_url: str | None
    name_claim: str | None
    rows_claim: str
    hide_claim: str

    @property
    def scopes_supported(self) -> list[str]:
        return sorted(self.scope_roles)


def oauth_config(settings: Settings, resource: str) -> OAuthConfig | None:
    """The OAuth settings, checked (None when no issuer is configured). Raises ValueError saying what to fix."""
    from retention_mcp.permissions import default_scope_roles, parse_scope_roles

    issuer = (settings.oauth_issuer or "").strip()
    if not issuer:
        return None
    parsed = urlparse(issuer)
    if parsed.scheme not in ("http", "https") or not parsed.netloc or parsed.query or parsed.fragment:
        raise ValueError(f"--oauth-issuer must be the provider's issuer URL (https://..., no query), not {issuer!r}")
    if parsed.scheme != "https" and parsed.hostname not in ("127.0.0.1", "localhost", "::1"):
        raise ValueError(f"--oauth-issuer must use https (plain http only on loopback, for testing): {issuer}")
    roles = parse_scope_roles(settings.oauth_roles) if settings.oauth_roles else default_scope_roles(settings)
    return OAuthConfig(issuer=issuer, audience=(settings.oauth_audience or resource).strip(), resource=resource,
                       scope_roles=roles, jwks_url=settings.oauth_jwks_url, name_claim=settings.oauth_name_claim,
                       rows_claim=settings.oauth_rows_claim, hide_claim=settings.oauth_hide_claim)


def discovery_urls(issuer: str) -> list[str]:
    """Where an issuer's metadata may be: OpenID Connect discovery, then RFC 8414 (path inserted after the host)."""
    parsed = urlparse(issuer)
    path = parsed.path.rstrip("/")
    base = f"{parsed.scheme}://{parsed.netloc}"
    return [f"{base}{path}/.well-known/openid-configuration", f"{base}/.well-known/oauth-authorization-server{path}",
            f"{base}/.well-known/openid-configuration{path}"]


def _get_json(url: str) -> Any:
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    with urllib.request.urlopen(request, timeout=PROVIDER_TIMEOUT_S) as response:
        return json.load(response)


class JwtVerifier:
    """Checks JWT access tokens of one issuer; ``check(token)`` gives the caller or the :class:`Problem`."""

    def __init__(self, config: OAuthConfig, settings: Settings) -> None:
        self.config = config
        self.settings = settings
        self._client: Any = None
        self._lock = threading.Lock()

    def _jwks(self) -> Any:
        """The provider's key set client, the key URL found from the issuer's discovery document once."""
        with self._lock:
            if self._client is not None:
                return self._client
            from jwt import PyJWKClient

            url = self.config.jwks_url
            if not url:
                url = self._discover_jwks_url()
            if urlparse(url).scheme not in ("http", "https"):
                raise ProviderUnavailable(f"the provider's key URL {url!r} is not http(s)")
            self._client = PyJWKClient(url, cache_keys=False, lifespan=JWKS_LIFESPAN_S, timeout=PROVIDER_TIMEOUT_S)
            return self._client

    def _discover_jwks_url(self) -> str:
        failures = []
        for url in discovery_urls(self.config.issuer):
            try:
                metadata = _get_json(url)
            except (OSError, ValueError) as exc:
                failures.append(f"{url}: {exc}")
                continue
            if not isinstance(metadata, dict) or not metadata.get("jwks_uri"):
                failures.append(f"{url}: no jwks_uri")
                continue
            if str(metadata.get("issuer", "")).rstrip("/") != self.config.issuer.rstrip("/"):
                # RFC 8414 §3.3: metadata naming another issuer must not be used.
                failures.append(f"{url}: names issuer {metadata.get('issuer')!r}")
                continue
            return str(metadata["jwks_uri"])
        raise ProviderUnavailable("could not read the identity provider's discovery document: " + "; ".join(failures))

    def check(self, token: str) -> CallerToken | Problem:
        """Verify ``token`` (blocking: the key set may be fetched; call it from a thread)."""
        import jwt

        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            return Problem("invalid_token", "the bearer token is neither one of this server's tokens nor a JWT "
                                            "access token")
        algorithm = header.get("alg")
        if algorithm not in ALGORITHMS:
            return Problem("invalid_token", f"the token is signed with {algorithm!r}; this server accepts "
                                            f"{', '.join(ALGORITHMS)} from its identity provider")
        try:
            key = self._jwks().get_signing_key_from_jwt(token)
        except jwt.PyJWKClientConnectionError as exc:
            raise ProviderUnavailable(f"could not fetch the identity provider's keys: {exc}") from None
        except jwt.PyJWTError:  # no key with this kid, or a key set without usable keys
            return Problem("invalid_token", "the token's signing key is not one the identity provider publishes")
        issuer = self.config.issuer.rstrip("/")
        try:
            claims = jwt.decode(token, key.key, algorithms=[algorithm], audience=self.config.audience,
                                issuer=(issuer, issuer + "/"), leeway=LEEWAY_S,
                                options={"require": ["exp", "iss", "aud"]})
        except jwt.ExpiredSignatureError:
            return EXPIRED
        except jwt.InvalidAudienceError:
            return Problem("invalid_token", f"the access token was issued for another resource; this server "
                                            f"accepts tokens for {self.config.audience}")
        except jwt.InvalidIssuerError:
            return Problem("invalid_token", f"the access token comes from another issuer; this server trusts "
                                            f"{self.config.issuer}")
        except jwt.PyJWTError as exc:
            return Problem("invalid_token", f"the access token is not valid: {exc}")
        if claims["exp"] <= time.time():
            return EXPIRED
        return self._caller_token(token, claims)

    def _caller_token(self, token: str, claims: dict[str, Any]) -> CallerToken | Problem:
        from retention_mcp.permissions import (
            access_for,
            access_label,
            hidden_from_claim,
            role_from_scopes,
            rows_from_claim,
        )

        scopes = _scopes(claims)
        role = role_from_scopes(scopes, self.config.scope_roles, self.settings)
        if role is None:
            return Problem("insufficient_scope", "the access token carries none of this server's scopes "
                                                 f"({', '.join(self.config.scopes_supported)})", status=403)
        name = _name(claims, self.config.name_claim)
        try:
            rows = rows_from_claim(claims.get(self.config.rows_claim))
            access = access_for(self.settings, role, rows, hidden_from_claim(claims.get(self.config.hide_claim)),
                                label=access_label(role, rows))
        except ValueError as exc:
            return Problem("insufficient_scope", f"the access token's {role} role cannot be used: {exc} (claim "
                                                 f"{self.config.rows_claim!r})", status=403)
        caller = Caller(name=name, role=role, access=access, via="oauth")
        audience = claims.get("aud")
        resource = self.config.resource if (audience == self.config.audience or (
            isinstance(audience, list) and self.config.audience in audience)) else None
        return CallerToken(token=token, client_id=name, scopes=scopes, expires_at=int(claims["exp"]),
                           resource=resource, subject=str(claims.get("sub") or "") or None,
                           claims={"iss": claims.get("iss")}, caller=caller)


def _scopes(claims: dict[str, Any]) -> list[str]:
    value = claims.get("scope", claims.get("scp"))
    if isinstance(value, str):
        return value.split()
    if isinstance(value, list):
        return [str(v) for v in value]
    return []


def _name(claims: dict[str, Any], configured: str | None) -> str:
    for claim in ((configured,) if configured else ()) + NAME_CLAIMS:
        value = claims.get(claim)
        if isinstance(value, str) and value.strip():
            return value.strip()[:200]
    return "unknown"


# -- verifying every kind of token ---------------------------------------------------------------------------

class CallerVerifier(TokenVerifier):
    """The server's one token check: a static token (the tokens file, the shared team token), else an OAuth JWT.

    ``check`` returns the caller's token or the :class:`Problem` (for 401/403 bodies that say what is wrong);
    ``verify_token`` is the SDK's protocol (the token or None). Verdicts on JWTs are cached briefly by the token's
    hash, so the gate and the SDK's auth middleware check a token once per request."""

    #: Most verdicts cached, and for how long at most (never past the token's expiry).
    CACHE_SIZE = 1024
    CACHE_S = 60.0

    def __init__(self, statics: dict[str, Caller], jwt_verifier: JwtVerifier | None = None) -> None:
        import hmac

        self._compare = hmac.compare_digest
        self._entries = [(token.encode("utf-8"), caller) for token, caller in statics.items()]
        self.jwt = jwt_verifier
        self._cache: dict[bytes, tuple[float, CallerToken | Problem]] = {}

    @property
    def names(self) -> list[str]:
        return sorted({caller.name for _, caller in self._entries})

    def _static(self, token: str) -> CallerToken | None:
        given = token.encode("utf-8")
        found: Caller | None = None
        for expected, caller in self._entries:  # no early exit: the time taken does not tell which entry matched
            if self._compare(given, expected):
                found = caller
        if found is None:
            return None
        return CallerToken(token=token, client_id=found.name, scopes=[], caller=found)

    async def check(self, token: str) -> CallerToken | Problem:
        import hashlib

        import anyio

        static = self._static(token)
        if static is not None:
            return static
        if self.jwt is None or token.count(".") != 2:
            return Problem("invalid_token", "the bearer token is not valid for this server")
        key = hashlib.sha256(token.encode("utf-8")).digest()
        now = time.monotonic()
        cached = self._cache.get(key)
        if cached is not None and cached[0] > now:
            verdict = cached[1]
            if isinstance(verdict, CallerToken) and (verdict.expires_at or 0) <= time.time():
                return EXPIRED
            return verdict
        verdict = await anyio.to_thread.run_sync(self.jwt.check, token)
        if isinstance(verdict, CallerToken):
            remaining = (verdict.expires_at or 0) - time.time()
            if remaining > 0:
                self._remember(key, now + min(self.CACHE_S, remaining), verdict)
        return verdict

    def _remember(self, key: bytes, until: float, verdict: CallerToken | Problem) -> None:
        if len(self._cache) >= self.CACHE_SIZE:
            now = time.monotonic()
            self._cache = {k: v for k, v in self._cache.items() if v[0] > now}
            if len(self._cache) >= self.CACHE_SIZE:
                self._cache.clear()
        self._cache[key] = (until, verdict)

    async def verify_token(self, token: str) -> AccessToken | None:
        try:
            verdict = await self.check(token)
        except ProviderUnavailable:
            return None
        return verdict if isinstance(verdict, CallerToken) else None
