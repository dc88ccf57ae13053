//! The regional API server: one region's users, groups, catalogue and points, on its own
//! Postgres. See `shared/ARCHITECTURE.md` for where it sits.
//!
//! Layers, outside in: `routes` (HTTP handlers), `services` (business rules),
//! `db` (diesel queries), with `domain` parsing input and `auth` naming the caller.

pub mod auth;
pub mod config;
pub mod db;
pub mod domain;
pub mod error;
pub mod routes;
pub mod services;
pub mod startup;

pub use config::Config;
pub use startup::Application;
