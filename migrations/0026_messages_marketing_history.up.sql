-- A contact's marketing templates of the last days: what the frequency caps weigh, read by
-- each marketing send (MessageRepo.LockMarketing) and for each recipient of a campaign's
-- marketing batch (CampaignRepo.Next). Without it the planner could walk the workspace's
-- template sends by time (messages_template_sends_idx) for each recipient: 5 million rows
-- read for a campaign of 20,000. Key and predicate hold only columns a message never
-- changes, so status updates stay HOT; the status filter reads the heap of these rows only.
CREATE INDEX messages_marketing_idx ON messages (workspace_id, contact_id, created_at)
    WHERE direction = 'outbound' AND category = 'MARKETING';
