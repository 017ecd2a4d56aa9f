-- Campaigns (issue 16): a template sent through the outbox to a segment of
-- one workspace's contacts, now or at a time (a blast), or a drip of steps
-- each contact enrolled walks; in a workspace that needs approval, only its
-- designated approver can approve one, and any edit after that needs
-- approval again (version against approved_version).
CREATE TABLE campaigns (
    id               TEXT PRIMARY KEY,
    workspace_id     TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    user_id          TEXT NOT NULL REFERENCES users(id),
    name             TEXT NOT NULL,
    kind             TEXT NOT NULL DEFAULT 'blast' CHECK (kind IN ('blast', 'drip')),
    template_id      TEXT NOT NULL,
    segment          TEXT NOT NULL DEFAULT '{}', -- JSON: who gets it (campaign.Segment)
    status           TEXT NOT NULL CHECK (status IN ('draft', 'pending', 'rejected', 'approved', 'scheduled', 'sent', 'running', 'paused', 'cancelled')),
    send_at          TEXT NOT NULL DEFAULT '', -- a scheduled blast's time; '' sends when launched
    version          INTEGER NOT NULL DEFAULT 1,
    approved_version INTEGER NOT NULL DEFAULT 0,
    reviewed_by      TEXT NOT NULL DEFAULT '',
    review_notes     TEXT NOT NULL DEFAULT '',
    enqueued         INTEGER NOT NULL DEFAULT 0,
    auto_enroll      INTEGER NOT NULL DEFAULT 0 CHECK (auto_enroll IN (0, 1)), -- a drip enrols who joins its segment later
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
) STRICT;
CREATE INDEX campaigns_ws ON campaigns(workspace_id, created_at);
CREATE INDEX campaigns_due ON campaigns(send_at) WHERE status = 'scheduled';
CREATE INDEX campaigns_pending ON campaigns(workspace_id) WHERE status = 'pending';
-- The outbox knows which campaign a message is of (its stats, its exclusions).
ALTER TABLE outbox ADD COLUMN campaign_id TEXT NOT NULL DEFAULT '';
-- Not partial: a query's campaign_id = ? cannot prove the <> '' a partial
-- index would need, and would scan the outbox once for every contact.
CREATE INDEX outbox_campaign ON outbox(campaign_id, contact_id);
CREATE INDEX outbox_contact_bulk ON outbox(contact_id, created_at) WHERE bulk = 1;

-- A drip's steps: each a template, sent a delay after the step before (the
-- first: after enrolment).
CREATE TABLE campaign_steps (
    campaign_id   TEXT NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
    position      INTEGER NOT NULL CHECK (position >= 1),
    delay_minutes INTEGER NOT NULL CHECK (delay_minutes >= 0),
    template_id   TEXT NOT NULL,
    PRIMARY KEY (campaign_id, position)
) STRICT, WITHOUT ROWID;

-- Who walks a drip, where they stand, and why they left it.
CREATE TABLE enrollments (
    campaign_id  TEXT NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
    contact_id   TEXT NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    next_step    INTEGER NOT NULL,
    next_at      TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('active', 'done', 'exited')),
    exit_reason  TEXT NOT NULL DEFAULT '',
    enrolled_at  TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    PRIMARY KEY (campaign_id, contact_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX enrollments_due ON enrollments(next_at) WHERE status = 'active';
