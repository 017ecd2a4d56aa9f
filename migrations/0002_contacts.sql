-- 0002: the CRM core: lists (pipeline stages and tags), contacts with their
-- emails and phones, the communication log, custom fields, sharing and the
-- full-text index. Every row of user data carries workspace_id.

CREATE TABLE lists (
	id           TEXT PRIMARY KEY,
	workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
	kind         TEXT NOT NULL CHECK (kind IN ('stage', 'tag')),
	name         TEXT NOT NULL,
	position     INTEGER NOT NULL DEFAULT 0,
	created_at   TEXT NOT NULL
) STRICT;
CREATE UNIQUE INDEX lists_name ON lists(workspace_id, kind, name COLLATE NOCASE);

CREATE TABLE contacts (
	id               TEXT PRIMARY KEY,
	workspace_id     TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
	first_name       TEXT NOT NULL DEFAULT '',
	last_name        TEXT NOT NULL DEFAULT '',
	company          TEXT NOT NULL DEFAULT '',
	stage_id         TEXT REFERENCES lists(id) ON DELETE SET NULL,
	stage_changed_at TEXT,
	birthday_month   INTEGER CHECK (birthday_month BETWEEN 1 AND 12),
	birthday_day     INTEGER CHECK (birthday_day BETWEEN 1 AND 31),
	birthday_year    INTEGER,
	marital_status   TEXT NOT NULL DEFAULT '',
	spouse_id        TEXT REFERENCES contacts(id) ON DELETE SET NULL,
	children         TEXT NOT NULL DEFAULT '',
	pets             TEXT NOT NULL DEFAULT '',
	referred_by      TEXT NOT NULL DEFAULT '',
	referred_by_id   TEXT REFERENCES contacts(id) ON DELETE SET NULL,
	file_notes       TEXT NOT NULL DEFAULT '',
	do_not_contact   INTEGER NOT NULL DEFAULT 0 CHECK (do_not_contact IN (0, 1)),
	copied_from      TEXT NOT NULL DEFAULT '',
	created_at       TEXT NOT NULL,
	updated_at       TEXT NOT NULL,
	last_contact_at  TEXT
) STRICT;
CREATE INDEX contacts_ws ON contacts(workspace_id, id);
CREATE INDEX contacts_ws_stage ON contacts(workspace_id, stage_id, id);
CREATE INDEX contacts_ws_last_contact ON contacts(workspace_id, last_contact_at);
CREATE INDEX contacts_spouse ON contacts(spouse_id);
CREATE INDEX contacts_referred_by ON contacts(referred_by_id);

-- Duplicates are found through the *_norm columns. They are indexed but not
-- unique: "keep separate" is a real choice (two people may share a phone).
CREATE TABLE contact_emails (
	id           TEXT PRIMARY KEY,
	contact_id   TEXT NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
	workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
	address      TEXT NOT NULL,
	address_norm TEXT NOT NULL,
	label        TEXT NOT NULL DEFAULT '',
	is_primary   INTEGER NOT NULL DEFAULT 0 CHECK (is_primary IN (0, 1))
) STRICT;
CREATE INDEX contact_emails_contact ON contact_emails(contact_id);
CREATE INDEX contact_emails_norm ON contact_emails(workspace_id, address_norm);
CREATE UNIQUE INDEX contact_emails_primary ON contact_emails(contact_id) WHERE is_primary = 1;

CREATE TABLE contact_phones (
	id           TEXT PRIMARY KEY,
	contact_id   TEXT NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
	workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
	e164         TEXT NOT NULL,
	label        TEXT NOT NULL DEFAULT '',
	is_primary   INTEGER NOT NULL DEFAULT 0 CHECK (is_primary IN (0, 1))
) STRICT;
CREATE INDEX contact_phones_contact ON contact_phones(contact_id);
CREATE INDEX contact_phones_norm ON contact_phones(workspace_id, e164);
CREATE UNIQUE INDEX contact_phones_primary ON contact_phones(contact_id) WHERE is_primary = 1;

CREATE TABLE contact_tags (
	contact_id TEXT NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
	list_id    TEXT NOT NULL REFERENCES lists(id) ON DELETE CASCADE,
	PRIMARY KEY (contact_id, list_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX contact_tags_list ON contact_tags(list_id, contact_id);

-- The communication log. body is typed JSON per kind (see pkg/activity).
CREATE TABLE activities (
	id            TEXT PRIMARY KEY,
	workspace_id  TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
	contact_id    TEXT NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
	kind          TEXT NOT NULL,
	occurred_at   TEXT NOT NULL,
	summary       TEXT NOT NULL,
	body          TEXT NOT NULL DEFAULT '{}',
	actor_user_id TEXT REFERENCES users(id) ON DELETE SET NULL
) STRICT;
CREATE INDEX activities_contact ON activities(contact_id, occurred_at, id);
CREATE INDEX activities_contact_kind ON activities(contact_id, kind, occurred_at, id);

-- Custom fields belong to a user (workspace_id NULL: in all their
-- workspaces) or to one workspace.
CREATE TABLE custom_fields (
	id            TEXT PRIMARY KEY,
	owner_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	workspace_id  TEXT REFERENCES workspaces(id) ON DELETE CASCADE,
	name          TEXT NOT NULL,
	type          TEXT NOT NULL CHECK (type IN ('text', 'long_text', 'number', 'date', 'dropdown', 'checkbox', 'url')),
	options       TEXT NOT NULL DEFAULT '[]',
	required      INTEGER NOT NULL DEFAULT 0 CHECK (required IN (0, 1)),
	default_value TEXT NOT NULL DEFAULT '',
	position      INTEGER NOT NULL DEFAULT 0,
	created_at    TEXT NOT NULL
) STRICT;
CREATE INDEX custom_fields_owner ON custom_fields(owner_id, workspace_id);

CREATE TABLE custom_values (
	contact_id TEXT NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
	field_id   TEXT NOT NULL REFERENCES custom_fields(id) ON DELETE CASCADE,
	value      TEXT NOT NULL,
	PRIMARY KEY (contact_id, field_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX custom_values_field ON custom_values(field_id, value);

CREATE TABLE contact_shares (
	contact_id     TEXT NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
	viewer_user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	created_at     TEXT NOT NULL,
	PRIMARY KEY (contact_id, viewer_user_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX contact_shares_viewer ON contact_shares(viewer_user_id);

-- Full-text search over names, emails, phones, company and notes; rowid is
-- the contact's rowid. Kept by pkg/contact in the same transaction as every
-- change to what it indexes.
CREATE VIRTUAL TABLE contacts_fts USING fts5(
	body,
	tokenize = 'unicode61 remove_diacritics 2',
	prefix = '2 3'
);

-- Phones typed without a country code are read in this region (ISO 3166).
ALTER TABLE workspace_settings ADD COLUMN phone_region TEXT NOT NULL DEFAULT 'US';
