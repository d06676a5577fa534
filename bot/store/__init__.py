"""Persistence: papers, channels, subscriptions, ratings and the delivery ledger, in one SQLite file.

`Store` is the one interface the core uses; each part lives in its own module.
"""

from __future__ import annotations

from bot.store.catalog import PaperCatalog
from bot.store.database import StoreError
from bot.store.ledger import Ledger
from bot.store.ratings import RatingBook
from bot.store.rows import Channel, PlannedDigest, Subscription

__all__ = ["Channel", "PlannedDigest", "Store", "StoreError", "Subscription"]


class Store(PaperCatalog, RatingBook, Ledger):
    """Async access to the database; open with `await Store.open(path)`."""
