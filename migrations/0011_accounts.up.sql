-- Accounts a team can live with: sessions with rotating refresh tokens, password resets,
-- invitations, and workspaces that can be deleted.
--
-- A session is one login. Its refresh tokens are stored only as SHA-256 hashes; each
-- refresh spends the presented token (used_at) and issues the next, so a spent token
-- presented again is recognised and revokes the whole session. Access tokens carry the
-- session id and every request checks the session is not revoked.
CREATE TABLE sessions (
    id             uuid PRIMARY KEY,
    user_id        uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at     timestamptz NOT NULL,
    expires_at     timestamptz NOT NULL,  -- the newest refresh token's expiry
    revoked_at     timestamptz,
    revoked_reason text NOT NULL DEFAULT ''
);
CREATE INDEX sessions_user_idx ON sessions (user_id) WHERE revoked_at IS NULL;
CREATE INDEX sessions_expires_idx ON sessions (expires_at);

CREATE TABLE refresh_tokens (
    token_hash  bytea PRIMARY KEY,
    session_id  uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz
);
CREATE INDEX refresh_tokens_session_idx ON refresh_tokens (session_id);

-- Password reset tokens, hashed; single use, short-lived.
CREATE TABLE password_resets (
    token_hash  bytea PRIMARY KEY,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz
);
CREATE INDEX password_resets_user_idx ON password_resets (user_id);
CREATE INDEX password_resets_expires_idx ON password_resets (expires_at);

-- Invitations to join a workspace; the token is stored only as its hash.
CREATE TABLE invitations (
    workspace_id  uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    id            uuid NOT NULL,
    email         text NOT NULL,  -- lower-cased
    role          text NOT NULL CHECK (role IN ('owner', 'manager', 'agent', 'viewer')),
    token_hash    bytea NOT NULL,
    invited_by    uuid NOT NULL,
    created_at    timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL,
    accepted_at   timestamptz,
    accepted_by   uuid,
    revoked_at    timestamptz,
    PRIMARY KEY (workspace_id, id)
);
CREATE UNIQUE INDEX invitations_token_hash_key ON invitations (token_hash);
-- At most one open invitation per email in a workspace.
CREATE UNIQUE INDEX invitations_ws_email_open_key ON invitations (workspace_id, email)
    WHERE accepted_at IS NULL AND revoked_at IS NULL;

-- A deleted workspace answers 404 at once; its rows are erased in the background.
ALTER TABLE workspaces ADD COLUMN deleted_at timestamptz;
