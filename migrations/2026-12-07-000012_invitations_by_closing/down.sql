DROP INDEX CONCURRENTLY invitations_by_closing;
