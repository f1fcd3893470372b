-- The opt-out stop rule (API.md, Campaigns): a running campaign pauses when the opt-outs of
-- its recipients pass 2% of its delivered messages (at least 20). A recipient who opts out
-- after the campaign reached them is marked once (opted_out_at), so a redelivered event
-- counts once; the campaign keeps the count.
ALTER TABLE campaign_recipients ADD COLUMN opted_out_at timestamptz;
ALTER TABLE campaigns ADD COLUMN opt_outs integer NOT NULL DEFAULT 0;
-- A contact's recipients, found when it opts out.
CREATE INDEX campaign_recipients_contact_idx ON campaign_recipients (workspace_id, contact_id);
