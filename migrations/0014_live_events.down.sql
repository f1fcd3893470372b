DROP TABLE stream_tickets;
CREATE INDEX events_ws_idx ON events (workspace_id, id);
DROP INDEX events_ws_pos_idx;
