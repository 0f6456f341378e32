"""The published schemas are the assembly of the base schemas and the built-in vendors' fragments, byte for byte
(so they cannot drift), and the base schemas name no vendor."""

from __future__ import annotations

import pytest

from reconciler.manifest.schema import SCHEMA_DIR
from reconciler.manifest.schema_assembly import ASSEMBLED, BASE_DIR, assemble, text
from reconciler.providers.registry import BUILT_IN

REGENERATE = "python -m reconciler.manifest.schema_assembly reconciler/schemas schemas"


@pytest.mark.parametrize("name", ASSEMBLED)
def test_the_published_schema_is_the_assembly(name: str) -> None:
    published = (SCHEMA_DIR / name).read_text(encoding="utf-8")
    assert published == text(assemble(name, BUILT_IN)), f"{name} is out of date: run {REGENERATE}"


@pytest.mark.parametrize("name", ASSEMBLED)
def test_the_base_schema_names_no_vendor(name: str) -> None:
    base = (BASE_DIR / name).read_text(encoding="utf-8").lower()
    assert not [vendor.type for vendor in BUILT_IN if vendor.type in base]


def test_the_published_manifest_schema_picks_a_spec_by_its_markers() -> None:
    spec = assemble("manifest.schema.json", BUILT_IN)["properties"]["spec"]
    assert spec["if"] == {"anyOf": [{"required": ["sellerId"]}, {"required": ["templateId"]}, {"required": ["send"]}]}
    assert spec["then"] == {"$ref": "#/$defs/aliyunSpec"}
    assert spec["else"] == {"$ref": "#/$defs/msadsSpec"}
