ALTER TABLE webhook_deliveries DROP COLUMN lease_job, DROP COLUMN lease_attempt;
