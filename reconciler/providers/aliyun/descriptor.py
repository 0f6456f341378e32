"""The aliyun descriptor: everything couponctl knows of Alibaba Cloud ResellerTrade, for the registry."""

from __future__ import annotations

import json
from collections.abc import Mapping
from importlib import resources
from typing import Any

from reconciler.manifest.dialect import ManifestDialect
from reconciler.manifest.export_words import ExportWords
from reconciler.providers.aliyun import build, dialect
from reconciler.providers.aliyun.provider import PROVIDER_TYPE
from reconciler.providers.descriptor import Credentials, VendorDescriptor, required
from reconciler.state.desired import TargetKind

SCHEMA: Mapping[str, Any] = json.loads(resources.files(__package__).joinpath("schema.json").read_text("utf-8"))

DESCRIPTOR = VendorDescriptor(
    type=PROVIDER_TYPE,
    title="Alibaba Cloud ResellerTrade",
    build=build.build,
    credentials=Credentials(
        keys=build.CREDENTIAL_KEYS,
        check=required("accessKeyId", "accessKeySecret"),
        write_hint="accessKeyId and accessKeySecret",
        for_writing=build.for_writing,
        identity=("accessKeyId",),
    ),
    manifest=ManifestDialect(
        schema=SCHEMA["manifest"],
        target_kinds=(TargetKind.UID,),
        scope=dialect.scope,
        targets=dialect.targets,
        markers=("sellerId", "templateId", "send"),
        checks=dialect.check_expect,
    ),
    export=ExportWords(
        owner="seller",
        klass="template",
        owner_key="sellerId",
        class_key="templateId",
        targets=dialect.export_targets,
        name_prefix="template-",
    ),
    config_schema=SCHEMA["config"],
    environments=build.BASE_URLS,
    documented_hosts=build.DOCUMENTED_HOSTS,
    void_statuses=frozenset({"abandoned", "expired"}),  # the vendor's own statuses
    local=build.LOCAL,
)
