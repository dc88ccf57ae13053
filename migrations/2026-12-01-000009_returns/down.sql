DELETE FROM ledger_entries WHERE kind = 'return';
ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_check;
ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_kind_check;
ALTER TABLE ledger_entries ADD CONSTRAINT ledger_entries_kind_check CHECK (kind IN ('award', 'redeem'));
ALTER TABLE ledger_entries ADD CONSTRAINT ledger_entries_check CHECK ((kind = 'award' AND points >= 0) OR (kind = 'redeem' AND points < 0));
DROP INDEX ledger_entries_by_bill;
ALTER TABLE ledger_entries DROP COLUMN bill_id, DROP COLUMN debt_change, DROP COLUMN lines;
ALTER TABLE groups DROP COLUMN points_debt;
