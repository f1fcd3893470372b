-- Automation (issue 19): working hours, the away and welcome messages, keyword rules, and
-- the automatic replies they sent.

-- One row per workspace that set any of them. working_hours is {timezone, days, holidays}
-- as the API takes it (NULL: none set, the workspace is never outside its hours).
CREATE TABLE automation_settings (
    workspace_id     uuid PRIMARY KEY REFERENCES workspaces (id) ON DELETE CASCADE,
    working_hours    jsonb,
    away_enabled     boolean NOT NULL DEFAULT false,
    away_text        text NOT NULL DEFAULT '',
    welcome_enabled  boolean NOT NULL DEFAULT false,
    welcome_text     text NOT NULL DEFAULT '',
    updated_at       timestamptz NOT NULL
);

-- Keyword rules; a workspace has a few dozen at most, read whole and ordered in memory.
CREATE TABLE automation_rules (
    workspace_id  uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    id            uuid NOT NULL,
    name          text NOT NULL,
    match         text NOT NULL CHECK (match IN ('exact', 'contains', 'regex')),
    keywords      jsonb NOT NULL,
    actions       jsonb NOT NULL,
    priority      integer NOT NULL DEFAULT 0,
    enabled       boolean NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    PRIMARY KEY (workspace_id, id)
);

-- What each automation did with each inbound message (trigger_id): one row per trigger and
-- automation (a rule's id, 'away' or 'welcome'), written in the transaction of the reply it
-- sent (message_id), or after its other actions (message_id NULL). The key is what keeps a
-- retried evaluation from answering twice; the rows with a message are the rails' memory
-- (3 automatic replies per contact per hour, the away message once per conversation per
-- 12 hours, the welcome once per contact).
CREATE TABLE automatic_replies (
    workspace_id     uuid NOT NULL,
    trigger_id       uuid NOT NULL,
    automation       text NOT NULL,
    contact_id       uuid NOT NULL,
    phone_number_id  text NOT NULL,
    message_id       uuid,
    created_at       timestamptz NOT NULL,
    PRIMARY KEY (workspace_id, trigger_id, automation),
    FOREIGN KEY (workspace_id, contact_id) REFERENCES contacts (workspace_id, id) ON DELETE CASCADE
);
CREATE INDEX automatic_replies_contact_idx ON automatic_replies (workspace_id, contact_id, created_at DESC)
    WHERE message_id IS NOT NULL;
-- A contact is welcomed once.
CREATE UNIQUE INDEX automatic_replies_welcome_key ON automatic_replies (workspace_id, contact_id)
    WHERE automation = 'welcome' AND message_id IS NOT NULL;
