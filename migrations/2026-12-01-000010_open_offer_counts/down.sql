ALTER TABLE groups DROP COLUMN open_offers;
