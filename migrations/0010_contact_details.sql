-- Contact details every address book exports and a CRM user expects on a
-- contact: middle name, nickname, job title, website and a postal address
-- (one free-text block, as people write it).
ALTER TABLE contacts ADD COLUMN middle_name TEXT NOT NULL DEFAULT '';
ALTER TABLE contacts ADD COLUMN nickname TEXT NOT NULL DEFAULT '';
ALTER TABLE contacts ADD COLUMN job_title TEXT NOT NULL DEFAULT '';
ALTER TABLE contacts ADD COLUMN website TEXT NOT NULL DEFAULT '';
ALTER TABLE contacts ADD COLUMN address TEXT NOT NULL DEFAULT '';
