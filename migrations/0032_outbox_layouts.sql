-- A campaign's messages share one layout (issue 16's campaign_enqueue_10k_ms):
-- the template's HTML and text parts with the placeholders still unfilled,
-- stored once, while each message keeps only its recipient's values (a few
-- hundred bytes instead of the whole message, ten thousand times). crm-sender
-- fills each message as it sends it. One-off messages keep their parts whole.
CREATE TABLE outbox_layouts (
    id         TEXT PRIMARY KEY, -- a digest of what is below
    html       TEXT NOT NULL,
    text       TEXT NOT NULL,
    custom     TEXT NOT NULL DEFAULT '', -- the custom-field keys placeholders were read with, comma-separated
    created_at TEXT NOT NULL
) STRICT;
ALTER TABLE outbox_bodies ADD COLUMN layout_id TEXT REFERENCES outbox_layouts(id);
ALTER TABLE outbox_bodies ADD COLUMN fill TEXT NOT NULL DEFAULT ''; -- the recipient's values, a JSON object
