-- The email directory is kept by three regions per email (contract::directory::REPLICAS),
-- no longer by one. Users created before were announced to one region only: each API
-- announces them to the others once (services::directory::replicate_existing) and marks
-- them here. New users are announced to every replica as they are created.
ALTER TABLE users ADD COLUMN directory_replicated boolean NOT NULL DEFAULT false;
ALTER TABLE users ALTER COLUMN directory_replicated SET DEFAULT true;
CREATE INDEX users_not_replicated ON users (id) WHERE NOT directory_replicated;
