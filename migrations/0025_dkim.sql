-- DKIM for SMTP accounts (issue 15): the signing key, sealed like every
-- secret (the selector is a plain setting).
ALTER TABLE email_providers ADD COLUMN dkim_key TEXT NOT NULL DEFAULT '';
