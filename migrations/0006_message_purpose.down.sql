ALTER TABLE messages DROP COLUMN purpose;
