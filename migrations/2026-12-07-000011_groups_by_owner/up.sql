-- A user's groups in a region are counted before they get another (groups.max_owned).
-- Built CONCURRENTLY, outside a transaction (metadata.toml): a plain CREATE INDEX holds
-- off every write to groups, every points write, until it is built. Should the build
-- be cut off, Postgres keeps the index INVALID and this migration unrecorded; drop it
-- (DROP INDEX CONCURRENTLY groups_by_owner) and migrate again.
CREATE INDEX CONCURRENTLY groups_by_owner ON groups (owner_id) WHERE personal_of IS NULL;
