DROP TABLE outbox;
DROP TABLE catalogue_items;
DROP TABLE idempotency_records;
DROP TABLE ledger_entries;
DROP TABLE user_group_index;
DROP TABLE group_members;
DROP TABLE groups;
DROP TABLE users;
