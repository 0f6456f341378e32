"""The sandbox in-process: an httpx transport over the same application, no process and no port.

This is the provider environment ``local``. A dropped answer (the ``drop-after-commit`` fault) reaches the
client as httpx.RemoteProtocolError, as a dropped connection would.
"""

from __future__ import annotations

from pathlib import Path

import httpx

from reconciler.errors import SandboxError
from reconciler.sandbox.app import create_app
from reconciler.sandbox.bootstrap import open_store
from reconciler.sandbox.faults import ConnectionDropped, FaultPlan
from reconciler.sandbox.store import Store


class EmbeddedTransport(httpx.AsyncBaseTransport):
    """An httpx transport that calls the sandbox application directly; closing it closes the store."""

    def __init__(self, store: Store, faults: FaultPlan | None = None) -> None:
        self.store = store
        self._inner = httpx.ASGITransport(app=create_app(store, faults))

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return await self._inner.handle_async_request(request)
        except ConnectionDropped:
            message = "Server disconnected without sending a response."
            raise httpx.RemoteProtocolError(message, request=request) from None

    async def aclose(self) -> None:
        await self._inner.aclose()
        self.store.close()


def embedded_transport(
    database: Path, seed: Path | None, *, faults: FaultPlan | None = None
) -> httpx.AsyncBaseTransport:
    """A transport over the store at ``database`` (created, and seeded from ``seed`` when empty)."""
    return EmbeddedTransport(open_store(database, seed), faults)


def sandbox_credentials(database: Path, seed: Path | None) -> dict[str, str]:
    """The first seeded developer token and (non-expiring) access token, so ``local`` needs no env vars."""
    store = open_store(database, seed)
    try:
        developer_token, access_token = store.first_credentials()
    finally:
        store.close()
    if developer_token is None or access_token is None:
        raise SandboxError(
            f"the sandbox store {database} has no developer token and access token to use: "
            "seed it with msads.developerToken and msads.accessTokens"
        )
    return {"developerToken": developer_token, "accessToken": access_token}


def aliyun_sandbox_credentials(database: Path, seed: Path | None) -> dict[str, str]:
    """The first seeded Alibaba Cloud AccessKey (id, secret, and STS token if it has one), so ``local`` needs no
    environment variables."""
    store = open_store(database, seed)
    try:
        key = store.aliyun.first_access_key()
    finally:
        store.close()
    if key is None:
        raise SandboxError(
            f"the sandbox store {database} has no Alibaba Cloud AccessKey to use: seed it with aliyun.accessKeys "
            "(`couponctl sandbox seed FILE`, or delete the store to have it seeded again)"
        )
    credentials = {"accessKeyId": key.id, "accessKeySecret": key.secret}
    if key.security_token:
        credentials["securityToken"] = key.security_token
    return credentials
