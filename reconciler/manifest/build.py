"""Manifests to DesiredState: find, load, check against schema and rules, and gather by scope."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Protocol

from reconciler.config.containment import outside_reason
from reconciler.config.model import Config
from reconciler.errors import InputError, ManifestError, Problem
from reconciler.manifest.discover import display_path, find_manifests, normalized
from reconciler.manifest.emails import read_emails
from reconciler.manifest.loader import NodePath, field_name, load_yaml
from reconciler.manifest.parse import Manifest, parse_manifest
from reconciler.manifest.problems import CappedProblems
from reconciler.manifest.schedule import read_schedule
from reconciler.manifest.schema import manifest_validator, schema_problems
from reconciler.manifest.validate import check_names, check_provider, check_settings, duplicate_target, email_error
from reconciler.providers.registry import vendors
from reconciler.state.declared import DeclaredTargets, Source
from reconciler.state.desired import (
    Advisory,
    DesiredItem,
    DesiredState,
    Expect,
    Position,
    Scope,
    ScopeSpec,
    Target,
    TargetKind,
)
from reconciler.state.schedule import Window

MAX_PROBLEMS_PER_EMAILS_FILE = 100
"""After this many problems in one emails file, the rest are counted, not listed."""
_DIGITS = re.compile(r"[0-9]+")  # an account id or uid: ASCII digits only


class TargetSink(Protocol):
    """Where declared targets go: kept (a plan) or only checked (validate)."""

    def declare(
        self,
        scope: Scope,
        source: Source,
        value: str,
        line: int,
        column: int,
        field: str,
        cap: CappedProblems | None = None,
    ) -> Problem | None:
        """Take one target (of an emails file whose problems ``cap`` counts); the problem when it repeats a
        (scope, target) already declared, if known now."""

    def file_read(self, problems: CappedProblems) -> list[Problem]:
        """An emails file has been read: its problems, now or (with its duplicates) from :meth:`finish`."""

    def finish(self) -> list[Problem]:
        """Every declaration is in: the problems found only now."""


class _InMemory:
    """Keeps every scope's targets (compactly); a repeat is found as it is declared."""

    def __init__(self) -> None:
        self.scopes: dict[Scope, DeclaredTargets] = {}

    def declare(
        self,
        scope: Scope,
        source: Source,
        value: str,
        line: int,
        column: int,
        field: str,
        cap: CappedProblems | None = None,
    ) -> Problem | None:
        targets = self.scopes.get(scope)
        if targets is None:
            targets = self.scopes[scope] = DeclaredTargets()
        first = targets.declare(source, value, line, column)
        if first is None:
            return None
        target = Target(source.kind, value)
        item = DesiredItem(target, source.manifest, Position(source.file, line, column), source.amount)
        return duplicate_target(scope, first, item, field)

    def file_read(self, problems: CappedProblems) -> list[Problem]:
        return problems.listed()

    def finish(self) -> list[Problem]:
        for targets in self.scopes.values():
            targets.seal()
        return []


def load_desired(
    config: Config, paths: Sequence[Path] | None = None, *, sink: TargetSink | None = None
) -> DesiredState:
    """The desired state of the manifests at ``paths`` (default: ``config.manifests``).

    Paths are files, directories (searched recursively for *.yaml and *.yml) or glob patterns,
    relative to ``config.root``. Offline; needs no credentials. Raises ManifestError with every
    problem found, sorted by file and position.

    With a ``sink`` the targets go to it and the state returned holds none (``couponctl validate``).
    """
    files, problems = find_manifests(config.root, list(paths) if paths else list(config.manifests))
    manifests: list[Manifest] = []
    types = {name: provider.type for name, provider in config.providers.items()}
    dialects = {vendor.type: vendor.manifest for vendor in vendors()}
    for source in files:
        loaded = load_yaml(source.path, source.display)
        problems.extend(loaded.problems)
        for document in loaded.documents:
            manifest = parse_manifest(document, types, dialects)
            problems.extend(schema_problems(manifest_validator(manifest.provider_type), document))
            problems.extend(check_provider(manifest, types))
            manifests.append(manifest)
    problems.extend(check_names(manifests))
    problems.extend(check_settings(manifests))
    for dialect in dialects.values():
        problems.extend(dialect.checks(manifests))
    schedules: dict[str, Window] = {}
    for manifest in manifests:
        window, wrong = read_schedule(manifest)
        problems.extend(wrong)
        if window is not None and manifest.name is not None:
            schedules[manifest.name] = window
    sink = _InMemory() if sink is None else sink
    for manifest in manifests:
        if manifest.scope is not None:
            if isinstance(sink, _InMemory):  # a scope declared without a target is still declared
                sink.scopes.setdefault(manifest.scope, DeclaredTargets())
            problems.extend(_declare(manifest, manifest.scope, sink, config.root))
    problems.extend(sink.finish())
    if problems:
        raise ManifestError(sorted(dict.fromkeys(problems), key=_problem_order))
    items = sink.scopes if isinstance(sink, _InMemory) else {}
    labels = {m.name: _labels(m) for m in manifests if m.name is not None}
    return DesiredState(_scope_specs(manifests), items, labels, schedules, _advisories(manifests))


def _advisories(manifests: Iterable[Manifest]) -> dict[Scope, tuple[Advisory, ...]]:
    """Per scope, the warnings its manifests' dialects give, in file order."""
    found: dict[Scope, list[Advisory]] = {}
    for manifest in manifests:
        if manifest.scope is None or manifest.dialect is None:
            continue
        for path, code, message in manifest.dialect.advisories(manifest.spec):
            found.setdefault(manifest.scope, []).append(Advisory(code, manifest.document.problem(path, message)))
    return {
        scope: tuple(sorted(advisories, key=lambda a: _problem_order(a.problem))) for scope, advisories in found.items()
    }


def _labels(manifest: Manifest) -> dict[str, str]:
    """``metadata.labels`` (strings: the schema says so)."""
    data = manifest.document.data
    metadata = data.get("metadata") if isinstance(data, dict) else None
    given = metadata.get("labels") if isinstance(metadata, dict) else None
    return {str(k): str(v) for k, v in given.items()} if isinstance(given, dict) else {}


def _problem_order(problem: Problem) -> tuple[str, int, int, str, str]:
    return problem.file, problem.line, problem.column, problem.field, problem.message


def _declare(manifest: Manifest, scope: Scope, sink: TargetSink, root: Path) -> list[Problem]:
    """Declare the manifest's targets in its scope; the problems of its targets and emails files."""
    document, name = manifest.document, manifest.name or ""
    problems: list[Problem] = []

    def add(target: Target, path: NodePath, amount: Decimal | None = None) -> None:
        source = Source(name, document.file, target.kind, amount)
        problem = sink.declare(scope, source, target.value, *document.at(path), field_name(path))
        if problem is not None:
            problems.append(problem)

    dialect = manifest.dialect
    if dialect is None:
        return problems
    for declared in dialect.targets(manifest.spec):
        if declared.kind not in dialect.target_kinds:
            problems.append(
                document.problem(
                    declared.path, f"a {manifest.provider_type} manifest declares no {declared.kind} targets"
                )
            )
            continue
        if declared.kind is not TargetKind.EMAIL:
            if not _DIGITS.fullmatch(declared.value):
                problems.append(document.problem(declared.path, f"{declared.kind} ids are whole numbers"))
            else:  # one spelling per id, as the vendor shows it: 007 and 7 are one target
                add(Target(declared.kind, str(int(declared.value))), declared.path, declared.amount)
            continue
        error = email_error(declared.value)
        if error:
            problems.append(document.problem(declared.path, error))
        else:
            add(Target.email(declared.value), declared.path)
    for path, file_name in dialect.email_files(manifest.spec):
        problems.extend(_declare_file(manifest, path, file_name, scope, sink, root))
    return problems


def _declare_file(
    manifest: Manifest,
    path: NodePath,
    file_name: str,
    scope: Scope,
    sink: TargetSink,
    root: Path,
) -> list[Problem]:
    """Declare the addresses of one emailsFrom file (relative to the manifest's file). The hot loop of a
    large list: one regex match and one declaration per address; no object is kept per address but its
    lower-cased string. At most MAX_PROBLEMS_PER_EMAILS_FILE problems are kept, then the rest are counted."""
    base = normalized(root, manifest.document.file).parent
    refused = outside_reason(root, file_name, base=base)
    if refused is not None:
        return [manifest.document.problem(path, f"emails file {refused}")]
    file = normalized(base, file_name)
    display = display_path(file, root)
    if not file.is_file():
        state = "is not a file" if file.exists() else "does not exist"
        return [manifest.document.problem(path, f"emails file {display} {state}")]
    field = field_name(path)
    source = Source(manifest.name or "", display, TargetKind.EMAIL)
    problems = CappedProblems(display, MAX_PROBLEMS_PER_EMAILS_FILE)
    try:
        for line, column, address in read_emails(file, display):
            error = email_error(address, reveal=False)
            if error:
                problems.add(Problem(display, line, column, field, error))
                continue
            problem = sink.declare(scope, source, address.strip().lower(), line, column, field, problems)
            if problem is not None:
                problems.add(problem)
    except InputError as exc:
        for problem in exc.problems:
            problems.add(problem)
    return sink.file_read(problems)


def _scope_specs(manifests: Iterable[Manifest]) -> dict[Scope, ScopeSpec]:
    """Per scope: the manifests that declare it and the settings they give (checked to agree)."""
    declared: dict[Scope, list[Manifest]] = {}
    for manifest in manifests:
        if manifest.scope is not None:
            declared.setdefault(manifest.scope, []).append(manifest)
    specs = {}
    for scope, group in declared.items():
        settings: dict[str, object] = {}
        for member in group:
            for key, setting in member.settings.items():
                settings.setdefault(key, setting.value)
        feature, amount, currency = (settings.get(k) for k in ("feature_id", "expect.amount", "expect.currency"))
        specs[scope] = ScopeSpec(
            scope,
            str(group[0].provider_type),
            tuple(sorted(m.name or "" for m in group)),
            feature if isinstance(feature, int) else None,
            settings.get("send_notification") is True,
            _expect(amount, currency),
        )
    return specs


def _expect(amount: object, currency: object) -> Expect | None:
    if amount is None and currency is None:
        return None
    return Expect(amount if isinstance(amount, Decimal) else None, currency if isinstance(currency, str) else None)
