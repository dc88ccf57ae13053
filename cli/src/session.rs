//! Where the CLI keeps things between runs: the router URL (config file) and the session
//! token, in the user's config directory, readable by the owner only.

use std::fs;
use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use contract::dto::Role;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    pub url: String,
    pub token: String,
    pub user_id: String,
    pub role: Role,
    pub expires_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Debug, Default, Deserialize)]
struct FileConfig {
    url: Option<String>,
}

pub struct Store {
    dir: PathBuf,
}

impl Store {
    /// `LOYALTY_CONFIG_DIR`, else the platform's config directory (`~/.config/loyalty`).
    pub fn locate() -> anyhow::Result<Store> {
        let dir = match std::env::var_os("LOYALTY_CONFIG_DIR") {
            Some(dir) => PathBuf::from(dir),
            None => dirs::config_dir().context("no config directory; set LOYALTY_CONFIG_DIR")?.join("loyalty"),
        };
        Ok(Store { dir })
    }

    /// The URL from `config.json` (`{"url": "..."}`), if any.
    pub fn configured_url(&self) -> Option<String> {
        let text = fs::read_to_string(self.dir.join("config.json")).ok()?;
        serde_json::from_str::<FileConfig>(&text).ok()?.url
    }

    pub fn load(&self) -> Option<Session> {
        let text = fs::read_to_string(self.dir.join("session.json")).ok()?;
        let session: Session = serde_json::from_str(&text).ok()?;
        (session.expires_at > chrono::Utc::now()).then_some(session)
    }

    pub fn save(&self, session: &Session) -> anyhow::Result<()> {
        fs::create_dir_all(&self.dir)?;
        let path = self.dir.join("session.json");
        let mut options = fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(&path).with_context(|| format!("writing {}", path.display()))?;
        // An existing file keeps its mode on open: make sure it is owner-only.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&path, fs::Permissions::from_mode(0o600))?;
        }
        file.write_all(&serde_json::to_vec_pretty(session)?)?;
        Ok(())
    }

    /// Removes the token; `Ok(false)` when there was none.
    pub fn forget(&self) -> anyhow::Result<bool> {
        match fs::remove_file(self.dir.join("session.json")) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e.into()),
        }
    }
}
