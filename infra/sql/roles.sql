-- The two database roles of a region, made once per database by its administrator (on
-- RDS, the master user), before the first deploy. `loyalty_migrator` owns the schema and
-- alone changes it (`loyalty-api --migrate`, run by the deploy); `loyalty_api`, which the
-- service connects as, reads and writes rows and cannot create, alter or drop anything.
-- With psql: psql "$ADMIN_URL" -v migrator=loyalty_migrator -v service=loyalty_api -f roles.sql
CREATE ROLE :"migrator" LOGIN;
CREATE ROLE :"service" LOGIN;
-- Whoever runs this may set default privileges for the migrator (RDS's master user is
-- not a superuser).
GRANT :"migrator" TO CURRENT_USER;
GRANT USAGE, CREATE ON SCHEMA public TO :"migrator";
GRANT USAGE ON SCHEMA public TO :"service";
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
-- Every table and sequence the migrator makes is the service's to use, row by row.
ALTER DEFAULT PRIVILEGES FOR ROLE :"migrator" IN SCHEMA public
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO :"service";
ALTER DEFAULT PRIVILEGES FOR ROLE :"migrator" IN SCHEMA public
    GRANT USAGE, SELECT ON SEQUENCES TO :"service";
-- On RDS both log in with IAM tokens (no passwords):
--   GRANT rds_iam TO loyalty_migrator, loyalty_api;
