"""The msads descriptor: everything couponctl knows of Microsoft Advertising Customer Billing, for the registry."""

from __future__ import annotations

import json
from collections.abc import Mapping
from importlib import resources
from typing import Any

from reconciler.errors import Problem
from reconciler.manifest.dialect import ManifestDialect
from reconciler.manifest.export_words import ExportWords
from reconciler.manifest.loader import Document, NodePath
from reconciler.providers.descriptor import Credentials, VendorDescriptor
from reconciler.providers.msads import build, dialect
from reconciler.providers.msads.provider import PROVIDER_TYPE
from reconciler.state.desired import TargetKind

SCHEMA: Mapping[str, Any] = json.loads(resources.files(__package__).joinpath("schema.json").read_text("utf-8"))


def credential_problems(
    document: Document, path: NodePath, block: Mapping[str, Any], environment: str
) -> list[Problem]:
    """A developer token, and an access token or the OAuth refresh-token flow (client id and refresh token)."""
    required = f"is required for environment {environment}"
    missing = [(*path, key) for key in ("developerToken",) if key not in block]
    if "accessToken" not in block:
        oauth = block.get("oauth")
        if not isinstance(oauth, dict):
            message = f"needs accessToken or oauth (clientId and refreshToken) for environment {environment}"
            return [*(document.problem(p, required) for p in missing), document.problem(path, message)]
        missing += [(*path, "oauth", key) for key in ("clientId", "refreshToken") if key not in oauth]
    return [document.problem(p, required) for p in missing]


DESCRIPTOR = VendorDescriptor(
    type=PROVIDER_TYPE,
    title="Microsoft Advertising Customer Billing",
    build=build.build,
    credentials=Credentials(
        keys=build.CREDENTIAL_KEYS,
        check=credential_problems,
        write_hint="oauth.refreshToken or accessToken",
        for_writing=build.for_writing,
        identity=build.USER_TOKENS,
    ),
    manifest=ManifestDialect(
        schema=SCHEMA["manifest"],
        target_kinds=(TargetKind.ACCOUNT, TargetKind.EMAIL),
        scope=dialect.scope,
        targets=dialect.targets,
        email_files=dialect.email_files,
        settings=dialect.settings,
        advisories=dialect.advisories,
    ),
    export=ExportWords(
        owner="customer",
        klass="class",
        owner_key="customerId",
        class_key="couponClass",
        targets=dialect.export_targets,
        notes=dialect.export_notes,
    ),
    config_schema=SCHEMA["config"],
    environments=build.BASE_URLS,
    documented_hosts=build.DOCUMENTED_HOSTS,
    # The provider reports dispatched / claimed / redeemed; a coupon past its ExpirationDate or EndDate and not
    # redeemed is reported ``expired`` once the provider reads those dates.
    void_statuses=frozenset({"expired"}),
    digit_options=frozenset({"customerId", "customerAccountId"}),
    local=build.LOCAL,
    connect=build.connections,
)
