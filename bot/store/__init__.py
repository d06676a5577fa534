"""Persistence: papers, channels, subscriptions, the delivery ledger and installations, in one SQLite file.

`Store` is the one interface the core uses; each part lives in its own module.
"""

from __future__ import annotations

from bot.store.catalog import PaperCatalog
from bot.store.database import StoreError
from bot.store.fetches import Fetch, FetchLog
from bot.store.installations import InstallationBook
from bot.store.ledger import Ledger
from bot.store.rows import Channel, DigestPlan, PlannedDigest, Subscription

__all__ = ["Channel", "DigestPlan", "Fetch", "PlannedDigest", "Store", "StoreError", "Subscription"]


class Store(PaperCatalog, Ledger, FetchLog, InstallationBook):
    """Async access to the database; open with `await Store.open(path)`."""
