"""The refresh-token flow: form fields, expiry, rotation, the 109 retry, and errors that never show secrets."""

from __future__ import annotations

import asyncio
import json
from urllib.parse import parse_qs

import httpx
import pytest

from reconciler.config.secrets import Secret
from reconciler.errors import AuthError
from reconciler.providers.base import Batch, BatchResult, Outcome
from reconciler.providers.http import HttpSettings, build_client
from reconciler.providers.msads.wire import DISPATCH
from reconciler.providers.oauth import OAuthClient, RefreshTokenFlow, StaticToken
from reconciler.state.live import ScopeLive
from tests.support.msads_fakes import (
    ACCESS_TOKEN,
    BASE,
    DEV_TOKEN,
    SCOPE,
    SPEC,
    Script,
    emails,
    fault,
    make_provider,
    reply,
)

TOKEN_URL = "https://login.microsoftonline.com/common/oauth2/v2.0/token"
SCOPE_STRING = "https://ads.microsoft.com/msads.manage offline_access"
REFRESH = "refresh-token-SECRET-zyxwvutsrq"
CLIENT_SECRET = "client-secret-SECRET-5551234"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Vendor:
    """The token endpoint (scripted) and the API (scripted), behind one MockTransport."""

    def __init__(self, tokens: list[httpx.Response], api: Script | None = None) -> None:
        self.tokens = Script(*tokens)
        self.api = api or Script(reply({"Coupons": []}))

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if str(request.url) == TOKEN_URL:
            return self.tokens(request)
        return self.api(request)

    def forms(self) -> list[dict[str, list[str]]]:
        return [parse_qs(r.content.decode()) for r in self.tokens.requests]


def token(access: str, expires_in: object = 3600, refresh: str | None = None) -> httpx.Response:
    body: dict[str, object] = {"token_type": "Bearer", "access_token": access, "expires_in": expires_in}
    if refresh:
        body["refresh_token"] = refresh
    return httpx.Response(200, json=body)


def flow(
    vendor: Vendor, *, secret: str | None = CLIENT_SECRET, clock: Clock | None = None, initial: str | None = None
) -> tuple[RefreshTokenFlow, httpx.AsyncClient]:
    client = build_client(base_url=BASE, user_agent="t", settings=HttpSettings(), transport=httpx.MockTransport(vendor))
    oauth = OAuthClient(TOKEN_URL, "client-id-1", SCOPE_STRING, Secret(secret) if secret else None)
    tokens = RefreshTokenFlow(
        oauth,
        Secret(REFRESH),
        client,
        provider="msads-test",
        clock=clock or Clock(),
        initial=Secret(initial) if initial else None,
    )
    return tokens, client


def test_refresh_posts_the_form() -> None:
    vendor = Vendor([token("AT-1")])
    tokens, client = flow(vendor)
    got = asyncio.run(tokens.access_token())
    assert got.reveal() == "AT-1"
    (request,) = vendor.tokens.requests
    assert request.method == "POST"
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert "Authorization" not in request.headers
    assert "DeveloperToken" not in request.headers
    assert vendor.forms() == [
        {
            "client_id": ["client-id-1"],
            "grant_type": ["refresh_token"],
            "refresh_token": [REFRESH],
            "scope": [SCOPE_STRING],
            "client_secret": [CLIENT_SECRET],
        }
    ]
    asyncio.run(client.aclose())


def test_client_secret_is_omitted_when_none() -> None:
    vendor = Vendor([token("AT-1")])
    tokens, _ = flow(vendor, secret=None)
    asyncio.run(tokens.access_token())
    assert "client_secret" not in vendor.forms()[0]


def test_token_is_kept_until_shortly_before_expiry() -> None:
    clock = Clock()
    vendor = Vendor([token("AT-1", 3600), token("AT-2", "3600")])
    tokens, _ = flow(vendor, clock=clock)

    async def run() -> list[str]:
        seen = [(await tokens.access_token()).reveal()]
        clock.now += 3000
        seen.append((await tokens.access_token()).reveal())
        clock.now += 500  # within the skew of expiry: refresh first
        seen.append((await tokens.access_token()).reveal())
        return seen

    assert asyncio.run(run()) == ["AT-1", "AT-1", "AT-2"]
    assert len(vendor.tokens.requests) == 2


def test_a_rotated_refresh_token_is_used_next_time() -> None:
    clock = Clock()
    vendor = Vendor([token("AT-1", 60, refresh="ROTATED-REFRESH"), token("AT-2")])
    tokens, _ = flow(vendor, clock=clock)

    async def run() -> None:
        await tokens.access_token()
        clock.now += 3600
        await tokens.access_token()

    asyncio.run(run())
    assert [f["refresh_token"] for f in vendor.forms()] == [[REFRESH], ["ROTATED-REFRESH"]]


def test_concurrent_callers_share_one_refresh() -> None:
    vendor = Vendor([token("AT-1")])
    tokens, _ = flow(vendor)

    async def run() -> set[str]:
        got = await asyncio.gather(*(tokens.access_token() for _ in range(5)))
        return {t.reveal() for t in got}

    assert asyncio.run(run()) == {"AT-1"}
    assert len(vendor.tokens.requests) == 1


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(
            400,
            json={
                "error": "invalid_grant",
                "error_description": f"AADSTS70000: bad grant {REFRESH} {CLIENT_SECRET}\r\nTrace ID: 1",
            },
        ),
        httpx.Response(500, text="oops"),
        httpx.Response(200, json={"token_type": "Bearer"}),
    ],
    ids=["invalid-grant", "server-error", "no-access-token"],
)
def test_token_endpoint_errors_are_auth_errors_without_secrets(response: httpx.Response) -> None:
    tokens, _ = flow(Vendor([response]))
    with pytest.raises(AuthError) as caught:
        asyncio.run(tokens.access_token())
    text = f"{caught.value} {caught.value!r} {caught.value.args}"
    for secret in (REFRESH, CLIENT_SECRET):
        assert secret not in text
    assert caught.value.operation == "OAuthTokenRefresh"


def test_invalid_grant_message_names_the_error() -> None:
    response = httpx.Response(400, json={"error": "invalid_grant", "error_description": "AADSTS70008: expired"})
    tokens, _ = flow(Vendor([response]))
    with pytest.raises(AuthError, match="invalid_grant: AADSTS70008: expired"):
        asyncio.run(tokens.access_token())


def test_token_endpoint_unreachable_is_an_auth_error() -> None:
    tokens, _ = flow(Vendor([httpx.ConnectError("refused")]))  # type: ignore[list-item]
    with pytest.raises(AuthError, match="unreachable: ConnectError"):
        asyncio.run(tokens.access_token())


def test_expired_token_109_is_refreshed_once_and_the_read_retried() -> None:
    api = Script(fault("AdApiFaultDetail", 109, 401), reply({"Coupons": []}))
    vendor = Vendor([token("AT-2")], api)
    tokens, client = flow(vendor, initial="AT-1")
    provider = make_provider(api, tokens=tokens, client=client)
    live: ScopeLive = asyncio.run(provider.read_scope(SPEC))
    assert live.exists is False
    assert [r.headers["Authorization"] for r in api.requests] == ["Bearer AT-1", "Bearer AT-2"]
    assert len(vendor.tokens.requests) == 1


def test_expired_token_109_on_issue_is_refreshed_and_sent_once_more() -> None:
    api = Script(fault("AdApiFaultDetail", 109, 401), reply({"PartialErrors": []}))
    vendor = Vendor([token("AT-2")], api)
    tokens, client = flow(vendor, initial="AT-1")
    provider = make_provider(api, tokens=tokens, client=client)
    result: BatchResult = asyncio.run(provider.issue(SPEC, Batch(SCOPE, DISPATCH, tuple(emails(1)))))
    assert [r.outcome for r in result.results] == [Outcome.ISSUED]
    assert [r.headers["Authorization"] for r in api.requests] == ["Bearer AT-1", "Bearer AT-2"]
    assert api.requests[0].content == api.requests[1].content


def test_a_second_109_is_not_refreshed_again() -> None:
    api = Script(fault("AdApiFaultDetail", 109, 401))
    vendor = Vendor([token("AT-2"), token("AT-3")], api)
    tokens, client = flow(vendor, initial="AT-1")
    provider = make_provider(api, tokens=tokens, client=client)
    result = asyncio.run(provider.issue(SPEC, Batch(SCOPE, DISPATCH, tuple(emails(1)))))
    assert [r.outcome for r in result.results] == [Outcome.FAILED]
    assert result.results[0].code == "109"
    assert len(api.requests) == 2
    assert len(vendor.tokens.requests) == 1


def test_a_static_token_cannot_refresh_so_109_fails() -> None:
    api = Script(fault("AdApiFaultDetail", 109, 401), reply({"PartialErrors": []}))
    provider = make_provider(api)
    result = asyncio.run(provider.issue(SPEC, Batch(SCOPE, DISPATCH, tuple(emails(1)))))
    assert [r.outcome for r in result.results] == [Outcome.FAILED]
    assert len(api.requests) == 1


def test_a_failed_refresh_before_issuing_fails_without_sending() -> None:
    api = Script(reply({"PartialErrors": []}))
    vendor = Vendor([httpx.Response(400, json={"error": "invalid_grant"})], api)
    tokens, client = flow(vendor)
    provider = make_provider(api, tokens=tokens, client=client)
    result = asyncio.run(provider.issue(SPEC, Batch(SCOPE, DISPATCH, tuple(emails(2)))))
    assert [r.outcome for r in result.results] == [Outcome.FAILED, Outcome.FAILED]
    assert api.requests == []


# --- secrets never shown --------------------------------------------------------------------------------


def test_secrets_are_masked_in_reprs() -> None:
    tokens, _ = flow(Vendor([token("AT-1")]), initial="AT-0")
    provider = make_provider(Script(), tokens=tokens)
    for text in (repr(tokens), repr(provider), repr(StaticToken(Secret(ACCESS_TOKEN)))):
        for secret in (REFRESH, CLIENT_SECRET, "AT-0", ACCESS_TOKEN, DEV_TOKEN):
            assert secret not in text


def test_vendor_messages_that_echo_a_secret_are_redacted() -> None:
    echo = fault("AdApiFaultDetail", 105, 401, message=f"token {ACCESS_TOKEN} / {DEV_TOKEN} is invalid")
    result = asyncio.run(make_provider(Script(echo)).issue(SPEC, Batch(SCOPE, DISPATCH, tuple(emails(1)))))
    message = result.results[0].message or ""
    assert "is invalid" in message
    assert ACCESS_TOKEN not in message and DEV_TOKEN not in message


def test_secrets_never_appear_in_error_strings(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")
    failures: list[httpx.Response | Exception] = [
        fault("AdApiFaultDetail", 105, 401),
        fault("ApiFault", 3030, 400),
        fault("AdApiFaultDetail", 0, 500),
        httpx.ReadTimeout("t"),
        httpx.ConnectError("c"),
    ]
    texts: list[str] = []
    for failure in failures:
        result = asyncio.run(make_provider(Script(failure)).issue(SPEC, Batch(SCOPE, DISPATCH, tuple(emails(1)))))
        texts.extend(f"{r.message} {r.code} {r!r}" for r in result.results)
    texts.append(caplog.text)
    for text in texts:
        assert ACCESS_TOKEN not in text
        assert DEV_TOKEN not in text


def test_request_bodies_never_carry_credentials() -> None:
    api = Script(reply({"PartialErrors": []}))
    asyncio.run(make_provider(api).issue(SPEC, Batch(SCOPE, DISPATCH, tuple(emails(1)))))
    body = json.dumps(json.loads(api.requests[0].content))
    assert ACCESS_TOKEN not in body and DEV_TOKEN not in body
