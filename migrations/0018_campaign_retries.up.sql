-- Campaign retries and replies (API.md, Campaigns).

-- How many days a campaign tries again a recipient Meta refused with 131049 (0: never).
ALTER TABLE workspaces ADD COLUMN campaign_retry_days smallint NOT NULL DEFAULT 3
    CHECK (campaign_retry_days BETWEEN 0 AND 3);

-- first_attempt_at: when the recipient's first message was queued (the 131049 retries
-- count their days from it). delivered_at: when Meta reported its message delivered (an
-- inbound message of the contact within 72 hours of it makes the recipient `replied`).
ALTER TABLE campaign_recipients
    ADD COLUMN first_attempt_at timestamptz,
    ADD COLUMN delivered_at timestamptz;

-- The send job's due retries, earliest first; small, as it holds the waiting ones only.
CREATE INDEX campaign_recipients_retry_idx ON campaign_recipients (workspace_id, campaign_id, next_attempt_at)
    WHERE status = 'retry_scheduled';
