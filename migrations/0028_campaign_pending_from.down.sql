ALTER TABLE campaigns DROP COLUMN pending_from;
