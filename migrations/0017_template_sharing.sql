-- A template shared with another user, read-only: they may look at it and
-- Save As a copy into a workspace of theirs, until the owner revokes it.
CREATE TABLE template_shares (
    template_id TEXT NOT NULL REFERENCES email_templates(id) ON DELETE CASCADE,
    viewer_id   TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at  TEXT NOT NULL,
    PRIMARY KEY (template_id, viewer_id)
) STRICT;
CREATE INDEX template_shares_viewer ON template_shares(viewer_id);

-- A user's Favorites: copies of templates kept outside any workspace, to
-- push into any of their workspaces later. from_workspace_id is where the
-- favorite's images are (copied along on a push while it exists).
CREATE TABLE template_favorites (
    id                TEXT PRIMARY KEY,
    user_id           TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name              TEXT NOT NULL,
    subject           TEXT NOT NULL,
    preheader         TEXT NOT NULL DEFAULT '',
    body_html         TEXT NOT NULL,
    signature_html    TEXT NOT NULL DEFAULT '',
    from_template_id  TEXT NOT NULL DEFAULT '',
    from_workspace_id TEXT NOT NULL DEFAULT '',
    created_at        TEXT NOT NULL
) STRICT;
CREATE INDEX template_favorites_user ON template_favorites(user_id, created_at);
