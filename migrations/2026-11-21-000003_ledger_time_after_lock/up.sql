-- A ledger entry's time is taken when it is inserted, after its group's row is locked,
-- not when its transaction began (now()): with several API instances a transaction can
-- begin first yet lock the group second, and its entry would then sort before the entry
-- its balance_after builds on. Under the row lock, insert times per group follow commit
-- order, so "newest first" is the order balances were built in.
ALTER TABLE ledger_entries ALTER COLUMN created_on SET DEFAULT clock_timestamp();
