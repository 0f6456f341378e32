"""Fixtures of the reliability tests: fast apply settings."""

from __future__ import annotations

import pytest


@pytest.fixture
def fast_apply() -> dict[str, object]:
    """Apply settings that keep the suite quick: a short lag window for in-doubt resolution."""
    return {"inDoubtWindow": "2s"}
