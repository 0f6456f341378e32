"""Access tokens for Microsoft Advertising: a fixed token, or the Microsoft identity refresh-token flow."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Protocol

import httpx

from reconciler.config.secrets import Secret
from reconciler.errors import AuthError
from reconciler.providers.http import redact, vendor_json

log = logging.getLogger(__name__)

TOKEN_OPERATION = "OAuthTokenRefresh"
DEFAULT_EXPIRES_IN = 3600.0


class TokenSource(Protocol):
    """Gives the bearer token for the next call."""

    async def access_token(self) -> Secret:
        """A token believed valid now (refreshing it first when it is about to expire)."""
        ...

    async def refresh_after_rejection(self, rejected: Secret) -> Secret | None:
        """A new token after the vendor rejected ``rejected`` as expired; None when it cannot refresh."""
        ...

    def secrets(self) -> tuple[Secret, ...]:
        """Every secret it holds, for redaction."""
        ...


class StaticToken:
    """A fixed access token (``accessToken`` credential): never refreshed."""

    def __init__(self, token: Secret) -> None:
        self._token = token

    async def access_token(self) -> Secret:
        return self._token

    async def refresh_after_rejection(self, rejected: Secret) -> Secret | None:
        return None

    def secrets(self) -> tuple[Secret, ...]:
        return (self._token,)

    def __repr__(self) -> str:
        return "StaticToken(***)"


@dataclass(frozen=True)
class OAuthClient:
    """What identifies the app to the token endpoint. ``client_secret`` is None for public (native) apps."""

    token_url: str
    client_id: str
    scope: str
    client_secret: Secret | None = None


@dataclass(eq=False)
class _Grant:
    """One chain of refresh tokens: the current refresh token, the access token it last gave, and the lock that
    lets one refresh run at a time. Every flow of a run that starts from the same refresh token shares it."""

    refresh_token: Secret
    token: Secret | None
    expires_at: float | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


#: While providers are built for one run: the grants by what identifies them (hashed), so that flows starting from
#: the same refresh token share one chain (a rotated token replaces the old one for all of them).
_RUN_GRANTS: ContextVar[dict[str, _Grant] | None] = ContextVar("couponctl_run_grants", default=None)


@contextmanager
def one_chain_per_refresh_token() -> Iterator[None]:
    """Around the building of one run's providers: every RefreshTokenFlow built inside with the same token URL,
    client, scope and refresh token shares one grant, so that no flow refreshes with a token another one has
    already rotated (a platform that revokes rotated tokens would refuse it)."""
    reset = _RUN_GRANTS.set({})
    try:
        yield
    finally:
        _RUN_GRANTS.reset(reset)


def _grant(oauth: OAuthClient, refresh_token: Secret, initial: Secret | None) -> _Grant:
    grants = _RUN_GRANTS.get()
    if grants is None:
        return _Grant(refresh_token, initial)
    parts = (oauth.token_url, oauth.client_id, oauth.scope, oauth.client_secret, refresh_token, initial)
    text = "\0".join(p.reveal() if isinstance(p, Secret) else ("" if p is None else p) for p in parts)
    return grants.setdefault(hashlib.sha256(text.encode()).hexdigest(), _Grant(refresh_token, initial))


class RefreshTokenFlow:
    """The refresh-token grant: form POST to the token URL, keep the access token until shortly before expiry.

    A refresh token rotated by the endpoint replaces the old one for every later refresh, in memory only: it is
    never written anywhere (the Microsoft identity platform does not revoke the old one, which stays usable until it
    expires). ``initial`` is an access token to start with (of unknown expiry: used until the vendor rejects it).
    ``source`` says where the refresh token was configured (``${env:NAME}``), for the error that asks for a new one.
    Built inside :func:`one_chain_per_refresh_token`, flows that start from the same refresh token share its chain.
    """

    def __init__(
        self,
        oauth: OAuthClient,
        refresh_token: Secret,
        http: httpx.AsyncClient,
        *,
        provider: str = "",
        initial: Secret | None = None,
        source: str = "",
        skew: float = 120.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._oauth = oauth
        self._grant = _grant(oauth, refresh_token, initial)
        self._http = http
        self._provider = provider
        self._source = source
        self._skew = skew
        self._clock = clock

    def __repr__(self) -> str:
        return f"RefreshTokenFlow(token_url={self._oauth.token_url!r}, client_id={self._oauth.client_id!r})"

    def secrets(self) -> tuple[Secret, ...]:
        held = (self._grant.token, self._grant.refresh_token, self._oauth.client_secret)
        return tuple(s for s in held if s is not None)

    def _fresh(self) -> bool:
        grant = self._grant
        if grant.token is None:
            return False
        return grant.expires_at is None or self._clock() < grant.expires_at - self._skew

    async def access_token(self) -> Secret:
        async with self._grant.lock:
            if not self._fresh():
                await self._refresh()
            assert self._grant.token is not None
            return self._grant.token

    async def refresh_after_rejection(self, rejected: Secret) -> Secret | None:
        async with self._grant.lock:
            if self._grant.token is None or self._grant.token == rejected:
                await self._refresh()
            assert self._grant.token is not None
            return self._grant.token

    async def _refresh(self) -> None:
        grant = self._grant
        form = {
            "client_id": self._oauth.client_id,
            "grant_type": "refresh_token",
            "refresh_token": grant.refresh_token.reveal(),
            "scope": self._oauth.scope,
        }
        if self._oauth.client_secret is not None:
            form["client_secret"] = self._oauth.client_secret.reveal()
        try:
            response = await self._http.post(self._oauth.token_url, data=form, headers={"Accept": "application/json"})
        except httpx.TransportError as exc:
            raise self._error(f"token endpoint unreachable: {type(exc).__name__}") from exc
        body = _json_object(response)
        if not response.is_success:
            message = _oauth_error_text(body)
            if body.get("error") == "invalid_grant":
                message = f"{message.rstrip('.')}: {_new_consent(self._source)}"
            raise self._error(message, status=response.status_code)
        access = body.get("access_token")
        if not isinstance(access, str) or not access:
            raise self._error("token endpoint returned no access_token", status=response.status_code)
        grant.token = Secret(access)
        grant.expires_at = self._clock() + _expires_in(body.get("expires_in"))
        rotated = body.get("refresh_token")
        if isinstance(rotated, str) and rotated:
            grant.refresh_token = Secret(rotated)
        log.debug("oauth: access token refreshed, expires_in=%s", body.get("expires_in"))

    def _error(self, message: str, *, status: int | None = None) -> AuthError:
        return AuthError(
            redact(message, self.secrets()), provider=self._provider, operation=TOKEN_OPERATION, status=status
        )


def _json_object(response: httpx.Response) -> dict[str, object]:
    try:
        body = vendor_json(response)
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _oauth_error_text(body: dict[str, object]) -> str:
    """``error: first line of error_description`` (AADSTS code and text), or a generic message."""
    error = body.get("error")
    description = body.get("error_description")
    parts = [str(error)] if error else []
    if isinstance(description, str) and description.strip():
        parts.append(description.strip().splitlines()[0])
    return "token refresh failed: " + (": ".join(parts) if parts else "no error details")


def _new_consent(source: str) -> str:
    """What to do when the token endpoint refuses the refresh token (expired, revoked, or not this client's)."""
    where = f"the secret behind {source}" if source else "the secret that holds it"
    return (
        "the refresh token is expired or revoked (refresh tokens last about 90 days): sign in again to give "
        f"consent and get a new refresh token, then store it in {where} (in CI: update the repository secret)"
    )


def _expires_in(value: object) -> float:
    if not isinstance(value, int | float | str) or isinstance(value, bool):
        return DEFAULT_EXPIRES_IN
    try:
        seconds = float(value)
    except ValueError:
        return DEFAULT_EXPIRES_IN
    return seconds if seconds > 0 else DEFAULT_EXPIRES_IN
