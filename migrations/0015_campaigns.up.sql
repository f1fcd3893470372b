-- Broadcast campaigns (API.md "Campaigns"): the campaign, its recipients (the audience as
-- it was when the campaign started), and the counters its stats are read from.

-- The campaign that queued an outbound message (NULL for every other message): a status
-- of the message advances its recipient.
ALTER TABLE messages ADD COLUMN campaign_id uuid;

CREATE TABLE campaigns (
    workspace_id         uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    id                   uuid NOT NULL,
    name                 text NOT NULL,
    phone_number_id      text NOT NULL,  -- Meta's id of the business number it sends from
    template_name        text NOT NULL,
    template_language    text NOT NULL,
    template_components  jsonb NOT NULL DEFAULT '[]',  -- Graph's components, with contact placeholders
    audience             jsonb NOT NULL DEFAULT '{}',  -- {all, tags, contact_ids}
    status               text NOT NULL CHECK (status IN ('draft', 'scheduled', 'running', 'paused', 'completed', 'cancelled')),
    pause_reason         text,
    scheduled_at         timestamptz,
    started_at           timestamptz,
    completed_at         timestamptz,
    snapshot_at          timestamptz,  -- when the audience was taken into campaign_recipients (once)
    created_by           uuid,
    created_at           timestamptz NOT NULL,
    updated_at           timestamptz NOT NULL,
    PRIMARY KEY (workspace_id, id)
);
CREATE INDEX campaigns_ws_status_idx ON campaigns (workspace_id, status, id DESC);
-- The leader's periodic job finds the scheduled campaigns that are due and the running
-- ones (to make sure each has its send job) through this small index.
CREATE INDEX campaigns_active_idx ON campaigns (status, scheduled_at) WHERE status IN ('scheduled', 'running');

-- One row per contact of the audience. message_id is set in the transaction that queues
-- the recipient's message: a recipient with a message_id is never batched again.
CREATE TABLE campaign_recipients (
    workspace_id     uuid NOT NULL,
    campaign_id      uuid NOT NULL,
    contact_id       uuid NOT NULL,
    status           text NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'sent', 'delivered', 'read', 'replied', 'failed', 'skipped', 'retry_scheduled')),
    reason           text,  -- why a recipient was skipped
    message_id       uuid,
    error_code       integer,
    error_title      text,
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz,
    updated_at       timestamptz NOT NULL,
    PRIMARY KEY (workspace_id, campaign_id, contact_id),
    FOREIGN KEY (workspace_id, campaign_id) REFERENCES campaigns (workspace_id, id) ON DELETE CASCADE
);
-- The send job's next batch (pending, in contact order) and the list's status filter.
CREATE INDEX campaign_recipients_status_idx ON campaign_recipients (workspace_id, campaign_id, status, contact_id);

-- The stats: per campaign and recipient status, a few shards of a count, moved by +1/-1
-- in the statements that move recipients and read with a SUM (never a count(*) over the
-- recipients). Each transaction adds to one shard, chosen at random, so concurrent status
-- webhooks of one campaign rarely wait for the same row (application/campaigns explains).
CREATE TABLE campaign_counts (
    workspace_id  uuid NOT NULL,
    campaign_id   uuid NOT NULL,
    status        text NOT NULL,
    shard         smallint NOT NULL,
    n             bigint NOT NULL,
    PRIMARY KEY (workspace_id, campaign_id, status, shard),
    FOREIGN KEY (workspace_id, campaign_id) REFERENCES campaigns (workspace_id, id) ON DELETE CASCADE
);
