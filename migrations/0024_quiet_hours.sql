-- Quiet hours (issue 15): bulk mail and texts wait while it is night where
-- the recipient is. Both empty: none.
ALTER TABLE workspace_settings ADD COLUMN quiet_start TEXT NOT NULL DEFAULT '21:00';
ALTER TABLE workspace_settings ADD COLUMN quiet_end TEXT NOT NULL DEFAULT '08:00';
