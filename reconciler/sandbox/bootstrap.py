"""Opening a sandbox store and seeding it, on request or on first use (when it is empty)."""

from __future__ import annotations

from pathlib import Path

from reconciler.sandbox.seed import Seed, load_seed
from reconciler.sandbox.store import Store


def seed_store(store: Store, seed: Path) -> Seed:
    """Empty the store, then load the seed file into it (checked first: a bad file changes nothing)."""
    checked = load_seed(seed)
    store.reset()
    store.load_seed(checked)
    return checked


def seed_if_empty(store: Store, seed: Path) -> bool:
    """Load the seed file when the store is empty; whether it did."""
    if not store.is_empty():
        return False
    store.load_seed(load_seed(seed))
    return True


def open_store(database: Path | None, seed: Path | None) -> Store:
    """The store at ``database`` (None: in memory), created if needed, seeded from ``seed`` if it is empty."""
    store = Store(database)
    try:
        if seed is not None:
            seed_if_empty(store, seed)
    except BaseException:
        store.close()
        raise
    return store
