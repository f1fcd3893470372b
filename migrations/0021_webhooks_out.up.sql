-- Outbound webhooks to the customers' systems (API.md "Outbound webhooks").
--
-- An endpoint's signing secret is sealed by the vault, bound to the workspace and the
-- endpoint (never plaintext at rest); after a rotation the previous one still signs until
-- previous_until. failing_since is when the current run of failed attempts began (NULL
-- after any success): an endpoint failing for 5 days is disabled (disabled_at).
CREATE TABLE webhook_endpoints (
    workspace_id              uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    id                        uuid NOT NULL,
    url                       text NOT NULL,
    events                    text[] NOT NULL,
    description               text NOT NULL DEFAULT '',
    enabled                   boolean NOT NULL DEFAULT true,
    secret_ciphertext         bytea NOT NULL,
    secret_nonce              bytea NOT NULL,
    secret_wrapped_key        bytea NOT NULL,
    secret_key_id             text NOT NULL,
    previous_ciphertext       bytea,
    previous_nonce            bytea,
    previous_wrapped_key      bytea,
    previous_key_id           text,
    previous_until            timestamptz,
    failing_since             timestamptz,
    disabled_at               timestamptz,
    created_at                timestamptz NOT NULL,
    updated_at                timestamptz NOT NULL,
    PRIMARY KEY (workspace_id, id)
);
-- The fan-out reads the enabled endpoints of a batch's workspaces.
CREATE INDEX webhook_endpoints_enabled_idx ON webhook_endpoints (workspace_id) WHERE enabled;

-- One public event to one endpoint. event_id is the webhook-id, derived from the event
-- log's id, so a batch of the log delivered again adds nothing (the unique key); body is
-- the exact bytes every attempt sends. status: pending (not tried yet, or retried by hand),
-- failed (the last attempt failed, another is scheduled at next_attempt_at), succeeded,
-- dead (no attempt left). A claimed row's next_attempt_at is pushed ahead as a lease, so a
-- process killed mid-send delivers it again once the lease runs out.
CREATE TABLE webhook_deliveries (
    workspace_id     uuid NOT NULL,
    id               uuid NOT NULL,
    endpoint_id      uuid NOT NULL,
    event_id         text NOT NULL,
    event_type       text NOT NULL,
    body             bytea NOT NULL,
    status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'succeeded', 'failed', 'dead')),
    attempts         integer NOT NULL DEFAULT 0,
    response_status  integer,
    response_body    text,
    error            text,
    duration_ms      integer,
    next_attempt_at  timestamptz,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    PRIMARY KEY (workspace_id, id),
    FOREIGN KEY (workspace_id, endpoint_id) REFERENCES webhook_endpoints (workspace_id, id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX webhook_deliveries_endpoint_event_key ON webhook_deliveries (endpoint_id, event_id);
-- The claim and the leader's wake-up: an endpoint's due deliveries, oldest due first.
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (endpoint_id, next_attempt_at)
    WHERE status IN ('pending', 'failed');
CREATE INDEX webhook_deliveries_due_at_idx ON webhook_deliveries (next_attempt_at) WHERE status IN ('pending', 'failed');
-- The deliveries list: an endpoint's, newest first, by status or not.
CREATE INDEX webhook_deliveries_list_idx ON webhook_deliveries (workspace_id, endpoint_id, id DESC);
CREATE INDEX webhook_deliveries_status_idx ON webhook_deliveries (workspace_id, endpoint_id, status, id DESC);
