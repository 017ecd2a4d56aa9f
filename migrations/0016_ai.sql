-- A real-estate business line gets the AI wizard's real-estate starters.
ALTER TABLE workspace_settings ADD COLUMN real_estate INTEGER NOT NULL DEFAULT 0;

-- What a user asked the model for (an email template draft, or a revision
-- of one): the brief as JSON (pkg/ai.Brief), where it stands, and the
-- sanitized answer. The job (pkg/jobs, kind ai.draft) that runs it refers
-- to the row by id; crm-insights runs it.
CREATE TABLE ai_requests (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    contact_id   TEXT NOT NULL DEFAULT '',
    parent_id    TEXT NOT NULL DEFAULT '', -- the request a revision revises
    brief        TEXT NOT NULL,
    status       TEXT NOT NULL DEFAULT 'queued', -- queued, running, retrying, done, failed
    detail       TEXT NOT NULL DEFAULT '',       -- why it waits, or why it failed
    result       TEXT NOT NULL DEFAULT '',       -- JSON pkg/ai.Draft, body sanitized
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
) STRICT;
CREATE INDEX ai_requests_owner ON ai_requests(workspace_id, user_id, created_at);

-- Every call to a model: what was sent, to which model, what it cost and
-- how it ended. Shown under a contact's AI Interactions when it is tied to
-- one. Never a key.
CREATE TABLE ai_calls (
    id                TEXT PRIMARY KEY,
    request_id        TEXT NOT NULL,
    user_id           TEXT NOT NULL,
    workspace_id      TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    contact_id        TEXT NOT NULL DEFAULT '',
    model             TEXT NOT NULL,
    endpoint          TEXT NOT NULL,
    prompt            TEXT NOT NULL,
    response          TEXT NOT NULL DEFAULT '',
    prompt_tokens     INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    duration_ms       INTEGER NOT NULL,
    outcome           TEXT NOT NULL, -- "ok", or the error in words
    http_status       INTEGER NOT NULL DEFAULT 0,
    created_at        TEXT NOT NULL
) STRICT;
CREATE INDEX ai_calls_request ON ai_calls(request_id);

-- The model crm-insights is configured with, written when it starts (no
-- row: no model). crm-web, which never holds the key, reads it to say
-- whether the AI buttons work.
CREATE TABLE ai_model (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    model      TEXT NOT NULL,
    endpoint   TEXT NOT NULL,
    updated_at TEXT NOT NULL
) STRICT;
