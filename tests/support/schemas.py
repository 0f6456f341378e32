"""The JSON Schemas couponctl ships, as tests validate its output against them."""

from __future__ import annotations

import json
from importlib import resources


def report_schema() -> dict[str, object]:
    """The schema of ``apply --report``."""
    text = resources.files("reconciler").joinpath("schemas/apply-report.schema.json").read_text("utf-8")
    return dict(json.loads(text))
