"""Fault injection for reliability tests and benchmarks, deterministic under a fault seed.

A spec is ``ENDPOINT:KIND=VALUE`` (``--fault`` on ``sandbox serve``, repeatable). ENDPOINT is one of
``search``, ``distribute``, ``dispatch``, ``redeem``, ``couponinfo``, ``faccheck``, ``facclaim``, ``token``
(Microsoft Advertising), ``send``, ``getpage``, ``discard`` (Alibaba Cloud: SendCoupon, GetCouponPage,
DiscardCouponList) or ``*`` (every endpoint; a spec naming the endpoint wins over ``*`` for the same kind).
KIND is one of:

- ``latency-ms=20``: milliseconds added to each call;
- ``throttle-rpm=600``: at most that many calls accepted in any 60 s window, the rest get 429 (code 117; Alibaba
  Cloud: 400 Throttling.User); ``throttle-rpm=2/5`` counts in a window of 5 s instead (``CALLS/SECONDS``: the
  window is any number of seconds above 0, 60 when not given), so that a test of throttling need not wait a minute;
- ``error-500=0.1``: that share of calls fail with a 500 before anything is committed;
- ``drop-after-commit=0.3``: that share of calls commit, then the client gets no answer;
- ``lag-s=5``: what the endpoint changes becomes visible to reads (Search, GetCouponPage) that many seconds later
  (the read endpoint, ``search`` or ``getpage``, or ``*``: what every endpoint of its vendor changes);
- ``hide-share=0.1``: that share of coupons never shows in the reads of the endpoint (``search``, ``getpage``, or
  ``*`` for both), as SearchCoupons "may not return every coupon". Which coupons are hidden is drawn per coupon
  from the fault seed and the coupon (msads: its code; aliyun: its CouponId), so a hidden coupon stays hidden in
  every read, and the issuing calls still take and count it.

Random draws come from one generator per rule, seeded from the fault seed, the rule's endpoint and kind:
the same calls in the same order meet the same faults. ``hide-share`` draws per coupon instead (a hash of the fault
seed, the rule's endpoint and the coupon), whatever the order of the calls.
"""

from __future__ import annotations

import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import NoReturn

from reconciler.errors import InputError, Problem
from reconciler.sandbox.records import Hidden

ENDPOINTS = (
    "search",
    "distribute",
    "dispatch",
    "redeem",
    "couponinfo",
    "faccheck",
    "facclaim",
    "token",
    "send",
    "getpage",
    "discard",
)
# The read endpoint whose ``lag-s`` delays what an endpoint changes (default: search).
_READER = {"send": "getpage", "discard": "getpage"}
# The endpoints that read coupons: the only ones ``hide-share`` applies to.
READERS = ("search", "getpage")
ANY = "*"
THROTTLE_WINDOW_S = 60.0  # the window of ``throttle-rpm`` when the spec gives none (the vendors' minute)


class FaultKind(StrEnum):
    LATENCY_MS = "latency-ms"
    THROTTLE_RPM = "throttle-rpm"
    ERROR_500 = "error-500"
    DROP_AFTER_COMMIT = "drop-after-commit"
    LAG_S = "lag-s"
    HIDE_SHARE = "hide-share"


_SHARES = (FaultKind.ERROR_500, FaultKind.DROP_AFTER_COMMIT, FaultKind.HIDE_SHARE)


@dataclass(frozen=True, slots=True)
class Throttle:
    """A refused call's throttle: seconds until its window admits a call again, and the window's length."""

    retry_after_s: float
    window_s: float = THROTTLE_WINDOW_S

    @property
    def shortened(self) -> bool:
        """True when a spec gave the window (``CALLS/SECONDS``): no client can know it from the vendor's docs."""
        return self.window_s != THROTTLE_WINDOW_S


@dataclass(frozen=True, slots=True)
class Effects:
    """What the faults do to the state one call reads or writes: how long what it changes stays invisible to
    reads (``lag_s``), and which coupons its reads do not show (``hidden``, None when none)."""

    lag_s: float = 0.0
    hidden: Hidden | None = None


class ConnectionDropped(BaseException):
    """Raised by the application after committing, when the client must get no answer.

    A BaseException on purpose, so that Starlette's error middleware does not turn it into a 500: the
    runtime decides what a dropped connection looks like (``server`` closes the socket mid-response, the
    embedded transport raises httpx.RemoteProtocolError).
    """


@dataclass(frozen=True, slots=True)
class FaultSpec:
    """One rule: ``value`` is the kind's number; ``window_s`` is the throttle's window (``throttle-rpm`` only)."""

    endpoint: str
    kind: FaultKind
    value: float
    window_s: float = THROTTLE_WINDOW_S

    def __str__(self) -> str:
        window = f"/{self.window_s:g}" if self.window_s != THROTTLE_WINDOW_S else ""
        return f"{self.endpoint}:{self.kind.value}={self.value:g}{window}"


def parse_fault_spec(text: str) -> FaultSpec:
    """Parse one ``ENDPOINT:KIND=VALUE``; raise InputError saying what is wrong."""
    endpoint, _, rest = text.strip().partition(":")
    kind_text, equals, value_text = rest.partition("=")
    endpoint, kind_text, value_text = endpoint.strip(), kind_text.strip(), value_text.strip()
    if not rest or not equals:
        _bad(text, "expected ENDPOINT:KIND=VALUE, e.g. dispatch:drop-after-commit=0.3")
    if endpoint not in (*ENDPOINTS, ANY):
        _bad(text, f"unknown endpoint {endpoint!r} (expected one of: {', '.join((*ENDPOINTS, ANY))})")
    try:
        kind = FaultKind(kind_text)
    except ValueError:
        _bad(text, f"unknown kind {kind_text!r} (expected one of: {', '.join(k.value for k in FaultKind)})")
    window_s = THROTTLE_WINDOW_S
    if kind is FaultKind.THROTTLE_RPM and "/" in value_text:
        value_text, _, window_text = (part.strip() for part in value_text.partition("/"))
        window_s = _throttle_window(text, window_text)
    value = _number(text, kind, value_text)
    if kind in _SHARES and not 0 <= value <= 1:
        what = "coupons" if kind is FaultKind.HIDE_SHARE else "calls"
        _bad(text, f"{kind.value} is a share of {what}, from 0 to 1")
    if kind is FaultKind.HIDE_SHARE and endpoint not in (*READERS, ANY):
        _bad(text, f"hide-share applies to the reads: {', '.join(READERS)} or *, not {endpoint!r}")
    if kind is FaultKind.THROTTLE_RPM and (value < 1 or value != int(value)):
        _bad(text, "throttle-rpm is a whole number of calls a window (a minute unless given), at least 1")
    if value < 0:
        _bad(text, f"{kind.value} cannot be negative")
    return FaultSpec(endpoint, kind, value, window_s)


def _number(text: str, kind: FaultKind, value_text: str) -> float:
    try:
        value = float(value_text)
    except ValueError:
        _bad(text, f"{kind.value} needs a number, got {value_text!r}")
    if value != value or value in (float("inf"), float("-inf")):
        _bad(text, f"{kind.value} needs a finite number")
    return value


def _throttle_window(text: str, window_text: str) -> float:
    """The SECONDS of ``throttle-rpm=CALLS/SECONDS``: a finite number above 0."""
    try:
        window_s = float(window_text)
    except ValueError:
        _bad(text, f"the throttle window needs a number of seconds, got {window_text!r}")
    if window_s != window_s or window_s in (float("inf"), float("-inf")) or window_s <= 0:
        _bad(text, "the throttle window is a finite number of seconds above 0")
    return window_s


def parse_fault_specs(texts: Iterable[str]) -> tuple[FaultSpec, ...]:
    """Parse every spec, reporting all bad ones at once; the same endpoint and kind twice is an error."""
    problems: list[Problem] = []
    specs: dict[tuple[str, FaultKind], FaultSpec] = {}
    for text in texts:
        try:
            spec = parse_fault_spec(text)
        except InputError as exc:
            problems.extend(exc.problems)
            continue
        if (spec.endpoint, spec.kind) in specs:
            problems.append(_problem(text, f"{spec.endpoint}:{spec.kind.value} is given twice"))
        specs[(spec.endpoint, spec.kind)] = spec
    if problems:
        raise InputError(problems)
    return tuple(specs.values())


def _problem(text: str, message: str) -> Problem:
    return Problem("--fault", 0, 0, text, message)


def _bad(text: str, message: str) -> NoReturn:
    raise InputError([_problem(text, message)])


class FaultPlan:
    """The faults in force, and the state they need (random generators, throttle windows).

    ``clock`` (seconds, monotonic) drives the throttle window; tests inject one.
    """

    def __init__(
        self, specs: Iterable[FaultSpec] = (), *, seed: int = 0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.specs = tuple(specs)
        self.seed = seed
        self._clock = clock
        self._rules = {(s.endpoint, s.kind): s for s in self.specs}
        self._lock = threading.Lock()
        self._random: dict[tuple[str, FaultKind], random.Random] = {}
        self._windows: dict[str, deque[float]] = {}

    @classmethod
    def parse(cls, texts: Iterable[str], *, seed: int = 0) -> FaultPlan:
        return cls(parse_fault_specs(texts), seed=seed)

    def _rule(self, endpoint: str, kind: FaultKind) -> FaultSpec | None:
        return self._rules.get((endpoint, kind)) or self._rules.get((ANY, kind))

    def _draw(self, endpoint: str, kind: FaultKind) -> bool:
        rule = self._rule(endpoint, kind)
        if rule is None or rule.value <= 0:
            return False
        with self._lock:
            key = (rule.endpoint, kind)
            generator = self._random.setdefault(key, random.Random(f"{self.seed}/{rule.endpoint}/{kind.value}"))
            return generator.random() < rule.value

    def latency_s(self, endpoint: str) -> float:
        rule = self._rule(endpoint, FaultKind.LATENCY_MS)
        return 0.0 if rule is None else rule.value / 1000

    def lag_s(self, endpoint: str) -> float:
        """How long what ``endpoint`` changes stays invisible to reads (Search, GetCouponPage)."""
        reader = _READER.get(endpoint, "search")
        rule = self._rules.get((endpoint, FaultKind.LAG_S)) or self._rules.get((reader, FaultKind.LAG_S))
        rule = rule or self._rules.get((ANY, FaultKind.LAG_S))
        return 0.0 if rule is None else rule.value

    def hidden(self, endpoint: str) -> Hidden | None:
        """The coupons the reads of ``endpoint`` do not show (None: it shows every coupon it may see)."""
        if endpoint not in READERS:
            return None
        rule = self._rule(endpoint, FaultKind.HIDE_SHARE)
        if rule is None or rule.value <= 0:
            return None
        return Hidden(rule.value, f"{self.seed}/{rule.endpoint}/{FaultKind.HIDE_SHARE.value}/")

    def effects(self, endpoint: str) -> Effects:
        """The read lag of what ``endpoint`` changes and the coupons its reads hide."""
        return Effects(self.lag_s(endpoint), self.hidden(endpoint))

    def admit(self, endpoint: str) -> bool:
        """Count the call against the throttle window; False when it must be refused as throttled."""
        rule = self._rule(endpoint, FaultKind.THROTTLE_RPM)
        if rule is None:
            return True
        now = self._clock()
        with self._lock:
            window = self._windows.setdefault(rule.endpoint, deque())
            while window and window[0] <= now - rule.window_s:
                window.popleft()
            if len(window) >= rule.value:
                return False
            window.append(now)
            return True

    def retry_after_s(self, endpoint: str) -> float:
        """Seconds until the throttle window of ``endpoint`` admits a call again (0 when it does now)."""
        return self.throttle(endpoint).retry_after_s

    def throttle(self, endpoint: str) -> Throttle:
        """The throttle of ``endpoint`` as a refused call tells it: the wait, and the window's length."""
        rule = self._rule(endpoint, FaultKind.THROTTLE_RPM)
        if rule is None:
            return Throttle(0.0)
        now = self._clock()
        with self._lock:
            window = self._windows.get(rule.endpoint)
            if not window or len(window) < rule.value:
                return Throttle(0.0, rule.window_s)
            return Throttle(max(0.0, window[0] + rule.window_s - now), rule.window_s)

    def fail_before_commit(self, endpoint: str) -> bool:
        return self._draw(endpoint, FaultKind.ERROR_500)

    def drop_after_commit(self, endpoint: str) -> bool:
        return self._draw(endpoint, FaultKind.DROP_AFTER_COMMIT)
