//! What a run does: who, how much, how hard, and with which seed.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

#[derive(Debug, Clone, Args)]
pub struct Scenario {
    /// The platform (the router).
    #[arg(long, env = "LOYALTY_URL", default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// A PEM bundle of CAs to trust for an `https://` URL, on top of the system's roots.
    #[arg(long, env = "LOYALTY_CA_FILE")]
    pub ca_file: Option<std::path::PathBuf>,
    #[arg(long, env = "LOYALTY_ADMIN_EMAIL", default_value = "admin@loyalty.local")]
    pub admin_email: String,
    #[arg(long, env = "LOYALTY_ADMIN_PASSWORD", default_value = "change-me-admin")]
    pub admin_password: String,
    /// Regions to spread users, groups, staff and menus over.
    #[arg(long, value_delimiter = ',', default_value = "001,002,003")]
    pub regions: Vec<String>,
    #[arg(long, default_value_t = 20)]
    pub users: usize,
    #[arg(long, default_value_t = 5)]
    pub groups: usize,
    /// Seconds of load (ignored when --ops is given).
    #[arg(long, default_value_t = 30)]
    pub duration: u64,
    /// Stop after this many operations instead of after --duration.
    #[arg(long)]
    pub ops: Option<u64>,
    /// Virtual users running at once.
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
    /// Operation mix in percent: bill, redeem, catalogue, balance, activity, quote,
    /// return, offer.
    #[arg(long, value_delimiter = ',', default_value = "30,30,8,8,8,6,6,4")]
    pub mix: Vec<u32>,
    /// Share of writes deliberately sent twice with the same key (0.0..=1.0).
    #[arg(long, default_value_t = 0.1)]
    pub duplicate_share: f64,
    /// Check ledger invariants every this many seconds during the run (0: only at the end).
    #[arg(long, default_value_t = 0)]
    pub check_every: u64,
    /// Per-request timeout in milliseconds; a timed-out write is retried with its key.
    #[arg(long, default_value_t = 5_000)]
    pub timeout_ms: u64,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Where the JSON summary and the chart go.
    #[arg(long, default_value = "loadtest-out")]
    pub out: PathBuf,
    /// No progress bar (for logs and CI).
    #[arg(long)]
    pub quiet: bool,
}

impl Scenario {
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }
}
