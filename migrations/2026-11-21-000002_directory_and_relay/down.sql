DROP TABLE email_directory;
DROP INDEX outbox_pending;
ALTER TABLE outbox DROP COLUMN next_attempt_at;
CREATE INDEX outbox_pending ON outbox (id) WHERE delivered_on IS NULL;
