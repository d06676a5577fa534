"""What the running bot counts about itself, read by `/healthz`, `/metrics` and status.

Plain counters, no metrics library: `bot.health` turns them into Prometheus text only when
the HTTP listener is on, so a bot without it never imports prometheus_client.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime


@dataclass
class Telemetry:
    papers_fetched: int = 0  # papers the source returned, summed over fetches
    polls: int = 0
    last_poll: datetime | None = None  # when the last poll finished, on the core's clock
    sent: Counter[str] = field(default_factory=Counter)  # digests sent, by platform
    failed: Counter[str] = field(default_factory=Counter)  # digests that could not be sent (yet), by platform
    rate_limited: Counter[str] = field(default_factory=Counter)  # 429s that reached the core, by platform
