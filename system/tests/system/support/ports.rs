//! Free ports for a stack: a block of the topology's `stack` deployment, claimed with a
//! file so test processes running at once never pick the same block.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};

use super::Options;

fn free(port: u16) -> bool {
    TcpListener::bind(("127.0.0.1", port)).is_ok()
}

/// Claims a block of ports for this process: a file per block, created exclusively, so
/// two stacks starting at once (in one test binary or several) never pick the same
/// block between choosing it and binding it. A claim whose process is gone is taken over.
fn claim_block(base: u16) -> Option<PathBuf> {
    let dir = std::env::temp_dir().join("loyalty-stack-blocks");
    std::fs::create_dir_all(&dir).ok()?;
    let path = dir.join(base.to_string());
    for _ in 0..2 {
        match std::fs::OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(mut file) => {
                use std::io::Write;
                writeln!(file, "{}", std::process::id()).ok()?;
                return Some(path);
            }
            Err(_) => {
                let owner = std::fs::read_to_string(&path).unwrap_or_default();
                let alive = owner.trim().parse::<u32>().is_ok_and(|pid| Path::new(&format!("/proc/{pid}")).exists());
                if alive {
                    return None;
                }
                let _ = std::fs::remove_file(&path);
            }
        }
    }
    None
}

/// A block of free ports for a stack shaped by `options`, claimed against other test
/// processes; the stack's layout in it. The blocks lie below Linux's ephemeral range
/// (32768-60999): a port that is free when chosen there can be taken by any process's
/// outgoing connection before the server binds it.
pub(super) fn free_ports(options: Options) -> (topology::Layout, topology::Ports, PathBuf) {
    let topology = topology::Topology::local().unwrap();
    let stack = topology.deployment("stack").unwrap();
    let block = stack.block.unwrap();
    let shape = topology::Shape { instances: options.instances, standby: options.drill, faults: options.drill };
    let blocks = u64::from((32_768 - 10_000) / block);
    let mut seed = ulid::Ulid::new().random() as u64;
    loop {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let base = 10_000 + ((seed >> 33) % blocks) as u16 * block;
        let ports = stack.ports.shifted(base);
        let layout = topology.layout(ports, &stack.extra, shape, &[]).unwrap();
        let Some(claim) = claim_block(base) else { continue };
        if layout.ports().iter().all(|&(p, _)| free(p)) {
            return (layout, ports, claim);
        }
        let _ = std::fs::remove_file(claim);
    }
}
