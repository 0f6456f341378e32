"""The published JSON Schemas: valid draft 2020-12, described for editors, and in step with the loader."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from reconciler.manifest.loader import load_yaml, parse_yaml
from reconciler.manifest.schema import SCHEMA_DIR, load_schema, manifest_validator, schema_problems

REPO = Path(__file__).resolve().parents[2]
SCHEMAS = ["manifest.schema.json", "config.schema.json"]


def properties(node: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """Every (path, schema) under a ``properties`` keyword, outside ``if`` conditions."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "properties":
                for name, sub in value.items():
                    yield f"{path}/{name}", sub
            if key != "if":
                yield from properties(value, f"{path}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from properties(value, f"{path}/{index}")


@pytest.mark.parametrize("name", SCHEMAS)
def test_schema_is_valid_draft_2020_12_with_an_id(name: str) -> None:
    schema = load_schema(name)
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == f"https://couponctl.dev/schemas/{name}"


@pytest.mark.parametrize("name", SCHEMAS)
def test_every_property_has_a_description(name: str) -> None:
    missing = [path for path, sub in properties(load_schema(name)) if "description" not in sub]
    assert missing == []


def test_the_repositorys_schemas_are_real_files_identical_to_the_packaged_ones() -> None:
    # Real files, not a symlink (a Windows checkout turns a symlink into a text file naming its target); the
    # packaged copies are the source, and this keeps the two the same.
    published = REPO / "schemas"
    assert not published.is_symlink() and published.is_dir()
    names = sorted(p.name for p in published.iterdir())
    assert names == sorted(p.name for p in SCHEMA_DIR.glob("*.json"))
    for name in names:
        assert not (published / name).is_symlink()
        same = (published / name).read_bytes() == (SCHEMA_DIR / name).read_bytes()
        assert same, f"schemas/{name} differs from reconciler/schemas/{name}: copy it over"


@pytest.mark.parametrize("path", sorted((REPO / "examples" / "manifests").glob("*.yaml")), ids=lambda p: p.name)
def test_examples_validate_against_the_published_schema(path: Path) -> None:
    validator = Draft202012Validator(load_schema("manifest.schema.json"))
    for document in load_yaml(path, path.name).documents:
        assert list(validator.iter_errors(document.data)) == []


ALIYUN = """\
apiVersion: couponctl/v1
kind: CouponAssignment
metadata: {name: reseller-q1}
spec:
  provider: aliyun-reseller
  sellerId: 3944837183
  templateId: 295873
  send:
    - {uid: 1918000000883, amount: 100}
"""


def test_published_schema_tells_aliyun_from_msads_by_keys() -> None:
    validator = Draft202012Validator(load_schema("manifest.schema.json"))
    document = parse_yaml(ALIYUN, "m.yaml").documents[0]
    assert list(validator.iter_errors(document.data)) == []
    mixed = parse_yaml(ALIYUN + "  couponClass: X\n", "m.yaml").documents[0]
    assert [e.message for e in validator.iter_errors(mixed.data)] == [
        "Additional properties are not allowed ('couponClass' was unexpected)"
    ]


def test_loader_binds_spec_to_the_configured_provider_type() -> None:
    document = parse_yaml(ALIYUN, "m.yaml").documents[0]
    assert schema_problems(manifest_validator("aliyun"), document) == []
    expected = (
        "unknown field (expected one of: couponClass, customerId, dispatch, distribute, expect, provider, schedule)"
    )
    assert [str(p) for p in schema_problems(manifest_validator("msads"), document)] == [
        "m.yaml:5:3: spec.customerId: is required",
        "m.yaml:5:3: spec.couponClass: is required",
        f"m.yaml:6:3: spec.sellerId: {expected}",
        f"m.yaml:7:3: spec.templateId: {expected}",
        f"m.yaml:8:3: spec.send: {expected}",
    ]
