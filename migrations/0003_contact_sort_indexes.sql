-- 0003: indexes for the contact list's sortable columns, so a page sorted by
-- name, company or last contact reads 50 rows instead of sorting the whole
-- workspace. The expressions match pkg/contact's ORDER BY exactly.
CREATE INDEX contacts_ws_first ON contacts(workspace_id, first_name COLLATE NOCASE, id);
CREATE INDEX contacts_ws_last ON contacts(workspace_id, last_name COLLATE NOCASE, id);
CREATE INDEX contacts_ws_company ON contacts(workspace_id, company COLLATE NOCASE, id);
CREATE INDEX contacts_ws_last_contact_id ON contacts(workspace_id, coalesce(last_contact_at, ''), id);
