"""The schema, as numbered migrations: a database at `PRAGMA user_version` N has run the first N."""

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
    # Ratings (issue 9): a vote per (channel, user, paper); papers looked up by id outside the daily
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
