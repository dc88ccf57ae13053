//! Every service's configuration is read the same way: its built-in defaults (which run
//! the local deployment), then an optional TOML file, then environment variables under the
//! service's prefix (`__` for nesting: `LOYALTY_ROUTER_TIMEOUTS__CONNECT_MS`).

use std::path::Path;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::Serialize;

/// The layers for `T`, to `extract()` (or to add a service's own layer to first).
pub fn layers<T: Serialize + Default>(file: Option<&Path>, env_prefix: &str) -> Figment {
    let mut figment = Figment::from(Serialized::defaults(T::default()));
    if let Some(file) = file {
        figment = figment.merge(Toml::file_exact(file));
    }
    figment.merge(Env::prefixed(env_prefix).split("__"))
}
