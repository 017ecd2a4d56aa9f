-- Bulk mail (a campaign's, issue 15/16) carries a List-Unsubscribe: the
-- provider's hosted one (Mailgun) or a mailto: the reply poller reads.
ALTER TABLE outbox ADD COLUMN bulk INTEGER NOT NULL DEFAULT 0 CHECK (bulk IN (0, 1));
