"""Policy files: the ``policyFiles:`` of couponctl.yaml (paths or glob patterns inside the project) name YAML files
holding ``apiVersion: couponctl/v1``, ``kind: CouponPolicy`` and ``rules:``, checked against the policy schema and
reported at their own line:col. Their rules join couponctl.yaml's; the text of every file that holds rules is
kept, so that a rule's error is placed at the character it concerns."""

from __future__ import annotations

import glob
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from reconciler.config.containment import escapes
from reconciler.errors import InputError, Problem
from reconciler.governance.config import rule_from
from reconciler.governance.model import Rule
from reconciler.manifest.discover import display_path, normalized
from reconciler.manifest.loader import Document, MiB, NodePath, decode_utf8, parse_yaml, read_bytes
from reconciler.manifest.schema import load_schema, schema_problems

MAX_POLICY_BYTES = 1 * MiB
POLICY_SCHEMA = "policy.schema.json"
_GLOB_CHARS = frozenset("*?[")


@dataclass
class Policies:
    """The rules of the policy files, the text of each file read (by its name in positions), and the problems."""

    rules: list[Rule] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)


def read_source(path: Path, display: str, what: str) -> tuple[str, list[Document], list[Problem]]:
    """A YAML file's text and documents, or the problems that stop it being read."""
    try:
        text = decode_utf8(read_bytes(path, display, max_bytes=MAX_POLICY_BYTES, what=what), display)
    except InputError as exc:
        return "", [], list(exc.problems)
    loaded = parse_yaml(text, display)
    return text, loaded.documents, loaded.problems


def load_policies(root: Path, config: Document) -> Policies:
    """The policy files couponctl.yaml (``config``, schema-valid) names, read in the order named (a pattern's
    matches sorted, each file once)."""
    data: Mapping[str, Any] = config.data if isinstance(config.data, dict) else {}
    policies = Policies()
    seen: set[Path] = set()
    for index, entry in enumerate(data.get("policyFiles", ())):
        files = _files(root, config, ("policyFiles", index), entry, policies.problems)
        for file in files:
            if file.resolve() not in seen:
                seen.add(file.resolve())
                _read(root, file, policies)
    return policies


def _files(root: Path, config: Document, path: NodePath, entry: str, problems: list[Problem]) -> list[Path]:
    """The files an entry names (load.path_problems has refused one that lies or climbs outside the project); each
    match must still resolve inside it."""
    is_glob = bool(_GLOB_CHARS.intersection(entry))
    if is_glob:
        files = sorted(normalized(root, m) for m in glob.glob(entry, root_dir=root, recursive=True))
        files = [f for f in files if f.is_file()]
        if not files:
            problems.append(config.problem(path, "the pattern matches no policy file"))
    else:
        file = normalized(root, entry)
        files = [file] if file.is_file() else []
        if not files:
            problems.append(config.problem(path, "no such policy file (a policy file is a file, not a directory)"))
    kept = []
    for file in files:
        outside = escapes(root, file)
        if outside is None:
            kept.append(file)
        else:
            problems.append(config.problem(path, f"{display_path(file, root)}: {outside}"))
    return kept


def _read(root: Path, file: Path, policies: Policies) -> None:
    display = display_path(file, root)
    text, documents, problems = read_source(file, display, "policy files")
    policies.problems += problems
    if problems:
        return
    if not documents:
        policies.problems.append(Problem(display, 0, 0, "", "holds no policy (apiVersion, kind: CouponPolicy, rules)"))
    for document in documents:
        found = schema_problems(_validator(), document)
        policies.problems += found
        if found:
            continue
        policies.sources[display] = text
        rules = document.data.get("rules", ()) if isinstance(document.data, dict) else ()
        policies.rules += [rule_from(document, ("rules", index), block) for index, block in enumerate(rules)]


@cache
def _validator() -> Draft202012Validator:
    return Draft202012Validator(load_schema(POLICY_SCHEMA))
