DROP TABLE audit_days;
