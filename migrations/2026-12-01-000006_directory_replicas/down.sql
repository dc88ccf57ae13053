DROP INDEX users_not_replicated;
ALTER TABLE users DROP COLUMN directory_replicated;
