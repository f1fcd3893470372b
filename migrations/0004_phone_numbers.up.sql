-- WhatsApp numbers connected to workspaces. The access token (and a generated register
-- PIN) are stored only sealed: ciphertext, nonce, wrapped data key and the id of the
-- key-encryption key that wrapped it.
CREATE TABLE phone_numbers (
    workspace_id          uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    id                    uuid NOT NULL,
    phone_number_id       text NOT NULL,
    waba_id               text NOT NULL,
    display_phone_number  text NOT NULL DEFAULT '',
    verified_name         text NOT NULL DEFAULT '',
    status                text NOT NULL CHECK (status IN ('connecting', 'connected', 'failed', 'needs_reconnect')),
    failure_reason        text NOT NULL DEFAULT '',
    webhook_subscribed    boolean NOT NULL DEFAULT false,
    registered            boolean NOT NULL DEFAULT false,
    quality_rating        text NOT NULL DEFAULT '',
    messaging_limit_tier  text NOT NULL DEFAULT '',
    throughput_level      text NOT NULL DEFAULT '',
    name_status           text NOT NULL DEFAULT '',
    last_synced_at        timestamptz,
    token_ciphertext      bytea NOT NULL,
    token_nonce           bytea NOT NULL,
    token_wrapped_key     bytea NOT NULL,
    token_key_id          text NOT NULL,
    pin_ciphertext        bytea,
    pin_nonce             bytea,
    pin_wrapped_key       bytea,
    pin_key_id            text,
    created_at            timestamptz NOT NULL,
    updated_at            timestamptz NOT NULL,
    PRIMARY KEY (workspace_id, id)
);
-- A Meta phone number belongs to at most one workspace; webhooks route by it.
CREATE UNIQUE INDEX phone_numbers_phone_number_id_key ON phone_numbers (phone_number_id);
CREATE INDEX phone_numbers_waba_id_idx ON phone_numbers (waba_id);
-- Key rotation walks rows still sealed under an old key.
CREATE INDEX phone_numbers_token_key_id_idx ON phone_numbers (token_key_id);
