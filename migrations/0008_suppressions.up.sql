-- Opt-outs that outlive their contact. A customer's STOP (or Meta's marketing stop, or an
-- opt-out made through the API) is kept per workspace under each address the contact had:
-- the E.164 phone and the BSUID. Deleting the contact erases its messages but leaves these
-- rows, so a later send to the number is refused and a contact created later with the
-- number or BSUID starts opted out. Only an opt-in removes them. scope 'all' stops every
-- message, 'marketing' only marketing templates.
CREATE TABLE suppressions (
    workspace_id  uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    address       text NOT NULL,  -- "+E.164" or a BSUID (which never starts with "+")
    scope         text NOT NULL CHECK (scope IN ('all', 'marketing')),
    source        text NOT NULL CHECK (source IN ('keyword', 'api', 'meta')),
    created_at    timestamptz NOT NULL,
    PRIMARY KEY (workspace_id, address, scope)
);

INSERT INTO suppressions (workspace_id, address, scope, source, created_at)
SELECT c.workspace_id, a.address, 'all', coalesce(c.opt_out_source, 'keyword'), coalesce(c.opted_out_at, c.updated_at)
FROM contacts c, unnest(ARRAY[c.phone, c.bsuid]) AS a (address)
WHERE c.opted_out AND a.address IS NOT NULL
UNION ALL
SELECT c.workspace_id, a.address, 'marketing', 'meta', c.updated_at
FROM contacts c, unnest(ARRAY[c.phone, c.bsuid]) AS a (address)
WHERE c.marketing_opted_out AND a.address IS NOT NULL
ON CONFLICT DO NOTHING;

-- Erasing a contact deletes its feed events: this index finds them.
CREATE INDEX inbox_events_ws_contact_idx ON inbox_events (workspace_id, contact_id) WHERE contact_id IS NOT NULL;
