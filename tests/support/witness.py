"""Projects for the second witness (GetCouponInfo): one manifest distributing a class of one customer to accounts."""

from __future__ import annotations

from pathlib import Path

import yaml


def distribute_only(project: Path, owner: str, coupon_class: str, accounts: list[int], amount: int) -> None:
    """The project's manifests replaced by one that distributes ``coupon_class`` of ``owner`` to ``accounts``."""
    for path in (project / "manifests").glob("*.yaml"):
        path.unlink()
    manifest = {
        "apiVersion": "couponctl/v1",
        "kind": "CouponAssignment",
        "metadata": {"name": "witness"},
        "spec": {
            "provider": "msads-local",
            "customerId": owner,
            "couponClass": coupon_class,
            "expect": {"amount": amount, "currency": "USD"},
            "distribute": {"sendNotification": False, "accounts": accounts},
        },
    }
    (project / "manifests" / "witness.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False))
