-- The dashboard (issue 17): to-dos, insights, the calendar feed, attention
-- items marked done, and the weekly summary.

-- A to-do: made by hand, from an insight or by a trigger; optionally about
-- a contact. due_on is a local date (YYYY-MM-DD) in the workspace's time
-- zone, '' for none; snoozing moves it and counts how often.
CREATE TABLE todos (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    contact_id   TEXT REFERENCES contacts(id) ON DELETE CASCADE,
    title        TEXT NOT NULL,
    due_on       TEXT NOT NULL DEFAULT '',
    source       TEXT NOT NULL DEFAULT 'hand' CHECK (source IN ('hand', 'insight', 'trigger')),
    source_ref   TEXT NOT NULL DEFAULT '',
    snoozes      INTEGER NOT NULL DEFAULT 0,
    done_at      TEXT NOT NULL DEFAULT '',
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
) STRICT;
-- Open to-dos without a due date sort last: '' < any date, so the index
-- orders them by (due_on = '', due_on) in the query instead.
CREATE INDEX todos_open ON todos(workspace_id, due_on) WHERE done_at = '';
CREATE INDEX todos_contact ON todos(contact_id) WHERE done_at = '';
-- One to-do per insight action: pressing the button twice makes one.
CREATE UNIQUE INDEX todos_source ON todos(workspace_id, source, source_ref) WHERE source_ref <> '';

-- An insight crm-insights found in a workspace's data. dedupe_key names
-- what it is about (kind and subject); facts_hash the facts it stands on,
-- so a dismissed one comes back only when they change (dismissed_hash is
-- the hash it was dismissed at). status 'gone' is one the last run no
-- longer found.
CREATE TABLE insights (
    id             TEXT PRIMARY KEY,
    workspace_id   TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    kind           TEXT NOT NULL,
    dedupe_key     TEXT NOT NULL,
    subject        TEXT NOT NULL,
    evidence       TEXT NOT NULL DEFAULT '',
    confidence     REAL NOT NULL CHECK (confidence BETWEEN 0 AND 1),
    facts_hash     TEXT NOT NULL,
    action         TEXT NOT NULL DEFAULT '' CHECK (action IN ('', 'todo', 'campaign', 'merge', 'template')),
    action_ref     TEXT NOT NULL DEFAULT '', -- JSON: what the action needs (contacts, a query, a link)
    phrased        TEXT NOT NULL DEFAULT '', -- the model's wording, '' without one
    by_model       INTEGER NOT NULL DEFAULT 0 CHECK (by_model IN (0, 1)), -- the model proposed it (an income idea)
    rank           REAL NOT NULL DEFAULT 0,
    status         TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'dismissed', 'acted', 'gone')),
    dismissed_hash TEXT NOT NULL DEFAULT '',
    feedback       TEXT NOT NULL DEFAULT '' CHECK (feedback IN ('', 'useful', 'not_useful')),
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    UNIQUE (workspace_id, dedupe_key)
) STRICT;
CREATE INDEX insights_open ON insights(workspace_id, rank) WHERE status = 'open';

-- A user's private calendar feed: the URL's secret, kept as its SHA-256.
CREATE TABLE calendar_feeds (
    user_id    TEXT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL
) STRICT;

-- Attention items a user marked done that have no row of their own to
-- mark (a bounce, a new share, a stalled contact): by item key.
CREATE TABLE attention_done (
    user_id  TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    item     TEXT NOT NULL,
    done_at  TEXT NOT NULL,
    PRIMARY KEY (user_id, item)
) STRICT, WITHOUT ROWID;

-- The weekly summary: on unless the user turns it off; one row per user
-- and ISO week it was queued for (the outbox's dedupe key is the same).
ALTER TABLE users ADD COLUMN weekly_summary INTEGER NOT NULL DEFAULT 1 CHECK (weekly_summary IN (0, 1));
CREATE TABLE weekly_summaries (
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    week       TEXT NOT NULL, -- ISO week, 2026-W49
    outbox_id  TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (user_id, week)
) STRICT, WITHOUT ROWID;

-- How long a contact in a stage or with a tag may go without contact
-- (inactive) and without moving (stalled) before an insight says so; 0
-- takes the defaults (60 and 30 days).
ALTER TABLE lists ADD COLUMN cadence_days INTEGER NOT NULL DEFAULT 0 CHECK (cadence_days BETWEEN 0 AND 3650);
ALTER TABLE lists ADD COLUMN stall_days INTEGER NOT NULL DEFAULT 0 CHECK (stall_days BETWEEN 0 AND 3650);

-- The dashboard's queries: birthdays by date, recent contacts, bounces.
CREATE INDEX contacts_birthday ON contacts(workspace_id, birthday_month, birthday_day) WHERE birthday_month IS NOT NULL;
CREATE INDEX contacts_ws_updated ON contacts(workspace_id, updated_at);
CREATE INDEX provider_events_ws_kind ON provider_events(workspace_id, kind, occurred_at);
CREATE INDEX contact_shares_viewer_at ON contact_shares(viewer_user_id, created_at);
