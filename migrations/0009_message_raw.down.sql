UPDATE messages SET content = raw WHERE direction = 'inbound' AND raw IS NOT NULL;
ALTER TABLE messages DROP COLUMN raw;
