-- foreign keys off
--
-- The outbox's state check, written as comparisons (issue 15's
-- sender_cpu_s_per_1000). SQLite codes an IN list of more than two
-- constants in a CHECK as a temporary table that it opens, fills and
-- closes again on every statement that writes the column: each message's
-- insert, claim and outcome paid for one, about a seventh of crm-sender's
-- CPU. The constraint is the same; the form is what SQLite evaluates
-- inline.
--
-- SQLite has no ALTER for a constraint, so the table is rebuilt, in the
-- order its documentation gives. The first line above turns foreign keys
-- off for this script (store.Migrate reads it): dropping the old table
-- must not cascade to outbox_bodies, whose REFERENCES outbox then name the
-- new one. Columns keep their order, indexes their definitions.
CREATE TABLE outbox_new (
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
    state        TEXT NOT NULL CHECK (state = 'queued' OR state = 'claimed' OR state = 'sent' OR state = 'retrying'
                                      OR state = 'failed' OR state = 'unknown' OR state = 'dropped'),
    attempt_id   TEXT NOT NULL DEFAULT '',
    lease_until  TEXT NOT NULL DEFAULT '',
    attempts     INTEGER NOT NULL DEFAULT 0,
    due_at       TEXT NOT NULL,
    claimed_at   TEXT NOT NULL DEFAULT '',
    provider_ref TEXT NOT NULL DEFAULT '',
    error        TEXT NOT NULL DEFAULT '',
    created_at   TEXT NOT NULL,
    sent_at      TEXT NOT NULL DEFAULT '',
    updated_at   TEXT NOT NULL,
    delivery     TEXT NOT NULL DEFAULT '',
    bulk         INTEGER NOT NULL DEFAULT 0 CHECK (bulk IN (0, 1)),
    campaign_id  TEXT NOT NULL DEFAULT ''
) STRICT;
INSERT INTO outbox_new (id, workspace_id, user_id, contact_id, channel, dedupe_key, message_id, provider, to_addr, from_addr, from_name,
        template_id, activity_id, subject, state, attempt_id, lease_until, attempts, due_at, claimed_at, provider_ref, error, created_at,
        sent_at, updated_at, delivery, bulk, campaign_id)
    SELECT id, workspace_id, user_id, contact_id, channel, dedupe_key, message_id, provider, to_addr, from_addr, from_name,
        template_id, activity_id, subject, state, attempt_id, lease_until, attempts, due_at, claimed_at, provider_ref, error, created_at,
        sent_at, updated_at, delivery, bulk, campaign_id FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_new RENAME TO outbox;
CREATE INDEX outbox_claimed ON outbox(lease_until) WHERE state = 'claimed';
CREATE INDEX outbox_unknown ON outbox(workspace_id, claimed_at) WHERE state = 'unknown';
CREATE INDEX outbox_ws ON outbox(workspace_id, created_at);
CREATE INDEX outbox_sent_day ON outbox(workspace_id, sent_at) WHERE state = 'sent';
CREATE INDEX outbox_campaign ON outbox(campaign_id, contact_id);
CREATE INDEX outbox_due ON outbox(due_at, id) WHERE state IN ('queued', 'retrying');
CREATE INDEX outbox_contact ON outbox(contact_id, created_at, bulk);
CREATE INDEX outbox_activity ON outbox(activity_id);
