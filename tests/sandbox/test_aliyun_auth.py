"""The gateway's signature checks: V3 and V1 accepted; SignatureDoesNotMatch, IncompleteSignature,
InvalidTimeStamp.Expired, SignatureNonceUsed, InvalidAccessKeyId.NotFound and STS token mismatches refused with
the gateway's error body, and nothing done."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from reconciler.config.secrets import Secret
from reconciler.signing import acs
from tests.support.aliyun_sandbox import KEY, REQUIRED, STS_KEY, TEMPLATE, AliyunSandbox, Signing, holders

SIGNATURES = ["v3", "v1"]


@pytest.fixture
def box() -> Iterator[AliyunSandbox]:
    sandbox = AliyunSandbox()
    yield sandbox
    sandbox.close()


def error(response: httpx.Response) -> tuple[int, str]:
    body = response.json()
    assert set(body) == {"RequestId", "HostId", "Code", "Message", "Recommend"}, body
    assert body["HostId"] == "resellertrade.aliyuncs.com"
    assert body["RequestId"] == response.headers["x-acs-request-id"]
    assert body["Code"] in body["Recommend"] and body["RequestId"] in body["Recommend"]
    return response.status_code, str(body["Code"])


def nothing_sent(box: AliyunSandbox) -> bool:
    return holders(box) == {}


def now(box: AliyunSandbox) -> datetime:
    return datetime.fromtimestamp(box.clock(), UTC)


@pytest.mark.parametrize("signature", SIGNATURES)
def test_a_signed_call_is_let_in(box: AliyunSandbox, signature: str) -> None:
    response = box.send_coupon((101, 100), signing=Signing(signature=signature))
    assert response.status_code == 200 and response.json()["Success"] is True
    assert holders(box) == {101: ["AVAILABLE"]}


@pytest.mark.parametrize("signature", SIGNATURES)
def test_a_wrong_secret_is_signature_does_not_match(box: AliyunSandbox, signature: str) -> None:
    wrong = replace(KEY, access_key_secret=Secret("not-the-secret"))
    response = box.send_coupon((101, 100), signing=Signing(signature=signature, credentials=wrong))
    assert error(response) == (400, "SignatureDoesNotMatch")
    assert response.json()["Message"] == "Specified signature does not match our calculation."
    assert nothing_sent(box)


def test_v3_a_body_changed_after_signing_does_not_match(box: AliyunSandbox) -> None:
    request = box.request("SendCoupon", {"SellerId": "3944837183", "TemplateId": str(TEMPLATE)})
    tampered = request.content.replace(b"3944837183", b"3944837184")
    bent = httpx.Request("POST", request.url, headers=request.headers, content=tampered)
    assert error(box.send(bent)) == (400, "SignatureDoesNotMatch")


def test_v3_a_query_changed_after_signing_does_not_match(box: AliyunSandbox) -> None:
    request = box.request("GetCouponPage", {"SellerId": "3944837183", "PageNo": "1", "PageSize": "20", **REQUIRED})
    bent = httpx.Request("GET", request.url.copy_merge_params({"PageSize": "50"}), headers=request.headers)
    assert error(box.send(bent)) == (400, "SignatureDoesNotMatch")


def test_v1_a_parameter_changed_after_signing_does_not_match(box: AliyunSandbox) -> None:
    request = box.request("GetCouponPage", {"SellerId": "3944837183", "PageNo": "1", "PageSize": "20"}, Signing("v1"))
    bent = httpx.Request("GET", request.url.copy_set_param("PageSize", "50"), headers=request.headers)
    assert error(box.send(bent)) == (400, "SignatureDoesNotMatch")


def test_v3_a_signed_header_changed_after_signing_does_not_match(box: AliyunSandbox) -> None:
    def bend(request: httpx.Request) -> None:
        request.headers["x-acs-action"] = "SendCoupon"  # signed as GetCouponPage

    response = box.call("GetCouponPage", {"SellerId": "3944837183", "PageNo": "1", "PageSize": "20"}, bend=bend)
    assert error(response) == (400, "SignatureDoesNotMatch")


def test_v3_any_header_listed_in_signed_headers_is_verified(box: AliyunSandbox) -> None:
    """The SDK signs user-agent and accept too: the gateway rebuilds CanonicalHeaders from SignedHeaders."""
    request = box.request("GetCouponPage", {"SellerId": "3944837183", "PageNo": "1", "PageSize": "20", **REQUIRED})
    request.headers["user-agent"] = "AlibabaCloud (test)"
    signed = sorted(n for n in request.headers if n.startswith("x-acs-") or n in ("host", "user-agent"))
    canonical = acs.v3_canonical_request(
        "GET",
        "/",
        dict(request.url.params),
        request.headers.items(),
        signed,
        request.headers["x-acs-content-sha256"],
    )
    signature = acs.v3_signature(KEY.access_key_secret.reveal(), acs.v3_string_to_sign(canonical))
    request.headers["Authorization"] = acs.v3_authorization(KEY.access_key_id, signed, signature)
    assert box.send(request).status_code == 200
    request.headers["user-agent"] = "something else"
    assert error(box.send(request)) == (400, "SignatureDoesNotMatch")


@pytest.mark.parametrize(
    ("bend", "detail"),
    [
        (lambda r: r.headers.pop("Authorization"), "neither an Authorization header nor a Signature"),
        (lambda r: r.headers.__setitem__("Authorization", "ACS3-HMAC-SHA256 Credential=ak-1"), "Authorization must"),
        (lambda r: r.headers.pop("x-acs-date"), "Missing headers: x-acs-date"),
        (lambda r: r.headers.pop("x-acs-signature-nonce"), "Missing headers: x-acs-signature-nonce"),
        (lambda r: r.headers.__setitem__("x-acs-extra", "1"), "missing: x-acs-extra"),
    ],
)
def test_v3_an_incomplete_signature_is_refused(
    box: AliyunSandbox, bend: Callable[[httpx.Request], object], detail: str
) -> None:
    response = box.call("SendCoupon", {"SellerId": "3944837183"}, bend=bend)
    assert error(response) == (400, "IncompleteSignature")
    assert "does not conform to Aliyun standards" in response.json()["Message"]
    assert detail in response.json()["Message"]


@pytest.mark.parametrize("missing", ["SignatureNonce", "Timestamp", "AccessKeyId"])
def test_v1_an_incomplete_signature_is_refused(box: AliyunSandbox, missing: str) -> None:
    request = box.request("GetCouponPage", {"SellerId": "1", "PageNo": "1", "PageSize": "1"}, Signing("v1"))
    params = [(k, v) for k, v in request.url.params.multi_items() if k != missing]
    bent = httpx.Request("GET", request.url.copy_with(params=params), headers=request.headers)
    response = box.send(bent)
    assert error(response) == (400, "IncompleteSignature") and missing in response.json()["Message"]


@pytest.mark.parametrize(("signature", "window"), [("v3", 15), ("v1", 31)])
def test_a_timestamp_outside_the_window_is_expired(box: AliyunSandbox, signature: str, window: int) -> None:
    for minutes in (window, -window):
        fine = Signing(signature=signature, moment=now(box) + timedelta(minutes=minutes))
        assert box.page(signing=fine).status_code == 200
    for minutes in (window + 1, -(window + 1)):
        late = Signing(signature=signature, moment=now(box) + timedelta(minutes=minutes))
        response = box.send_coupon((101, 100), signing=late)
        assert error(response) == (400, "InvalidTimeStamp.Expired")
    assert nothing_sent(box)


def test_a_malformed_timestamp_is_refused(box: AliyunSandbox) -> None:
    def bend(request: httpx.Request) -> None:
        request.headers["x-acs-date"] = "yesterday"

    assert error(box.call("SendCoupon", {}, bend=bend)) == (400, "InvalidTimeStamp.Format")


@pytest.mark.parametrize("signature", SIGNATURES)
def test_a_nonce_seen_before_is_refused_and_nothing_is_sent_twice(box: AliyunSandbox, signature: str) -> None:
    signing = Signing(signature=signature, nonce="nonce-1")
    assert box.send_coupon((101, 100), signing=signing).json()["Success"] is True
    replayed = box.send_coupon((102, 100), signing=signing)
    assert error(replayed) == (400, "SignatureNonceUsed")
    assert replayed.json()["Message"] == "The request signature nonce has been used."
    assert holders(box) == {101: ["AVAILABLE"]}


def test_a_forged_request_does_not_burn_the_nonce(box: AliyunSandbox) -> None:
    wrong = Signing(credentials=replace(KEY, access_key_secret=Secret("x")), nonce="nonce-2")
    assert error(box.send_coupon((101, 100), signing=wrong)) == (400, "SignatureDoesNotMatch")
    assert box.send_coupon((101, 100), signing=Signing(nonce="nonce-2")).json()["Success"] is True


def test_nonces_are_per_access_key(box: AliyunSandbox) -> None:
    assert box.page(signing=Signing(nonce="shared")).status_code == 200
    assert box.page(signing=Signing(nonce="shared", credentials=STS_KEY)).status_code == 200


@pytest.mark.parametrize("signature", SIGNATURES)
def test_an_unknown_access_key_is_not_found(box: AliyunSandbox, signature: str) -> None:
    stranger = acs.AcsCredentials("who-is-this", Secret("s"))
    response = box.send_coupon((101, 100), signing=Signing(signature=signature, credentials=stranger))
    assert error(response) == (404, "InvalidAccessKeyId.NotFound")
    assert response.json()["Message"] == "Specified access key is not found."
    assert nothing_sent(box)


@pytest.mark.parametrize("signature", SIGNATURES)
def test_an_sts_key_needs_its_security_token(box: AliyunSandbox, signature: str) -> None:
    assert box.page(signing=Signing(signature=signature, credentials=STS_KEY)).status_code == 200
    without = replace(STS_KEY, security_token=None)
    another = replace(STS_KEY, security_token=Secret("another-token"))
    permanent_with_a_token = replace(KEY, security_token=Secret("t"))
    for credentials in (without, another, permanent_with_a_token):
        response = box.page(signing=Signing(signature=signature, credentials=credentials))
        assert error(response) == (400, "InvalidSecurityToken.MismatchWithAccessKey")
        assert "another-token" not in response.text


def test_the_call_log_keeps_no_credential(box: AliyunSandbox) -> None:
    box.send_coupon((101, 100), signing=Signing(credentials=STS_KEY))
    box.page(signing=Signing(signature="v1", credentials=STS_KEY))
    for call in box.store.calls():
        text = f"{call.headers} {call.body} {call.path}"
        assert "SECRET" not in text
        assert "Signature=" not in text or "Signature=%3Credacted%3E" in text
    assert box.store.calls()[0].headers["authorization"] == "<redacted>"


def test_a_v1_signature_in_the_form_body_is_redacted_in_the_log(box: AliyunSandbox) -> None:
    request = box.request("SendCoupon", {"SellerId": "3944837183"}, Signing("v1"))
    everything = acs.form_body(dict(request.url.params))
    bent = httpx.Request("POST", "http://sandbox.local/", content=everything)
    bent.headers["Content-Type"] = acs.FORM_CONTENT_TYPE
    box.send(bent)
    logged = box.store.calls()[-1].body
    assert "Signature=%3Credacted%3E" in logged and "AccessKeyId=ak-1" in logged
