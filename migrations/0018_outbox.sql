-- Sending (issue 15). Each workspace sends through one provider; its
-- settings are plain JSON (host, port, user name, domain, region), its
-- secret (API key, password, OAuth token) is sealed by pkg/secrets and never
-- read back into a page.
CREATE TABLE email_providers (
    workspace_id TEXT PRIMARY KEY REFERENCES workspaces(id) ON DELETE CASCADE,
    kind         TEXT NOT NULL CHECK (kind IN ('file', 'smtp', 'mailgun', 'google', 'microsoft')),
    from_name    TEXT NOT NULL DEFAULT '',
    from_email   TEXT NOT NULL DEFAULT '',
    settings     TEXT NOT NULL DEFAULT '{}',
    secret       TEXT NOT NULL DEFAULT '',
    per_minute   INTEGER NOT NULL DEFAULT 0 CHECK (per_minute >= 0),
    daily_cap    INTEGER NOT NULL DEFAULT 0 CHECK (daily_cap >= 0),
    problem      TEXT NOT NULL DEFAULT '', -- a revoked token, refused credentials: shown on the workspace
    updated_at   TEXT NOT NULL
) STRICT;

-- The outbox: one row per message, whoever made it. dedupe_key is what must
-- never repeat ('oneoff:<request id>', 'campaign:<id>:<step>:<contact>'),
-- message_id our own Message-ID, kept across attempts, which is how a send
-- is found at the provider after a crash.
--
-- queued -> claimed (attempt_id, lease_until; committed before the provider
-- is called) -> sent | retrying (due_at later) | failed | unknown.
-- A claim whose lease ran out is unknown: its sender died between the claim
-- and the answer. An unknown row is reconciled with the provider before it
-- is sent again; what the provider cannot confirm either way waits for the
-- user to resend or drop it.
CREATE TABLE outbox (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    contact_id   TEXT REFERENCES contacts(id) ON DELETE SET NULL,
    channel      TEXT NOT NULL CHECK (channel IN ('email', 'sms')),
    dedupe_key   TEXT NOT NULL UNIQUE,
    message_id   TEXT NOT NULL UNIQUE,
    provider     TEXT NOT NULL,
    to_addr      TEXT NOT NULL,
    from_addr    TEXT NOT NULL,
    from_name    TEXT NOT NULL DEFAULT '',
    template_id  TEXT REFERENCES email_templates(id) ON DELETE SET NULL,
    activity_id  TEXT REFERENCES activities(id) ON DELETE SET NULL, -- the contact's log entry, which shows the state
    subject      TEXT NOT NULL DEFAULT '',
    html         TEXT NOT NULL DEFAULT '',
    text         TEXT NOT NULL DEFAULT '',
    state        TEXT NOT NULL CHECK (state IN ('queued', 'claimed', 'sent', 'retrying', 'failed', 'unknown', 'dropped')),
    attempt_id   TEXT NOT NULL DEFAULT '',
    lease_until  TEXT NOT NULL DEFAULT '',
    attempts     INTEGER NOT NULL DEFAULT 0,
    due_at       TEXT NOT NULL,
    claimed_at   TEXT NOT NULL DEFAULT '',
    provider_ref TEXT NOT NULL DEFAULT '',
    error        TEXT NOT NULL DEFAULT '',
    created_at   TEXT NOT NULL,
    sent_at      TEXT NOT NULL DEFAULT '',
    updated_at   TEXT NOT NULL
) STRICT;
CREATE INDEX outbox_due ON outbox(due_at) WHERE state IN ('queued', 'retrying');
CREATE INDEX outbox_claimed ON outbox(lease_until) WHERE state = 'claimed';
CREATE INDEX outbox_unknown ON outbox(workspace_id, claimed_at) WHERE state = 'unknown';
CREATE INDEX outbox_ws ON outbox(workspace_id, created_at);
CREATE INDEX outbox_sent_day ON outbox(workspace_id, sent_at) WHERE state = 'sent';
