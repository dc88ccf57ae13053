-- Points a closed account gave up (`forfeit_points`): written off in the ledger, in the
-- closing transaction, so the group's balance is nothing and the books say why, and the
-- points no one can spend any more stop counting as points owed.
ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_kind_check;
ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_check;
ALTER TABLE ledger_entries ADD CONSTRAINT ledger_entries_kind_check
    CHECK (kind IN ('award', 'redeem', 'return', 'forfeit'));
ALTER TABLE ledger_entries ADD CONSTRAINT ledger_entries_check CHECK (
    (kind = 'award' AND points >= 0)
    OR (kind = 'redeem' AND points < 0)
    OR (kind = 'return' AND points <= 0 AND bill_id IS NOT NULL)
    OR (kind = 'forfeit' AND points < 0 AND balance_after = 0)
);
