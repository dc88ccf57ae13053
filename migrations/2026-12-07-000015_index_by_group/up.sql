-- The audit reads, for each chunk of this region's groups, the index rows naming them
-- (an index row of a local group without its membership is a finding). The key is
-- (user_id, group_id), so without this each chunk read the whole index: 58 ms a chunk
-- of 200 groups over 220 000 rows, 2 ms with it. Rows change only with memberships.
CREATE INDEX user_group_index_by_group ON user_group_index (group_id);
