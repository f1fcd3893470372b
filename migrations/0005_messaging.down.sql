DROP TABLE idempotency_keys;
DROP TABLE inbox_events;
DROP TABLE account_events;
DROP TABLE templates;
DROP TABLE message_statuses;
DROP TABLE messages;
ALTER TABLE workspaces DROP COLUMN opt_out_keywords, DROP COLUMN opt_out_confirmation, DROP COLUMN opt_in_confirmation;
