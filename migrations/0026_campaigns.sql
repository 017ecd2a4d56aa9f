-- Campaigns (issue 16): a template sent through the outbox to a segment of
-- one workspace's contacts, now or at a time; in a workspace that needs
-- approval, only its designated approver can approve one, and any edit
-- after that needs approval again (version against approved_version).
CREATE TABLE campaigns (
    id               TEXT PRIMARY KEY,
    workspace_id     TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    user_id          TEXT NOT NULL REFERENCES users(id),
    name             TEXT NOT NULL,
    template_id      TEXT NOT NULL,
    segment          TEXT NOT NULL DEFAULT '{}', -- JSON: who gets it (campaign.Segment)
    status           TEXT NOT NULL CHECK (status IN ('draft', 'pending', 'rejected', 'approved', 'scheduled', 'sent', 'cancelled')),
    send_at          TEXT NOT NULL DEFAULT '', -- a scheduled blast's time; '' sends when launched
    version          INTEGER NOT NULL DEFAULT 1,
    approved_version INTEGER NOT NULL DEFAULT 0,
    reviewed_by      TEXT NOT NULL DEFAULT '',
    review_notes     TEXT NOT NULL DEFAULT '',
    enqueued         INTEGER NOT NULL DEFAULT 0,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
) STRICT;
CREATE INDEX campaigns_ws ON campaigns(workspace_id, created_at);
CREATE INDEX campaigns_due ON campaigns(send_at) WHERE status = 'scheduled';
CREATE INDEX campaigns_pending ON campaigns(workspace_id) WHERE status = 'pending';
-- The outbox knows which campaign a message is of (its stats, its exclusions).
ALTER TABLE outbox ADD COLUMN campaign_id TEXT NOT NULL DEFAULT '';
CREATE INDEX outbox_campaign ON outbox(campaign_id, state) WHERE campaign_id <> '';
CREATE INDEX outbox_contact_bulk ON outbox(contact_id, created_at) WHERE bulk = 1;
