-- The pictures of a workspace's email templates, stored in the database so
-- they are replicated and restored with everything else. data holds only
-- re-encoded pixels (pkg/images); captioned_from names the image a caption
-- was drawn on.
CREATE TABLE images (
    id             TEXT PRIMARY KEY,
    workspace_id   TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    name           TEXT NOT NULL DEFAULT '',
    content_type   TEXT NOT NULL,
    width          INTEGER NOT NULL,
    height         INTEGER NOT NULL,
    bytes          INTEGER NOT NULL,
    data           BLOB NOT NULL,
    source_url     TEXT NOT NULL DEFAULT '',
    captioned_from TEXT NOT NULL DEFAULT '',
    caption        TEXT NOT NULL DEFAULT '',
    created_at     TEXT NOT NULL
) STRICT;
CREATE INDEX images_workspace ON images(workspace_id, created_at);
