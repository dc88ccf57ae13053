//! The whole system as its users meet it, one test binary: the local deployment's
//! scripts bring up three regions and the router (real processes, real Postgres) on free
//! ports, and the tests drive them only from outside.
//!
//! - `stack`: the contract through the router, the authorization matrix, attacks;
//! - `cli`: the `loyalty` app against a stack, TLS included;
//! - `console`: the web console (in this process) against a stack, every page and form;
//! - `load`: the load test and its consistency verdict;
//! - `docs`: the README and operations documents name files that exist;
//! - `drills`: failures under load (a killed instance, a dead primary, a region cut off,
//!   a slow database, a flood); `make test` runs them after the rest, one at a time.

mod support;

mod cli;
mod console;
mod docs;
mod drills;
mod load;
mod openapi_fuzz;
mod stack;
