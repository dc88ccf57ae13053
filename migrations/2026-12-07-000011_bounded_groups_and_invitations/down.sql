DROP INDEX invitations_by_closing;
DROP INDEX groups_by_owner;
