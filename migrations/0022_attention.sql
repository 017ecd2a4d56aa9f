-- The attention list (issue 15): a text from a number no contact has is
-- marked done once someone has dealt with it, as an inbound email is.
ALTER TABLE inbound_texts ADD COLUMN done_at TEXT NOT NULL DEFAULT '';
