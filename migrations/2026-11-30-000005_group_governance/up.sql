-- Contract v1.1: groups belong to their members. A group has an owner; every other
-- member joined with an invitation and may redeem only when allowed to.

-- The owner is the earliest member, active ones first (v1 had no owner: its creator
-- was its first member). A membership row is never deleted, so every group has one.
ALTER TABLE groups ADD COLUMN owner_id text;
UPDATE groups g SET owner_id = COALESCE(g.personal_of, (
    SELECT m.user_id FROM group_members m WHERE m.group_id = g.id
    ORDER BY m.active DESC, m.joined_on, m.user_id LIMIT 1));
-- A group with no membership row at all cannot exist (creation writes one in the same
-- transaction); should one, it fails here rather than get an invented owner.
ALTER TABLE groups ALTER COLUMN owner_id SET NOT NULL;
ALTER TABLE groups ADD CONSTRAINT personal_groups_are_their_users CHECK (personal_of IS NULL OR owner_id = personal_of);

-- Members who joined under v1's rules keep the right to redeem they had.
ALTER TABLE group_members ADD COLUMN can_redeem boolean NOT NULL DEFAULT false;
UPDATE group_members SET can_redeem = true;

-- v1 let anyone join a personal group. Those memberships end here, with the next
-- version (so the member's home region index follows, below), and each is logged.
CREATE TABLE membership_repairs (
    group_id    text NOT NULL,
    user_id     text NOT NULL,
    reason      text NOT NULL,
    repaired_on timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (group_id, user_id)
);
WITH intruders AS (
    UPDATE group_members m SET active = false, version = m.version + 1, updated_on = now()
    FROM groups g
    WHERE g.id = m.group_id AND g.personal_of IS NOT NULL AND m.user_id <> g.personal_of AND m.active
    RETURNING m.group_id, m.user_id, m.version
), logged AS (
    INSERT INTO membership_repairs (group_id, user_id, reason)
    SELECT group_id, user_id, 'member of another user''s personal group (allowed by v1) removed' FROM intruders
), local_index AS (
    -- A member living in this region: their index row is here (it refers to users).
    UPDATE user_group_index i SET active = false, version = x.version, updated_on = now()
    FROM intruders x
    WHERE i.user_id = x.user_id AND i.group_id = x.group_id AND i.version < x.version
)
-- A member of another region: their home region's index follows through the outbox,
-- applied there by version like every membership event.
INSERT INTO outbox (destination_region, kind, payload)
SELECT substr(x.user_id, 1, 3), 'membership',
       jsonb_build_object('kind', 'membership', 'user_id', x.user_id, 'group_id', x.group_id,
                          'active', false, 'version', x.version)
FROM intruders x
WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = x.user_id);
DO $$
DECLARE repaired bigint;
BEGIN
    SELECT count(*) INTO repaired FROM membership_repairs;
    IF repaired > 0 THEN
        RAISE WARNING 'group governance: % membership(s) of personal groups removed; see membership_repairs', repaired;
    END IF;
END $$;

-- Invitations live in the group's region. The code is shown once; only its sha256 is
-- kept, so a copy of the database cannot join anyone.
CREATE TABLE invitations (
    id         text PRIMARY KEY,
    group_id   text NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    code_hash  text NOT NULL UNIQUE,
    can_redeem boolean NOT NULL,
    -- Only this user may use it, when set.
    user_id    text,
    created_by text NOT NULL,
    expires_at timestamptz NOT NULL,
    used_by    text,
    used_on    timestamptz,
    revoked_on timestamptz,
    created_on timestamptz NOT NULL DEFAULT now(),
    CHECK ((used_by IS NULL) = (used_on IS NULL))
);
CREATE INDEX invitations_by_group ON invitations (group_id, created_on DESC, id DESC);

-- Who billed or redeemed, kept as long as the entry. Entries written before v1.1 learn
-- it from their idempotency record where it is still kept (the caller), and a
-- redemption was always its member's own; the rest stay unknown (null).
ALTER TABLE ledger_entries ADD COLUMN actor_id text;
UPDATE ledger_entries e SET actor_id = r.caller_id
FROM idempotency_records r
WHERE r.key = e.idempotency_key AND r.response_body ->> 'id' = e.id;
UPDATE ledger_entries SET actor_id = user_id WHERE actor_id IS NULL AND kind = 'redeem';
