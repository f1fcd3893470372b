-- An inbound message's content is its type object ({"body"} for a text, as for an outbound
-- one), what the API shows; Meta's whole message (sender, context, referral, errors ...)
-- moves to raw. Outbound rows have no raw.
ALTER TABLE messages ADD COLUMN raw jsonb;
UPDATE messages SET raw = content,
    content = CASE WHEN type NOT IN ('from', 'from_user_id', 'id', 'timestamp', 'type', 'group_id', 'context', 'referral', 'errors')
                    AND jsonb_typeof(content -> type) IN ('object', 'array')
               THEN content -> type ELSE '{}' END
WHERE direction = 'inbound' AND raw IS NULL;
