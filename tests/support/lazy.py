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
        if _is_a_probe(attribute):
            raise AttributeError(attribute)
        if self._module is None:
            self._module = pytest.importorskip(self._name)
        return getattr(self._module, attribute)


def _is_a_probe(attribute: str) -> bool:
    """Whether a read is collection asking what an object is (dunders, pytest's and mock's lowercase private names
    such as ``_mock_name``, ``pytestmark``) rather than a test using the module: no import for those."""
    return (
        attribute.startswith("__")
        or (attribute[1:2].islower() and attribute.startswith("_"))
        or attribute == "pytestmark"
    )
