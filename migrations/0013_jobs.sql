-- One queue for background work (pkg/jobs): imports and snapshot runs now,
-- the outbox, drips and AI jobs next. A row is claimed with a lease that
-- its runner renews; a lease that runs out makes the row claimable again,
-- and every progress write of a kind is fenced on (id, runner, state).
CREATE TABLE jobs (
    id           TEXT PRIMARY KEY,
    kind         TEXT NOT NULL,
    ref          TEXT NOT NULL,             -- the kind's own row (import_jobs.id, backup_runs.id)
    state        TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done', 'failed')),
    due_at       TEXT NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    runner       TEXT NOT NULL DEFAULT '',  -- host:pid:random of the claim
    lease_until  TEXT NOT NULL DEFAULT '',
    error        TEXT NOT NULL DEFAULT '',
    created_at   TEXT NOT NULL,
    finished_at  TEXT
) STRICT;
CREATE UNIQUE INDEX jobs_kind_ref ON jobs(kind, ref);
CREATE INDEX jobs_due ON jobs(kind, due_at) WHERE state = 'queued';
CREATE INDEX jobs_lease ON jobs(kind, lease_until) WHERE state = 'running';

-- Imports waiting or interrupted when this runs go on under the new queue.
INSERT INTO jobs (id, kind, ref, state, due_at, created_at)
    SELECT lower(hex(randomblob(16))), 'import', id, 'queued', created_at, created_at
    FROM import_jobs WHERE status IN ('queued', 'running');
UPDATE import_jobs SET status = 'queued' WHERE status = 'running';
ALTER TABLE import_jobs DROP COLUMN runner;
ALTER TABLE import_jobs DROP COLUMN heartbeat_at;
