-- The dashboard's figures at 100,000 contacts (issue 17's benchmark):
-- contact.Count's total, new-in-30-days and do-not-contact counts read a
-- covering index instead of every row (140 ms to 8 ms), and the
-- re-engagement suggestion counts a stage's quiet contacts from one
-- (93 ms to 5 ms).
CREATE INDEX contacts_ws_created ON contacts(workspace_id, created_at, do_not_contact);
CREATE INDEX contacts_ws_stage_stale ON contacts(workspace_id, stage_id, coalesce(last_contact_at, ''), do_not_contact);
