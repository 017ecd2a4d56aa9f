-- Pairs of contacts the user said are different people although they share
-- an email or a phone (two people on one home phone): the duplicates page
-- no longer lists them together. contact_a < contact_b.
CREATE TABLE kept_separate (
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    contact_a    TEXT NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
    contact_b    TEXT NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
    created_at   TEXT NOT NULL,
    PRIMARY KEY (contact_a, contact_b),
    CHECK (contact_a < contact_b)
) STRICT, WITHOUT ROWID;
CREATE INDEX kept_separate_b ON kept_separate(contact_b);
CREATE INDEX kept_separate_ws ON kept_separate(workspace_id);
