"""emailsFrom files and the email syntax rule shared by inline and file addresses."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.config.load import load_config
from reconciler.errors import InputError, ManifestError
from reconciler.manifest import build, emails
from reconciler.manifest.build import load_desired
from reconciler.manifest.emails import EmailLine, read_emails
from reconciler.manifest.validate import email_error
from reconciler.state.desired import Scope
from tests.support.email_lists import emails_from_project


def project(tmp_path: Path, file_name: str, content: bytes) -> Path:
    return emails_from_project(tmp_path, {file_name: content}, f"../lists/{file_name}")


def problems_of(directory: Path) -> list[str]:
    with pytest.raises(ManifestError) as raised:
        load_desired(load_config(directory))
    return [str(p) for p in raised.value.problems]


@pytest.mark.parametrize(
    "address",
    ["a@example.com", "First.Last+tag@sub.example.co.uk", "o'neil@example.org", "x_y-z@a-b.example", "1@2.io"],
)
def test_valid_addresses(address: str) -> None:
    assert email_error(address) is None


@pytest.mark.parametrize(
    "address",
    [
        "plain",
        "a@b",
        "@example.com",
        "a@",
        "a@@example.com",
        ".a@example.com",
        "a.@example.com",
        "a..b@example.com",
        "a b@example.com",
        "a@example..com",
        "a@-example.com",
        "a@example-.com",
        "a@exa_mple.com",
        "ünï@example.com",
        "a@example.com\n",
        "x" * 65 + "@example.com",
        "a@" + "b" * 250 + ".com",
    ],
)
def test_invalid_addresses(address: str) -> None:
    assert email_error(address) == f"invalid email address {address!r}"


def test_empty_address() -> None:
    assert email_error("") == "the email address is empty"


def test_plain_file_skips_blank_lines_and_comments_and_strips(tmp_path: Path) -> None:
    path = tmp_path / "l.txt"
    path.write_bytes(b"\xef\xbb\xbf# header comment\n\n a@example.com \r\n#b@example.com\nc@example.com")
    assert list(read_emails(path, "l.txt")) == [EmailLine(3, 2, "a@example.com"), EmailLine(5, 1, "c@example.com")]


def test_csv_file_finds_the_email_column_case_insensitively(tmp_path: Path) -> None:
    path = tmp_path / "l.CSV"
    path.write_text('\nid, EMAIL\n1,a@example.com\n2,"b@example.com"\n,\n3\n')
    assert list(read_emails(path, "l.CSV")) == [
        EmailLine(3, 1, "a@example.com"),
        EmailLine(4, 1, "b@example.com"),
        EmailLine(6, 1, ""),  # a row without the column: reported by the caller as an empty address
    ]


def test_csv_without_email_column_names_the_header_line(tmp_path: Path) -> None:
    path = tmp_path / "l.csv"
    path.write_text("# not a comment in CSV\nname\n")
    with pytest.raises(InputError) as raised:
        list(read_emails(path, "l.csv"))
    assert str(raised.value) == "l.csv:1:1: the CSV header row has no email column"


def test_csv_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "l.csv"
    path.write_bytes(b"email\na@example.com\n" + b"b" * 200_000 + b"@example.com\n")
    with pytest.raises(InputError) as raised:
        list(read_emails(path, "l.csv"))
    assert str(raised.value).startswith("l.csv:3:1: invalid CSV: ")


def test_over_large_emails_file_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(emails, "MAX_EMAILS_FILE_BYTES", 64)
    directory = project(tmp_path, "big.txt", b"a@example.com\n" * 5)
    assert problems_of(directory) == ["lists/big.txt: file is too large: the limit for email lists is 64 bytes"]


def test_default_limit_is_200_mib() -> None:
    assert emails.MAX_EMAILS_FILE_BYTES == 200 * 1024 * 1024


def test_problems_in_one_emails_file_are_capped_with_a_count(tmp_path: Path) -> None:
    limit = build.MAX_PROBLEMS_PER_EMAILS_FILE
    directory = project(tmp_path, "bad.txt", b"".join(b"bad%d\n" % i for i in range(limit + 25)))
    got = problems_of(directory)
    assert len(got) == limit + 1
    assert got[0] == "lists/bad.txt:1:1: spec.dispatch.emailsFrom: invalid email address 'b***' (4 characters)"
    assert (
        got[-1]
        == f"lists/bad.txt:{limit + 1}:1: spec.dispatch.emailsFrom: 25 more problems from here on are not listed"
    )


def test_addresses_before_a_decoding_error_are_still_checked(tmp_path: Path) -> None:
    directory = project(tmp_path, "l.txt", b"nope\nok@example.com\n\xff\n")
    assert problems_of(directory) == [
        "lists/l.txt:1:1: spec.dispatch.emailsFrom: invalid email address 'n***' (4 characters)",
        "lists/l.txt:3:1: not valid UTF-8 (byte 0xff)",
    ]


@pytest.mark.slow
@pytest.mark.parametrize("file_name", ["big.txt", "big.csv"])
def test_one_hundred_thousand_addresses_load(tmp_path: Path, file_name: str) -> None:
    """Correctness at scale; the speed is measured in benchmarks/, never asserted here."""
    count = 100_000
    header = b"name,email\n" if file_name.endswith(".csv") else b""
    rows = b"".join(b"n%d,User%d@Example.com\n" % (i, i) for i in range(count))
    if not header:
        rows = b"".join(b"User%d@Example.com\n" % i for i in range(count))
    config = load_config(project(tmp_path, file_name, header + rows))
    desired = load_desired(config)
    assert desired.target_count() == count
    assert str(next(iter(desired.items[Scope("m", "1", "C")]))) == "email:user0@example.com"
