-- Live events (the team inbox's Server-Sent Events). Instances are told the log grew by a
-- NOTIFY sent after the commit (adapters/postgres.Announcer), not by a trigger: a NOTIFY
-- inside each appending transaction would serialize their commits.
--
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
