"""A simulated Microsoft identity platform token endpoint: ``POST /oauth2/v2.0/token``, refresh_token grant.

The form is the one the official SDKs send (notes 4.4): ``client_id``, ``client_secret`` (when the client has
one), ``grant_type=refresh_token``, ``refresh_token``, ``scope``; unknown fields (``environment``,
``oauth_scope``, ``tenant`` …) are ignored. The answer carries an access token that the API accepts until
``expires_in`` seconds have passed (then AdApiFaultDetail 109), so a client's refresh flow runs for real.

Each refresh answers a new refresh token, valid for the client's ``refreshTokenLifetimeSeconds`` (90 days by
default) from then; the seeded one is valid for as long from when the store was seeded. As the platform documents,
the one redeemed is not revoked (it stays valid until it expires) unless the client is seeded with
``revokeOnRotation: true``: then a rotated refresh token is refused at once, with no grace period.
Errors have the OAuth 2.0 shape (``error``, ``error_description``).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from urllib.parse import parse_qs, urlencode

from reconciler.sandbox.faults import Throttle
from reconciler.sandbox.records import RefreshUse
from reconciler.sandbox.store import Store
from reconciler.sandbox.wire import Reply

TOKEN_PATHS = ("/oauth2/v2.0/token", "/{tenant}/oauth2/v2.0/token")
DEFAULT_SCOPE = "https://ads.microsoft.com/msads.manage offline_access"
SECRET_FIELDS = frozenset({"client_secret", "refresh_token", "code", "assertion", "password", "client_assertion"})
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
# invalid_grant descriptions in the platform's AADSTS style (the codes are the platform's for these cases).
INVALID_GRANT = {
    RefreshUse.UNKNOWN: "AADSTS9002313: Invalid request. The refresh token is malformed or not valid.",
    RefreshUse.EXPIRED: "AADSTS700082: The refresh token has expired due to inactivity.",
    RefreshUse.REVOKED: "AADSTS50173: The provided grant has expired due to it being revoked.",
}


def token(store: Store, headers: Mapping[str, str], raw: bytes, tracking_id: str) -> Reply:
    """Answer a token request (``headers`` are not needed: client credentials travel in the form)."""
    form = _form(raw)
    grant = form.get("grant_type")
    if not grant:
        return _error(400, "invalid_request", "The request body must contain the parameter 'grant_type'.", tracking_id)
    if grant != "refresh_token":
        return _error(400, "unsupported_grant_type", f"The grant type {grant!r} is not supported.", tracking_id)
    client_id = form.get("client_id", "")
    client = store.oauth_client(client_id) if client_id else None
    if client is None:
        return _error(400, "unauthorized_client", f"Application {client_id!r} was not found.", tracking_id)
    if client.client_secret is not None and form.get("client_secret") != client.client_secret:
        return _error(401, "invalid_client", "Invalid client secret provided.", tracking_id)
    if not form.get("refresh_token"):
        return _error(
            400, "invalid_request", "The request body must contain the parameter 'refresh_token'.", tracking_id
        )
    rotated = f"sandbox-rt-{secrets.token_urlsafe(24)}"
    used = store.rotate_refresh_token(client, form["refresh_token"], rotated)
    if used is not RefreshUse.ROTATED:
        return _error(400, "invalid_grant", INVALID_GRANT[used], tracking_id)
    access_token = f"sandbox-at-{secrets.token_urlsafe(24)}"
    store.add_access_token(access_token, client.customers, store.now() + client.token_lifetime_s, f"oauth:{client_id}")
    body: dict[str, object] = {
        "token_type": "Bearer",
        "scope": form.get("scope") or DEFAULT_SCOPE,
        "expires_in": client.token_lifetime_s,
        "ext_expires_in": client.token_lifetime_s,
        "access_token": access_token,
        "refresh_token": rotated,
    }
    return Reply(200, body, headers=dict(NO_STORE))


def _form(raw: bytes) -> dict[str, str]:
    """The form fields, first value of each."""
    fields = parse_qs(raw.decode("utf-8", errors="replace"), keep_blank_values=True)
    return {name: values[0] for name, values in fields.items()}


def _error(status: int, error: str, description: str, tracking_id: str) -> Reply:
    body: dict[str, object] = {"error": error, "error_description": description, "trace_id": tracking_id}
    return Reply(status, body, headers=dict(NO_STORE))


def throttled(tracking_id: str, throttle: Throttle) -> Reply:
    """429 ``temporarily_unavailable``; like the service, no Retry-After (the token endpoint's retry does not wait
    out a window)."""
    return _error(429, "temporarily_unavailable", "Too many requests; retry later.", tracking_id)


def internal_error(tracking_id: str) -> Reply:
    return _error(500, "server_error", "An internal error has occurred.", tracking_id)


def redact(raw: bytes) -> str:
    """The form for the call log, with every secret value replaced."""
    fields = parse_qs(raw.decode("utf-8", errors="replace"), keep_blank_values=True)
    pairs = [
        (name, "<redacted>" if name in SECRET_FIELDS else value) for name, values in fields.items() for value in values
    ]
    return urlencode(pairs, safe="<>")
