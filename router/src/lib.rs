//! The router: stateless, in front of every region. It reads like a pipeline: `routing`
//! (what is this request, which region), `forward` (healthy instance, safe retries),
//! `flows` (sign-up and login through the email directory, fan-out and merge), with
//! `upstreams` keeping the instances' health. See `shared/ARCHITECTURE.md`.

pub mod config;
pub mod dispatch;
pub mod error;
pub mod flows;
pub mod forward;
pub mod limits;
pub mod routing;
pub mod startup;
pub mod status;
pub mod upstreams;

pub use config::Config;
pub use startup::Application;
