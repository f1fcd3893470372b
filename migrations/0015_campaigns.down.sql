DROP TABLE campaign_counts;
DROP TABLE campaign_recipients;
DROP TABLE campaigns;
ALTER TABLE messages DROP COLUMN campaign_id;
