-- Email templates, one set per workspace: a name unique in it (any case),
-- the subject and preheader with placeholders, and the body and signature
-- as sanitized HTML (pkg/richtext's email policy). copied_from names the
-- template a copy was made from, in whichever workspace.
CREATE TABLE email_templates (
    id             TEXT PRIMARY KEY,
    workspace_id   TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    name           TEXT NOT NULL,
    subject        TEXT NOT NULL DEFAULT '',
    preheader      TEXT NOT NULL DEFAULT '',
    body_html      TEXT NOT NULL DEFAULT '',
    signature_html TEXT NOT NULL DEFAULT '',
    copied_from    TEXT NOT NULL DEFAULT '',
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL
) STRICT;
CREATE UNIQUE INDEX email_templates_name ON email_templates(workspace_id, name COLLATE NOCASE);
