-- The event log, grown from the inbox feed: every typed domain event, appended in the
-- transaction of the change that caused it. The inbox feed is a view of it (a workspace's
-- events about its contacts and messages); the audit trail is written from the same events
-- in the same transaction.
--
-- Subscribers read the log at their own position (event_subscriptions). A bigserial id is
-- taken before its transaction commits, so ids can become visible out of order; a reader
-- orders by (tx, id) and reads only transactions older than every one still running
-- (pg_snapshot_xmin), so a position never skips an event that commits later. The primary
-- key is that order, (tx, id): every append pays for three indexes, as the feed did.
ALTER TABLE inbox_events RENAME TO events;
ALTER SEQUENCE inbox_events_id_seq RENAME TO events_id_seq;
ALTER TABLE events DROP CONSTRAINT inbox_events_pkey;
ALTER INDEX inbox_events_ws_idx RENAME TO events_ws_idx;
ALTER INDEX inbox_events_ws_contact_idx RENAME TO events_ws_contact_idx;
ALTER TABLE events
    ALTER COLUMN workspace_id DROP NOT NULL, -- NULL for events outside a workspace (a failed login)
    ADD COLUMN tx xid8 NOT NULL DEFAULT pg_current_xact_id(),
    ADD COLUMN actor_type text NOT NULL DEFAULT 'system',
    ADD COLUMN actor_id text NOT NULL DEFAULT '',
    ADD COLUMN resource_type text NOT NULL DEFAULT '',
    ADD COLUMN resource_id text NOT NULL DEFAULT '';
ALTER TABLE events ADD CONSTRAINT events_pkey PRIMARY KEY (tx, id);

CREATE TABLE event_subscriptions (
    name        text PRIMARY KEY,
    tx          xid8 NOT NULL DEFAULT '0',
    event_id    bigint NOT NULL DEFAULT 0,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE VIEW inbox_events AS
    SELECT id, workspace_id, kind, contact_id, message_id, payload, created_at FROM events
    WHERE workspace_id IS NOT NULL AND (contact_id IS NOT NULL OR message_id IS NOT NULL);
