"""JSON Schema validation of loaded documents, each error mapped to the position of the offending node.

Messages never quote the offending value (it may be a credential); a schema may give its own message with
``errorMessage`` (any failure of that subschema) or ``patternErrorMessage`` (a pattern mismatch), the
keywords editors such as VS Code and yaml-language-server show too.

The validators check against the schemas assembled for the registered vendors
(reconciler.manifest.schema_assembly); :func:`load_schema` reads the published files.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any, cast

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from reconciler.errors import Problem
from reconciler.manifest.loader import Document, NodePath
from reconciler.manifest.schema_assembly import assemble_config, assemble_manifest
from reconciler.providers.descriptor import VendorDescriptor
from reconciler.providers.registry import vendors

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schemas"

_JSON_TYPES = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "null": "empty",
}


@cache
def load_schema(name: str) -> Mapping[str, Any]:
    """A schema of ``reconciler/schemas/`` by file name, e.g. ``manifest.schema.json``."""
    schema: dict[str, Any] = json.loads((SCHEMA_DIR / name).read_text(encoding="utf-8"))
    return schema


def config_validator() -> Draft202012Validator:
    """couponctl.yaml's schema, with every registered vendor's provider block."""
    return _config_validator(vendors())


@cache
def _config_validator(registered: tuple[VendorDescriptor, ...]) -> Draft202012Validator:
    return Draft202012Validator(assemble_config(registered))


def manifest_validator(provider_type: str | None) -> Draft202012Validator:
    """The manifest schema with ``spec`` bound to one provider type (None: the provider is unknown).

    The published schema tells the spec shapes apart by their keys, for editors; the loader knows the type
    from couponctl.yaml, so that a key of another type is reported as unknown.
    """
    return _manifest_validator(provider_type, vendors())


@cache
def _manifest_validator(provider_type: str | None, registered: tuple[VendorDescriptor, ...]) -> Draft202012Validator:
    schema = assemble_manifest(registered)
    spec: dict[str, Any] = {"description": schema["properties"]["spec"]["description"]}
    if provider_type is None:
        spec |= {"type": "object", "required": ["provider"], "properties": {"provider": {"type": "string"}}}
    else:
        spec["$ref"] = f"#/$defs/{provider_type}Spec"
    schema["properties"]["spec"] = spec
    return Draft202012Validator(schema)


def schema_problems(validator: Draft202012Validator, document: Document) -> list[Problem]:
    """Every schema violation of ``document``, at the node it concerns, each once."""
    found = (
        document.problem(path, message, at_key=at_key)
        for error in validator.iter_errors(document.data)
        for path, message, at_key in _explain(error)
    )
    return list(dict.fromkeys(found))  # jsonschema reports each missing key with the whole list


def _explain(error: ValidationError) -> Iterator[tuple[NodePath, str, bool]]:
    """(path, message, whether to point at the key) for one error; one per missing or unknown key."""
    path: NodePath = tuple(error.absolute_path)
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    instance, value = error.instance, cast(Any, error.validator_value)
    if error.validator == "required" and isinstance(instance, Mapping):
        for name in value:
            if name not in instance:
                yield (*path, name), "is required", False
    elif error.validator == "additionalProperties" and isinstance(instance, Mapping):
        allowed = sorted(schema.get("properties", {}))
        patterns = [re.compile(p) for p in schema.get("patternProperties", {})]
        hint = f" (expected one of: {', '.join(allowed)})" if allowed else ""
        for name in instance:
            if name not in allowed and not any(p.search(name) for p in patterns):
                yield (*path, name), f"unknown field{hint}", True
    elif "propertyNames" in error.relative_schema_path and isinstance(instance, str):
        yield (*path, instance), _message(error, schema), True
    else:
        yield path, _message(error, schema), False


def _message(error: ValidationError, schema: Mapping[str, Any]) -> str:
    if error.validator == "pattern" and "patternErrorMessage" in schema:
        return str(schema["patternErrorMessage"])
    if "errorMessage" in schema:
        return str(schema["errorMessage"])
    value = cast(Any, error.validator_value)
    match error.validator:
        case "type":
            wanted = [value] if isinstance(value, str) else list(value)
            return f"must be {' or '.join(_JSON_TYPES[t] for t in wanted)} (got {_type_of(error.instance)})"
        case "enum":
            return f"must be one of: {', '.join(str(v) for v in value)}"
        case "const":
            return f"must be {value}"
        case "pattern":
            return f"must match the pattern {value}"
        case "minimum":
            return f"must be at least {value}"
        case "maximum":
            return f"must be at most {value}"
        case "exclusiveMinimum":
            return f"must be greater than {value}"
        case "minLength":
            return "must not be empty" if value == 1 else f"must be at least {value} characters long"
        case "maxLength":
            return f"must be at most {value} characters long"
        case "minItems":
            return "must not be empty" if value == 1 else f"must have at least {value} entries"
        case "minProperties":
            return "must not be empty" if value == 1 else f"must have at least {value} fields"
    return f"is invalid ({error.validator})"


def _type_of(instance: object) -> str:
    match instance:
        case None:
            return "an empty value"
        case bool():
            return "a boolean"
        case int():
            return "an integer"
        case str():
            return "a string"
        case list():
            return "a list"
        case dict():
            return "a mapping"
    return "a number"
