-- Signing a workspace in to Google or Microsoft 365 (issue 15): what one
-- started connection needs until it finishes (Google's PKCE verifier and
-- state; Microsoft's device code), sealed like every secret. One a
-- workspace: starting again replaces it.
CREATE TABLE oauth_pending (
    workspace_id     TEXT PRIMARY KEY REFERENCES workspaces(id) ON DELETE CASCADE,
    kind             TEXT NOT NULL CHECK (kind IN ('google', 'microsoft')),
    state            TEXT NOT NULL DEFAULT '',
    secret           TEXT NOT NULL, -- sealed: the PKCE verifier or the device code
    user_code        TEXT NOT NULL DEFAULT '',
    verification_uri TEXT NOT NULL DEFAULT '',
    interval_s       INTEGER NOT NULL DEFAULT 5,
    expires_at       TEXT NOT NULL,
    created_at       TEXT NOT NULL
) STRICT, WITHOUT ROWID;

-- Emails that came in to a workspace's mailbox (Gmail history, Graph
-- delta): each once by the provider's id; matched to a contact by the
-- message it answers (In-Reply-To / References) or by the sender's
-- address; unmatched ones stay for the attention list.
CREATE TABLE inbound_emails (
    provider     TEXT NOT NULL,
    provider_id  TEXT NOT NULL,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    from_email   TEXT NOT NULL,
    subject      TEXT NOT NULL DEFAULT '',
    snippet      TEXT NOT NULL DEFAULT '',
    message_id   TEXT NOT NULL DEFAULT '',
    in_reply_to  TEXT NOT NULL DEFAULT '',
    contact_id   TEXT NOT NULL DEFAULT '',
    outbox_id    TEXT NOT NULL DEFAULT '', -- the message of ours it answers
    received_at  TEXT NOT NULL,
    recorded_at  TEXT NOT NULL,
    done_at      TEXT NOT NULL DEFAULT '', -- marked done on the attention list
    PRIMARY KEY (provider, provider_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX inbound_emails_ws ON inbound_emails(workspace_id, received_at);
