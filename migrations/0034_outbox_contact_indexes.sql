-- Deleting a contact (one, or a thousand from the contact list) deletes or
-- clears every row that names it or its log entries, and SQLite finds those
-- rows through an index led by the column or not at all: without one it
-- read the whole table for each. The outbox was read once for the contact
-- and once for each of its log entries (1.7 s to delete one contact with
-- 100 entries from a 100,000-message outbox; 23 ms with these), the drip
-- enrolments and the to-dos once each (the to-dos' index covered only open
-- ones). The store's tests check every table named by a contact, a log
-- entry or a message has such an index.
DROP INDEX outbox_contact_bulk;
CREATE INDEX outbox_contact ON outbox(contact_id, created_at, bulk); -- also who got campaign mail since a date
CREATE INDEX outbox_activity ON outbox(activity_id);
CREATE INDEX enrollments_contact ON enrollments(contact_id);
DROP INDEX todos_contact;
CREATE INDEX todos_contact ON todos(contact_id, done_at); -- also a contact's open to-dos
