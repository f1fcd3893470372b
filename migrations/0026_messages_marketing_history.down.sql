DROP INDEX messages_marketing_idx;
