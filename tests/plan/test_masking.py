"""Masked emails that reviewers can tell apart (issue 11, point 10): a keyed digest beside each mask, as short as
the document allows, never the same rendering for two addresses, the same digest for one address in every plan
and drift report of a project."""

from __future__ import annotations

import hashlib
import itertools
import re
from dataclasses import replace
from pathlib import Path

import pytest

from reconciler.config.model import Config, ProviderConfig, SandboxConfig
from reconciler.config.secrets import SecretRef
from reconciler.errors import ConfigError
from reconciler.plan.drift import detect_drift
from reconciler.plan.masking import MIN_DIGEST_CHARS, UNKEYED, EmailMasker, keyed_digest, mask_email, mask_key
from reconciler.plan.model import PlanProblem, Severity
from reconciler.providers.registry import void_statuses
from reconciler.render.drift import render_drift_markdown
from reconciler.render.plan_markdown import render_markdown
from reconciler.render.plan_text import render_text
from reconciler.state.desired import Target
from reconciler.state.live import IssuedCoupon, LiveState, ScopeLive
from tests.support.diff_factories import SCOPE, USD100, desired
from tests.support.plan_factories import MSADS, held, issue, plan, scope_plan

KEY = b"a test project's key"
CAROL, CMO = "carol@acme.example", "cmo@acme.example"
LAPSED = ("lapsed.one@example.org", "lapsed.two@example.org", "lapsed.three@example.org")
SHOWN = re.compile(r"email:(\S+@\S+ \(id [0-9a-f-]+\))")


def shown(text: str) -> list[str]:
    """Every masked email target of a Markdown document, as rendered."""
    return SHOWN.findall(text)


def email_plan(*addresses: str, problems: tuple[PlanProblem, ...] = ()) -> str:
    items = tuple(issue(Target.email(a), "spring27-emails") for a in addresses)
    return render_markdown(plan(scope_plan(to_issue=items, problems=problems)), mask_key=KEY)


def config(*providers: str, secret: str | None = None) -> Config:
    root = Path("/project")
    return Config(
        path=root / "couponctl.yaml",
        root=root,
        manifests=("manifests/",),
        providers={name: ProviderConfig(name, "msads", "local", None, {}) for name in providers},
        state_dir=root / ".couponctl",
        journal=str(root / ".couponctl" / "journal.sqlite"),
        sandbox=SandboxConfig(None, root / ".couponctl" / "sandbox.sqlite"),
        mask_key=SecretRef(secret) if secret else None,
    )


def test_two_addresses_with_the_same_mask_render_differently_in_the_markdown_plan() -> None:
    assert mask_email(CAROL) == mask_email(CMO)
    text = email_plan(CAROL, CMO, *LAPSED)
    rendered = shown(text)
    assert len(rendered) == 5 and len(set(rendered)) == 5
    assert all(r.startswith("c***@acme.example (id ") for r in rendered[:2])
    assert sum(r.startswith("l***@example.org (id ") for r in rendered) == 3
    assert CAROL not in text and not any(a in text for a in LAPSED)


def test_the_digest_is_a_prefix_of_the_keyed_hash_of_the_address() -> None:
    (rendered,) = shown(email_plan(CAROL))
    assert rendered == f"c***@acme.example (id {keyed_digest(KEY, CAROL)[:MIN_DIGEST_CHARS]})"
    assert keyed_digest(KEY, CAROL) != keyed_digest(KEY + b"x", CAROL) != hashlib.sha256(CAROL.encode()).hexdigest()


def test_the_same_address_renders_identically_in_two_plans_of_one_project() -> None:
    carol = f"c***@acme.example (id {keyed_digest(KEY, CAROL)[:MIN_DIGEST_CHARS]})"
    assert carol in shown(email_plan(CAROL, "dora@acme.example"))
    assert carol in shown(email_plan("ann@other.example", CMO, CAROL, *LAPSED))


def test_an_address_in_a_message_renders_as_its_target_does() -> None:
    warning = PlanProblem(Severity.WARNING, "held-more-than-once", f"email:{CAROL.upper()} holds 2 coupons")
    text = email_plan(CAROL, CMO, problems=(warning,))
    warnings, to_issue = text.split("**Warnings (1)**")[1].split("**To issue (2)**")
    carol = f"c***@acme.example (id {keyed_digest(KEY, CAROL)[:4]})"
    assert f"+ email:{carol}  [spring27-emails]" in to_issue
    in_prose = carol.replace("*", chr(92) + "*").replace("@", "@\u200b")  # escaped, and no @mention
    assert f"email:{in_prose} holds 2 coupons" in warnings


def colliding_pair(key: bytes, chars: int) -> tuple[str, str]:
    """Two addresses with one mask whose digests under ``key`` share their first ``chars`` hex characters."""
    seen: dict[str, str] = {}
    for n in itertools.count():
        address = f"u{n}@example.org"
        prefix = keyed_digest(key, address)[:chars]
        if prefix in seen:
            return seen[prefix], address
        seen[prefix] = address
    raise AssertionError("unreachable")


def test_addresses_whose_digests_share_the_first_characters_get_a_longer_prefix_in_that_plan() -> None:
    first, second = colliding_pair(KEY, MIN_DIGEST_CHARS)  # real HMACs under the key, not a stub
    rendered = shown(email_plan(first, second, CAROL))
    assert len(set(rendered)) == 3
    length = len(rendered[0].split("(id ")[1]) - 1
    assert length > MIN_DIGEST_CHARS
    assert sorted(rendered) == sorted(
        f"{mask_email(a)} (id {keyed_digest(KEY, a)[:length]})" for a in (first, second, CAROL)
    )
    # alone, an address shows the shortest prefix again: still a prefix of the same digest
    assert shown(email_plan(first)) == [f"u***@example.org (id {keyed_digest(KEY, first)[:MIN_DIGEST_CHARS]})"]


def test_a_tiny_digest_space_still_never_renders_two_addresses_alike() -> None:
    def tiny(key: bytes, address: str) -> str:
        return "ab" if address.startswith(("u1", "u2", "u3")) else "cd"  # whole digests collide

    masker = EmailMasker(KEY, ["u1@x.example", "u2@x.example", "u3@x.example", "u4@x.example"], digest=tiny)
    rendered = [masker(f"u{n}@x.example") for n in range(1, 5)]
    assert len(set(rendered)) == 4
    assert rendered[:3] == ["u***@x.example (id ab-1)", "u***@x.example (id ab-2)", "u***@x.example (id ab-3)"]
    assert rendered[3] == "u***@x.example (id cd)"


def test_prefixes_grow_only_as_far_as_needed() -> None:
    def crafted(key: bytes, address: str) -> str:
        return {"a1@x.example": "1234567890", "a2@x.example": "1234569999"}.get(address, "ffffffffff")

    masker = EmailMasker(KEY, ["a1@x.example", "a2@x.example", "b@x.example"], digest=crafted)
    assert masker.length == 7
    assert [masker(a) for a in ("a1@x.example", "a2@x.example", "b@x.example")] == [
        "a***@x.example (id 1234567)",
        "a***@x.example (id 1234569)",
        "b***@x.example (id fffffff)",
    ]


def test_the_drift_report_renders_an_address_as_the_plan_does() -> None:
    stray = Target.email(CMO)
    live = ScopeLive(SCOPE, True, USD100, 10, {stray: (IssuedCoupon("CODE00001234", "dispatched"),)})
    report = detect_drift(
        desired([Target.email(CAROL)]),
        LiveState({SCOPE: live}),
        checked_at=plan().created_at,
        void_statuses=void_statuses(),
    )
    drift_text = render_drift_markdown(report, mask_key=KEY)
    plan_text = render_markdown(
        plan(scope_plan(MSADS, unmanaged=(held(stray, "CODE00001234", note="issued outside the manifests"),))),
        mask_key=KEY,
    )
    assert shown(drift_text) == shown(plan_text) == [f"c***@acme.example (id {keyed_digest(KEY, CMO)[:4]})"]


def test_drift_markdown_tells_apart_addresses_with_one_mask() -> None:
    holders = {Target.email(a): (IssuedCoupon(f"CODE{n:08d}", "dispatched"),) for n, a in enumerate(LAPSED)}
    live = ScopeLive(SCOPE, True, USD100, 10, holders)
    report = detect_drift(
        desired([Target.account(1)]),
        LiveState({SCOPE: live}),
        checked_at=plan().created_at,
        void_statuses=void_statuses(),
    )
    rendered = shown(render_drift_markdown(report, mask_key=KEY))
    assert len(rendered) == 3 and len(set(rendered)) == 3


def test_the_text_plan_shows_whole_addresses_so_they_never_look_alike() -> None:
    text = render_text(plan(scope_plan(to_issue=(issue(Target.email(CAROL)), issue(Target.email(CMO))))), color=False)
    assert f"+ issue email:{CAROL}" in text and f"+ issue email:{CMO}" in text


def test_the_project_key_comes_from_the_providers_unless_mask_key_names_a_secret() -> None:
    project = config("msads-prod", "reseller")
    assert mask_key(project) == mask_key(replace(project, manifests=("other/",), root=Path("/elsewhere")))
    assert mask_key(project) != mask_key(config("msads-prod"))
    assert mask_key(None) == UNKEYED != mask_key(project)
    secret = config("msads-prod", "reseller", secret="COUPONCTL_MASK_KEY")
    assert mask_key(secret, {"COUPONCTL_MASK_KEY": "s3cret"}) == b"s3cret"


def test_a_mask_key_variable_that_is_not_set_is_a_config_error_naming_it() -> None:
    with pytest.raises(ConfigError) as raised:
        mask_key(config("p", secret="COUPONCTL_MASK_KEY"), {})
    assert str(raised.value) == (
        "couponctl.yaml: maskKey: names ${env:COUPONCTL_MASK_KEY}, which is not set (or empty): set it, "
        "or remove maskKey"
    )


def test_unmasked_markdown_has_no_digest() -> None:
    text = render_markdown(plan(scope_plan(to_issue=(issue(Target.email(CAROL)),))), mask_emails=False)
    assert f"+ email:{CAROL}  [" in text and "(id " not in text
