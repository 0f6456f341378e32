"""The JSON wire format of the Customer Billing REST API (notes section 2.0 and 3.6).

64-bit ids are JSON strings on output and strings or numbers on input; dateTimes are ISO-8601 strings in UTC
(``2027-03-01T00:00:00Z``); faults are ``Type``-tagged ApplicationFault bodies that carry the ``TrackingId``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

LONG_MAX = 2**63 - 1
INT32_MAX = 2**31 - 1

JsonObject = dict[str, object]

# HTTP statuses by kind of fault: the mapping inferred in notes section 3.6.
AUTH_STATUS = 401
REQUEST_STATUS = 400
ACCESS_STATUS = 403
THROTTLE_STATUS = 429
INTERNAL_STATUS = 500


def format_datetime(moment: datetime | date | None) -> str | None:
    """A dateTime on the wire: UTC, second precision, ``Z`` suffix; a calendar day is its midnight."""
    if moment is None:
        return None
    if not isinstance(moment, datetime):
        moment = datetime(moment.year, moment.month, moment.day, tzinfo=UTC)
    return moment.astimezone(UTC).replace(microsecond=0, tzinfo=None).isoformat() + "Z"


def from_epoch(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def format_long(value: int | None) -> str | None:
    return None if value is None else str(value)


def _digits(text: str) -> bool:
    """ASCII digits only: ``str.isdigit()`` also holds for "²", which ``int()`` cannot read, and for other
    scripts' digits, which no vendor sends."""
    return text.isascii() and text.isdigit()


def parse_long(value: object) -> int | None:
    """A 64-bit integer sent as a JSON string or number; None when it is neither."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and _digits(value.strip().removeprefix("-")):
        number = int(value.strip())
    else:
        return None
    return number if -LONG_MAX - 1 <= number <= LONG_MAX else None


def parse_int32(value: object) -> int | None:
    """A 32-bit integer (xs:int): a JSON number, never a string."""
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if -INT32_MAX - 1 <= value <= INT32_MAX else None


# --- faults ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Entry:
    """One error of a fault: AdApiError (with ``error_code``) or OperationError / BatchError."""

    code: int
    message: str
    error_code: str | None = None
    details: str | None = None


@dataclass(frozen=True, slots=True)
class BatchError:
    """One item of a batch that was not processed (``index`` into the request's list)."""

    index: int
    code: int
    message: str
    details: str | None = None

    def to_json(self) -> JsonObject:
        return {"Code": self.code, "Details": self.details, "Index": self.index, "Message": self.message}


def operation_error(code: int, message: str, details: str | None = None) -> JsonObject:
    return {"Code": code, "Details": details, "Message": message}


class Fault(Exception):
    """A request the API refuses as a whole: answered with ``status`` and an ApplicationFault body."""

    def __init__(self, status: int, fault_type: str, entries: Sequence[Entry]) -> None:
        self.status = status
        self.fault_type = fault_type
        self.entries = tuple(entries)
        super().__init__("; ".join(f"{e.code} {e.message}" for e in self.entries))

    @property
    def code(self) -> int:
        return self.entries[0].code if self.entries else 0

    def body(self, tracking_id: str) -> JsonObject:
        """The REST fault body (notes 3.6): un-wrapped, ``Type``-tagged, every property present."""
        body: JsonObject = {"TrackingId": tracking_id, "Type": self.fault_type}
        if self.fault_type == "AdApiFaultDetail":
            body["Errors"] = [
                {"Code": e.code, "Detail": e.details, "ErrorCode": e.error_code, "Message": e.message}
                for e in self.entries
            ]
        else:
            body["OperationErrors"] = [operation_error(e.code, e.message, e.details) for e in self.entries]
        return body


@dataclass(frozen=True, slots=True)
class AdApiCode:
    """A documented AdApiError code: number, symbolic ErrorCode, HTTP status (inferred)."""

    code: int
    error_code: str
    status: int
    message: str

    def fault(self, details: str | None = None) -> Fault:
        return Fault(self.status, "AdApiFaultDetail", [Entry(self.code, self.message, self.error_code, details)])


INTERNAL_ERROR = AdApiCode(0, "InternalError", INTERNAL_STATUS, "An internal error has occurred.")
NULL_REQUEST = AdApiCode(100, "NullRequest", REQUEST_STATUS, "The request message is null.")
INVALID_CREDENTIALS = AdApiCode(
    105,
    "InvalidCredentials",
    AUTH_STATUS,
    "Authentication failed. Either supplied credentials are invalid or the account is inactive.",
)
TOKEN_EXPIRED = AdApiCode(
    109,
    "AuthenticationTokenExpired",
    AUTH_STATUS,
    "Authentication token expired. Please renew it or obtain a new token.",
)
MISSING_HEADERS = AdApiCode(
    116, "RequestMissingHeaders", AUTH_STATUS, "One or more required header elements are missing from the request."
)
CALL_RATE_EXCEEDED = AdApiCode(
    117,
    "CallRateExceeded",
    THROTTLE_STATUS,
    "You have exceeded the number of calls that you are allowed to make in "
    "a minute. Please reduce the number of calls that you make per minute.",
)
INPUT_VALIDATION = AdApiCode(
    201, "ApiInputValidationError", REQUEST_STATUS, "One or more input elements failed validation."
)


@dataclass(frozen=True, slots=True)
class OperationCode:
    """A Customer Billing OperationError code (no ErrorCode string), with its HTTP status (inferred)."""

    code: int
    status: int
    message: str

    def fault(self, details: str | None = None) -> Fault:
        return Fault(self.status, "ApiFault", [Entry(self.code, self.message, None, details)])

    def batch_error(self, index: int, details: str | None = None) -> BatchError:
        return BatchError(index, self.code, self.message, details)

    def operation_error(self, details: str | None = None) -> JsonObject:
        return operation_error(self.code, self.message, details)


# Documented numbers (guides/operation-error-codes.md); which operation returns which is partly inferred.
INVALID_INPUT = OperationCode(201, REQUEST_STATUS, "One or more input elements failed validation.")
EXECUTION_ERROR = OperationCode(202, REQUEST_STATUS, "The operation cannot be completed.")
NULL_PARAMETER = OperationCode(203, REQUEST_STATUS, "The parameter cannot be null.")
ENTITY_NOT_EXISTENT = OperationCode(210, REQUEST_STATUS, "The entity does not exist.")
INVALID_DATE = OperationCode(113, REQUEST_STATUS, "The date specified in the request is not valid.")
PREDICATE_MISSING = OperationCode(474, REQUEST_STATUS, "Required search predicate is missing.")
NOT_AUTHORIZED = OperationCode(1001, ACCESS_STATUS, "The user is not authorized to perform this action.")
INVALID_ACCOUNT = OperationCode(2108, REQUEST_STATUS, "The account identifier is invalid.")
BATCH_LIMIT = OperationCode(3024, REQUEST_STATUS, "The batch size exceeds the limit.")
PREDICATE_INVALID = OperationCode(
    3030,
    REQUEST_STATUS,
    "The Predicate passed in the search is invalid. For example you used an invalid predicate "
    "operator for a valid predicate field.",
)
PAGE_INFO_INVALID = OperationCode(
    3080, REQUEST_STATUS, "Page Info must be present and have index greater than 0 (zero)."
)
LIST_EMPTY = OperationCode(3087, REQUEST_STATUS, "The required list of elements is null or empty.")


@dataclass(frozen=True, slots=True)
class Reply:
    """What an endpoint answers: status, JSON body, and (for the call log) the first error code (a number for
    Microsoft Advertising, a string such as ``Throttling.User`` for Alibaba Cloud)."""

    status: int
    body: JsonObject
    code: int | str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    @staticmethod
    def of_fault(fault: Fault, tracking_id: str) -> Reply:
        return Reply(fault.status, fault.body(tracking_id), fault.code)
