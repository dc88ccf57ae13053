DROP TABLE email_failures;
DROP TABLE lockouts;
