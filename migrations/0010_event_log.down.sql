DROP VIEW inbox_events;
DROP TABLE event_subscriptions;
ALTER TABLE events DROP CONSTRAINT events_pkey;
DELETE FROM events WHERE workspace_id IS NULL;
ALTER TABLE events
    DROP COLUMN resource_id,
    DROP COLUMN resource_type,
    DROP COLUMN actor_id,
    DROP COLUMN actor_type,
    DROP COLUMN tx,
    ALTER COLUMN workspace_id SET NOT NULL;
ALTER INDEX events_ws_contact_idx RENAME TO inbox_events_ws_contact_idx;
ALTER INDEX events_ws_idx RENAME TO inbox_events_ws_idx;
ALTER TABLE events ADD CONSTRAINT inbox_events_pkey PRIMARY KEY (id);
ALTER SEQUENCE events_id_seq RENAME TO inbox_events_id_seq;
ALTER TABLE events RENAME TO inbox_events;
