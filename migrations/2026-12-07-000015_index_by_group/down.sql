DROP INDEX user_group_index_by_group;
