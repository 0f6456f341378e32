"""The published policy file schema: valid draft 2020-12, described for editors, its rule the config's rule, and the
example policy files valid against it."""

from __future__ import annotations

from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from reconciler.manifest.loader import load_yaml
from reconciler.manifest.schema import load_schema
from tests.support.policies import EXAMPLE_POLICIES

NAME = "policy.schema.json"


def test_the_policy_schema_is_valid_with_an_id_and_described() -> None:
    schema = load_schema(NAME)
    Draft202012Validator.check_schema(schema)
    assert schema["$id"] == f"https://couponctl.dev/schemas/{NAME}"
    assert all("description" in sub for sub in schema["properties"].values())


def test_a_policy_files_rule_is_couponctl_yamls_rule() -> None:
    policy, config = load_schema(NAME), load_schema("config.schema.json")
    assert policy["$defs"]["rule"] == config["$defs"]["rule"]
    assert policy["$defs"]["governanceName"] == config["$defs"]["governanceName"]
    assert policy["properties"]["rules"] == config["properties"]["rules"]


@pytest.mark.parametrize("path", sorted(EXAMPLE_POLICIES.glob("*.yaml")), ids=lambda p: p.name)
def test_the_example_policies_validate_against_the_published_schema(path: Path) -> None:
    validator = Draft202012Validator(load_schema(NAME))
    [document] = load_yaml(path, path.name).documents
    assert list(validator.iter_errors(document.data)) == []
