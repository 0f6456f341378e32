"""Request signatures against every published vector (notes section 3): V1 HMAC-SHA1 and V3 ACS3-HMAC-SHA256, the
official docs' and the SDK's unit vectors; encoding, flattening and the helpers that sign whole requests."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from reconciler.config.secrets import Secret
from reconciler.signing import acs

EMPTY = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


# --- V1 -------------------------------------------------------------------------------------------------


def test_v1_published_vector_describe_dedicated_hosts() -> None:
    params = {
        "AccessKeyId": "testid",
        "Action": "DescribeDedicatedHosts",
        "Format": "JSON",
        "RegionId": "cn-beijing",
        "SignatureMethod": "HMAC-SHA1",
        "SignatureNonce": "edb2b34af0af9a6d14deaf7c1a5315eb",
        "SignatureVersion": "1.0",
        "Timestamp": "2023-03-13T08:34:30Z",
        "Version": "2014-05-26",
    }
    assert acs.canonical_query(params) == (
        "AccessKeyId=testid&Action=DescribeDedicatedHosts&Format=JSON&RegionId=cn-beijing&SignatureMethod=HMAC-SHA1"
        "&SignatureNonce=edb2b34af0af9a6d14deaf7c1a5315eb&SignatureVersion=1.0&Timestamp=2023-03-13T08%3A34%3A30Z"
        "&Version=2014-05-26"
    )
    assert acs.v1_string_to_sign("GET", params) == (
        "GET&%2F&AccessKeyId%3Dtestid%26Action%3DDescribeDedicatedHosts%26Format%3DJSON%26RegionId%3Dcn-beijing"
        "%26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3Dedb2b34af0af9a6d14deaf7c1a5315eb%26SignatureVersion"
        "%3D1.0%26Timestamp%3D2023-03-13T08%253A34%253A30Z%26Version%3D2014-05-26"
    )
    assert acs.v1_signature("testsecret", "GET", params) == "9NaGiOspFP5UPcwX8Iwt2YJXXuk="


def test_v1_published_vector_describe_regions() -> None:
    params = {
        "AccessKeyId": "testid",
        "Action": "DescribeRegions",
        "Format": "XML",
        "SignatureMethod": "HMAC-SHA1",
        "SignatureNonce": "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
        "SignatureVersion": "1.0",
        "Timestamp": "2016-02-23T12:46:24Z",
        "Version": "2014-05-26",
    }
    assert acs.v1_signature("testsecret", "GET", params) == "OLeaidS1JvxuMvnyHOwuJ+uX5qY="
    # the old forum value comes only from the key misspelt as TimeStamp
    misspelt = {("TimeStamp" if k == "Timestamp" else k): v for k, v in params.items()}
    assert acs.v1_signature("testsecret", "GET", misspelt) == "CT9X0VtwR86fNWSnsc6v8YGOjuE="


def test_v1_sdk_unit_vector() -> None:
    params = {"query": "test", "body": "test"}
    assert acs.v1_string_to_sign("GET", params) == "GET&%2F&body%3Dtest%26query%3Dtest"
    assert acs.v1_signature("secret", "GET", params) == "XlUyV4sXjOuX5FnjUz9IF9tm5rU="


def test_v1_leaves_signature_itself_out_and_uses_the_real_method() -> None:
    params = {"query": "test", "body": "test"}
    assert acs.v1_signature("secret", "GET", {**params, "Signature": "x"}) == "XlUyV4sXjOuX5FnjUz9IF9tm5rU="
    assert acs.v1_signature("secret", "POST", params) != "XlUyV4sXjOuX5FnjUz9IF9tm5rU="


# --- V3 -------------------------------------------------------------------------------------------------

PUBLISHED_HEADERS = {
    "host": "ecs.cn-shanghai.aliyuncs.com",
    "x-acs-action": "RunInstances",
    "x-acs-content-sha256": EMPTY,
    "x-acs-date": "2023-10-26T10:22:32Z",
    "x-acs-signature-nonce": "3156853299f313e23d1673dc12e1703d",
    "x-acs-version": "2014-05-26",
}
PUBLISHED_QUERY = {"ImageId": "win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd", "RegionId": "cn-shanghai"}


def test_v3_published_vector_run_instances() -> None:
    canonical = acs.v3_canonical_request(
        "POST", "/", PUBLISHED_QUERY, PUBLISHED_HEADERS.items(), list(PUBLISHED_HEADERS), EMPTY
    )
    assert canonical.split("\n") == [
        "POST",
        "/",
        "ImageId=win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd&RegionId=cn-shanghai",
        "host:ecs.cn-shanghai.aliyuncs.com",
        "x-acs-action:RunInstances",
        f"x-acs-content-sha256:{EMPTY}",
        "x-acs-date:2023-10-26T10:22:32Z",
        "x-acs-signature-nonce:3156853299f313e23d1673dc12e1703d",
        "x-acs-version:2014-05-26",
        "",
        "host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version",
        EMPTY,
    ]
    assert acs.sha256_hex(canonical.encode()) == "7ea06492da5221eba5297e897ce16e55f964061054b7695beedaac1145b1e259"
    signature = acs.v3_signature("YourAccessKeySecret", acs.v3_string_to_sign(canonical))
    assert signature == "06563a9e1b43f5dfe96b81484da74bceab24a1d853912eee15083a6f0f3283c0"


def test_v3_sign_reproduces_the_published_vector() -> None:
    headers = acs.sign_v3(
        method="POST",
        host="ecs.cn-shanghai.aliyuncs.com",
        path="/",
        query=PUBLISHED_QUERY,
        body=b"",
        content_type=None,
        action="RunInstances",
        version="2014-05-26",
        credentials=acs.AcsCredentials("YourAccessKeyId", Secret("YourAccessKeySecret")),
        date="2023-10-26T10:22:32Z",
        nonce="3156853299f313e23d1673dc12e1703d",
    )
    assert headers["Authorization"] == (
        "ACS3-HMAC-SHA256 Credential=YourAccessKeyId,"
        "SignedHeaders=host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version,"
        "Signature=06563a9e1b43f5dfe96b81484da74bceab24a1d853912eee15083a6f0f3283c0"
    )


def test_v3_sdk_unit_vector_merges_repeated_headers_and_keeps_empty_values() -> None:
    payload = "55e12e91650d2fec56ec74e1d3e4ddbfce2ef3a65890c2a19ecf88a307e76a23"
    headers = [("x-acs-test", "http"), ("x-acs-TEST", "https")]
    canonical = acs.v3_canonical_request("GET", "", {"test": "ok", "empty": ""}, headers, ["x-acs-test"], payload)
    assert canonical.split("\n")[2:4] == ["empty=&test=ok", "x-acs-test:http,https"]
    signature = acs.v3_signature("secret", acs.v3_string_to_sign(canonical))
    assert acs.v3_authorization("acesskey", ["x-acs-test"], signature) == (
        "ACS3-HMAC-SHA256 Credential=acesskey,SignedHeaders=x-acs-test,"
        "Signature=d16b30a7699ae9e43875b13195b2f81bcc3ed10c14a9b5eb780e51619aa50be1"
    )


def test_v3_signs_the_form_body_and_the_sts_token() -> None:
    body = acs.form_body({"SellerId": "1", "UserAmountModelList.1.Uid": "2"})
    headers = acs.sign_v3(
        method="POST",
        host="resellertrade.aliyuncs.com",
        path="/",
        query={},
        body=body,
        content_type=acs.FORM_CONTENT_TYPE,
        action="SendCoupon",
        version="2019-12-27",
        credentials=acs.AcsCredentials("id", Secret("s"), Secret("sts-token")),
        date="2026-06-01T12:00:00Z",
        nonce="n",
    )
    assert headers["x-acs-content-sha256"] == acs.sha256_hex(body)
    assert headers["x-acs-security-token"] == "sts-token"
    parsed = acs.parse_v3_authorization(headers["Authorization"])
    assert parsed is not None
    assert parsed.signed_headers == (
        "content-type",
        "host",
        "x-acs-action",
        "x-acs-content-sha256",
        "x-acs-date",
        "x-acs-security-token",
        "x-acs-signature-nonce",
        "x-acs-version",
    )


@pytest.mark.parametrize(
    "value",
    ["", "ACS3-HMAC-SHA256", "ACS3-HMAC-SHA256 Credential=a,SignedHeaders=host", "HMAC-SHA1 Credential=a,S=b"],
)
def test_a_malformed_authorization_does_not_parse(value: str) -> None:
    assert acs.parse_v3_authorization(value) is None


# --- encoding, flattening, helpers ----------------------------------------------------------------------


def test_percent_encoding_is_rfc_3986() -> None:
    assert acs.percent_encode("a b*c~d/e+f=g&h") == "a%20b%2Ac~d%2Fe%2Bf%3Dg%26h"
    assert acs.percent_encode("中") == "%E4%B8%AD"


def test_flatten_as_the_sdk_does() -> None:
    assert acs.flatten({"client": "test", "strs": ["str1", "str2"], "tag": {"key": "value"}, "none": None}) == {
        "client": "test",
        "strs.1": "str1",
        "strs.2": "str2",
        "tag.key": "value",
    }
    assert acs.flatten({"L": [{"Amount": 100.0, "Uid": 7}]}) == {"L.1.Amount": "100.0", "L.1.Uid": "7"}


def test_the_form_body_matches_the_sdk() -> None:
    sdk = pytest.importorskip("alibabacloud_tea_openapi.utils").Utils
    params = {"b": "x y", "a": "1", "c": "a/b"}
    assert acs.form_body(params).decode() == sdk.to_form(params) == "a=1&b=x+y&c=a%2Fb"


def test_timestamps() -> None:
    moment = datetime(2023, 10, 26, 10, 22, 32, 999, tzinfo=UTC)
    assert acs.timestamp(moment) == "2023-10-26T10:22:32Z"
    assert acs.parse_timestamp("2023-10-26T10:22:32Z") == moment.replace(microsecond=0)
    assert acs.parse_timestamp("2023-10-26 10:22:32") is None


def test_sign_v1_adds_the_common_parameters() -> None:
    query = acs.sign_v1(
        method="POST",
        action="SendCoupon",
        version="2019-12-27",
        query={},
        body={"SellerId": "1"},
        credentials=acs.AcsCredentials("id", Secret("s"), Secret("tok")),
        timestamp="2026-06-01T12:00:00Z",
        nonce="n-1",
    )
    assert {k: v for k, v in query.items() if k != "Signature"} == {
        "Action": "SendCoupon",
        "Version": "2019-12-27",
        "Format": "JSON",
        "AccessKeyId": "id",
        "SignatureMethod": "HMAC-SHA1",
        "SignatureVersion": "1.0",
        "SignatureNonce": "n-1",
        "Timestamp": "2026-06-01T12:00:00Z",
        "SecurityToken": "tok",
    }
    assert query["Signature"] == acs.v1_signature("s", "POST", {**query, "SellerId": "1"})


def test_credentials_never_show_their_secrets() -> None:
    credentials = acs.AcsCredentials("id-1", Secret("the-secret"), Secret("the-token"))
    assert "the-secret" not in repr(credentials) and "the-token" not in repr(credentials)
    assert "the-secret" not in str(credentials) and "id-1" in repr(credentials)
    assert [s.reveal() for s in credentials.secrets()] == ["the-secret", "the-token"]
