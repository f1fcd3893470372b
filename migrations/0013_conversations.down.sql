ALTER TABLE memberships DROP COLUMN available;
ALTER TABLE workspaces DROP COLUMN auto_assign_cursor, DROP COLUMN auto_assign;
DROP TABLE notes;
DROP TABLE conversations;
