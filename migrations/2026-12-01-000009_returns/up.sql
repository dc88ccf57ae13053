-- Returns (contract v1.2). A bill's entry keeps its lines as billed (`lines`: each
-- item's quantity, what it was paid after the bill's discount, what it earned), and a
-- return's entry the units it took back per line, so a return reverses exactly what that
-- bill awarded for those lines, never recomputed from today's prices or rules. Kept in
-- the entries the batch writes anyway: the ledger stays append-only, and a bill costs no
-- statement more (a table of lines cost a fifth of a bill's throughput).

-- Points a group owes: a return whose points were already spent takes what the group
-- holds and owes the rest, which the group's next awards pay first.
ALTER TABLE groups ADD COLUMN points_debt bigint NOT NULL DEFAULT 0 CHECK (points_debt >= 0);

-- A return's entry names the bill it returns; an award or a return says how it changed
-- the group's debt (a return owing what it could not take, an award paying it off).
ALTER TABLE ledger_entries
    ADD COLUMN bill_id     text,
    ADD COLUMN debt_change bigint,
    ADD COLUMN lines       jsonb;
CREATE INDEX ledger_entries_by_bill ON ledger_entries (bill_id) WHERE bill_id IS NOT NULL;
ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_kind_check;
ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_check;
ALTER TABLE ledger_entries ADD CONSTRAINT ledger_entries_kind_check CHECK (kind IN ('award', 'redeem', 'return'));
ALTER TABLE ledger_entries ADD CONSTRAINT ledger_entries_check CHECK (
    (kind = 'award' AND points >= 0)
    OR (kind = 'redeem' AND points < 0)
    OR (kind = 'return' AND points <= 0 AND bill_id IS NOT NULL)
);
