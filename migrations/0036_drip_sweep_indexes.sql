-- The drip sweep (campaign.DripTick, each minute in crm-sender) takes off
-- their drips the contacts who replied or were marked do-not-contact. It
-- read every active enrolment and looked up, for each, its messages'
-- replies and its contact: 70 ms of crm-sender's CPU every minute with the
-- campaign bench's 10,100 enrolments, growing with every drip. It starts
-- from the other side now, the replies and the do-not-contact contacts,
-- which are few, through these two indexes of just them.
CREATE INDEX provider_events_replied ON provider_events(outbox_id) WHERE kind = 'replied' AND outbox_id <> '';
CREATE INDEX contacts_do_not_contact ON contacts(id) WHERE do_not_contact = 1;
