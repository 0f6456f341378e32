"""The sandbox as one Starlette application: the coupon operations, the OAuth token endpoint, and the Alibaba Cloud
RPC endpoint ``/`` (GET or POST), routed by its Action to SendCoupon, GetCouponPage or DiscardCouponList.

Every call goes through the same steps: latency, throttle, 500-before-commit, the operation itself,
drop-after-commit, and a line in the call log (never a credential). Every response carries a ``TrackingId``
header; fault bodies carry the same id.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reconciler.sandbox import aliyun_api, msads_api, oauth
from reconciler.sandbox.aliyun_auth import RpcRequest
from reconciler.sandbox.faults import ConnectionDropped, Effects, FaultPlan, Throttle
from reconciler.sandbox.records import CallRecord
from reconciler.sandbox.store import Store
from reconciler.sandbox.wire import Reply

logger = logging.getLogger(__name__)

TRACKING_HEADER = "TrackingId"
LOGGED_HEADERS = ("customerid", "customeraccountid", "user-agent", "content-type")
CREDENTIAL_HEADERS = ("authorization", "developertoken")
MAX_LOGGED_BODY = 65536

Answer = Callable[[Store, Request, bytes, str, Effects], Reply]


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One endpoint: its fault name, paths, how it answers, fails and is written to the call log."""

    name: str
    paths: tuple[str, ...]
    answer: Answer
    throttled: Callable[[str, Throttle], Reply]  # (tracking id, the wait and window of the refusing throttle)
    internal_error: Callable[[str], Reply]
    redact: Callable[[bytes], str]


def _operation(operation: msads_api.Operation) -> Endpoint:
    def answer(store: Store, request: Request, raw: bytes, tracking_id: str, effects: Effects) -> Reply:
        return msads_api.handle(store, operation, request.headers, raw, tracking_id, effects)

    return Endpoint(
        name=operation.endpoint,
        paths=(operation.path,),
        answer=answer,
        throttled=msads_api.throttled,
        internal_error=msads_api.internal_error,
        redact=_body_text,
    )


def _token_endpoint() -> Endpoint:
    def answer(store: Store, request: Request, raw: bytes, tracking_id: str, effects: Effects) -> Reply:
        return oauth.token(store, request.headers, raw, tracking_id)

    return Endpoint("token", oauth.TOKEN_PATHS, answer, oauth.throttled, oauth.internal_error, oauth.redact)


def endpoints() -> tuple[Endpoint, ...]:
    return (*(_operation(op) for op in msads_api.OPERATIONS), _token_endpoint())


def _aliyun_endpoint(action: aliyun_api.Action) -> Endpoint:
    def answer(store: Store, request: Request, raw: bytes, tracking_id: str, effects: Effects) -> Reply:
        rpc: RpcRequest = request.state.rpc  # parsed once, by the route that picked this action
        return aliyun_api.handle(store, action, rpc, tracking_id, effects)

    return Endpoint(action.endpoint, ("/",), answer, aliyun_api.throttled, aliyun_api.internal_error, aliyun_api.redact)


def _rpc_route(store: Store, plan: FaultPlan) -> Callable[[Request], Awaitable[Response]]:
    """``/``: the Alibaba Cloud RPC endpoint. The action picks the handler (and so the fault endpoint); an unknown
    action is answered InvalidAction.NotFound and logged as unrouted."""
    handlers = {name: _handler(store, plan, _aliyun_endpoint(a)) for name, a in aliyun_api.ACTIONS.items()}

    async def route(request: Request) -> Response:
        raw = await request.body()
        rpc = RpcRequest.of(request.method, request.url.path, request.url.query, request.headers.items(), raw)
        request.state.rpc = rpc
        handler = handlers.get(aliyun_api.action_name(rpc) or "")
        if handler is not None:
            return await handler(request)
        reply = aliyun_api.unknown_action(request.state.tracking_id)
        _log(store, request, "unrouted", aliyun_api.redact(raw), reply.status, "refused", reply.code)
        return JSONResponse(reply.body, reply.status, headers=reply.headers)

    return route


def create_app(store: Store, faults: FaultPlan | None = None) -> Starlette:
    """The application over ``store``, with ``faults`` in force (none by default)."""
    plan = faults or FaultPlan()
    routes = [
        Route(path, _handler(store, plan, endpoint), methods=["POST"])
        for endpoint in endpoints()
        for path in endpoint.paths
    ]
    routes.append(Route("/", _rpc_route(store, plan), methods=["GET", "POST"]))
    app = Starlette(routes=routes, middleware=[Middleware(CallMiddleware, store=store)])
    app.state.store = store
    app.state.faults = plan
    return app


def _handler(store: Store, plan: FaultPlan, endpoint: Endpoint) -> Callable[[Request], Awaitable[Response]]:
    async def handle(request: Request) -> Response:
        tracking_id: str = request.state.tracking_id
        delay = plan.latency_s(endpoint.name)
        if delay > 0:
            await asyncio.sleep(delay)
        raw = await request.body()
        processed = False
        if not plan.admit(endpoint.name):
            reply, outcome = endpoint.throttled(tracking_id, plan.throttle(endpoint.name)), "throttled"
        elif plan.fail_before_commit(endpoint.name):
            reply, outcome = endpoint.internal_error(tracking_id), "error-500"
        else:
            reply, outcome = _answer(store, plan, endpoint, request, raw, tracking_id)
            processed = True
        dropped = processed and plan.drop_after_commit(endpoint.name)
        outcome = "dropped" if dropped else outcome
        _log(store, request, endpoint.name, endpoint.redact(raw), reply.status, outcome, reply.code)
        if dropped:
            raise ConnectionDropped(tracking_id)
        return JSONResponse(reply.body, reply.status, headers=reply.headers)

    return handle


def _answer(
    store: Store, plan: FaultPlan, endpoint: Endpoint, request: Request, raw: bytes, tracking_id: str
) -> tuple[Reply, str]:
    try:
        reply = endpoint.answer(store, request, raw, tracking_id, plan.effects(endpoint.name))
    except Exception:
        logger.exception("sandbox: %s failed (TrackingId %s)", endpoint.name, tracking_id)
        return endpoint.internal_error(tracking_id), "internal-error"
    return reply, "ok" if reply.status < 400 and reply.code is None else "refused"


def _log(
    store: Store, request: Request, endpoint: str, body: str, status: int, outcome: str, code: int | str | None
) -> None:
    """The call log entry: safe headers with credentials reduced to their presence, the (redacted) body."""
    headers = {name: request.headers[name] for name in LOGGED_HEADERS if name in request.headers}
    headers |= {name: "<redacted>" for name in CREDENTIAL_HEADERS if name in request.headers}
    tracking_id: str = request.state.tracking_id
    call = CallRecord(
        at=store.now(),
        endpoint=endpoint,
        path=request.url.path,
        status=status,
        outcome=outcome,
        code=code,
        tracking_id=tracking_id,
        headers=headers,
        body=body[:MAX_LOGGED_BODY],
    )
    store.log_call(call)
    request.state.logged = True
    logger.info(
        "call: endpoint=%s status=%s outcome=%s code=%s tracking_id=%s", endpoint, status, outcome, code, tracking_id
    )


def _body_text(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace")


class CallMiddleware:
    """Gives each request a TrackingId (``request.state.tracking_id``) and every response the header; logs the
    calls that no endpoint answered (unknown path, wrong method)."""

    def __init__(self, app: ASGIApp, store: Store) -> None:
        self.app = app
        self.store = store

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        tracking_id = str(uuid.uuid4())
        scope.setdefault("state", {})["tracking_id"] = tracking_id

        status = 0

        async def send_with_tracking_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                # Raw, in the service's own casing (MutableHeaders would lower-case it): clients that look the
                # header up case-sensitively, as the Python SDK's ApiResponse.headers dict does, still find it.
                message["headers"] = [*message.get("headers", ()), (TRACKING_HEADER.encode(), tracking_id.encode())]
            await send(message)

        await self.app(scope, receive, send_with_tracking_id)
        request = Request(scope)
        if not getattr(request.state, "logged", False):
            _log(self.store, request, "unrouted", "", status, "refused", None)
