-- What providers tell us about what we sent (issue 15): each event once,
-- whether it came by polling or by a webhook (UNIQUE on the provider's own
-- event id), and the flags a hard bounce, a complaint, an unsubscribe or a
-- STOP put on a contact for its workspace.
CREATE TABLE provider_events (
    provider     TEXT NOT NULL,
    event_id     TEXT NOT NULL,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    kind         TEXT NOT NULL, -- delivered, bounced, deferred, complained, unsubscribed, ...
    message_id   TEXT NOT NULL DEFAULT '',
    outbox_id    TEXT NOT NULL DEFAULT '',
    recipient    TEXT NOT NULL DEFAULT '',
    occurred_at  TEXT NOT NULL,
    via          TEXT NOT NULL CHECK (via IN ('poll', 'webhook')),
    detail       TEXT NOT NULL DEFAULT '',
    recorded_at  TEXT NOT NULL,
    PRIMARY KEY (provider, event_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX provider_events_outbox ON provider_events(outbox_id) WHERE outbox_id <> '';

CREATE TABLE contact_flags (
    contact_id   TEXT NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
    flag         TEXT NOT NULL CHECK (flag IN ('email_unsubscribed', 'email_bounced', 'email_complained', 'sms_opt_out')),
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    reason       TEXT NOT NULL DEFAULT '',
    created_at   TEXT NOT NULL,
    PRIMARY KEY (contact_id, flag)
) STRICT, WITHOUT ROWID;
CREATE INDEX contact_flags_ws ON contact_flags(workspace_id, flag);

-- Where each poller stands (a provider's events, a mailbox's history).
CREATE TABLE poll_cursors (
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    source       TEXT NOT NULL,
    cursor       TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    PRIMARY KEY (workspace_id, source)
) STRICT, WITHOUT ROWID;

-- Webhook tokens seen, so a replayed request is refused.
CREATE TABLE webhook_tokens (
    token   TEXT PRIMARY KEY,
    seen_at TEXT NOT NULL
) STRICT, WITHOUT ROWID;

ALTER TABLE outbox ADD COLUMN delivery TEXT NOT NULL DEFAULT ''; -- the provider's last word after sent: delivered, bounced, ...
-- Mailgun's webhook signing key (sealed like the secret), for an owner who
-- exposes the Pi and points Mailgun's webhooks at it.
ALTER TABLE email_providers ADD COLUMN webhook_secret TEXT NOT NULL DEFAULT '';
