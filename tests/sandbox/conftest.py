"""Fixtures of the sandbox tests: an in-process sandbox (tests.support.sandbox)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.sandbox import Sandbox


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    box = Sandbox()
    yield box
    box.store.close()
