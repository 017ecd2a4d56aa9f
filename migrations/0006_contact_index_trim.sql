-- 0006: fewer b-trees per contact. Every index is one more b-tree insert
-- for each contact, email and phone written, which a 100,000-row import
-- pays 100,000 times.

-- contacts_ws_last_contact is unused: lists sort and filter on
-- contacts_ws_last_contact_id's coalesce(last_contact_at, '').
DROP INDEX contacts_ws_last_contact;

-- spouse_id and referred_by_id are NULL for almost every contact. The
-- indexes serve the ON DELETE SET NULL look-ups (spouse_id = ?), which a
-- partial index on the non-NULL rows answers as well.
DROP INDEX contacts_spouse;
DROP INDEX contacts_referred_by;
CREATE INDEX contacts_spouse ON contacts(spouse_id) WHERE spouse_id IS NOT NULL;
CREATE INDEX contacts_referred_by ON contacts(referred_by_id) WHERE referred_by_id IS NOT NULL;

-- Emails and phones are only ever read through their contact (or through
-- the duplicate indexes), never by id alone: clustered by (contact_id, id)
-- without a rowid, one b-tree holds what took three (the table, its id
-- index and the contact_id index). ids are time-ordered, so id order is
-- the order they were added in, as rowid order was.
CREATE TABLE contact_emails_new (
	contact_id   TEXT NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
	id           TEXT NOT NULL,
	workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
	address      TEXT NOT NULL,
	address_norm TEXT NOT NULL,
	label        TEXT NOT NULL DEFAULT '',
	is_primary   INTEGER NOT NULL DEFAULT 0 CHECK (is_primary IN (0, 1)),
	PRIMARY KEY (contact_id, id)
) STRICT, WITHOUT ROWID;
INSERT INTO contact_emails_new (contact_id, id, workspace_id, address, address_norm, label, is_primary)
	SELECT contact_id, id, workspace_id, address, address_norm, label, is_primary FROM contact_emails;
DROP TABLE contact_emails;
ALTER TABLE contact_emails_new RENAME TO contact_emails;
CREATE INDEX contact_emails_norm ON contact_emails(workspace_id, address_norm);
CREATE UNIQUE INDEX contact_emails_primary ON contact_emails(contact_id) WHERE is_primary = 1;

CREATE TABLE contact_phones_new (
	contact_id   TEXT NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
	id           TEXT NOT NULL,
	workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
	e164         TEXT NOT NULL,
	label        TEXT NOT NULL DEFAULT '',
	is_primary   INTEGER NOT NULL DEFAULT 0 CHECK (is_primary IN (0, 1)),
	PRIMARY KEY (contact_id, id)
) STRICT, WITHOUT ROWID;
INSERT INTO contact_phones_new (contact_id, id, workspace_id, e164, label, is_primary)
	SELECT contact_id, id, workspace_id, e164, label, is_primary FROM contact_phones;
DROP TABLE contact_phones;
ALTER TABLE contact_phones_new RENAME TO contact_phones;
CREATE INDEX contact_phones_norm ON contact_phones(workspace_id, e164);
CREATE UNIQUE INDEX contact_phones_primary ON contact_phones(contact_id) WHERE is_primary = 1;
