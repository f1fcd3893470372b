-- Media files (issue 19): what a member uploaded to send, and what customers sent us, kept
-- in the media store (MEDIA_BUCKET_URL) under a generated key, never a client's file name.
--
-- An upload is stored and on Meta before its row exists (status stored). An inbound media
-- message inserts a pending row in the transaction that stores the message, with the
-- download job; the job moves it to stored or failed.
CREATE TABLE media (
    workspace_id     uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    id               uuid NOT NULL,
    phone_number_id  text NOT NULL,               -- Meta's id of the business number
    source           text NOT NULL CHECK (source IN ('upload', 'inbound')),
    meta_media_id    text NOT NULL DEFAULT '',    -- Meta's id as uploaded or as received
    mime_type        text NOT NULL,
    size             bigint NOT NULL DEFAULT 0,
    sha256           text NOT NULL DEFAULT '',    -- hex of the stored bytes (inbound: once stored)
    expected_sha256  text NOT NULL DEFAULT '',    -- inbound: what Meta's webhook said
    filename         text NOT NULL DEFAULT '',    -- a display name only, sanitized; never a path
    storage_key      text NOT NULL,
    status           text NOT NULL CHECK (status IN ('pending', 'stored', 'failed')),
    failure_reason   text NOT NULL DEFAULT '',
    message_id       uuid,                        -- inbound: the message that brought it
    contact_id       uuid,                        -- inbound: its contact (who may see it)
    -- The id to send it by: Meta keeps an upload 30 days, per number.
    send_media_id         text NOT NULL DEFAULT '',
    send_phone_number_id  text NOT NULL DEFAULT '',
    send_uploaded_at      timestamptz,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    PRIMARY KEY (workspace_id, id),
    FOREIGN KEY (workspace_id, message_id) REFERENCES messages (workspace_id, id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX media_message_key ON media (workspace_id, message_id) WHERE message_id IS NOT NULL;
