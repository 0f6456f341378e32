"""``couponctl sandbox seed`` and ``reset``: what they do to the store, and errors without tracebacks."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from reconciler.cli_sandbox import DEFAULT_DB, sandbox
from reconciler.sandbox.records import CouponQuery
from reconciler.sandbox.store import Store
from tests.sandbox.conftest import SEED

EXAMPLE_SEED = Path(__file__).resolve().parents[2] / "examples" / "sandbox-seed.yaml"


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(sandbox, list(args), prog_name="couponctl sandbox")
    return result.exit_code, result.stdout, result.stderr


def coupon_count(database: Path, customer: int) -> int:
    store = Store(database)
    try:
        return sum(len(store.search(CouponQuery(customer, offset=i * 100))) for i in range(10))
    finally:
        store.close()


def test_seed_loads_the_example_and_reseeding_replaces_the_store(tmp_path: Path) -> None:
    database = tmp_path / "state" / "sandbox.sqlite"
    code, out, _ = run("seed", str(EXAMPLE_SEED), "--db", str(database))
    assert code == 0
    assert "2 customers, 13 accounts, 3 coupon classes, 850 coupons" in out
    assert coupon_count(database, 251186883) == 800 and coupon_count(database, 251186999) == 50
    other = tmp_path / "other.yaml"
    other.write_text(SEED)
    assert run("seed", str(other), "--db", str(database))[0] == 0
    assert coupon_count(database, 251186883) == 0 and coupon_count(database, 100) == 157


def test_reset_empties_the_store(tmp_path: Path) -> None:
    database = tmp_path / "sandbox.sqlite"
    run("seed", str(EXAMPLE_SEED), "--db", str(database))
    code, out, _ = run("reset", "--db", str(database))
    assert code == 0 and "emptied" in out
    store = Store(database)
    try:
        assert store.is_empty() and store.calls() == []
    finally:
        store.close()


def test_a_bad_seed_file_is_reported_with_its_lines_and_changes_nothing(tmp_path: Path) -> None:
    database = tmp_path / "sandbox.sqlite"
    run("seed", str(EXAMPLE_SEED), "--db", str(database))
    bad = tmp_path / "bad.yaml"
    bad.write_text("msads:\n  developerToken: X\n  customers:\n    - id: abc\n      colour: blue\n")
    code, _, err = run("seed", str(bad), "--db", str(database))
    assert code == 1
    assert f"error: {bad}:4:11: msads.customers[0].id: expected an integer" in err
    assert f"error: {bad}:5:7: msads.customers[0].colour: unknown field" in err
    assert "Traceback" not in err
    assert coupon_count(database, 251186883) == 800
    missing = run("seed", str(tmp_path / "nope.yaml"), "--db", str(database))
    assert missing[0] == 1 and "cannot read the seed file" in missing[2]


def test_an_unusable_store_is_an_error_not_a_traceback(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(b"this is not a database" * 100)
    code, _, err = run("reset", "--db", str(garbage))
    assert code == 1 and err.startswith("error: cannot open the sandbox store") and "Traceback" not in err


def test_the_default_store_is_under_dot_couponctl() -> None:
    assert Path(".couponctl/sandbox.sqlite") == DEFAULT_DB
