"""Refresh tokens in the sandbox's token endpoint, as the Microsoft identity platform documents them ("Refresh tokens
in the Microsoft identity platform", learn.microsoft.com/entra/identity-platform/refresh-tokens): each refresh
answers a new refresh token ("Refresh tokens replace themselves with a fresh token upon every use"); the platform
"doesn't revoke old refresh tokens when used", which the sandbox follows unless a client is seeded with
``revokeOnRotation: true``; refresh tokens last 90 days by default ("90 days for all other scenarios"), or the
seed's ``refreshTokenLifetimeSeconds``."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from reconciler.errors import InputError
from reconciler.sandbox.seed import parse_seed
from tests.support.sandbox import SEED, TOKEN, Sandbox

DAY = 86400
ROTATING_SEED = SEED.replace(
    "  oauthClients:\n",
    "  oauthClients:\n"
    "    - {clientId: strict-app, refreshToken: refresh-3, revokeOnRotation: true, refreshTokenLifetimeSeconds: 600}\n",
)


@pytest.fixture
def box() -> Iterator[Sandbox]:
    sandbox = Sandbox(seed=ROTATING_SEED)
    yield sandbox
    sandbox.store.close()


def refresh(box: Sandbox, token: str, client: str = "app") -> httpx.Response:
    form = {"client_id": client, "grant_type": "refresh_token", "refresh_token": token}
    return box.post(TOKEN, data=form, headers={})


def rotated(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    token = response.json()["refresh_token"]
    assert isinstance(token, str)
    return token


def refusal(response: httpx.Response) -> str:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["error"] == "invalid_grant"
    return str(body["error_description"])


def test_each_refresh_answers_a_new_refresh_token(box: Sandbox) -> None:
    first = rotated(refresh(box, "refresh-1"))
    second = rotated(refresh(box, first))
    assert len({"refresh-1", first, second}) == 3


def test_by_default_a_rotated_refresh_token_stays_valid_as_the_platform_documents(box: Sandbox) -> None:
    first = rotated(refresh(box, "refresh-1"))
    assert rotated(refresh(box, "refresh-1")) != first  # the seeded one was not revoked
    assert rotated(refresh(box, first))


def test_revoke_on_rotation_refuses_a_rotated_token_at_once_without_grace(box: Sandbox) -> None:
    first = rotated(refresh(box, "refresh-3", "strict-app"))
    assert "revoked" in refusal(refresh(box, "refresh-3", "strict-app"))  # no time has passed: no grace
    second = rotated(refresh(box, first, "strict-app"))
    assert "revoked" in refusal(refresh(box, first, "strict-app"))
    assert rotated(refresh(box, second, "strict-app"))


def test_refresh_tokens_expire_after_90_days_by_default(box: Sandbox) -> None:
    box.clock.advance(90 * DAY - 1)
    fresh = rotated(refresh(box, "refresh-1"))  # the seeded one, still valid a second before 90 days
    box.clock.advance(1)
    assert "expired" in refusal(refresh(box, "refresh-1"))
    box.clock.advance(90 * DAY - 2)
    assert rotated(refresh(box, fresh))  # a rotated token lives 90 days from its own issue


def test_the_refresh_lifetime_is_a_seed_key(box: Sandbox) -> None:
    box.clock.advance(599)
    strict = rotated(refresh(box, "refresh-3", "strict-app"))
    box.clock.advance(600)
    assert "expired" in refusal(refresh(box, strict, "strict-app"))  # 600 s after it was issued
    assert rotated(refresh(box, "refresh-1"))  # the other client's keeps the default 90 days


def test_a_token_of_another_client_is_refused(box: Sandbox) -> None:
    assert "not valid" in refusal(refresh(box, "refresh-3", "app"))


def test_the_call_log_never_holds_a_refresh_token(box: Sandbox) -> None:
    first = rotated(refresh(box, "refresh-1"))
    refresh(box, first)
    logged = " ".join(f"{c.body} {c.headers}" for c in box.store.calls())
    assert "refresh-1" not in logged and first not in logged


@pytest.mark.parametrize(
    ("entry", "field"),
    [
        ("revokeOnRotation: maybe", "revokeOnRotation"),
        ("refreshTokenLifetimeSeconds: 0", "refreshTokenLifetimeSeconds"),
    ],
)
def test_bad_rotation_keys_are_located_seed_errors(entry: str, field: str) -> None:
    seed = SEED.replace("refreshToken: refresh-1,", f"refreshToken: refresh-1, {entry},")
    with pytest.raises(InputError, match=field):
        parse_seed(seed, "seed.yaml")
