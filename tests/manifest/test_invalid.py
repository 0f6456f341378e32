"""One fixture per failure mode: tests/manifest/invalid/<mode>/ holds manifests/ (and lists/ or a
couponctl.yaml where the mode needs them) and expected.txt, the exact problem lines with positions.

Cases without a couponctl.yaml use tests/manifest/fixtures/couponctl.yaml (msads-local, reseller).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from reconciler.config.load import load_config
from reconciler.config.model import Config
from reconciler.errors import ManifestError
from reconciler.manifest.build import load_desired
from reconciler.manifest.spill import SpilledTargets
from tests.support.expected import lines_match

HERE = Path(__file__).parent
INVALID = HERE / "invalid"


def case_config(directory: Path) -> Config:
    if (directory / "couponctl.yaml").exists():
        return load_config(directory)
    root = directory.resolve()
    return replace(load_config(HERE / "fixtures"), root=root, path=root / "couponctl.yaml")


@pytest.mark.parametrize("spilled", [False, True], ids=["kept", "spilled"])
@pytest.mark.parametrize("mode", sorted(p.name for p in INVALID.iterdir() if p.is_dir()))
def test_invalid_manifests(mode: str, spilled: bool, tmp_path: Path) -> None:
    """Every case, both as a plan loads targets (kept) and as validate checks them (spilled: runs of 2 targets,
    merged 2 at a time, so that every duplicate is found across runs and merge passes)."""
    directory = INVALID / mode
    sink = SpilledTargets(tmp_path, run_records=2, fan_in=2) if spilled else None
    with pytest.raises(ManifestError) as raised:
        load_desired(case_config(directory), sink=sink)
    expected = (directory / "expected.txt").read_text(encoding="utf-8").splitlines()
    assert lines_match([str(p) for p in raised.value.problems], expected), raised.value.problems
    assert str(raised.value) == "\n".join(str(p) for p in raised.value.problems)
