DELETE FROM ledger_entries WHERE kind = 'return';
ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_check;
ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_kind_check;
ALTER TABLE ledger_entries ADD CONSTRAINT ledger_entries_kind_check CHECK (kind IN ('award', 'redeem'));
ALTER TABLE ledger_entries ADD CONSTRAINT ledger_entries_check CHECK ((kind = 'award' AND points >= 0) OR (kind = 'redeem' AND points < 0));
ALTER TABLE ledger_entries DROP COLUMN bill_id, DROP COLUMN debt_change;
ALTER TABLE groups DROP COLUMN points_debt;
DROP TABLE bill_lines;
