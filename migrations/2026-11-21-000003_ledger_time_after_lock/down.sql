ALTER TABLE ledger_entries ALTER COLUMN created_on SET DEFAULT now();
