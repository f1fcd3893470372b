ALTER TABLE messages DROP COLUMN send_attempted_at;
