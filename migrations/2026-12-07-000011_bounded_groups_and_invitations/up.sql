-- A user's groups in a region are counted before they get another (groups.max_owned),
-- and housekeeping deletes invitations some days after they stopped opening their group.
CREATE INDEX groups_by_owner ON groups (owner_id) WHERE personal_of IS NULL;
CREATE INDEX invitations_by_closing ON invitations (least(used_on, revoked_on, expires_at));
