-- Texts that came in to the appliance's number (issue 15), each once by its
-- Twilio SID: logged on every contact with that number; a number no contact
-- has stays here, unmatched, for the dashboard's attention list.
CREATE TABLE inbound_texts (
    sid         TEXT PRIMARY KEY,
    from_number TEXT NOT NULL,
    to_number   TEXT NOT NULL,
    body        TEXT NOT NULL,
    received_at TEXT NOT NULL,
    matched     INTEGER NOT NULL CHECK (matched >= 0), -- how many contacts it was logged on
    recorded_at TEXT NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX inbound_texts_unmatched ON inbound_texts(received_at) WHERE matched = 0;

-- Whether crm-sender has Twilio configured, and the number, for crm-web
-- (which never holds the token) to say so.
CREATE TABLE sms_config (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    from_number TEXT NOT NULL,
    updated_at  TEXT NOT NULL
) STRICT;

-- The day the inbound poller last listed (it lists from the day before).
CREATE TABLE sms_cursor (
    id     INTEGER PRIMARY KEY CHECK (id = 1),
    cursor TEXT NOT NULL
) STRICT;
