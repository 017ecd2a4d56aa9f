-- Log-in hardening (issue 11).
--
-- app_keys holds random keys made on first use; "login" keys the hash of a
-- log-in's unknown email, so neither the throttle nor the audit trail ever
-- stores the text typed into the email box (it may be a password).
CREATE TABLE app_keys (
	name TEXT PRIMARY KEY,
	key  BLOB NOT NULL
) STRICT;

-- Throttled attempts are coalesced: one audit row per key and throttle
-- window (throttled_audit_id), with a count, instead of one row each.
ALTER TABLE login_failures ADD COLUMN throttled INTEGER NOT NULL DEFAULT 0;
ALTER TABLE login_failures ADD COLUMN throttled_audit_id TEXT;
CREATE INDEX login_failures_last ON login_failures(last_failure_at);

-- Retention (crm-health prunes by age).
CREATE INDEX audit_created ON audit_log(created_at);
