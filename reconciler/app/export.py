"""``couponctl export``: read what the vendor shows for one owner (never issuing), and write the manifests
reconciler.manifest.export makes of it."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from reconciler import aio
from reconciler.config.model import Config
from reconciler.config.redaction import scrub
from reconciler.errors import CouponctlError
from reconciler.manifest.export import Export, ExportSource
from reconciler.providers.base import Exporter, Provider
from reconciler.providers.registry import build_provider, vendor
from reconciler.state.desired import Scope, ScopeSpec
from reconciler.state.live import ScopeLive


def normalize_owner(owner: str) -> str:
    """Owner ids are compared as numbers written in digits: ``"0251186883"`` is ``251186883``."""
    text = owner.strip()
    if not text.isascii() or not text.isdigit():
        raise CouponctlError(f"--owner must be digits (a customer or seller id), not {owner!r}")
    return str(int(text))


def read_export(
    config: Config,
    provider_name: str,
    owner: str,
    classes: Sequence[str] = (),
    *,
    environ: Mapping[str, str] | None = None,
) -> tuple[ExportSource, list[ScopeLive]]:
    """Read what the vendor shows for ``owner``: the ``classes`` named (any provider), or every class of the owner
    (providers that can list them: :class:`~reconciler.providers.base.Exporter`). Never issues."""
    provider_config = config.providers.get(provider_name)
    if provider_config is None:
        known = ", ".join(sorted(config.providers)) or "none"
        raise CouponctlError(f"unknown provider {provider_name!r} (couponctl.yaml names: {known})")
    owner = normalize_owner(owner)
    words = vendor(provider_config.type).export
    source = ExportSource(provider_name, provider_config.type, provider_config.environment, owner, words)
    env = os.environ if environ is None else environ

    async def run() -> list[ScopeLive]:
        provider = build_provider(provider_config, config.sandbox, env)
        try:
            return await _read(provider, owner, classes)
        finally:
            await provider.aclose()

    return source, aio.run(run())


async def _read(provider: Provider, owner: str, classes: Sequence[str]) -> list[ScopeLive]:
    if classes:
        specs = [ScopeSpec(Scope(provider.name, owner, c), provider.type, ()) for c in dict.fromkeys(classes)]
        lives = list(await asyncio.gather(*(provider.read_scope(spec) for spec in specs)))
        missing = [live.scope.coupon_class for live in lives if not live.exists]
    elif isinstance(provider, Exporter):
        lives = await provider.read_owner(owner)
        missing = []
        if not lives:
            raise CouponctlError(f"{provider.name}: the vendor shows no coupon owned by {owner}")
    else:
        raise CouponctlError(
            f"provider {provider.name} (type {provider.type}) cannot list an owner's classes yet:"
            " name them with --class"
        )
    if missing:
        raise CouponctlError(
            f"{provider.name}: the vendor shows no coupon of {', '.join(repr(c) for c in missing)} owned by {owner}:"
            " check --class and --owner"
        )
    return lives


def write_export(export: Export, directory: Path) -> list[Path]:
    """Write the files into ``directory`` (created). Nothing is written if any of them exists already."""
    paths = [directory / f.name for f in export.files]
    existing = [str(p) for p in paths if p.exists()]
    if existing:
        raise CouponctlError(f"refusing to overwrite {', '.join(existing)}: remove them or choose another --out")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        for path, file in zip(paths, export.files, strict=True):
            path.write_text(scrub(file.text), encoding="utf-8")
    except OSError as exc:
        raise CouponctlError(f"cannot write the export to {directory}: {exc}") from exc
    return paths
