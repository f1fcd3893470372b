DROP INDEX campaign_recipients_retry_idx;
ALTER TABLE campaign_recipients DROP COLUMN first_attempt_at, DROP COLUMN delivered_at;
ALTER TABLE workspaces DROP COLUMN campaign_retry_days;
