-- 0001: the foundation: users, sessions, log-in throttling, workspaces and
-- their settings, the audit trail, API keys and daemon heartbeats.
-- Times are UTC RFC 3339 text with a fixed six-digit fraction, so that text
-- order is time order.

CREATE TABLE users (
	id            TEXT PRIMARY KEY,
	email         TEXT NOT NULL COLLATE NOCASE UNIQUE,
	name          TEXT NOT NULL,
	time_zone     TEXT NOT NULL DEFAULT 'UTC',
	password_hash TEXT NOT NULL,
	created_at    TEXT NOT NULL,
	updated_at    TEXT NOT NULL
) STRICT;

-- A session is stored by the SHA-256 of its token, so a copy of the
-- database does not hand out live cookies.
CREATE TABLE sessions (
	token_hash   TEXT PRIMARY KEY,
	user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	created_at   TEXT NOT NULL,
	last_seen_at TEXT NOT NULL,
	expires_at   TEXT NOT NULL,
	ip           TEXT NOT NULL DEFAULT '',
	user_agent   TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX sessions_user ON sessions(user_id);
CREATE INDEX sessions_expires ON sessions(expires_at);

-- Failed log-ins by key ('ip:ADDR' or 'user:EMAIL'); cleared on success.
CREATE TABLE login_failures (
	key             TEXT PRIMARY KEY,
	failures        INTEGER NOT NULL,
	last_failure_at TEXT NOT NULL
) STRICT;

CREATE TABLE workspaces (
	id         TEXT PRIMARY KEY,
	owner_id   TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	name       TEXT NOT NULL,
	created_at TEXT NOT NULL,
	updated_at TEXT NOT NULL
) STRICT;
CREATE UNIQUE INDEX workspaces_owner_name ON workspaces(owner_id, name COLLATE NOCASE);

CREATE TABLE workspace_settings (
	workspace_id            TEXT PRIMARY KEY REFERENCES workspaces(id) ON DELETE CASCADE,
	time_zone               TEXT NOT NULL DEFAULT 'UTC',
	campaigns_need_approval INTEGER NOT NULL DEFAULT 0 CHECK (campaigns_need_approval IN (0, 1)),
	approver_user_id        TEXT REFERENCES users(id) ON DELETE SET NULL,
	email_provider          TEXT NOT NULL DEFAULT 'file',
	updated_at              TEXT NOT NULL
) STRICT;

-- The audit trail outlives what it describes: no foreign keys except the
-- user, which is kept as NULL when the user is deleted.
CREATE TABLE audit_log (
	id          TEXT PRIMARY KEY,
	user_id     TEXT REFERENCES users(id) ON DELETE SET NULL,
	action      TEXT NOT NULL,
	entity_type TEXT NOT NULL,
	entity_id   TEXT NOT NULL,
	details     TEXT NOT NULL DEFAULT '{}',
	ip          TEXT NOT NULL DEFAULT '',
	created_at  TEXT NOT NULL
) STRICT;
CREATE INDEX audit_user ON audit_log(user_id, id);

-- An API key is stored by its SHA-256; only its short prefix is kept in clear
-- so the user can tell keys apart.
CREATE TABLE api_keys (
	id           TEXT PRIMARY KEY,
	user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	name         TEXT NOT NULL,
	prefix       TEXT NOT NULL,
	key_hash     TEXT NOT NULL UNIQUE,
	scopes       TEXT NOT NULL,
	created_at   TEXT NOT NULL,
	expires_at   TEXT,
	last_used_at TEXT,
	revoked_at   TEXT
) STRICT;
CREATE INDEX api_keys_user ON api_keys(user_id);

-- One row per daemon, rewritten by its main loop.
CREATE TABLE heartbeats (
	name       TEXT PRIMARY KEY,
	pid        INTEGER NOT NULL,
	version    TEXT NOT NULL,
	started_at TEXT NOT NULL,
	beat_at    TEXT NOT NULL
) STRICT;
