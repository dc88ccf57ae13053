-- The scheduled audit of the region's books (`loyalty-api --audit --daily`): every API
-- instance's timer tries it hourly from the region's quiet hour, and the first to claim
-- the UTC day runs it, so the books are read once a day, not once an instance. A claim
-- an hour old and unfinished (its instance died mid-audit) is taken over by the next try.
-- `findings`: what that day's audit found, kept as the record of when the books were
-- last checked.
CREATE TABLE audit_days (
    day         date PRIMARY KEY,
    claimed_by  text NOT NULL,
    claimed_on  timestamptz NOT NULL DEFAULT now(),
    finished_on timestamptz,
    findings    integer
);
