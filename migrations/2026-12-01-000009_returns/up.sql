-- Returns (contract v1.2). A bill's lines as billed, with what each line was paid (after
-- the bill's discount) and earned, so that a return reverses exactly what that bill
-- awarded for the lines returned, never recomputed from today's prices or rules.
CREATE TABLE bill_lines (
    bill_id      text NOT NULL REFERENCES ledger_entries (id),
    line_no      integer NOT NULL,
    item_id      text NOT NULL,
    qty          integer NOT NULL CHECK (qty > 0),
    paid_cents   bigint NOT NULL CHECK (paid_cents >= 0),
    points       bigint NOT NULL CHECK (points >= 0),
    returned_qty integer NOT NULL DEFAULT 0,
    PRIMARY KEY (bill_id, line_no),
    CHECK (returned_qty BETWEEN 0 AND qty)
);

-- Points a group owes: a return whose points were already spent takes what the group
-- holds and owes the rest, which the group's next awards pay first.
ALTER TABLE groups ADD COLUMN points_debt bigint NOT NULL DEFAULT 0 CHECK (points_debt >= 0);

-- A return's entry names the bill it returns; an award or a return says how it changed
-- the group's debt (a return owing what it could not take, an award paying it off).
ALTER TABLE ledger_entries
    ADD COLUMN bill_id     text,
    ADD COLUMN debt_change bigint;
ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_kind_check;
ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_check;
ALTER TABLE ledger_entries ADD CONSTRAINT ledger_entries_kind_check CHECK (kind IN ('award', 'redeem', 'return'));
ALTER TABLE ledger_entries ADD CONSTRAINT ledger_entries_check CHECK (
    (kind = 'award' AND points >= 0)
    OR (kind = 'redeem' AND points < 0)
    OR (kind = 'return' AND points <= 0 AND bill_id IS NOT NULL)
);
