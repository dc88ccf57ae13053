-- The points given up go back to their groups, frozen as before this migration.
UPDATE groups g SET points = g.points - f.points
FROM (SELECT group_id, sum(points) AS points FROM ledger_entries WHERE kind = 'forfeit' GROUP BY group_id) f
WHERE g.id = f.group_id;
DELETE FROM ledger_entries WHERE kind = 'forfeit';
ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_kind_check;
ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_check;
ALTER TABLE ledger_entries ADD CONSTRAINT ledger_entries_kind_check CHECK (kind IN ('award', 'redeem', 'return'));
ALTER TABLE ledger_entries ADD CONSTRAINT ledger_entries_check CHECK (
    (kind = 'award' AND points >= 0)
    OR (kind = 'redeem' AND points < 0)
    OR (kind = 'return' AND points <= 0 AND bill_id IS NOT NULL)
);
