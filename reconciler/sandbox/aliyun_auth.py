"""The Alibaba Cloud gateway's checks on who calls: V3 (``Authorization: ACS3-HMAC-SHA256 …``) or V1 (``Signature``
parameter) signatures, verified with the same functions the provider signs with
(:mod:`reconciler.signing.acs`), against the AccessKeys in the store.

Refusals are gateway errors (``{RequestId, HostId, Code, Message, Recommend}``): IncompleteSignature,
InvalidAccessKeyId.NotFound, InvalidTimeStamp.Expired (V3: outside 15 minutes; V1: outside 31), SignatureDoesNotMatch,
InvalidSecurityToken.MismatchWithAccessKey and SignatureNonceUsed, checked in that order; a nonce is recorded only
once the signature is proven, so a forged request cannot burn it.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import parse_qsl

from reconciler.sandbox.aliyun_store import AccessKeyRecord, AliyunTables
from reconciler.signing import acs

V3_WINDOW_S = 15 * 60  # "x-acs-date … must be within 15 minutes" (V3 doc)
V1_WINDOW_S = 31 * 60  # "Timestamp … valid for 31 minutes" (V2-for-RPC doc)
HOST_ID = "resellertrade.aliyuncs.com"
V1_REQUIRED = ("AccessKeyId", "SignatureMethod", "SignatureVersion", "SignatureNonce", "Timestamp")


@dataclass(frozen=True, slots=True)
class RpcRequest:
    """One RPC call as the gateway sees it: decoded query and form pairs, lower-cased headers, the raw body."""

    method: str
    path: str
    query: tuple[tuple[str, str], ...]
    form: tuple[tuple[str, str], ...]
    headers: tuple[tuple[str, str], ...]
    body: bytes

    @staticmethod
    def of(method: str, path: str, raw_query: str, headers: Iterable[tuple[str, str]], body: bytes) -> RpcRequest:
        """From the raw parts; the body is read as a form when its Content-Type says so."""
        lowered = tuple((name.lower(), value) for name, value in headers)
        content_type = next((v for n, v in lowered if n == "content-type"), "")
        form: list[tuple[str, str]] = []
        if content_type.split(";")[0].strip().lower() == acs.FORM_CONTENT_TYPE and body:
            form = parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True)
        query = parse_qsl(raw_query, keep_blank_values=True)
        return RpcRequest(method.upper(), path or "/", tuple(query), tuple(form), lowered, body)

    def header(self, name: str) -> str | None:
        values = [v for n, v in self.headers if n == name]
        return ",".join(values) if values else None

    def params(self) -> dict[str, str]:
        """Every parameter, form then query (a name in both: the query's)."""
        return {**dict(self.form), **dict(self.query)}


class GatewayError(Exception):
    """A request the gateway refuses before the operation runs."""

    def __init__(self, status: int, code: str, message: str) -> None:
        self.status = status
        self.code = code
        self.message = message
        super().__init__(f"{code}: {message}")

    def body(self, request_id: str) -> dict[str, object]:
        recommend = f"https://api.aliyun.com/troubleshoot?q={self.code}&product=ResellerTrade&requestId={request_id}"
        return {
            "RequestId": request_id,
            "HostId": HOST_ID,
            "Code": self.code,
            "Message": self.message,
            "Recommend": recommend,
        }


def incomplete(detail: str) -> GatewayError:
    text = "The request signature does not conform to Aliyun standards."
    return GatewayError(400, "IncompleteSignature", f"{text} {detail}")


def mismatch(detail: str = "") -> GatewayError:
    text = "Specified signature does not match our calculation."
    return GatewayError(400, "SignatureDoesNotMatch", f"{text} {detail}".strip())


def authenticate(tables: AliyunTables, request: RpcRequest, now: float) -> AccessKeyRecord:
    """The AccessKey that signed ``request``; raise GatewayError when the signature does not let it in."""
    authorization = request.header("authorization")
    if authorization is not None and authorization.strip().startswith("ACS3-"):
        return _v3(tables, request, authorization, now)
    params = request.params()
    if "Signature" in params:
        return _v1(tables, request, params, now)
    raise incomplete("It carries neither an Authorization header nor a Signature parameter.")


def _v3(tables: AliyunTables, request: RpcRequest, authorization: str, now: float) -> AccessKeyRecord:
    parsed = acs.parse_v3_authorization(authorization)
    if parsed is None:
        raise incomplete(f"Authorization must be '{acs.V3_ALGORITHM} Credential=…,SignedHeaders=…,Signature=…'.")
    names = ("x-acs-date", "x-acs-signature-nonce", "x-acs-content-sha256")
    missing = [name for name in names if not request.header(name)]
    if missing:
        raise incomplete(f"Missing headers: {', '.join(missing)}.")
    sent = {name for name, _ in request.headers if name.startswith("x-acs-")} | {"host"}
    unsigned = sorted(sent - {n.lower() for n in parsed.signed_headers})
    if unsigned:
        raise incomplete(f"SignedHeaders must include host and every x-acs-* header; missing: {', '.join(unsigned)}.")
    key = _access_key(tables, parsed.access_key_id)
    _check_time(request.header("x-acs-date") or "", now, V3_WINDOW_S)
    content_hash = request.header("x-acs-content-sha256") or ""
    if content_hash.lower() != acs.sha256_hex(request.body):
        raise mismatch("The x-acs-content-sha256 header is not the SHA-256 of the body.")
    canonical = acs.v3_canonical_request(
        request.method, request.path, dict(request.query), request.headers, parsed.signed_headers, content_hash
    )
    expected = acs.v3_signature(key.secret, acs.v3_string_to_sign(canonical))
    if not hmac.compare_digest(expected, parsed.signature):
        raise mismatch()
    _check_token(key, request.header("x-acs-security-token"))
    _check_nonce(tables, key, request.header("x-acs-signature-nonce") or "", now, V3_WINDOW_S)
    return key


def _v1(tables: AliyunTables, request: RpcRequest, params: dict[str, str], now: float) -> AccessKeyRecord:
    missing = [name for name in V1_REQUIRED if not params.get(name)]
    if missing:
        raise incomplete(f"Missing parameters: {', '.join(missing)}.")
    if params["SignatureMethod"] != acs.V1_METHOD or params["SignatureVersion"] != acs.V1_VERSION:
        raise incomplete(f"SignatureMethod must be {acs.V1_METHOD} and SignatureVersion {acs.V1_VERSION}.")
    key = _access_key(tables, params["AccessKeyId"])
    _check_time(params["Timestamp"], now, V1_WINDOW_S)
    expected = acs.v1_signature(key.secret, request.method, params)
    if not hmac.compare_digest(expected.encode(), params["Signature"].encode()):
        raise mismatch()
    _check_token(key, params.get("SecurityToken"))
    _check_nonce(tables, key, params["SignatureNonce"], now, V1_WINDOW_S)
    return key


def _access_key(tables: AliyunTables, key_id: str) -> AccessKeyRecord:
    key = tables.access_key(key_id)
    if key is None:
        raise GatewayError(404, "InvalidAccessKeyId.NotFound", "Specified access key is not found.")
    return key


def _check_time(text: str, now: float, window_s: float) -> None:
    moment = acs.parse_timestamp(text)
    if moment is None:
        raise GatewayError(400, "InvalidTimeStamp.Format", "Specified time stamp or date value is not well formatted.")
    if abs(now - moment.timestamp()) > window_s:
        raise GatewayError(400, "InvalidTimeStamp.Expired", "Specified time stamp or date value is expired.")


def _check_token(key: AccessKeyRecord, token: str | None) -> None:
    """An STS key needs its security token; a permanent key takes none."""
    if not hmac.compare_digest((key.security_token or "").encode(), (token or "").encode()):
        message = "The security token does not match the access key." if token else "The access key needs its token."
        raise GatewayError(400, "InvalidSecurityToken.MismatchWithAccessKey", message)


def _check_nonce(tables: AliyunTables, key: AccessKeyRecord, nonce: str, now: float, window_s: float) -> None:
    if not tables.use_nonce(key.id, nonce, forget_before=now - 2 * window_s):
        raise GatewayError(400, "SignatureNonceUsed", "The request signature nonce has been used.")
