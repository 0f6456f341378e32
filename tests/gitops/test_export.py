"""export_manifests: sorted, valid manifests from live state, a header saying when and from where."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from reconciler.app.export import normalize_owner, write_export
from reconciler.app.session import load_project
from reconciler.errors import CouponctlError
from reconciler.manifest.export import ExportSource, export_manifests, export_stream
from reconciler.providers.registry import vendor
from reconciler.state.desired import Scope, Target, TargetKind
from reconciler.state.live import FaceValue, IssuedCoupon, ScopeLive

WHEN = datetime(2027, 3, 2, 10, 0, tzinfo=UTC)
MSADS = ExportSource("msads-prod", "msads", "production", "251186883", vendor("msads").export)
ALIYUN = ExportSource("reseller", "aliyun", "production", "3944837183", vendor("aliyun").export)
CONFIG = """\
manifests: [manifests/]
providers:
  msads-prod: {type: msads, environment: local}
  reseller: {type: aliyun, environment: local}
"""


def scope_live(
    coupon_class: str,
    holders: dict[Target, list[tuple[str, str]]],
    *,
    source: ExportSource = MSADS,
    face: FaceValue | None = None,
) -> ScopeLive:
    issued = {t: tuple(IssuedCoupon(code, status) for code, status in cs) for t, cs in holders.items()}
    face = face or FaceValue(Decimal(100), "USD", "Acquisition")
    return ScopeLive(Scope(source.provider, source.owner, coupon_class), True, face, 10, issued)


def load(tmp_path: Path, files: dict[str, str]) -> dict[Scope, set[Target]]:
    """The targets the exported files declare, read by couponctl's own loader and checks."""
    (tmp_path / "couponctl.yaml").write_text(CONFIG)
    manifests = tmp_path / "manifests"
    manifests.mkdir(exist_ok=True)
    for name, text in files.items():
        (manifests / name).write_text(text)
    desired = load_project(tmp_path).desired
    return {scope: set(items) for scope, items in desired.items.items()}


def test_one_sorted_manifest_per_class_with_a_header(tmp_path: Path) -> None:
    lives = [
        scope_live(
            "WINBACK27-RET-50",
            {Target.email("Zed@Example.com"): [("W1", "dispatched")], Target.account(22): [("W2", "claimed")]},
        ),
        scope_live(
            "SPRING27-ACQ-100",
            {
                Target.account(180535610): [("S2", "claimed")],
                Target.account(180535609): [("S1", "redeemed")],
                Target.email("bo@example.com"): [("S3", "dispatched")],
                Target.email("ana@example.com"): [("S4", "dispatched")],
            },
        ),
    ]
    export = export_manifests(MSADS, lives, generated_at=WHEN)
    assert [f.name for f in export.files] == ["spring27-acq-100.yaml", "winback27-ret-50.yaml"]
    assert export.classes == ("SPRING27-ACQ-100", "WINBACK27-RET-50") and export.target_count == 6
    spring = export.files[0].text
    assert spring.startswith(
        "# Exported by `couponctl export` (couponctl 0.1.0) at 2027-03-02T10:00:00Z\n"
        "# from provider msads-prod (type msads, environment production),\n"
        "# customer 251186883, class SPRING27-ACQ-100: 4 coupon(s) issued, 4 target(s) declared below.\n"
    )
    assert spring.index("180535609") < spring.index("180535610")
    assert spring.index('"ana@example.com"') < spring.index('"bo@example.com"')
    assert "  expect: {amount: 100, currency: USD}\n" in spring
    assert export == export_manifests(MSADS, lives, generated_at=WHEN)
    declared = load(tmp_path, {f.name: f.text for f in export.files})
    assert declared[Scope("msads-prod", "251186883", "WINBACK27-RET-50")] == {
        Target.email("zed@example.com"),
        Target.account(22),
    }


def test_an_emailed_coupon_redeemed_by_an_account_declares_the_email_only() -> None:
    coupon = [("S1", "redeemed")]
    export = export_manifests(
        MSADS,
        [scope_live("C", {Target.email("ana@example.com"): coupon, Target.account(180535609): coupon})],
        generated_at=WHEN,
    )
    text = export.files[0].text
    assert "ana@example.com" in text and "180535609" not in text


def test_many_emails_go_to_a_csv_beside_the_manifest(tmp_path: Path) -> None:
    holders = {Target.email(f"user{n:03d}@example.com"): [(f"E{n}", "dispatched")] for n in range(201)}
    export = export_manifests(MSADS, [scope_live("BIG", holders)], generated_at=WHEN)
    manifest, csv = export.files
    assert csv.name == "big-emails.csv" and '    emailsFrom: "big-emails.csv"\n' in manifest.text
    assert csv.text.splitlines()[:2] == ["email", "user000@example.com"] and len(csv.text.splitlines()) == 202
    declared = load(tmp_path, {f.name: f.text for f in export.files})
    assert len(declared[Scope("msads-prod", "251186883", "BIG")]) == 201
    inline = export_manifests(MSADS, [scope_live("BIG", holders)], generated_at=WHEN, emails_inline_max=None)
    assert [f.name for f in inline.files] == ["big.yaml"] and "user200@example.com" in inline.files[0].text


def test_aliyun_uids_are_sent_with_their_amounts(tmp_path: Path) -> None:
    live = ScopeLive(
        Scope("reseller", "3944837183", "295873"),
        True,
        None,  # aliyun: no face value (no call reads a template; none is guessed from the amounts)
        None,
        {
            Target.uid(1918000000884): (IssuedCoupon("A2", "AVAILABLE", amount=Decimal("20.10")),),
            Target.uid(1918000000883): (IssuedCoupon("A1", "EXHAUSTED", amount=Decimal("100.50")),),
        },
    )
    export = export_manifests(ALIYUN, [live], generated_at=WHEN)
    text = export.files[0].text
    assert export.files[0].name == "template-295873.yaml"
    assert '  sellerId: "3944837183"\n  templateId: "295873"\n' in text
    assert "    - {uid: 1918000000883, amount: 100.50}\n    - {uid: 1918000000884, amount: 20.10}\n" in text
    assert "expect" not in text
    declared = load(tmp_path, {f.name: f.text for f in export.files})
    assert {t.kind for t in declared[live.scope]} == {TargetKind.UID}


def test_classes_without_holders_are_skipped_unless_asked(tmp_path: Path) -> None:
    empty = scope_live("UNUSED", {})
    export = export_manifests(MSADS, [empty], generated_at=WHEN)
    assert export.files == () and "no coupon issued" in export.skipped[0]
    kept = export_manifests(MSADS, [empty], generated_at=WHEN, keep_empty=True)
    kept_scope = empty.scope
    assert [f.name for f in kept.files] == ["unused.yaml"]
    assert load(tmp_path, {f.name: f.text for f in kept.files}) == {kept_scope: set()}


def test_targets_a_manifest_cannot_declare_are_skipped_and_named() -> None:
    holders = {
        Target(TargetKind.EMAIL, "not-an-email"): [("X1", "dispatched")],
        Target.account(4294967296): [("X2", "claimed")],
        Target.email("ok@example.com"): [("X3", "dispatched")],
    }
    export = export_manifests(MSADS, [scope_live("C", holders)], generated_at=WHEN)
    assert export.target_count == 1
    assert len(export.skipped) == 2
    assert any("4294967296" in s for s in export.skipped) and any("not-an-email" in s for s in export.skipped)


def test_names_are_dns_labels_and_unique(tmp_path: Path) -> None:
    holder = {Target.account(1): [("X", "claimed")]}
    lives = [
        scope_live("Spring 27 / ACQ", holder),
        scope_live("spring-27-acq", {Target.account(2): [("Y", "claimed")]}),
    ]
    names = [f.name for f in export_manifests(MSADS, lives, generated_at=WHEN).files]
    assert names == ["spring-27-acq.yaml", "spring-27-acq-2.yaml"]
    long = export_manifests(MSADS, [scope_live("X" * 100, holder)], generated_at=WHEN).files[0].name
    assert long == "x" * 63 + ".yaml"


def test_class_names_that_look_like_numbers_or_booleans_stay_strings(tmp_path: Path) -> None:
    lives = [
        scope_live("yes", {Target.account(1): [("X", "claimed")]}),
        scope_live("0755", {Target.account(2): [("Y", "claimed")]}),
    ]
    declared = load(tmp_path, {f.name: f.text for f in export_manifests(MSADS, lives, generated_at=WHEN).files})
    assert {s.coupon_class for s in declared} == {"yes", "0755"}


def test_stream_and_write(tmp_path: Path) -> None:
    lives = [scope_live(c, {Target.account(n + 1): [(c, "claimed")]}) for n, c in enumerate(["A", "B"])]
    export = export_manifests(MSADS, lives, generated_at=WHEN)
    assert export_stream(export).count("---\n# Exported by") == 1
    written = write_export(export, tmp_path / "out")
    assert [p.name for p in written] == ["a.yaml", "b.yaml"]
    with pytest.raises(CouponctlError, match="refusing to overwrite"):
        write_export(export, tmp_path / "out")


@pytest.mark.parametrize(("given", "owner"), [("251186883", "251186883"), (" 0251186883 ", "251186883")])
def test_owner_ids_are_digits(given: str, owner: str) -> None:
    assert normalize_owner(given) == owner


@pytest.mark.parametrize("given", ["", "abc", "12a", "-1", "١٢"])
def test_owner_ids_that_are_not_digits_are_refused(given: str) -> None:
    with pytest.raises(CouponctlError, match="--owner must be digits"):
        normalize_owner(given)
