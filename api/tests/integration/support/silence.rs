//! A loopback address that can go silent: while it is, packets to it go nowhere (no
//! refusal, no answer), as when a database host's availability zone goes dark. The
//! fault proxy cannot show that: its operating system still acknowledges every byte.
//! Adding and removing addresses and routes needs root (as `make test` runs).

use std::net::Ipv4Addr;
use std::process::Command;

pub struct SilentAddress {
    pub ip: Ipv4Addr,
}

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip").args(args).output().map_err(|e| format!("ip {args:?}: {e}"))?;
    if out.status.success() { Ok(()) } else { Err(format!("ip {args:?}: {}", String::from_utf8_lossy(&out.stderr))) }
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status.lines().find(|l| l.starts_with("Uid:")).map(|l| l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false)
}

impl SilentAddress {
    /// An address of this process's own (10.251.x.y from its pid) on `lo`, or `None`
    /// when not run as root.
    pub fn add() -> Option<SilentAddress> {
        if !is_root() {
            return None;
        }
        let pid = std::process::id();
        let address = SilentAddress { ip: Ipv4Addr::new(10, 251, (pid >> 8) as u8, pid as u8) };
        // Left over by a run that died half-way, with the same pid.
        address.forget();
        if let Err(e) = ip(&["addr", "add", &address.cidr(), "dev", "lo"]) {
            panic!("as root, adding {} to lo failed: {e}", address.ip);
        }
        Some(address)
    }

    fn cidr(&self) -> String {
        format!("{}/32", self.ip)
    }

    /// From now on, packets to the address are dropped where they are sent. Connections
    /// stay open at both ends; only their own timeouts end them.
    pub fn silence(&self) {
        ip(&["addr", "del", &self.cidr(), "dev", "lo"]).unwrap();
        ip(&["route", "add", "blackhole", &self.cidr()]).unwrap();
    }

    /// The address answers again.
    pub fn speak(&self) {
        ip(&["route", "del", "blackhole", &self.cidr()]).unwrap();
        ip(&["addr", "add", &self.cidr(), "dev", "lo"]).unwrap();
    }

    fn forget(&self) {
        let _ = ip(&["route", "del", "blackhole", &self.cidr()]);
        let _ = ip(&["addr", "del", &self.cidr(), "dev", "lo"]);
    }
}

impl Drop for SilentAddress {
    fn drop(&mut self) {
        self.forget();
    }
}
