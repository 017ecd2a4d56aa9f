-- Snapshot runs (nightly timer, "Backup now", crmctl) with their progress,
-- and the alert ledger crm-health keeps so each problem mails at most once a day.
CREATE TABLE backup_runs (
    id           TEXT PRIMARY KEY,
    requested_by TEXT REFERENCES users(id) ON DELETE SET NULL,
    trigger      TEXT NOT NULL CHECK (trigger IN ('timer', 'manual', 'cli')),
    status       TEXT NOT NULL CHECK (status IN ('queued', 'running', 'ok', 'failed')),
    step         TEXT NOT NULL DEFAULT '',
    percent      INTEGER NOT NULL DEFAULT 0 CHECK (percent BETWEEN 0 AND 100),
    file         TEXT NOT NULL DEFAULT '',
    size         INTEGER NOT NULL DEFAULT 0,
    detail       TEXT NOT NULL DEFAULT '',
    created_at   TEXT NOT NULL,
    started_at   TEXT,
    finished_at  TEXT
);
CREATE INDEX backup_runs_created ON backup_runs(created_at);
CREATE INDEX backup_runs_ok ON backup_runs(finished_at) WHERE status = 'ok';

CREATE TABLE health_alerts (
    problem       TEXT PRIMARY KEY,
    first_seen_at TEXT NOT NULL,
    last_sent_at  TEXT
);
