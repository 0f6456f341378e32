"""Alibaba Cloud request signatures, V3 (ACS3-HMAC-SHA256) and V1 (HMAC-SHA1): shared by the aliyun provider,
which signs, and the sandbox, which verifies. Pure functions: no I/O, no clock, no randomness.

Both follow /work/shared/api/aliyun-resellertrade.md section 3 (the official V3 and V2-for-RPC signature pages
and the SDK's darabonba-openapi code):

- **V3**: ``CanonicalRequest = METHOD \\n URI \\n CanonicalQueryString \\n CanonicalHeaders \\n SignedHeaders \\n
  hex(sha256(body))``; ``StringToSign = "ACS3-HMAC-SHA256" \\n hex(sha256(CanonicalRequest))``;
  ``Signature = hex(hmac_sha256(secret, StringToSign))``; sent as ``Authorization: ACS3-HMAC-SHA256
  Credential=<id>,SignedHeaders=<names>,Signature=<hex>``. Action, version, date and nonce travel in ``x-acs-*``
  headers, which are signed with ``host`` and ``content-type``.
- **V1**: every parameter but ``Signature`` (query and form body together), sorted and RFC 3986-encoded, is the
  CanonicalizedQueryString; ``StringToSign = METHOD & %2F & encode(CanonicalizedQueryString)``;
  ``Signature = base64(hmac_sha1(secret + "&", StringToSign))``, sent as the ``Signature`` parameter with the
  common parameters AccessKeyId, SignatureMethod, SignatureVersion, SignatureNonce, Timestamp (and SecurityToken).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from urllib.parse import quote, urlencode

from reconciler.config.secrets import Secret

V3_ALGORITHM = "ACS3-HMAC-SHA256"
V1_METHOD = "HMAC-SHA1"
V1_VERSION = "1.0"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"

# Headers a V3 signature always covers (the SDK also signs user-agent and accept; a verifier reads SignedHeaders).
_V3_SIGNED = ("host", "content-type")
_AUTHORIZATION = re.compile(
    rf"{re.escape(V3_ALGORITHM)}\s+Credential=([^,\s]*),\s*SignedHeaders=([^,\s]*),\s*Signature=([0-9a-fA-F]*)\s*"
)


@dataclass(frozen=True, slots=True)
class AcsCredentials:
    """An AccessKey pair, and an STS security token when the key is temporary. The repr shows the id only."""

    access_key_id: str
    access_key_secret: Secret
    security_token: Secret | None = None

    def __repr__(self) -> str:
        sts = ", security_token=***" if self.security_token is not None else ""
        return f"AcsCredentials(access_key_id={self.access_key_id!r}, access_key_secret=***{sts})"

    def secrets(self) -> tuple[Secret, ...]:
        token = () if self.security_token is None else (self.security_token,)
        return (self.access_key_secret, *token)


# --- encoding -------------------------------------------------------------------------------------------


def percent_encode(text: str) -> str:
    """RFC 3986 over UTF-8: ``A-Z a-z 0-9 - _ . ~`` kept, every other byte ``%XY`` (space ``%20``, ``*`` ``%2A``)."""
    return quote(text, safe="")


def flatten(params: Mapping[str, object]) -> dict[str, str]:
    """Lists and objects as the SDK sends them: ``{"L": [{"A": 1}]}`` -> ``{"L.1.A": "1"}`` (1-based); None dropped."""
    out: dict[str, str] = {}

    def walk(key: str, value: object) -> None:
        if value is None:
            return
        if isinstance(value, Mapping):
            for sub, inner in value.items():
                walk(f"{key}.{sub}", inner)
        elif isinstance(value, list | tuple):
            for index, inner in enumerate(value, start=1):
                walk(f"{key}.{index}", inner)
        else:
            out[key] = format(value, "f") if isinstance(value, Decimal) else str(value)

    for key, value in params.items():
        walk(key, value)
    return out


def canonical_query(params: Mapping[str, str]) -> str:
    """``k1=v1&k2=v2``: sorted by name, names and values percent-encoded; a name without a value keeps ``k=``."""
    return "&".join(f"{percent_encode(k)}={percent_encode(params[k])}" for k in sorted(params))


def form_body(params: Mapping[str, str]) -> bytes:
    """A form body as the SDK writes it: keys sorted, ``urlencode`` (a space is ``+``)."""
    return urlencode(sorted(params.items())).encode()


def sha256_hex(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()


def timestamp(moment: datetime) -> str:
    """``x-acs-date`` / ``Timestamp``: ISO 8601 UTC to the second, ``2023-10-26T10:22:32Z``."""
    return moment.astimezone(UTC).strftime(TIMESTAMP_FORMAT)


def parse_timestamp(text: str) -> datetime | None:
    try:
        return datetime.strptime(text.strip(), TIMESTAMP_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None


# --- V3 -------------------------------------------------------------------------------------------------


def canonical_headers(headers: Iterable[tuple[str, str]], names: Sequence[str]) -> str:
    """``name:value\\n`` per signed name (lower-cased, sorted); values trimmed, repeats sorted and comma-joined."""
    values: dict[str, list[str]] = {}
    wanted = {n.lower() for n in names}
    for name, value in headers:
        if name.lower() in wanted:
            values.setdefault(name.lower(), []).append(value.strip())
    return "".join(f"{name}:{','.join(sorted(values.get(name, [])))}\n" for name in sorted(wanted))


def v3_canonical_request(
    method: str,
    path: str,
    query: Mapping[str, str],
    headers: Iterable[tuple[str, str]],
    signed_headers: Sequence[str],
    payload_hash: str,
) -> str:
    names = ";".join(sorted({n.lower() for n in signed_headers}))
    return "\n".join(
        (
            method.upper(),
            path or "/",
            canonical_query(query),
            canonical_headers(headers, signed_headers),
            names,
            payload_hash,
        )
    )


def v3_string_to_sign(canonical_request: str) -> str:
    return f"{V3_ALGORITHM}\n{sha256_hex(canonical_request.encode())}"


def v3_signature(secret: str, string_to_sign: str) -> str:
    """Lower-case hex HMAC-SHA256, keyed with the secret itself (no ``&`` in V3)."""
    return hmac.new(secret.encode(), string_to_sign.encode(), hashlib.sha256).hexdigest()


def v3_authorization(access_key_id: str, signed_headers: Sequence[str], signature: str) -> str:
    names = ";".join(sorted({n.lower() for n in signed_headers}))
    return f"{V3_ALGORITHM} Credential={access_key_id},SignedHeaders={names},Signature={signature}"


@dataclass(frozen=True, slots=True)
class V3Authorization:
    """A parsed ``Authorization`` header."""

    access_key_id: str
    signed_headers: tuple[str, ...]
    signature: str


def parse_v3_authorization(value: str) -> V3Authorization | None:
    """The parts of an ``ACS3-HMAC-SHA256 Credential=…,SignedHeaders=…,Signature=…`` header; None if malformed."""
    match = _AUTHORIZATION.fullmatch(value.strip())
    if match is None or not all(match.groups()):
        return None
    credential, names, signature = match.groups()
    return V3Authorization(credential, tuple(n for n in names.split(";") if n), signature.lower())


def sign_v3(
    *,
    method: str,
    host: str,
    path: str,
    query: Mapping[str, str],
    body: bytes,
    content_type: str | None,
    action: str,
    version: str,
    credentials: AcsCredentials,
    date: str,
    nonce: str,
) -> dict[str, str]:
    """Every header a V3-signed request needs besides the body: host, the ``x-acs-*`` headers, Authorization."""
    headers = {
        "host": host,
        "x-acs-action": action,
        "x-acs-version": version,
        "x-acs-date": date,
        "x-acs-signature-nonce": nonce,
        "x-acs-content-sha256": sha256_hex(body),
    }
    if content_type is not None:
        headers["content-type"] = content_type
    if credentials.security_token is not None:
        headers["x-acs-security-token"] = credentials.security_token.reveal()
    signed = sorted(name for name in headers if name.startswith("x-acs-") or name in _V3_SIGNED)
    request = v3_canonical_request(method, path, query, headers.items(), signed, headers["x-acs-content-sha256"])
    signature = v3_signature(credentials.access_key_secret.reveal(), v3_string_to_sign(request))
    headers["Authorization"] = v3_authorization(credentials.access_key_id, signed, signature)
    return headers


# --- V1 -------------------------------------------------------------------------------------------------


def v1_string_to_sign(method: str, params: Mapping[str, str]) -> str:
    """``METHOD&%2F&encode(CanonicalizedQueryString)`` over every parameter but Signature."""
    signed = {k: v for k, v in params.items() if k != "Signature"}
    return f"{method.upper()}&{percent_encode('/')}&{percent_encode(canonical_query(signed))}"


def v1_signature(secret: str, method: str, params: Mapping[str, str]) -> str:
    """Base64 HMAC-SHA1 keyed with ``secret + "&"``."""
    digest = hmac.new(f"{secret}&".encode(), v1_string_to_sign(method, params).encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def sign_v1(
    *,
    method: str,
    action: str,
    version: str,
    query: Mapping[str, str],
    body: Mapping[str, str],
    credentials: AcsCredentials,
    timestamp: str,
    nonce: str,
) -> dict[str, str]:
    """The query of a V1-signed request: the common parameters, ``query``, and a Signature that also covers the
    form ``body`` parameters (sent separately, as the SDK does)."""
    params = {
        "Action": action,
        "Version": version,
        "Format": "JSON",
        "AccessKeyId": credentials.access_key_id,
        "SignatureMethod": V1_METHOD,
        "SignatureVersion": V1_VERSION,
        "SignatureNonce": nonce,
        "Timestamp": timestamp,
        **query,
    }
    if credentials.security_token is not None:
        params["SecurityToken"] = credentials.security_token.reveal()
    params["Signature"] = v1_signature(credentials.access_key_secret.reveal(), method, {**body, **params})
    return params
