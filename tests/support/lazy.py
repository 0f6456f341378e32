"""A module imported on first use, so that collecting the suite (once per pytest-xdist worker) does not pay for the
vendors' SDKs, which take seconds to import; the tests that use one skip with the reason when it is missing."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest


class LazyModule:
    """Stands for the module ``name``; the first attribute read imports it (``pytest.importorskip``)."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._module: ModuleType | None = None

    def __getattr__(self, attribute: str) -> Any:
        if self._module is None:
            self._module = pytest.importorskip(self._name)
        return getattr(self._module, attribute)
