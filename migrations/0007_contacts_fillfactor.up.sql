-- Every inbound message moves its contact's service window (an UPDATE of columns no index
-- covers). With free room on the page Postgres makes that a HOT update: a new row version
-- on the same page and no new entries in the contact's six indexes (one of them GIN).
-- Full pages (the default fillfactor of 100) made every such update write all six.
-- Applies to pages written from now on.
ALTER TABLE contacts SET (fillfactor = 70);
