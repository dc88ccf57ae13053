-- Housekeeping deletes invitations some days after they stopped opening their group
-- (groups.invitations_kept_days). CONCURRENTLY, as groups_by_owner (migration 11).
CREATE INDEX CONCURRENTLY invitations_by_closing ON invitations (least(used_on, revoked_on, expires_at));
