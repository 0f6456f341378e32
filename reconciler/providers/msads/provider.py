"""The Microsoft Advertising provider: SearchCoupons to read, DistributeCoupons / DispatchCoupons to issue.

Reads retry (throttling, 5xx, transport errors) with backoff. Issuing calls are sent once; they are sent again
only when the vendor proved the first was not processed: a throttle (429 / code 117, after its Retry-After,
boundedly) or an expired token (401 code 109, once, after a refresh).
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import lru_cache
from operator import attrgetter, itemgetter

import httpx

from reconciler.config.secrets import Secret
from reconciler.errors import (
    AuthError,
    MalformedResponse,
    NotSentError,
    OutcomeUnknownError,
    ProviderError,
    ThrottledError,
)
from reconciler.plan.model import PlanItem
from reconciler.providers.base import (
    NO_FENCE,
    Batch,
    BatchResult,
    ClaimsRead,
    Fence,
    HeldClaim,
    ItemResult,
    Outcome,
    chunks,
    failed_batch,
    same_results,
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
    retry_after_seconds,
    transport_failure,
    vendor_json,
    with_retries,
)
from reconciler.providers.msads import wire
from reconciler.providers.oauth import TokenSource
from reconciler.state.desired import Scope, ScopeSpec, Target, TargetKind
from reconciler.state.live import FaceValue, IssuedCoupon, ScopeLive

log = logging.getLogger(__name__)

PROVIDER_TYPE = "msads"


@dataclass(frozen=True, slots=True)
class MsAdsSettings:
    """Per-provider tuning. ``search_window`` is the most SearchCoupons pages fetched at once."""

    customer_id: str | None = None
    customer_account_id: str | None = None
    distribute_batch_size: int = 100
    dispatch_batch_size: int = wire.MAX_DISPATCH_EMAILS
    search_window: int = 4
    read_retry: RetryPolicy = field(default_factory=RetryPolicy)
    issue_retry: RetryPolicy = field(default_factory=lambda: RetryPolicy(attempts=3))

    def __post_init__(self) -> None:
        if not 1 <= self.dispatch_batch_size <= wire.MAX_DISPATCH_EMAILS:
            raise ValueError(f"dispatch_batch_size must be 1..{wire.MAX_DISPATCH_EMAILS}")
        if self.distribute_batch_size < 1 or self.search_window < 1:
            raise ValueError("batch sizes and search_window must be positive")


@dataclass(frozen=True, slots=True)
class Reply:
    """A 2xx response: its JSON body and TrackingId header; a SearchCoupons answer read by the fast path has its
    ``coupons`` instead (``body`` None)."""

    body: object
    tracking_id: str | None
    coupons: list[wire.WireCoupon] | None = None


def _read_retryable(err: ProviderError) -> bool:
    return isinstance(err, ThrottledError | OutcomeUnknownError | NotSentError)


def _issue_retryable(err: ProviderError) -> bool:
    return isinstance(err, ThrottledError)


class MsAdsProvider:
    """One Microsoft Advertising account named in couponctl.yaml. Use it within one event loop."""

    type = PROVIDER_TYPE

    def __init__(
        self,
        *,
        name: str,
        client: httpx.AsyncClient,
        developer_token: Secret,
        tokens: TokenSource,
        limiter: Limiter,
        settings: MsAdsSettings | None = None,
        sleep: Sleep = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.name = name
        self._client = client
        self._developer_token = developer_token
        self._tokens = tokens
        self._limiter = limiter
        self._settings = settings or MsAdsSettings()
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._open_walks = 0  # SearchCoupons walks in progress: they share the search window
        # Built once, not per request: each operation's URL as httpx would merge it with the base URL, and the
        # headers of the current access token.
        base = client.base_url
        self._urls = {
            op: base.copy_with(raw_path=base.raw_path + path.lstrip("/").encode()) for op, path in wire.PATHS.items()
        }
        self._headers_of: dict[str | None, tuple[str, httpx.Headers]] = {}  # customer -> (token, headers)

    def __repr__(self) -> str:
        return f"MsAdsProvider(name={self.name!r}, base_url={str(self._client.base_url)!r})"

    async def aclose(self) -> None:
        await self._client.aclose()

    # --- reading --------------------------------------------------------------------------------------

    async def read_scope(self, spec: ScopeSpec) -> ScopeLive:
        scope = spec.scope
        coupons, calls = await self._search_all(lambda i: wire.search_request(scope.owner, scope.coupon_class, i))
        return live_from_coupons(scope, coupons, api_calls=calls)

    async def read_owner(self, owner: str) -> list[ScopeLive]:
        """Every coupon class of the owner customer, one ScopeLive per class sorted by class name (for export).

        One SearchCoupons walk with only the CustomerId predicate; coupons are grouped by ClassName (compared
        case-insensitively, the first spelling seen kept). Coupons without a ClassName are left out. Never issues.
        """
        coupons, calls = await self._search_all(lambda i: owner_search_request(owner, i))
        classes: dict[str, list[wire.WireCoupon]] = {}
        names: dict[str, str] = {}
        for coupon in coupons:
            if coupon.class_name is None:
                continue
            key = coupon.class_name.casefold()
            names.setdefault(key, coupon.class_name)
            classes.setdefault(key, []).append(coupon)
        lives = [
            live_from_coupons(Scope(self.name, owner, names[key]), group)
            for key, group in sorted(classes.items(), key=lambda kv: names[kv[0]])
        ]
        if lives:
            lives[0] = replace(lives[0], api_calls=calls)
        return lives

    async def _search_all(self, request: Callable[[int], wire.JsonObject]) -> tuple[list[wire.WireCoupon], int]:
        """Every coupon ``request(page_index)`` finds, until the first page shorter than PAGE_SIZE.

        Nothing tells how many pages there are, so every page fetched past the last one is a wasted call. The
        ``search_window`` slots are shared by every walk in progress: while several scopes are being read each
        fetches one page at a time (no call wasted); a walk fetches windows of pages at once (1, 2, 4, …, up to its
        share of the slots, rounded up) only when fewer walks than slots remain, and only then may overshoot its
        last page. Coupons seen twice
        (pages shifting) are kept once.
        """
        self._open_walks += 1
        try:
            return await self._walk(request)
        finally:
            self._open_walks -= 1

    def _window_limit(self) -> int:
        """The most pages one walk fetches at once: its share of the slots, rounded up, so that the walks in
        progress fill every slot (5 walks of 8 slots fetch 2 each rather than leave 3 idle)."""
        return max(1, -(-self._settings.search_window // max(1, self._open_walks)))

    async def _walk(self, request: Callable[[int], wire.JsonObject]) -> tuple[list[wire.WireCoupon], int]:
        coupons: dict[str, wire.WireCoupon] = {}
        anonymous: list[wire.WireCoupon] = []
        index, window, calls = 0, 1, 0
        while True:
            pages = await self._search_pages(request, range(index, index + window))
            calls += window
            for page in pages:
                fresh = 0
                for coupon in page:
                    code = coupon.code
                    if code is None:
                        anonymous.append(coupon)
                        fresh += 1
                    elif code not in coupons:
                        coupons[code] = coupon
                        fresh += 1
                if len(page) < wire.PAGE_SIZE:
                    return [*coupons.values(), *anonymous], calls
                if fresh == 0:
                    raise ProviderError(
                        "SearchCoupons paging does not advance (a full page of coupons already read)",
                        provider=self.name,
                        operation=wire.SEARCH,
                    )
            index += window
            window = min(window * 2, self._window_limit())

    async def _search_pages(
        self, request: Callable[[int], wire.JsonObject], indexes: range
    ) -> list[list[wire.WireCoupon]]:
        """The pages at ``indexes``, fetched at once; the first failure cancels the others and is raised."""
        return await gather_all(self._search_page(request(i)) for i in indexes)

    async def _search_page(self, body: wire.JsonObject) -> list[wire.WireCoupon]:
        reply = await with_retries(
            lambda: self._call(wire.SEARCH, body),
            policy=self._settings.read_retry,
            retryable=_read_retryable,
            sleep=self._sleep,
            rng=self._rng,
        )
        if reply.coupons is not None:
            return reply.coupons
        try:
            return wire.parse_search_response(reply.body)
        except MalformedResponse as exc:
            raise malformed_response(
                exc, provider=self.name, operation=wire.SEARCH, tracking_id=reply.tracking_id
            ) from exc

    async def coupon_info(self, customer_id: str) -> list[wire.CouponInfo]:
        """GetCouponInfo: the coupons the accounts of ``customer_id`` (a receiving customer) hold, with FeatureId and
        claim details. Read-only, retried like SearchCoupons; the caller must be allowed to read that customer."""
        reply = await with_retries(
            lambda: self._call(wire.COUPON_INFO, wire.coupon_info_request(customer_id), customer=customer_id),
            policy=self._settings.read_retry,
            retryable=_read_retryable,
            sleep=self._sleep,
            rng=self._rng,
        )
        try:
            return wire.parse_coupon_info_response(reply.body)
        except MalformedResponse as exc:
            raise malformed_response(
                exc, provider=self.name, operation=wire.COUPON_INFO, tracking_id=reply.tracking_id
            ) from exc

    def receiving_customers(self, spec: ScopeSpec) -> list[str]:
        """The customers whose accounts GetCouponInfo is asked about for a scope: its owner (the accounts
        DistributeCoupons reaches bill to it, and usually are its own) and the configured ``customerId``."""
        customers = [spec.scope.owner]
        if self._settings.customer_id and self._settings.customer_id != spec.scope.owner:
            customers.append(self._settings.customer_id)
        return customers

    async def read_claims(self, spec: ScopeSpec, targets: Sequence[Target]) -> ClaimsRead:
        """The coupons GetCouponInfo shows ``targets``' accounts holding, read for each receiving customer
        (:meth:`receiving_customers`); it sees only accounts those customers manage, and names no class. A customer
        the caller may not read, or whose read fails, is named in ``unavailable``, never taken as showing nothing."""
        accounts = {int(t.value): t for t in targets if t.kind is TargetKind.ACCOUNT}
        customers = self.receiving_customers(spec)
        source = "GetCouponInfo of customer " + ", ".join(customers)
        if not accounts:
            return ClaimsRead(source)
        claims: list[HeldClaim] = []
        unavailable: list[str] = []
        for customer in customers:
            try:
                infos = await self.coupon_info(customer)
            except ProviderError as err:
                unavailable.append(f"GetCouponInfo of customer {customer} failed: {self._clean(str(err))}")
                continue
            for info in infos:
                target = accounts.get(info.account_id)
                if target is not None:
                    moment = parse_moment(info.claim_date)
                    claims.append(HeldClaim(target, moment, info.value, info.currency, info.feature_id))
        return ClaimsRead(source, tuple(claims), frozenset(accounts.values()), tuple(unavailable))

    # --- issuing --------------------------------------------------------------------------------------

    def batches(self, spec: ScopeSpec, items: Sequence[PlanItem]) -> list[Batch]:
        """Accounts in DistributeCoupons batches, then emails in DispatchCoupons batches; order kept."""
        accounts = [i for i in items if i.target.kind is TargetKind.ACCOUNT]
        emails = [i for i in items if i.target.kind is TargetKind.EMAIL]
        if len(accounts) + len(emails) != len(items):
            raise ProviderError("msads issues to account ids and emails only", provider=self.name, operation="batches")
        return [
            *chunks(spec.scope, wire.DISTRIBUTE, accounts, self._settings.distribute_batch_size),
            *chunks(spec.scope, wire.DISPATCH, emails, self._settings.dispatch_batch_size),
        ]

    async def issue(self, spec: ScopeSpec, batch: Batch, fence: Fence = NO_FENCE) -> BatchResult:
        try:
            body = self._issue_body(spec, batch)
            reply = await with_retries(
                lambda: self._call(batch.operation, body, fence, customer=batch.scope.owner),
                policy=self._settings.issue_retry,
                retryable=_issue_retryable,
                sleep=self._sleep,
                rng=self._rng,
            )
        except ProviderError as err:
            return failed_batch(batch, err)
        try:
            results = self._item_results(batch, reply.body)
        except MalformedResponse as exc:
            message = f"processed, but the response cannot be read per item: {exc}"
            return unreadable_batch(batch, message, tracking_id=reply.tracking_id)
        return BatchResult(batch, results, tracking_id=reply.tracking_id)

    def _issue_body(self, spec: ScopeSpec, batch: Batch) -> wire.JsonObject:
        scope = batch.scope
        values = [item.target.value for item in batch.items]
        if batch.operation == wire.DISPATCH:
            return wire.dispatch_request(scope.owner, scope.coupon_class, values)
        if batch.operation == wire.DISTRIBUTE:
            ids = [int(v) for v in values]
            return wire.distribute_request(ids, scope.coupon_class, spec.feature_id, spec.send_notification)
        raise ProviderError(f"unknown operation {batch.operation!r}", provider=self.name, operation=batch.operation)

    def _item_results(self, batch: Batch, body: object) -> tuple[ItemResult, ...]:
        count = len(batch.items)
        if batch.operation == wire.DISPATCH:
            return self._per_item(batch, wire.parse_dispatch_response(body, count), Outcome.ISSUED)
        result = wire.parse_distribute_response(body, count)
        if result.operation and not result.per_item:
            text = "; ".join(self._clean(str(e)) for e in result.operation)
            return same_results(batch.items, Outcome.FAILED, result.operation[0].code, text)
        # Operation errors beside per-account errors: the accounts not named may or may not have a coupon.
        rest = Outcome.IN_DOUBT if result.operation else Outcome.ISSUED
        return self._per_item(batch, result.per_item, rest)

    def _per_item(self, batch: Batch, errors: dict[int, wire.ItemError], rest: Outcome) -> tuple[ItemResult, ...]:
        """FAILED with its error for each item named in ``errors``; ``rest`` for the others."""
        results = []
        for index, item in enumerate(batch.items):
            error = errors.get(index)
            if error is None:
                results.append(ItemResult(item, rest))
            else:
                results.append(ItemResult(item, Outcome.FAILED, error.code, self._clean(error.message)))
        return tuple(results)

    # --- one call -------------------------------------------------------------------------------------

    async def _call(
        self, operation: str, body: wire.JsonObject, fence: Fence | None = None, *, customer: str | None = None
    ) -> Reply:
        """One POST; again once with a refreshed token if the vendor says the token expired (109). An issuing
        call passes its ``fence``, awaited right before each POST leaves (after the token and the limiter), and
        its scope's owner as ``customer``: the ``CustomerId`` header, by which DistributeCoupons finds the class."""
        token = await self._tokens.access_token()
        try:
            return await self._send(operation, body, token, fence, customer)
        except AuthError as err:
            if err.code != str(wire.TOKEN_EXPIRED):
                raise
            fresh = await self._tokens.refresh_after_rejection(token)
            if fresh is None:
                raise
        log.info("call: operation=%s token expired (109), retrying once with a refreshed token", operation)
        return await self._send(operation, body, fresh, fence, customer)

    async def _send(
        self, operation: str, body: wire.JsonObject, token: Secret, fence: Fence | None, customer: str | None = None
    ) -> Reply:
        try:
            async with self._limiter:
                if fence is not None:
                    await fence()
                response = await self._client.post(
                    self._urls[operation],
                    json=body,
                    headers=self._headers(token, customer),
                    extensions=None if fence is None else fenced(fence),
                )
                tracking_id = response.headers.get("TrackingId")
                log.debug("call: operation=%s status=%d tracking_id=%s", operation, response.status_code, tracking_id)
                if not response.is_success:  # inside the limiter: a throttle paces the next calls
                    raise self._fault(operation, response, tracking_id)
        except httpx.TransportError as exc:
            raise transport_failure(exc, provider=self.name, operation=operation) from exc
        if operation == wire.SEARCH and (coupons := wire.decode_search_response(response.content)) is not None:
            return Reply(None, tracking_id, coupons)
        try:
            return Reply(vendor_json(response), tracking_id)
        except ValueError:
            raise OutcomeUnknownError(
                f"HTTP {response.status_code} with a body that is not JSON",
                provider=self.name,
                operation=operation,
                status=response.status_code,
                tracking_id=tracking_id,
            ) from None

    def _fault(self, operation: str, response: httpx.Response, tracking_id: str | None) -> ProviderError:
        try:
            fault = wire.parse_fault(vendor_json(response))
        except ValueError:
            fault = wire.parse_fault(None)
        return wire.fault_error(
            fault,
            status=response.status_code,
            retry_after=retry_after_seconds(response.headers.get("Retry-After")),
            tracking_id=tracking_id or fault.tracking_id,
            provider=self.name,
            operation=operation,
            clean=self._clean,
        )

    def _headers(self, token: Secret, customer: str | None = None) -> httpx.Headers:
        """The request's headers, built once per token and customer (the token changes when it is refreshed)."""
        cached = self._headers_of.get(customer)
        if cached is not None and cached[0] == token.reveal():
            return cached[1]
        headers = httpx.Headers(self._build_headers(token, customer))
        self._headers_of[customer] = (token.reveal(), headers)
        return headers

    def _build_headers(self, token: Secret, customer: str | None) -> dict[str, str]:
        headers = {
            "Authorization": f"Bearer {token.reveal()}",
            "DeveloperToken": self._developer_token.reveal(),
            "Content-Type": "application/json",
            "Accept": "application/json",
        }
        if self._settings.customer_id:
            headers["CustomerId"] = self._settings.customer_id
        if self._settings.customer_account_id:
            headers["CustomerAccountId"] = self._settings.customer_account_id
        if customer:
            headers["CustomerId"] = customer
        return headers

    def _clean(self, text: str) -> str:
        return redact(text, (self._developer_token, *self._tokens.secrets()))


def owner_search_request(owner: str, page_index: int) -> wire.JsonObject:
    """SearchCoupons for every class of one owner customer: only the required CustomerId predicate."""
    body = wire.search_request(owner, "", page_index)
    body["Predicates"] = [{"Field": "CustomerId", "Operator": "Equals", "Value": str(owner)}]
    return body


# --- live state from coupons ----------------------------------------------------------------------------


def coupon_status(coupon: wire.WireCoupon, today: date | None = None) -> str | None:
    """redeemed / claimed / dispatched, the furthest a coupon went; None while it is still available.

    A claimed or dispatched coupon not redeemed by its EndDate (the last day it can be redeemed) is
    ``expired``: its holder still counts as issued (nothing is sent again), and drift reports it as void.
    """
    if coupon.is_redeemed:
        return "redeemed"
    if coupon.claim_account is not None or coupon.claim_date:
        status = "claimed"
    elif coupon.send_to_email or coupon.send_to_date:
        status = "dispatched"
    else:
        return None
    last_day = _day(coupon.end_date)
    if last_day is not None and last_day < (today or datetime.now(UTC).date()):
        return "expired"
    return status


def _day(text: str | None) -> date | None:
    """The calendar day of an ISO-8601 date or date-time, leniently; None when absent or unreadable."""
    if not text:
        return None
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        return None


def coupon_targets(coupon: wire.WireCoupon) -> list[Target]:
    """The email it was dispatched to and the accounts that claimed or redeemed it."""
    targets = [Target.email(coupon.send_to_email)] if coupon.send_to_email else []
    for account in (coupon.claim_account, coupon.redemption_account):
        if account is not None and Target.account(account) not in targets:
            targets.append(Target.account(account))
    return targets


def receiving_targets(coupon: wire.WireCoupon) -> list[Target]:
    """The targets the coupon was issued to: the email DispatchCoupons sent it to and the account that claimed it
    (DistributeCoupons); the redeeming account only when it is neither (it redeemed a code it got some other way).
    An account that redeemed a coupon emailed to someone holds it, but was not paid it."""
    targets = [Target.email(coupon.send_to_email)] if coupon.send_to_email else []
    if coupon.claim_account is not None:
        targets.append(Target.account(coupon.claim_account))
    if not targets and coupon.redemption_account is not None:
        targets.append(Target.account(coupon.redemption_account))
    return targets


def issue_date(coupon: wire.WireCoupon) -> datetime | None:
    """When the coupon was issued, as its own fields date it: ``SendToDate`` (set by DispatchCoupons) or
    ``ClaimInfo.ClaimDate`` (a DistributeCoupons claim), the earlier of the two. None when neither is there or
    readable: a redemption date dates a redemption, not an issue.

    The wire format is not documented (notes 2.0): ISO-8601, read leniently; a time without a zone is taken as
    UTC (the sandbox writes UTC with ``Z``), a bare date as its midnight (UTC), fractions beyond microseconds are
    cut. A date cut to the day or the second is earlier than the issue, never later.
    """
    found = [moment for text in (coupon.send_to_date, coupon.claim_date) if (moment := parse_moment(text))]
    return min(found, default=None)


_FRACTION = re.compile(r"(\.\d{6})\d+")


@lru_cache(maxsize=4096)  # a page's coupons were mostly issued in the same few seconds: their dates repeat
def parse_moment(text: str | None) -> datetime | None:
    """An ISO-8601 date-time or date as an aware datetime (UTC when it names no zone), or None."""
    if not text:
        return None
    cleaned = _FRACTION.sub(r"\1", text.strip())
    try:
        moment = datetime.fromisoformat(cleaned)
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def live_from_coupons(scope: Scope, coupons: Sequence[wire.WireCoupon], *, api_calls: int = 0) -> ScopeLive:
    """The live state of one scope from its coupons (coupons of another class are ignored)."""
    exact = scope.coupon_class
    wanted = exact.casefold()
    mine = [c for c in coupons if c.class_name is None or c.class_name == exact or c.class_name.casefold() == wanted]
    issued: dict[Target, list[IssuedCoupon]] = {}
    available = 0
    today = datetime.now(UTC).date()
    for coupon in mine:
        if not (
            coupon.is_redeemed
            or coupon.claim_account is not None
            or coupon.claim_date
            or coupon.send_to_email
            or coupon.send_to_date
        ):
            available += 1  # what coupon_status says of a coupon no one holds, without the call
            continue
        status = coupon_status(coupon, today)
        if status is None:
            available += 1
            continue
        held = IssuedCoupon(
            code=coupon.code or "",
            status=status,
            amount=coupon.amount,
            currency=coupon.currency,
            issued_at=coupon.send_to_date or coupon.claim_date or coupon.redemption_date,
            issue_date=issue_date(coupon),
            claimed=coupon.is_redeemed or coupon.claim_account is not None or bool(coupon.claim_date),
            redeemed=coupon.is_redeemed,
            redemption_date=parse_moment(coupon.redemption_date),
        )
        targets = coupon_targets(coupon)
        receivers = receiving_targets(coupon)
        for target in targets:
            issued.setdefault(target, []).append(held if target in receivers else replace(held, received=False))
    face = face_value(mine)
    return ScopeLive(
        scope=scope,
        exists=bool(mine),
        face_value=face,
        advisories=class_advisories(face),
        available=available,
        issued={target: tuple(held) for target, held in issued.items()},
        coupons_read=len(coupons),
        api_calls=api_calls,
    )


ACQUISITION = "Acquisition"
ACQUISITION_ADVISORY = "acquisition-new-customers-only"


def class_advisories(face: FaceValue | None) -> tuple[tuple[str, str], ...]:
    """What the vendor's rules say of issuing coupons of the class: coupon.md, CouponType Acquisition, "Only new
    customers can redeem this coupon"."""
    if face is None or face.coupon_type != ACQUISITION:
        return ()
    message = (
        "an Acquisition class: only new customers can redeem its coupons (coupon.md); an account or email of an "
        "existing customer receives a coupon it cannot redeem"
    )
    return ((ACQUISITION_ADVISORY, message),)


def face_value(coupons: Sequence[wire.WireCoupon]) -> FaceValue | None:
    """The most common (amount, currency, type) of the class; the first seen wins a tie."""
    counted: Counter[tuple[Decimal | None, str | None, str | None]] = Counter(map(_FACE, coupons))  # in C
    faces = [(face, n) for face, n in counted.items() if face[0] is not None and face[1]]  # first seen first
    if not faces:
        return None
    (amount, currency, coupon_type), _ = max(faces, key=itemgetter(1))  # the first of the most common
    assert amount is not None and currency is not None
    return FaceValue(amount, currency, coupon_type)


_FACE = attrgetter("amount", "currency", "coupon_type")
