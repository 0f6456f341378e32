"""The Alibaba Cloud ResellerTrade provider: GetCouponPage to read, SendCoupon to issue, every call signed.

Reads retry (throttling, 5xx, transport errors) with backoff. A SendCoupon call is sent once; it is sent again
only after a ``Throttling*`` answer, which proves nothing was processed (boundedly, after the backoff or the
``x-acs-retry-after`` the gateway gives). Each attempt is signed afresh (new nonce and timestamp); the batch keeps
one RequestId, which BatchResult.request_id carries to the journal.
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone

import httpx

from reconciler.errors import (
    ApiFaultError,
    MalformedResponse,
    NotSentError,
    OutcomeUnknownError,
    ProviderError,
    ThrottledError,
)
from reconciler.plan.model import PlanItem
from reconciler.providers.aliyun import wire
from reconciler.providers.base import (
    NO_FENCE,
    Batch,
    BatchResult,
    Fence,
    ItemResult,
    Outcome,
    chunks,
    failed_batch,
    unreadable_batch,
)
from reconciler.providers.http import (
    Limiter,
    RetryPolicy,
    Sleep,
    fenced,
    gather_all,
    malformed_response,
    redact,
    transport_failure,
    vendor_json,
    with_retries,
)
from reconciler.signing import acs
from reconciler.state.desired import Scope, ScopeSpec, Target, TargetKind
from reconciler.state.live import IssuedCoupon, ScopeLive

log = logging.getLogger(__name__)

PROVIDER_TYPE = "aliyun"
SIGNATURES = ("v3", "v1")
DEFAULT_SEND_BATCH_SIZE = 50
MAX_SEND_BATCH_SIZE = 1000
DEFAULT_FROM_APP = "couponctl"


@dataclass(frozen=True, slots=True)
class AliyunSettings:
    """Per-provider tuning. ``signature`` is v3 (ACS3-HMAC-SHA256) or v1 (HMAC-SHA1); ``read_window`` is the most
    GetCouponPage pages fetched at once; ``bid`` and ``operator`` are SendCoupon's ``Bid`` and ``Operator``, sent
    only when set."""

    signature: str = "v3"
    send_batch_size: int = DEFAULT_SEND_BATCH_SIZE
    page_size: int = wire.PAGE_SIZE
    from_app: str = DEFAULT_FROM_APP
    bid: int | None = None
    operator: str | None = None
    read_window: int = 4
    read_retry: RetryPolicy = field(default_factory=RetryPolicy)
    issue_retry: RetryPolicy = field(default_factory=lambda: RetryPolicy(attempts=3))

    def __post_init__(self) -> None:
        if self.signature not in SIGNATURES:
            raise ValueError(f"signature must be one of {', '.join(SIGNATURES)}")
        if not 1 <= self.send_batch_size <= MAX_SEND_BATCH_SIZE:
            raise ValueError(f"send_batch_size must be 1..{MAX_SEND_BATCH_SIZE}")
        if self.page_size < 1 or self.read_window < 1:
            raise ValueError("page_size and read_window must be positive")
        if not self.from_app:
            raise ValueError("from_app must not be empty")
        if self.bid is not None and not 0 <= self.bid < 2**63:
            raise ValueError("bid must be a Long (0 .. 2**63-1)")
        if self.operator is not None and not self.operator:
            raise ValueError("operator must not be empty")


def _read_retryable(err: ProviderError) -> bool:
    return isinstance(err, ThrottledError | OutcomeUnknownError | NotSentError)


def _issue_retryable(err: ProviderError) -> bool:
    return isinstance(err, ThrottledError)


def _now() -> datetime:
    return datetime.now(UTC)


def _nonce() -> str:
    return uuid.uuid4().hex


def _request_id() -> str:
    return str(uuid.uuid4())


class AliyunProvider:
    """One ResellerTrade account (an AccessKey) named in couponctl.yaml. Use it within one event loop."""

    type = PROVIDER_TYPE

    def __init__(
        self,
        *,
        name: str,
        client: httpx.AsyncClient,
        credentials: acs.AcsCredentials,
        limiter: Limiter,
        settings: AliyunSettings | None = None,
        sleep: Sleep = asyncio.sleep,
        rng: random.Random | None = None,
        clock: Callable[[], datetime] = _now,
        nonce: Callable[[], str] = _nonce,
        request_id: Callable[[], str] = _request_id,
    ) -> None:
        self.name = name
        self._client = client
        self._credentials = credentials
        self._limiter = limiter
        self._settings = settings or AliyunSettings()
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._clock = clock
        self._nonce = nonce
        self._request_id = request_id

    def __repr__(self) -> str:
        return f"AliyunProvider(name={self.name!r}, base_url={str(self._client.base_url)!r})"

    async def aclose(self) -> None:
        await self._client.aclose()

    # --- reading --------------------------------------------------------------------------------------

    async def read_scope(self, spec: ScopeSpec) -> ScopeLive:
        scope = spec.scope
        coupons, calls = await self._read_coupons(scope.owner, scope.coupon_class)
        return live_from_coupons(scope, coupons, api_calls=calls)

    async def read_owner(self, owner: str) -> list[ScopeLive]:
        """Every template the seller's coupons come from, one ScopeLive each, sorted by template id (for export).
        One GetCouponPage walk with only SellerId. Never issues."""
        coupons, calls = await self._read_coupons(owner, None)
        templates: dict[str, list[wire.WireCoupon]] = {}
        for coupon in coupons:
            if coupon.template_id is not None:
                templates.setdefault(coupon.template_id, []).append(coupon)
        return [
            live_from_coupons(Scope(self.name, owner, template), templates[template], api_calls=calls if i == 0 else 0)
            for i, template in enumerate(sorted(templates, key=int))
        ]

    async def _read_coupons(self, seller: str, template: str | None) -> tuple[list[wire.WireCoupon], int]:
        """Every coupon of the seller (of the template): page 1, then ``read_window`` pages at once, up to the last
        page that page 1's TotalCount announces (without one: until a page is short). Coupons seen twice are kept
        once. Returns them with the number of calls made."""
        size, window = self._settings.page_size, self._settings.read_window
        first = await self._page(seller, template, 1)
        coupons = {c.coupon_id: c for c in first.coupons}
        last = None if first.total_count is None else -(-first.total_count // size)
        calls, page_no, full = 1, 2, len(first.coupons) >= size
        while full and (last is None or page_no <= last):
            numbers = range(page_no, page_no + window if last is None else min(last + 1, page_no + window))
            pages = await gather_all(self._page(seller, template, n) for n in numbers)
            calls += len(numbers)
            fresh = 0
            for page in pages:
                for coupon in page.coupons:
                    fresh += coupon.coupon_id not in coupons
                    coupons.setdefault(coupon.coupon_id, coupon)
            full = len(pages[-1].coupons) >= size
            if full and fresh == 0:
                raise ProviderError(
                    "GetCouponPage paging does not advance (full pages of coupons already read)",
                    provider=self.name,
                    operation=wire.GET_PAGE,
                )
            page_no = numbers.stop
        return list(coupons.values()), calls

    async def _page(self, seller: str, template: str | None, page_no: int) -> wire.CouponPage:
        params = wire.get_coupon_page_params(
            seller,
            template,
            page_no,
            self._settings.page_size,
            request_id=self._request_id(),
            from_app=self._settings.from_app,
        )
        envelope = await with_retries(
            lambda: self._call(wire.GET_PAGE, params),
            policy=self._settings.read_retry,
            retryable=_read_retryable,
            sleep=self._sleep,
            rng=self._rng,
        )
        if envelope.success is not True:
            raise ApiFaultError(
                f"refused: {self._clean(envelope.describe())}",
                provider=self.name,
                operation=wire.GET_PAGE,
                code=envelope.code,
                tracking_id=envelope.request_id,
            )
        try:
            return wire.parse_coupon_page(envelope)
        except MalformedResponse as exc:
            raise malformed_response(
                exc, provider=self.name, operation=wire.GET_PAGE, tracking_id=envelope.request_id
            ) from exc

    # --- issuing --------------------------------------------------------------------------------------

    def batches(self, spec: ScopeSpec, items: Sequence[PlanItem]) -> list[Batch]:
        """SendCoupon batches of ``send_batch_size`` uids, order kept."""
        if any(i.target.kind is not TargetKind.UID or i.amount is None for i in items):
            raise ProviderError("aliyun issues to uids with an amount only", provider=self.name, operation="batches")
        return chunks(spec.scope, wire.SEND, items, self._settings.send_batch_size)

    async def issue(self, spec: ScopeSpec, batch: Batch, fence: Fence = NO_FENCE) -> BatchResult:
        request_id = self._request_id()
        try:
            params = self._send_params(batch, request_id)
            envelope = await with_retries(
                lambda: self._call(batch.operation, params, fence),
                policy=self._settings.issue_retry,
                retryable=_issue_retryable,
                sleep=self._sleep,
                rng=self._rng,
            )
        except ProviderError as err:
            return failed_batch(batch, err, request_id=request_id)
        try:
            results = self._item_results(batch, envelope)
        except MalformedResponse as exc:
            message = f"answered, but the answer cannot be read per uid: {exc}"
            return unreadable_batch(batch, message, tracking_id=envelope.request_id, request_id=request_id)
        return BatchResult(batch, results, tracking_id=envelope.request_id, request_id=request_id)

    def _send_params(self, batch: Batch, request_id: str) -> dict[str, str]:
        if batch.operation != wire.SEND:
            raise ProviderError(f"unknown operation {batch.operation!r}", provider=self.name, operation=batch.operation)
        entries = [(item.target.value, item.amount) for item in batch.items if item.amount is not None]
        if len(entries) != len(batch.items):
            raise ProviderError("every uid needs an amount", provider=self.name, operation=batch.operation)
        scope = batch.scope
        settings = self._settings
        return wire.send_coupon_params(
            scope.owner,
            scope.coupon_class,
            entries,
            request_id=request_id,
            from_app=settings.from_app,
            bid=settings.bid,
            operator=settings.operator,
        )

    def _item_results(self, batch: Batch, envelope: wire.Envelope) -> tuple[ItemResult, ...]:
        """A uid the answer lists under Data was issued. Otherwise: ``Success: false`` refused it (FAILED, with
        the answer's Code and Message); ``Success: true`` without listing it, or no Success at all, leaves its
        coupon unproven either way (IN_DOUBT: a read decides)."""
        listed = wire.sent_uids(envelope)
        if envelope.success is False:
            rest, code, message = Outcome.FAILED, envelope.code, f"refused: {self._clean(envelope.describe())}"
        elif envelope.success is True:
            rest, code, message = Outcome.IN_DOUBT, "NotListed", "the answer does not list this uid as sent"
        else:
            rest, code, message = Outcome.IN_DOUBT, "MalformedResponse", "the answer has no Success flag"
        return tuple(
            ItemResult(item, Outcome.ISSUED) if item.target.value in listed else ItemResult(item, rest, code, message)
            for item in batch.items
        )

    # --- one call -------------------------------------------------------------------------------------

    async def _call(self, action: str, params: dict[str, str], fence: Fence | None = None) -> wire.Envelope:
        """One call, signed once the limiter lets it go (so that its timestamp is fresh, and a retry carries a new
        nonce); its 2xx answer. An issuing call passes its ``fence``, awaited right before the request leaves."""
        try:
            async with self._limiter:
                request = signed_request(
                    self._client,
                    action,
                    params,
                    credentials=self._credentials,
                    signature=self._settings.signature,
                    moment=self._clock(),
                    nonce=self._nonce(),
                )
                if fence is not None:
                    await fence()
                    request.extensions = {**request.extensions, **fenced(fence)}
                response = await self._client.send(request)
                log.debug("call: operation=%s status=%d", action, response.status_code)
                if not response.is_success:  # inside the limiter: a throttle paces the next calls
                    raise self._fault(action, response)
        except httpx.TransportError as exc:
            raise transport_failure(exc, provider=self.name, operation=action) from exc
        try:
            return wire.parse_envelope(vendor_json(response))
        except (ValueError, MalformedResponse):
            raise OutcomeUnknownError(
                f"HTTP {response.status_code} with a body that is not a JSON object",
                provider=self.name,
                operation=action,
                status=response.status_code,
            ) from None

    def _fault(self, action: str, response: httpx.Response) -> ProviderError:
        try:
            body = vendor_json(response)
        except ValueError:
            body = None
        return wire.error_for(
            wire.parse_error(body),
            status=response.status_code,
            retry_after=wire.retry_after_ms(response.headers.get("x-acs-retry-after")),
            provider=self.name,
            operation=action,
            clean=self._clean,
        )

    def _clean(self, text: str) -> str:
        return redact(text, self._credentials.secrets())


# --- live state from coupons ----------------------------------------------------------------------------


def signed_request(
    client: httpx.AsyncClient,
    action: str,
    params: Mapping[str, str],
    *,
    credentials: acs.AcsCredentials,
    signature: str,
    moment: datetime,
    nonce: str,
    method: str | None = None,
    version: str = wire.VERSION,
) -> httpx.Request:
    """One RPC call as the official SDK sends it, signed at ``moment`` with ``nonce``: GetCouponPage a GET with the
    parameters in the query, the other actions a POST with a form body (``method`` overrides this); V3 puts the
    action, version, date, nonce, body hash and Authorization in headers, V1 the common parameters and Signature in
    the query."""
    method = method or wire.METHODS.get(action, "POST")
    empty: dict[str, str] = {}
    query, body = (dict(params), empty) if method == "GET" else (empty, dict(params))
    content = acs.form_body(body) if body else b""
    content_type = acs.FORM_CONTENT_TYPE if body else None
    if signature == "v1":
        query = acs.sign_v1(
            method=method,
            action=action,
            version=version,
            query=query,
            body=body,
            credentials=credentials,
            timestamp=acs.timestamp(moment),
            nonce=nonce,
        )
    request = client.build_request(method, "/", params=query, content=content or None)
    if content_type is not None:
        request.headers["Content-Type"] = content_type
    if signature == "v3":
        headers = acs.sign_v3(
            method=method,
            host=request.headers["Host"],
            path=request.url.path,
            query=query,
            body=content,
            content_type=content_type,
            action=action,
            version=version,
            credentials=credentials,
            date=acs.timestamp(moment),
            nonce=nonce,
        )
        request.headers.update(headers)
    return request


#: GetCouponPage writes times in Beijing time, without a zone (docs/sandbox.md; the notes' examples).
BEIJING = timezone(timedelta(hours=8), "CST")


def parse_start_time(text: str | None) -> datetime | None:
    """A GetCouponPage time (``2026-06-01 20:00:00``, Beijing time) as an aware datetime, or None."""
    if not text:
        return None
    try:
        return datetime.strptime(text.strip(), "%Y-%m-%d %H:%M:%S").replace(tzinfo=BEIJING)
    except ValueError:
        return None


def dates_issue(coupons: Sequence[wire.WireCoupon]) -> bool:
    """Whether the template's coupons are dated by their sending: GetCouponPage has no issue date, but a coupon of
    a template with RELATIVE validity is valid from its sending, so its ``StartTime`` is when it was sent. A
    template with ABSOLUTE validity gives every coupon the template's start instead, and ResellerTrade has no call that
    reads a template's validity type: couponctl takes ``StartTime`` as the issue date only when the template's
    coupons show at least two different ones (an ABSOLUTE template's never do). Inferred, not documented."""
    starts = {c.start_time for c in coupons if parse_start_time(c.start_time) is not None}
    return len(starts) >= 2


def live_from_coupons(scope: Scope, coupons: Sequence[wire.WireCoupon], *, api_calls: int = 0) -> ScopeLive:
    """The live state of one template from its coupons: every uid holding one, whatever its Status.

    ``exists`` is always True: ResellerTrade has no operation that reads a template, so a template with no coupon
    yet cannot be told from an unknown one (SendCoupon refuses the latter). ``available`` is unknown (None).
    ``face_value`` is None: a template's face value cannot be read, and each uid's coupon has its own amount, so
    none is guessed from the coupons issued (a manifest's ``expect.amount`` is checked against its declared
    amounts by ``validate`` instead). ``currency`` is the one the template's coupons report, when they report
    exactly one; else CNY, what ResellerTrade amounts are in.
    """
    mine = [
        c
        for c in coupons
        if c.template_id in (None, scope.coupon_class) and c.seller_id in (None, scope.owner) and c.user_id is not None
    ]
    issued: dict[Target, list[IssuedCoupon]] = {}
    dated = dates_issue(mine)
    for coupon in mine:
        assert coupon.user_id is not None
        held = IssuedCoupon(
            code=coupon.coupon_id,
            status=coupon.status,
            amount=coupon.amount,
            currency=coupon.currency or wire.DEFAULT_CURRENCY,
            issued_at=coupon.start_time,
            issue_date=parse_start_time(coupon.start_time) if dated else None,
            claimed=True,  # SendCoupon puts the coupon in the uid's account: nothing is left to claim
            redeemed=coupon.status.upper() == "EXHAUSTED" or (coupon.used_amount or 0) > 0,
        )
        issued.setdefault(Target.uid(coupon.user_id), []).append(held)
    reported = {c.currency for c in mine if c.currency}
    return ScopeLive(
        scope=scope,
        exists=True,
        face_value=None,
        available=None,
        issued={target: tuple(held) for target, held in issued.items()},
        coupons_read=len(coupons),
        api_calls=api_calls,
        currency=reported.pop() if len(reported) == 1 else wire.DEFAULT_CURRENCY,
    )
