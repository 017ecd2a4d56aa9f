-- A campaign's figures without reading its messages (issue 16): its page
-- refreshes them every 2 s during a send, and counting even an index of
-- 10,000 messages on each refresh took most of the page's time. The
-- outbox's triggers keep how many of a campaign's messages are in each
-- state; the providers' events are counted as they are recorded, once per
-- message and kind (events.Record).
CREATE TABLE campaign_states (
    campaign_id TEXT NOT NULL,
    state       TEXT NOT NULL,
    messages    INTEGER NOT NULL,
    PRIMARY KEY (campaign_id, state)
) STRICT, WITHOUT ROWID;
INSERT INTO campaign_states (campaign_id, state, messages)
SELECT campaign_id, state, count(*) FROM outbox WHERE campaign_id <> '' GROUP BY campaign_id, state;

CREATE TRIGGER outbox_campaign_insert AFTER INSERT ON outbox WHEN NEW.campaign_id <> '' BEGIN
    INSERT INTO campaign_states (campaign_id, state, messages) VALUES (NEW.campaign_id, NEW.state, 1)
    ON CONFLICT (campaign_id, state) DO UPDATE SET messages = messages + 1;
END;
CREATE TRIGGER outbox_campaign_state AFTER UPDATE OF state, campaign_id ON outbox
WHEN (OLD.campaign_id <> '' OR NEW.campaign_id <> '') AND (OLD.state IS NOT NEW.state OR OLD.campaign_id IS NOT NEW.campaign_id) BEGIN
    UPDATE campaign_states SET messages = messages - 1 WHERE campaign_id = OLD.campaign_id AND state = OLD.state AND OLD.campaign_id <> '';
    INSERT INTO campaign_states (campaign_id, state, messages) SELECT NEW.campaign_id, NEW.state, 1 WHERE NEW.campaign_id <> ''
    ON CONFLICT (campaign_id, state) DO UPDATE SET messages = messages + 1;
END;
CREATE TRIGGER outbox_campaign_delete AFTER DELETE ON outbox WHEN OLD.campaign_id <> '' BEGIN
    UPDATE campaign_states SET messages = messages - 1 WHERE campaign_id = OLD.campaign_id AND state = OLD.state;
END;

CREATE TABLE campaign_events (
    campaign_id TEXT NOT NULL,
    kind        TEXT NOT NULL,
    messages    INTEGER NOT NULL CHECK (messages >= 0),
    PRIMARY KEY (campaign_id, kind)
) STRICT, WITHOUT ROWID;
INSERT INTO campaign_events (campaign_id, kind, messages)
SELECT o.campaign_id, e.kind, count(DISTINCT e.outbox_id) FROM provider_events e JOIN outbox o ON o.id = e.outbox_id
WHERE o.campaign_id <> '' GROUP BY o.campaign_id, e.kind;
