CREATE TABLE api_keys (
    workspace_id  uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    id            uuid NOT NULL,
    name          text NOT NULL,
    role          text NOT NULL CHECK (role IN ('owner', 'manager', 'agent', 'viewer')),
    key_hash      bytea NOT NULL,  -- SHA-256 of the secret; the secret itself is never stored
    created_by    uuid NOT NULL,
    created_at    timestamptz NOT NULL,
    revoked_at    timestamptz,
    PRIMARY KEY (workspace_id, id)
);
CREATE UNIQUE INDEX api_keys_key_hash_key ON api_keys (key_hash);

CREATE TABLE contacts (
    workspace_id               uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    id                         uuid NOT NULL,
    phone                      text,  -- E.164; NULL for a contact known only by BSUID
    wa_id                      text,
    bsuid                      text,
    name                       text NOT NULL DEFAULT '',
    tags                       text[] NOT NULL DEFAULT '{}',
    attributes                 jsonb NOT NULL DEFAULT '{}',
    assigned_to                uuid,
    opted_out                  boolean NOT NULL DEFAULT false,
    opted_out_at               timestamptz,
    opt_out_source             text CHECK (opt_out_source IN ('keyword', 'api')),
    marketing_opted_out        boolean NOT NULL DEFAULT false,
    last_inbound_at            timestamptz,
    service_window_expires_at  timestamptz,
    created_at                 timestamptz NOT NULL,
    updated_at                 timestamptz NOT NULL,
    PRIMARY KEY (workspace_id, id)
);
CREATE UNIQUE INDEX contacts_workspace_phone_key ON contacts (workspace_id, phone) WHERE phone IS NOT NULL;
CREATE UNIQUE INDEX contacts_workspace_bsuid_key ON contacts (workspace_id, bsuid) WHERE bsuid IS NOT NULL;
-- Agents list only their assigned contacts: this index serves that filter.
CREATE INDEX contacts_ws_assigned_idx ON contacts (workspace_id, assigned_to, id DESC);
CREATE INDEX contacts_tags_idx ON contacts USING gin (tags);
CREATE INDEX contacts_ws_opted_out_idx ON contacts (workspace_id, opted_out, id DESC);
