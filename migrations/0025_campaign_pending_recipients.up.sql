-- A campaign's recipients still to take (pending, without a message), in contact order: the
-- batch's read of its next recipients (CampaignRepo.Next) walks this index from its start
-- and stops at the batch's size. Without it the planner walked campaign_recipients_contact_idx
-- over the workspace in contact order, filtering out every recipient taken before: a read
-- that grew with the campaign (38,000 rows passed over for 300 by the middle of a
-- 100,000-recipient run). Rows leave it as they are taken, so it stays the size of what is
-- left. The price: taking a pending recipient (its message_id set, its status unchanged)
-- is no longer a HOT update, a few index entries a recipient, once, against re-reading
-- every taken recipient at each batch.
CREATE INDEX campaign_recipients_pending_idx ON campaign_recipients (workspace_id, campaign_id, contact_id)
    WHERE status = 'pending' AND message_id IS NULL;
