-- Campaigns, continued (issue 16): a drip step is an email (a template) or
-- a text (its body, with placeholders), and may keep to a send window in
-- the workspace's time (from, to, weekdays only); a campaign may go to a
-- saved segment, read again each time it sends; a drip may suggest itself
-- on the page of a contact who joins its segment (ask_enroll) rather than
-- enrol them by itself (auto_enroll).
ALTER TABLE campaign_steps ADD COLUMN sms_text TEXT NOT NULL DEFAULT '';
ALTER TABLE campaign_steps ADD COLUMN window_start TEXT NOT NULL DEFAULT ''; -- HH:MM, '' for any time
ALTER TABLE campaign_steps ADD COLUMN window_end TEXT NOT NULL DEFAULT '';
ALTER TABLE campaign_steps ADD COLUMN weekdays INTEGER NOT NULL DEFAULT 0 CHECK (weekdays IN (0, 1));
ALTER TABLE campaigns ADD COLUMN segment_id TEXT NOT NULL DEFAULT '';
ALTER TABLE campaigns ADD COLUMN ask_enroll INTEGER NOT NULL DEFAULT 0 CHECK (ask_enroll IN (0, 1));

-- A workspace's saved segments: a named Segment (JSON), evaluated when a
-- campaign that names it sends.
CREATE TABLE segments (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    user_id      TEXT NOT NULL REFERENCES users(id),
    name         TEXT NOT NULL,
    definition   TEXT NOT NULL DEFAULT '{}',
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    UNIQUE (workspace_id, name)
) STRICT;
