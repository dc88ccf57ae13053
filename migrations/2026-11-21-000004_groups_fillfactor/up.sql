-- Every points batch updates its groups' rows. With room left on each page, the new
-- version of a row goes on the same page (a HOT update) and no index entry is written.
-- Without it, an update adds an entry to groups_pkey, and under SERIALIZABLE that entry
-- conflicts with every concurrent batch that read the same index page: disjoint batches
-- then fail each other and run again. Applies to pages written from now on.
ALTER TABLE groups SET (fillfactor = 50);
