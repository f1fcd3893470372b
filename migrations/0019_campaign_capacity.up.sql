-- The messaging limit (API.md, Campaigns): a campaign launched with split:true sends what
-- fits in its number's limit and the rest as it frees; without it, a run that meets the
-- limit pauses (capacity).
ALTER TABLE campaigns ADD COLUMN split boolean NOT NULL DEFAULT false;

-- The number's business-initiated unique contacts in the rolling 24 hours, counted before
-- each batch of a campaign on a limited number: template sends by number and time. The
-- predicate and the key hold only columns a message never changes, so status updates stay
-- HOT (the status filter reads the heap, of rows of the last day).
CREATE INDEX messages_template_sends_idx ON messages (workspace_id, phone_number_id, created_at)
    WHERE direction = 'outbound' AND type = 'template';
