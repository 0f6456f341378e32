"""Access tokens for Microsoft Advertising: a fixed token, or the Microsoft identity refresh-token flow."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
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


class RefreshTokenFlow:
    """The refresh-token grant: form POST to the token URL, keep the access token until shortly before expiry.

    A refresh token rotated by the endpoint replaces the old one for every later refresh, in memory only: it is
    never written anywhere (the Microsoft identity platform does not revoke the old one, which stays usable until it
    expires). ``initial`` is an access token to start with (of unknown expiry: used until the vendor rejects it).
    ``source`` says where the refresh token was configured (``${env:NAME}``), for the error that asks for a new one.
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
        self._refresh_token = refresh_token
        self._http = http
        self._provider = provider
        self._token = initial
        self._source = source
        self._expires_at: float | None = None
        self._skew = skew
        self._clock = clock
        self._lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"RefreshTokenFlow(token_url={self._oauth.token_url!r}, client_id={self._oauth.client_id!r})"

    def secrets(self) -> tuple[Secret, ...]:
        held = (self._token, self._refresh_token, self._oauth.client_secret)
        return tuple(s for s in held if s is not None)

    def _fresh(self) -> bool:
        if self._token is None:
            return False
        return self._expires_at is None or self._clock() < self._expires_at - self._skew

    async def access_token(self) -> Secret:
        async with self._lock:
            if not self._fresh():
                await self._refresh()
            assert self._token is not None
            return self._token

    async def refresh_after_rejection(self, rejected: Secret) -> Secret | None:
        async with self._lock:
            if self._token is None or self._token == rejected:
                await self._refresh()
            assert self._token is not None
            return self._token

    async def _refresh(self) -> None:
        form = {
            "client_id": self._oauth.client_id,
            "grant_type": "refresh_token",
            "refresh_token": self._refresh_token.reveal(),
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
        self._token = Secret(access)
        self._expires_at = self._clock() + _expires_in(body.get("expires_in"))
        rotated = body.get("refresh_token")
        if isinstance(rotated, str) and rotated:
            self._refresh_token = Secret(rotated)
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
