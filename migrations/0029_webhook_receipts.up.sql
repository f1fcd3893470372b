-- The Meta webhook bodies acknowledged in the last day, by SHA-256 of the raw body: an
-- identical redelivery is acknowledged as a duplicate and queues nothing. The bodies of one
-- ingest transaction share one River job, so a unique job per body cannot do this.
-- Purged hourly (webhook.receipt_purge) after riveradapter.WebhookDedupeWindow.
CREATE TABLE webhook_receipts (
    sha256      bytea PRIMARY KEY,
    received_at timestamptz NOT NULL DEFAULT now()
);

-- Rows arrive in received_at order: a BRIN index finds the expired ones for next to
-- nothing at insert.
CREATE INDEX webhook_receipts_received_at_idx ON webhook_receipts USING brin (received_at);
