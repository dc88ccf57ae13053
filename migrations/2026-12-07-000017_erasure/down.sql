DROP TABLE erased_users;
ALTER TABLE users DROP COLUMN erased_on;
