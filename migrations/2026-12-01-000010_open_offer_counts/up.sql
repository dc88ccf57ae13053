-- How many open offers each group holds, kept with the row every points batch locks
-- anyway: a batch of bills reads the offers table only for groups that hold one
-- (reading it for every batch cost a statement per batch, a fifth of a bill's
-- throughput: docs/BENCHMARKS.md).
ALTER TABLE groups ADD COLUMN open_offers integer NOT NULL DEFAULT 0 CHECK (open_offers >= 0);
UPDATE groups g SET open_offers = (SELECT count(*) FROM offers o WHERE o.group_id = g.id AND o.state = 'open')
 WHERE EXISTS (SELECT 1 FROM offers o WHERE o.group_id = g.id AND o.state = 'open');
