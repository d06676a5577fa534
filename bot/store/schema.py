"""The schema, as numbered migrations: a database at version N has run the first N.

The version is `PRAGMA user_version` on SQLite and the largest row of `schema_version` on
PostgreSQL. Each migration is written once and runs on both, so write it in the SQL they share:

- Types: `TEXT`, `INTEGER` (64-bit on both: PostgreSQL reads it as `BIGINT`), `DOUBLE PRECISION`
  (not `REAL`, which is 32-bit on PostgreSQL). Times are ISO-8601 `TEXT`.
- An auto-numbered key is `id INTEGER PRIMARY KEY` (PostgreSQL: an identity column).
- Statements are separated by `;` and hold no `;` or `?` inside literals; no `PRAGMA`, no
  `AUTOINCREMENT`, no `INSERT OR ...` (write `INSERT ... ON CONFLICT (...) DO ...`), no `ALTER
  TABLE ... DROP/RENAME` (SQLite cannot), no SQLite-only functions: the only one translated is
  `lower(hex(randomblob(4)))` (see `bot.store.postgres.DDL_RULES`).

Append; never edit a migration that has shipped. tests/test_store.py runs every migration on
both backends.
"""

from __future__ import annotations

MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE papers (
        id TEXT PRIMARY KEY,
        title TEXT NOT NULL,
        abstract TEXT NOT NULL,
        authors TEXT NOT NULL,
        upvotes INTEGER NOT NULL,
        featured_day TEXT NOT NULL,
        published_day TEXT,
        ai_summary TEXT,
        ai_keywords TEXT NOT NULL,
        github_repo TEXT,
        github_stars INTEGER,
        project_page TEXT,
        organization TEXT,
        updated_at TEXT NOT NULL
    );
    CREATE INDEX papers_by_day ON papers (featured_day);
    CREATE TABLE channels (
        id INTEGER PRIMARY KEY,
        platform TEXT NOT NULL,
        workspace TEXT NOT NULL,
        channel TEXT NOT NULL,
        time TEXT NOT NULL,
        tz TEXT NOT NULL,
        mode TEXT NOT NULL DEFAULT 'daily',
        min_upvotes INTEGER NOT NULL DEFAULT 0,
        max_papers INTEGER NOT NULL DEFAULT 10,
        paused_reason TEXT,
        since_day TEXT,
        last_run_at TEXT,
        created_at TEXT NOT NULL,
        UNIQUE (platform, workspace, channel)
    );
    CREATE TABLE subscriptions (
        id INTEGER PRIMARY KEY,
        channel_id INTEGER NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
        query TEXT NOT NULL,
        created_by TEXT NOT NULL,
        created_by_name TEXT,
        created_at TEXT NOT NULL
    );
    CREATE INDEX subscriptions_by_channel ON subscriptions (channel_id);
    CREATE TABLE digests (
        id INTEGER PRIMARY KEY,
        channel_id INTEGER NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
        title TEXT NOT NULL,
        more INTEGER NOT NULL DEFAULT 0,
        more_url TEXT,
        state TEXT NOT NULL DEFAULT 'planned' CHECK (state IN ('planned', 'sending', 'sent')),
        planned_at TEXT NOT NULL,
        sent_at TEXT
    );
    CREATE INDEX digests_open ON digests (state) WHERE state != 'sent';
    CREATE TABLE deliveries (
        channel_id INTEGER NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
        paper_id TEXT NOT NULL REFERENCES papers (id),
        digest_id INTEGER NOT NULL REFERENCES digests (id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        shown INTEGER NOT NULL,
        reasons TEXT NOT NULL,
        PRIMARY KEY (channel_id, paper_id)
    );
    CREATE INDEX deliveries_by_digest ON deliveries (digest_id, position);
    CREATE TABLE meta (
        name TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    INSERT INTO meta (name, value) VALUES ('install_id', lower(hex(randomblob(4))));
    CREATE TABLE digest_parts (
        digest_id INTEGER NOT NULL REFERENCES digests (id) ON DELETE CASCADE,
        part INTEGER NOT NULL,
        ref TEXT NOT NULL,
        PRIMARY KEY (digest_id, part)
    );
    """,
    # Each fetch of a day, so `paperboy status` (another process) can say what the source did.
    """
    CREATE TABLE fetches (
        id INTEGER PRIMARY KEY,
        day TEXT NOT NULL,
        at TEXT NOT NULL,
        papers INTEGER,
        error TEXT,
        CHECK ((papers IS NULL) != (error IS NULL))
    );
    CREATE INDEX fetches_by_time ON fetches (at);
    """,
    # Chat platform installations (Slack's OAuth install to many workspaces): `secret` is
    # encrypted by the adapter before it gets here, so no token is ever stored in plain text.
    # kind: what the row holds for the workspace (e.g. 'bot', or 'installation' with user_id
    # '' for the latest one and the installer's id for theirs).
    """
    CREATE TABLE installations (
        platform TEXT NOT NULL,
        workspace TEXT NOT NULL,
        kind TEXT NOT NULL,
        user_id TEXT NOT NULL,
        secret TEXT NOT NULL,
        saved_at TEXT NOT NULL,
        PRIMARY KEY (platform, workspace, kind, user_id)
    );
    """,
    # 4: which worker plans and sends a channel's digests now, and the rate limits workers share
    """
    CREATE TABLE claims (
        channel_id INTEGER NOT NULL PRIMARY KEY REFERENCES channels (id) ON DELETE CASCADE,
        worker TEXT NOT NULL,
        lease_until TEXT NOT NULL
    );
    CREATE TABLE rate_slots (
        name TEXT PRIMARY KEY,
        free DOUBLE PRECISION NOT NULL
    )
    """,
    # 5: ratings (issue 9): a vote per (channel, user, paper); papers looked up by id outside the daily
    # lists (rated, or the seed of a like: subscription), kept as the row `papers` would hold; and the
    # channel settings of suggestions and weekly digests.
    """
    CREATE TABLE ratings (
        channel_id INTEGER NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
        user_id TEXT NOT NULL,
        paper_id TEXT NOT NULL,
        vote INTEGER NOT NULL CHECK (vote IN (-1, 1)),
        rated_at TEXT NOT NULL,
        PRIMARY KEY (channel_id, user_id, paper_id)
    );
    CREATE TABLE looked_up_papers (
        id TEXT PRIMARY KEY,
        paper TEXT NOT NULL,
        fetched_at TEXT NOT NULL
    );
    ALTER TABLE channels ADD COLUMN suggestions INTEGER NOT NULL DEFAULT 3;
    ALTER TABLE channels ADD COLUMN weekday TEXT NOT NULL DEFAULT 'monday'
    """,
)
