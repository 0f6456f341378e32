"""The published JSON Schemas, assembled: a base schema that names no vendor, and each vendor's fragment.

``manifest.schema.json`` gets each vendor's ``<type>Spec`` (and the ``$defs`` it uses) and a ``spec`` that picks
one by its marker keys, for editors (the loader binds ``spec`` to the provider's type instead:
:func:`reconciler.manifest.schema.manifest_validator`); ``config.schema.json`` gets each vendor's
``<type>Provider`` and the enum of types. The files under ``reconciler/schemas/`` (and their copies in the
repository's ``schemas/``) are this assembly for the built-in vendors, written by::

    python -m reconciler.manifest.schema_assembly reconciler/schemas schemas
"""

from __future__ import annotations

import copy
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from reconciler.errors import ExitCode
from reconciler.manifest.dialect import ManifestDialect

BASE_DIR = Path(__file__).resolve().parent.parent / "schemas" / "base"
MANIFEST = "manifest.schema.json"
CONFIG = "config.schema.json"
ASSEMBLED = (MANIFEST, CONFIG)


class SchemaSource(Protocol):
    """What a vendor contributes to the schemas (a descriptor has it all)."""

    @property
    def type(self) -> str: ...

    @property
    def title(self) -> str: ...

    @property
    def config_schema(self) -> Mapping[str, Any]: ...

    @property
    def manifest(self) -> ManifestDialect: ...


def load_base(name: str) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((BASE_DIR / name).read_text(encoding="utf-8"))
    return schema


def assemble(name: str, vendors: Sequence[SchemaSource]) -> dict[str, Any]:
    """The schema ``name`` (manifest.schema.json or config.schema.json) with the fragments of ``vendors``."""
    if name == MANIFEST:
        return assemble_manifest(vendors)
    if name == CONFIG:
        return assemble_config(vendors)
    raise ValueError(f"{name} is not assembled (expected one of: {', '.join(ASSEMBLED)})")


def assemble_manifest(vendors: Sequence[SchemaSource]) -> dict[str, Any]:
    schema = load_base(MANIFEST)
    spec = schema["properties"]["spec"]
    shapes = " or ".join(f"{v.type} ({', '.join(_spec_keys(v))})" for v in vendors)
    spec["description"] = spec["description"].replace("{dialects}", shapes)
    spec.update(_choose(vendors))
    for vendor in vendors:
        schema["$defs"].update(copy.deepcopy(dict(vendor.manifest.schema)))
    return schema


def assemble_config(vendors: Sequence[SchemaSource]) -> dict[str, Any]:
    schema = load_base(CONFIG)
    defs = schema["$defs"]
    provider = defs["provider"]
    types = [v.type for v in vendors]
    provider["properties"]["type"]["description"] = provider["properties"]["type"]["description"].replace(
        "{types}", " or ".join(types)
    )
    titles = " or ".join(f"{v.type} ({v.title})" for v in vendors)
    defs["type"]["description"] = defs["type"]["description"].replace("{titles}", titles)
    defs["type"]["enum"] = types
    for vendor in vendors:
        condition = {"required": ["type"], "properties": {"type": {"const": vendor.type}}}
        provider["allOf"].append({"if": condition, "then": {"$ref": f"#/$defs/{vendor.type}Provider"}})
        defs.update(copy.deepcopy(dict(vendor.config_schema)))
    return schema


def text(schema: Mapping[str, Any]) -> str:
    """A schema as the published file holds it."""
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def _spec_keys(vendor: SchemaSource) -> list[str]:
    properties = vendor.manifest.schema[f"{vendor.type}Spec"]["properties"]
    return [key for key in properties if key not in ("provider", "expect")]


def _choose(vendors: Sequence[SchemaSource]) -> dict[str, Any]:
    """``if``/``then``/``else`` that picks a vendor's spec by its marker keys; the first vendor without markers is
    the default (what a spec without any marker is checked against)."""
    default = next((v for v in vendors if not v.manifest.markers), None)
    node: dict[str, Any] = {"$ref": f"#/$defs/{default.type}Spec"} if default else {}
    for vendor in reversed([v for v in vendors if v.manifest.markers]):
        chosen: dict[str, Any] = {
            "if": {"anyOf": [{"required": [key]} for key in vendor.manifest.markers]},
            "then": {"$ref": f"#/$defs/{vendor.type}Spec"},
        }
        node = {**chosen, "else": node} if node else chosen
    return node


def main(argv: Sequence[str]) -> int:
    """Write the assembled schemas of the built-in vendors into each directory of ``argv``."""
    from reconciler.providers.registry import vendors

    for directory in argv or [str(BASE_DIR.parent)]:
        Path(directory).mkdir(parents=True, exist_ok=True)
        for name in ASSEMBLED:
            (Path(directory) / name).write_text(text(assemble(name, vendors())), encoding="utf-8")
    return ExitCode.OK


if __name__ == "__main__":
    directories = sys.argv[1:]
    sys.exit(main(directories))
