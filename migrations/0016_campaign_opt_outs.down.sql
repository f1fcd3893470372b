DROP INDEX campaign_recipients_contact_idx;
ALTER TABLE campaigns DROP COLUMN opt_outs;
ALTER TABLE campaign_recipients DROP COLUMN opted_out_at;
