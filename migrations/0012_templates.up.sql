-- Templates managed and followed (issue: templates and abuse prevention).
--
-- A template keeps when Meta last spoke of its status, quality and category: Meta's
-- webhooks can arrive out of order, and an older event must not overwrite a newer one.
ALTER TABLE templates RENAME COLUMN quality_score TO quality_rating;
ALTER TABLE templates RENAME COLUMN reason TO rejected_reason;
ALTER TABLE templates
    ADD COLUMN parameter_format text NOT NULL DEFAULT 'positional' CHECK (parameter_format IN ('positional', 'named')),
    ADD COLUMN created_at timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN status_at timestamptz,
    ADD COLUMN quality_at timestamptz,
    ADD COLUMN category_at timestamptz;
-- Template names are a workspace's own: two workspaces on one WABA each keep its templates
-- (and one cannot learn the other's names from a conflict).
DROP INDEX templates_waba_name_language_key;
CREATE UNIQUE INDEX templates_ws_waba_name_language_key ON templates (workspace_id, waba_id, name, language);
-- Lists walk a workspace's templates newest first.
CREATE INDEX templates_ws_id_idx ON templates (workspace_id, id DESC);

-- Abuse prevention: marketing templates per contact per day and per week, and the opt-in
-- keywords beside the opt-out ones (workspace messaging settings).
ALTER TABLE workspaces
    ADD COLUMN marketing_per_contact_per_day integer NOT NULL DEFAULT 2 CHECK (marketing_per_contact_per_day >= 0),
    ADD COLUMN marketing_per_contact_per_week integer NOT NULL DEFAULT 6 CHECK (marketing_per_contact_per_week >= 0),
    ADD COLUMN opt_in_keywords text[] NOT NULL DEFAULT '{}';

-- An outbound template message remembers its category, so marketing sends can be counted.
ALTER TABLE messages ADD COLUMN category text;
-- After Meta's 131049 (per-user marketing limit) no marketing template goes to the contact
-- until this time.
ALTER TABLE contacts ADD COLUMN marketing_hold_until timestamptz;
