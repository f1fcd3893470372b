ALTER TABLE workspaces DROP COLUMN deleted_at;
DROP TABLE invitations;
DROP TABLE password_resets;
DROP TABLE refresh_tokens;
DROP TABLE sessions;
