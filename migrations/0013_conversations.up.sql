-- The team inbox (issue 15): conversations, internal notes, auto-assignment settings and
-- agents' availability.
--
-- A conversation is a contact's thread on one business number. There is one row per
-- (workspace, contact, number): an inbound message opens it the first time and reopens it
-- when resolved, so at most one open-or-pending conversation exists per pair by
-- construction.
CREATE TABLE conversations (
    workspace_id               uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    id                         uuid NOT NULL,
    contact_id                 uuid NOT NULL,
    phone_number_id            text NOT NULL,  -- Meta's id of the business number, as messages keep it
    status                     text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'pending', 'resolved')),
    assigned_to                uuid,
    unread_count               integer NOT NULL DEFAULT 0 CHECK (unread_count >= 0),
    last_message_at            timestamptz NOT NULL,
    last_message_preview       text NOT NULL DEFAULT '',
    last_inbound_at            timestamptz,
    service_window_expires_at  timestamptz,
    created_at                 timestamptz NOT NULL,
    updated_at                 timestamptz NOT NULL,
    PRIMARY KEY (workspace_id, id),
    FOREIGN KEY (workspace_id, contact_id) REFERENCES contacts (workspace_id, id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX conversations_contact_number_key ON conversations (workspace_id, contact_id, phone_number_id);
-- The views, newest activity first, keyset-paged by (last_message_at, id):
-- "all" (owners, managers, viewers) walks this one ...
CREATE INDEX conversations_ws_recent_idx ON conversations (workspace_id, last_message_at DESC, id DESC);
-- ... "all" with a status filter this one ...
CREATE INDEX conversations_ws_status_recent_idx ON conversations (workspace_id, status, last_message_at DESC, id DESC);
-- ... and "mine", "unassigned" (assigned_to IS NULL) and an agent's "all" (a merge of the
-- two) this one. Least-busy auto-assignment counts open conversations per agent with it too.
CREATE INDEX conversations_ws_assignee_recent_idx ON conversations (workspace_id, assigned_to, last_message_at DESC, id DESC);

-- Internal notes on a conversation; never sent to WhatsApp.
CREATE TABLE notes (
    workspace_id     uuid NOT NULL,
    id               uuid NOT NULL,
    conversation_id  uuid NOT NULL,
    author_id        uuid,  -- the user; NULL once the user is gone
    body             text NOT NULL,
    created_at       timestamptz NOT NULL,
    PRIMARY KEY (workspace_id, id),
    FOREIGN KEY (workspace_id, conversation_id) REFERENCES conversations (workspace_id, id) ON DELETE CASCADE
);
CREATE INDEX notes_conversation_idx ON notes (workspace_id, conversation_id, id DESC);

-- Auto-assignment: off, round robin (auto_assign_cursor is the agent picked last) or least
-- busy (fewest open conversations).
ALTER TABLE workspaces
    ADD COLUMN auto_assign text NOT NULL DEFAULT 'off' CHECK (auto_assign IN ('off', 'round_robin', 'least_busy')),
    ADD COLUMN auto_assign_cursor uuid;

-- Only available agents are picked by auto-assignment.
ALTER TABLE memberships ADD COLUMN available boolean NOT NULL DEFAULT true;
