-- A counter per workspace that moves whenever emails or phones are added
-- to it, so a running import reloads its in-memory duplicate keys only when
-- someone else added keys, not after every note another user saves
-- (PRAGMA data_version moves for any commit). Bumped by the contact
-- capability, once per transaction that adds emails or phones.
CREATE TABLE key_versions (
	workspace_id TEXT PRIMARY KEY REFERENCES workspaces(id) ON DELETE CASCADE,
	version      INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
