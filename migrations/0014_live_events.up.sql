-- Live events (the team inbox's Server-Sent Events).
--
-- Every instance listens on the channel waba_events and reads the log when woken. One
-- notification per appending transaction: a statement-level trigger, and Postgres folds a
-- transaction's identical notifications into one.
CREATE FUNCTION notify_events() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('waba_events', '');
    RETURN NULL;
END
$$;
CREATE TRIGGER events_notify AFTER INSERT ON events FOR EACH STATEMENT EXECUTE FUNCTION notify_events();

-- A resuming stream reads its workspace's events after a position (tx, id): the
-- workspace's index takes the log's order. It replaces (workspace_id, id), which nothing
-- read in that order, so an append still pays for three indexes.
CREATE INDEX events_ws_pos_idx ON events (workspace_id, tx, id);
DROP INDEX events_ws_idx;

-- Tickets: browsers cannot set headers on EventSource, so they exchange their bearer for a
-- single-use ticket valid 60 seconds. Only the SHA-256 of the ticket is stored. It names
-- the session, so a stream opened with it ends with the session's rights.
CREATE TABLE stream_tickets (
    token_hash    bytea PRIMARY KEY,
    workspace_id  uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    user_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    session_id    uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    expires_at    timestamptz NOT NULL
);
CREATE INDEX stream_tickets_expires_idx ON stream_tickets (expires_at);
