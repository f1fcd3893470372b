ALTER TABLE contacts DROP COLUMN marketing_hold_until;
ALTER TABLE messages DROP COLUMN category;
ALTER TABLE workspaces
    DROP COLUMN opt_in_keywords,
    DROP COLUMN marketing_per_contact_per_week,
    DROP COLUMN marketing_per_contact_per_day;
DROP INDEX templates_ws_id_idx;
DROP INDEX templates_ws_waba_name_language_key;
CREATE UNIQUE INDEX templates_waba_name_language_key ON templates (waba_id, name, language);
ALTER TABLE templates
    DROP COLUMN category_at,
    DROP COLUMN quality_at,
    DROP COLUMN status_at,
    DROP COLUMN created_at,
    DROP COLUMN parameter_format;
ALTER TABLE templates RENAME COLUMN rejected_reason TO reason;
ALTER TABLE templates RENAME COLUMN quality_rating TO quality_score;
