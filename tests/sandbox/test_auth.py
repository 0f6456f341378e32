"""Headers, access tokens, the OAuth token endpoint, TrackingId, and that no secret reaches a log."""

from __future__ import annotations

import logging

import pytest

from tests.support.sandbox import (
    ALL_TOKEN,
    DEVELOPER_TOKEN,
    EXPIRED_TOKEN,
    NARROW_TOKEN,
    SEARCH,
    TOKEN,
    Sandbox,
    codes,
    pred,
)

BODY = {"Predicates": [pred("CustomerId", "100")], "PageInfo": {"Index": 0, "Size": 1}}
# The form the official Python SDK posts (bingads/authorization.py), unknown fields included.
SDK_FORM = {
    "client_id": "app",
    "grant_type": "refresh_token",
    "refresh_token": "refresh-1",
    "scope": "https://ads.microsoft.com/msads.manage offline_access",
    "environment": "production",
    "oauth_scope": "msads.manage",
    "tenant": "common",
}


def search_as(sandbox: Sandbox, headers: dict[str, str]) -> tuple[int, str | None, list[int]]:
    response = sandbox.post(SEARCH, BODY, headers=headers)
    fault_type = response.json().get("Type") if response.status_code != 200 else None
    return response.status_code, fault_type, codes(response) if fault_type else []


def bearer(token: str, developer_token: str = DEVELOPER_TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "DeveloperToken": developer_token}


def test_missing_headers_give_116(sandbox: Sandbox) -> None:
    assert search_as(sandbox, {}) == (401, "AdApiFaultDetail", [116])
    assert search_as(sandbox, {"Authorization": f"Bearer {ALL_TOKEN}"}) == (401, "AdApiFaultDetail", [116])
    assert search_as(sandbox, {"DeveloperToken": DEVELOPER_TOKEN}) == (401, "AdApiFaultDetail", [116])
    response = sandbox.post(SEARCH, BODY, headers={})
    assert response.json()["Errors"][0]["ErrorCode"] == "RequestMissingHeaders"


def test_unknown_credentials_give_105(sandbox: Sandbox) -> None:
    assert search_as(sandbox, bearer("no-such-token")) == (401, "AdApiFaultDetail", [105])
    assert search_as(sandbox, bearer(ALL_TOKEN, "WRONG-DEV")) == (401, "AdApiFaultDetail", [105])
    no_prefix = {"Authorization": ALL_TOKEN, "DeveloperToken": DEVELOPER_TOKEN}
    assert search_as(sandbox, no_prefix) == (401, "AdApiFaultDetail", [105])
    assert search_as(sandbox, bearer(ALL_TOKEN)) == (200, None, [])
    assert search_as(sandbox, {"authorization": f"bearer {ALL_TOKEN}", "developertoken": DEVELOPER_TOKEN})[0] == 200


def test_an_expired_token_gives_109(sandbox: Sandbox) -> None:
    assert search_as(sandbox, bearer(EXPIRED_TOKEN)) == (401, "AdApiFaultDetail", [109])


def test_the_refresh_flow_issues_tokens_that_expire(sandbox: Sandbox) -> None:
    response = sandbox.post(TOKEN, data=SDK_FORM, headers={})
    assert response.status_code == 200, response.text
    token = response.json()
    assert token["token_type"] == "Bearer" and token["expires_in"] == 60
    assert token["refresh_token"] not in ("", "refresh-1")  # rotated: test_oauth_rotation
    assert response.headers["Cache-Control"] == "no-store"
    assert search_as(sandbox, bearer(token["access_token"])) == (200, None, [])
    sandbox.clock.advance(61)
    assert search_as(sandbox, bearer(token["access_token"])) == (401, "AdApiFaultDetail", [109])
    fresh = sandbox.post(TOKEN, data=SDK_FORM, headers={}).json()["access_token"]
    assert fresh != token["access_token"]
    assert search_as(sandbox, bearer(fresh)) == (200, None, [])


def test_token_endpoint_refusals(sandbox: Sandbox) -> None:
    def error(form: dict[str, str]) -> tuple[int, str]:
        response = sandbox.post(TOKEN, data=form, headers={})
        return response.status_code, response.json()["error"]

    assert error({**SDK_FORM, "refresh_token": "stolen"}) == (400, "invalid_grant")
    assert error({**SDK_FORM, "client_id": "nobody"}) == (400, "unauthorized_client")
    assert error({**SDK_FORM, "grant_type": "authorization_code"}) == (400, "unsupported_grant_type")
    assert error({k: v for k, v in SDK_FORM.items() if k != "grant_type"}) == (400, "invalid_request")
    assert error({k: v for k, v in SDK_FORM.items() if k != "refresh_token"}) == (400, "invalid_request")
    secret_app = {**SDK_FORM, "client_id": "secret-app", "refresh_token": "refresh-2"}
    assert error(secret_app) == (401, "invalid_client")
    assert error({**secret_app, "client_secret": "guess"}) == (401, "invalid_client")
    assert sandbox.post(TOKEN, data={**secret_app, "client_secret": "s3cret"}, headers={}).status_code == 200


def test_the_token_endpoint_also_answers_under_a_tenant(sandbox: Sandbox) -> None:
    response = sandbox.post("/common/oauth2/v2.0/token", data=SDK_FORM, headers={})
    assert response.status_code == 200 and response.json()["access_token"]


def test_tokens_reach_only_the_customers_of_their_client(sandbox: Sandbox) -> None:
    form = {**SDK_FORM, "client_id": "secret-app", "refresh_token": "refresh-2", "client_secret": "s3cret"}
    token = sandbox.post(TOKEN, data=form, headers={}).json()["access_token"]
    assert search_as(sandbox, bearer(token)) == (403, "ApiFault", [1001])
    assert search_as(sandbox, bearer(NARROW_TOKEN)) == (403, "ApiFault", [1001])
    other = sandbox.post(SEARCH, {**BODY, "Predicates": [pred("CustomerId", "200")]}, headers=bearer(token))
    assert other.status_code == 200


def test_every_response_carries_a_tracking_id_and_faults_repeat_it(sandbox: Sandbox) -> None:
    responses = [
        sandbox.post(SEARCH, BODY),
        sandbox.post(SEARCH, BODY, headers={}),
        sandbox.post(SEARCH, {"Predicates": []}),
        sandbox.post(TOKEN, data=SDK_FORM, headers={}),
        sandbox.post("/CustomerBilling/v13/Nope", {}),
    ]
    ids = [r.headers.get("TrackingId") for r in responses]
    assert all(ids) and len(set(ids)) == len(ids)
    for response in responses[1:3]:
        assert response.json()["TrackingId"] == response.headers["TrackingId"]
    calls = sandbox.store.calls()
    assert [c.tracking_id for c in calls] == ids
    assert (calls[-1].endpoint, calls[-1].status, calls[-1].path) == ("unrouted", 404, "/CustomerBilling/v13/Nope")


def test_a_call_with_the_wrong_method_is_refused_and_logged(sandbox: Sandbox) -> None:
    assert sandbox.post(SEARCH, method="GET").status_code == 405
    assert [(c.endpoint, c.status) for c in sandbox.store.calls()] == [("unrouted", 405)]


def test_the_call_log_records_every_call_without_any_secret(sandbox: Sandbox, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    form = {**SDK_FORM, "client_id": "secret-app", "refresh_token": "refresh-2", "client_secret": "s3cret"}
    issued = sandbox.post(TOKEN, data=form, headers={}).json()["access_token"]
    sandbox.post(SEARCH, {**BODY, "Predicates": [pred("CustomerId", "200")]}, headers=bearer(issued))
    sandbox.post(
        SEARCH,
        BODY,
        headers={
            "Authorization": f"Bearer {ALL_TOKEN}",
            "DeveloperToken": DEVELOPER_TOKEN,
            "CustomerId": "100",
            "CustomerAccountId": "None",
        },
    )
    sandbox.post(SEARCH, BODY, headers=bearer("a-wrong-token-value"))
    calls = sandbox.store.calls()
    assert [(c.endpoint, c.status, c.outcome) for c in calls] == [
        ("token", 200, "ok"),
        ("search", 200, "ok"),
        ("search", 200, "ok"),
        ("search", 401, "refused"),
    ]
    assert calls[2].headers["authorization"] == "<redacted>" and calls[2].headers["customerid"] == "100"
    assert calls[3].code == 105
    assert "refresh_token=<redacted>" in calls[0].body and "client_secret=<redacted>" in calls[0].body
    logged = repr(calls) + caplog.text
    for secret in ("s3cret", "refresh-2", issued, ALL_TOKEN, DEVELOPER_TOKEN, "a-wrong-token-value"):
        assert secret not in logged
