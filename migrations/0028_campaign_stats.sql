-- A campaign's figures without reading its messages (issue 16): its page
-- refreshes them every 2 s during a send, and counting even an index of
-- 10,000 outbox rows on each refresh took most of the page's time. The
-- outbox package counts each campaign message's change of state here (a
-- trigger would cost every outbox update a statement journal); the
-- providers' events are counted as they are recorded, once per message
-- and kind (events.Record).
CREATE TABLE campaign_states (
    campaign_id TEXT NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
    state       TEXT NOT NULL,
    messages    INTEGER NOT NULL,
    PRIMARY KEY (campaign_id, state)
) STRICT, WITHOUT ROWID;
INSERT INTO campaign_states (campaign_id, state, messages)
SELECT campaign_id, state, count(*) FROM outbox WHERE campaign_id IN (SELECT id FROM campaigns) GROUP BY campaign_id, state;

CREATE TABLE campaign_events (
    campaign_id TEXT NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
    kind        TEXT NOT NULL,
    messages    INTEGER NOT NULL CHECK (messages >= 0),
    PRIMARY KEY (campaign_id, kind)
) STRICT, WITHOUT ROWID;
INSERT INTO campaign_events (campaign_id, kind, messages)
SELECT o.campaign_id, e.kind, count(DISTINCT e.outbox_id) FROM provider_events e JOIN outbox o ON o.id = e.outbox_id
WHERE o.campaign_id IN (SELECT id FROM campaigns) GROUP BY o.campaign_id, e.kind;
