-- A stored layout is a workspace's, as its template is: deleting the
-- workspace deletes its layouts with its messages, and two workspaces with
-- the same template keep one layout each (its id is a digest of the
-- workspace and the layout), so neither's deletion waits on the other's
-- messages.
ALTER TABLE outbox_layouts ADD COLUMN workspace_id TEXT REFERENCES workspaces(id) ON DELETE CASCADE;
UPDATE outbox_layouts SET workspace_id = (SELECT o.workspace_id FROM outbox_bodies b JOIN outbox o ON o.id = b.outbox_id WHERE b.layout_id = outbox_layouts.id LIMIT 1);
DELETE FROM outbox_layouts WHERE workspace_id IS NULL;
CREATE INDEX outbox_layouts_ws ON outbox_layouts(workspace_id);
