-- Messages in both directions, their status history, templates, account events, the
-- inbox event feed, idempotency keys, and per-workspace opt-out settings.
ALTER TABLE workspaces
    ADD COLUMN opt_out_keywords text[] NOT NULL DEFAULT '{}',
    ADD COLUMN opt_out_confirmation text NOT NULL DEFAULT '',
    ADD COLUMN opt_in_confirmation text NOT NULL DEFAULT '';

CREATE TABLE messages (
    workspace_id     uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    id               uuid NOT NULL,
    contact_id       uuid NOT NULL,
    phone_number_id  text NOT NULL,  -- Meta's id of the business number
    direction        text NOT NULL CHECK (direction IN ('inbound', 'outbound')),
    type             text NOT NULL,
    content          jsonb NOT NULL DEFAULT '{}',  -- the type object (inbound: Meta's whole message)
    status           text NOT NULL CHECK (status IN ('queued', 'sent', 'delivered', 'read', 'failed', 'received')),
    wamid            text,
    error_code       integer,
    error_title      text,
    error_detail     text,
    pricing          jsonb,
    created_at       timestamptz NOT NULL,
    sent_at          timestamptz,
    delivered_at     timestamptz,
    read_at          timestamptz,
    failed_at        timestamptz,
    PRIMARY KEY (workspace_id, id)
);
-- A wamid is stored once, whichever envelope (or retry) brought it.
CREATE UNIQUE INDEX messages_wamid_key ON messages (wamid) WHERE wamid IS NOT NULL;
CREATE INDEX messages_ws_contact_idx ON messages (workspace_id, contact_id, id DESC);

-- Every status Meta reported, once per (wamid, status): dedupes redeliveries and keeps history.
CREATE TABLE message_statuses (
    wamid         text NOT NULL,
    status        text NOT NULL,
    workspace_id  uuid,
    occurred_at   timestamptz NOT NULL,
    errors        jsonb,
    pricing       jsonb,
    received_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (wamid, status)
);

CREATE TABLE templates (
    workspace_id      uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    id                uuid NOT NULL,
    waba_id           text NOT NULL,
    meta_template_id  text NOT NULL DEFAULT '',
    name              text NOT NULL,
    language          text NOT NULL,
    category          text NOT NULL DEFAULT '',
    status            text NOT NULL DEFAULT '',
    quality_score     text NOT NULL DEFAULT '',
    reason            text NOT NULL DEFAULT '',
    components        jsonb NOT NULL DEFAULT '[]',
    updated_at        timestamptz NOT NULL,
    PRIMARY KEY (workspace_id, id)
);
CREATE UNIQUE INDEX templates_waba_name_language_key ON templates (waba_id, name, language);

-- Account-level webhook events (violations, restrictions, partner removal ...), kept as sent.
CREATE TABLE account_events (
    id            uuid PRIMARY KEY,
    workspace_id  uuid,
    waba_id       text NOT NULL,
    field         text NOT NULL,
    event         text NOT NULL DEFAULT '',
    payload       jsonb NOT NULL,
    created_at    timestamptz NOT NULL
);
CREATE INDEX account_events_waba_idx ON account_events (waba_id, created_at DESC);

-- The feed the team inbox reads: appended in the transaction of the change, announced with
-- NOTIFY inbox_events so listeners wake at once; readers page by id.
CREATE TABLE inbox_events (
    id            bigserial PRIMARY KEY,
    workspace_id  uuid NOT NULL,
    kind          text NOT NULL,  -- message.received, message.status, contact.opted_out ...
    contact_id    uuid,
    message_id    uuid,
    payload       jsonb NOT NULL DEFAULT '{}',
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX inbox_events_ws_idx ON inbox_events (workspace_id, id);

CREATE TABLE idempotency_keys (
    workspace_id     uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    key              text NOT NULL,
    request_hash     bytea NOT NULL,
    response_status  integer NOT NULL,
    response_body    jsonb NOT NULL,
    created_at       timestamptz NOT NULL,
    expires_at       timestamptz NOT NULL,
    PRIMARY KEY (workspace_id, key)
);
CREATE INDEX idempotency_keys_expires_idx ON idempotency_keys (expires_at);
