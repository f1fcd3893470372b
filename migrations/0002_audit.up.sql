-- The audit trail: one row per state change, written in the change's own transaction.
CREATE TABLE audit_logs (
    id             uuid PRIMARY KEY,
    workspace_id   uuid,  -- NULL for events outside a workspace (failed logins)
    actor_type     text NOT NULL CHECK (actor_type IN ('user', 'api_key', 'system', 'contact')),
    actor_id       text NOT NULL DEFAULT '',
    action         text NOT NULL,
    resource_type  text NOT NULL,
    resource_id    text NOT NULL DEFAULT '',
    details        jsonb NOT NULL DEFAULT '{}',
    ip             text NOT NULL DEFAULT '',
    user_agent     text NOT NULL DEFAULT '',
    request_id     text NOT NULL DEFAULT '',
    created_at     timestamptz NOT NULL,
    expires_at     timestamptz NOT NULL
);
-- Lists walk a workspace's entries newest first (ids are UUIDv7, so id order is time order);
-- each filter has an index leading with the workspace.
CREATE INDEX audit_logs_ws_id_idx ON audit_logs (workspace_id, id DESC);
CREATE INDEX audit_logs_ws_action_idx ON audit_logs (workspace_id, action, id DESC);
CREATE INDEX audit_logs_ws_actor_idx ON audit_logs (workspace_id, actor_id, id DESC);
CREATE INDEX audit_logs_ws_resource_idx ON audit_logs (workspace_id, resource_type, resource_id, id DESC);
CREATE INDEX audit_logs_ws_created_idx ON audit_logs (workspace_id, created_at DESC);
CREATE INDEX audit_logs_expires_idx ON audit_logs (expires_at);
