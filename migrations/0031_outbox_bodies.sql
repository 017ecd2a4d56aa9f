-- crm-sender's batches, measured (issue 15's sender_cpu_s_per_1000):
--
-- The due messages are claimed in (due_at, id) order. The index on due_at
-- alone left the id to a sort of every message due at the same moment: a
-- blast of 10,000 queued at once read all 10,000 rows, bodies and all, for
-- each batch it claimed, a third of crm-sender's CPU. With the id in the
-- index a claim reads just the rows it takes.
--
-- A message changes state at least twice (claimed, then sent), and SQLite
-- writes a whole row on each change: the HTML and text parts (a kilobyte
-- or two) moved with every state. They live in outbox_bodies now, written
-- once; the outbox row the states rewrite is a few hundred bytes.
DROP INDEX outbox_due;
CREATE INDEX outbox_due ON outbox(due_at, id) WHERE state IN ('queued', 'retrying');

CREATE TABLE outbox_bodies (
    outbox_id TEXT PRIMARY KEY REFERENCES outbox(id) ON DELETE CASCADE,
    html      TEXT NOT NULL DEFAULT '',
    text      TEXT NOT NULL DEFAULT ''
) STRICT;
INSERT INTO outbox_bodies (outbox_id, html, text) SELECT id, html, text FROM outbox WHERE html <> '' OR text <> '';
ALTER TABLE outbox DROP COLUMN html;
ALTER TABLE outbox DROP COLUMN text;
