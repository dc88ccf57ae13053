//! The API's integration tests, one binary (as zero2prod's `tests/api` and crates.io's
//! `integration` target): every test gets its own database on the throwaway cluster that
//! `make test` starts (LOYALTY_TEST_PG_URL) and its own server on a free port, spoken to
//! over real HTTP, so they run in parallel and leave nothing behind.

mod support;

mod audit;
mod batches;
mod catalogue;
mod convergence;
mod discounts;
mod erasure;
mod find_user;
mod governance;
mod groups;
mod housekeeping;
mod internal;
mod layers;
mod migrations;
mod offers;
mod passwords;
mod points;
mod points_races;
mod resilience;
mod returns;
mod sessions;
mod statements;
mod users;
