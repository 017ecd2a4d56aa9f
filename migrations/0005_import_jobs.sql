-- Import jobs: an uploaded file, its mapping and options, and its progress.
-- next_row is the resume point: it moves in the same transaction as each
-- batch of contacts, so a crash leaves whole batches and an exact count.
CREATE TABLE import_jobs (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    file_name    TEXT NOT NULL,
    file_path    TEXT NOT NULL,
    format       TEXT NOT NULL CHECK (format IN ('csv', 'vcard')),
    encoding     TEXT NOT NULL DEFAULT '',
    delimiter    TEXT NOT NULL DEFAULT '',
    header       TEXT NOT NULL DEFAULT '[]',
    mapping      TEXT NOT NULL DEFAULT '[]',
    options      TEXT NOT NULL DEFAULT '{}',
    status       TEXT NOT NULL CHECK (status IN ('draft', 'queued', 'running', 'done', 'failed')),
    total_rows   INTEGER NOT NULL DEFAULT 0,
    next_row     INTEGER NOT NULL DEFAULT 0,
    created      INTEGER NOT NULL DEFAULT 0,
    merged       INTEGER NOT NULL DEFAULT 0,
    skipped      INTEGER NOT NULL DEFAULT 0,
    failed       INTEGER NOT NULL DEFAULT 0,
    detail       TEXT NOT NULL DEFAULT '',
    heartbeat_at TEXT,
    runner       TEXT NOT NULL DEFAULT '',  -- host:pid of the process running it
    created_at   TEXT NOT NULL,
    finished_at  TEXT
) STRICT;
CREATE INDEX import_jobs_user ON import_jobs(user_id, created_at);
CREATE INDEX import_jobs_status ON import_jobs(status) WHERE status IN ('queued', 'running');

CREATE TABLE import_errors (
    job_id      TEXT NOT NULL REFERENCES import_jobs(id) ON DELETE CASCADE,
    row         INTEGER NOT NULL,
    column_name TEXT NOT NULL,
    reason      TEXT NOT NULL
) STRICT;
CREATE INDEX import_errors_job ON import_errors(job_id, row);
