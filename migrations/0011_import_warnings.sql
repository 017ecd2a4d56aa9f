-- An import keeps a row whose bad values it leaves out: the report lists
-- those values as warnings beside the refused rows' errors, with the value
-- as typed, the row's line in the file (the header is line 1) and the row
-- as the file has it (JSON: a CSV row's cells or a card's text).
ALTER TABLE import_errors ADD COLUMN severity TEXT NOT NULL DEFAULT 'error' CHECK (severity IN ('error', 'warning'));
ALTER TABLE import_errors ADD COLUMN value TEXT NOT NULL DEFAULT '';
ALTER TABLE import_errors ADD COLUMN line INTEGER NOT NULL DEFAULT 0;
ALTER TABLE import_errors ADD COLUMN data TEXT NOT NULL DEFAULT '';
ALTER TABLE import_jobs ADD COLUMN warned INTEGER NOT NULL DEFAULT 0;
