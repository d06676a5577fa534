"""Persistence: papers, channels, subscriptions, ratings, the delivery ledger, fetches, installations
and the workers' claims, in a SQLite file or a PostgreSQL database.

`Store` is the one interface the core uses; each part lives in its own module.
"""

from __future__ import annotations

from bot.store.catalog import PaperCatalog
from bot.store.database import StoreError, StoreUnavailable
from bot.store.fetches import Fetch, FetchLog
from bot.store.installations import InstallationBook
from bot.store.ledger import Ledger
from bot.store.ratings import RatingBook
from bot.store.rows import Channel, DigestPlan, PlannedDigest, Subscription
from bot.store.workers import LeaseLost

__all__ = [
    "Channel", "DigestPlan", "Fetch", "LeaseLost", "PlannedDigest", "Store", "StoreError", "StoreUnavailable",
    "Subscription",
]


class Store(PaperCatalog, RatingBook, Ledger, FetchLog, InstallationBook):
    """Async access to the database; open with `await Store.open(target)` (a file path or a URL)."""
