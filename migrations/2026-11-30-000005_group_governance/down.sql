ALTER TABLE ledger_entries DROP COLUMN actor_id;
DROP TABLE invitations;
-- Repaired memberships stay ended: re-opening a personal group to others is the hole
-- this migration closed.
DROP TABLE membership_repairs;
ALTER TABLE group_members DROP COLUMN can_redeem;
ALTER TABLE groups DROP CONSTRAINT personal_groups_are_their_users;
ALTER TABLE groups DROP COLUMN owner_id;
