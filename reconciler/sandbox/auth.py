"""Who is calling: the ``Authorization: Bearer`` and ``DeveloperToken`` headers, checked against the store.

Missing headers give AdApiFaultDetail 116 (RequestMissingHeaders), an unknown token 105 (InvalidCredentials),
an expired access token 109 (AuthenticationTokenExpired); all with HTTP 401.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from reconciler.sandbox import wire
from reconciler.sandbox.store import Store

BEARER = "bearer "


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller and the customers its token reaches (None: every customer)."""

    customers: frozenset[int] | None
    customer_header: str | None = None  # the request's CustomerId header, as sent (DistributeCoupons reads it)

    def reaches(self, customer_id: int) -> bool:
        return self.customers is None or customer_id in self.customers


def authenticate(store: Store, headers: Mapping[str, str]) -> Principal:
    """The caller behind ``headers`` (case-insensitive names); raise wire.Fault when it is not let in."""
    authorization = headers.get("authorization", "").strip()
    developer_token = headers.get("developertoken", "").strip()
    missing = [
        name for name, value in (("Authorization", authorization), ("DeveloperToken", developer_token)) if not value
    ]
    if missing:
        raise wire.MISSING_HEADERS.fault(f"Missing: {', '.join(missing)}.")
    if not authorization.lower().startswith(BEARER):
        raise wire.INVALID_CREDENTIALS.fault("The Authorization header must be 'Bearer <access token>'.")
    if not store.developer_token_known(developer_token):
        raise wire.INVALID_CREDENTIALS.fault("The developer token is not valid for this environment.")
    token = store.access_token(authorization[len(BEARER) :].strip())
    if token is None:
        raise wire.INVALID_CREDENTIALS.fault("The access token is not valid for this environment.")
    if token.expires_at is not None and token.expires_at <= store.now():
        raise wire.TOKEN_EXPIRED.fault()
    return Principal(token.customers)
