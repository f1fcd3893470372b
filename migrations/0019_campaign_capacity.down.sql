DROP INDEX messages_template_sends_idx;
ALTER TABLE campaigns DROP COLUMN split;
