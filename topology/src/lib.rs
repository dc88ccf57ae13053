//! The local deployments' shape, read from `infra/local/topology.toml`: regions and their
//! names, API instances, and each deployment's ports (the one place that computes them).
//! `up.sh` and `bench.py` get them from the `loyalty-topology` binary, the stack tests
//! from this library.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};

/// The file, as the repository holds it.
pub fn default_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../infra/local/topology.toml")
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Topology {
    /// API instances per region unless a deployment is started with another number.
    pub instances: u16,
    pub regions: Vec<Region>,
    pub deployments: BTreeMap<String, Bases>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Region {
    pub id: String,
    pub name: String,
}

/// Where a deployment's ports start.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
pub struct Ports {
    pub postgres: u16,
    pub api: u16,
    pub router: u16,
    pub faults_control: u16,
    /// Where hot standbys listen, past the primaries; none: this deployment runs none.
    pub standby_offset: Option<u16>,
    /// Where fault links listen, past what they lead to; none: this deployment has none.
    pub fault_offset: Option<u16>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Bases {
    #[serde(flatten)]
    pub ports: Ports,
    #[serde(default)]
    pub extra: BTreeMap<String, u16>,
    /// Ports relative to a block of free ports chosen when it starts (`Ports::shifted`):
    /// many such deployments run at once, each in its own block of `block` ports.
    #[serde(default)]
    pub block: Option<u16>,
}

impl Ports {
    /// The same ports `by` higher (a relative deployment placed in its block).
    pub fn shifted(self, by: u16) -> Ports {
        Ports {
            postgres: self.postgres + by,
            api: self.api + by,
            router: self.router + by,
            faults_control: self.faults_control + by,
            ..self
        }
    }
}

/// What a deployment runs besides one primary Postgres and the API instances per region.
#[derive(Debug, Clone, Copy, Default)]
pub struct Shape {
    pub instances: u16,
    pub standby: bool,
    pub faults: bool,
}

/// Every port of a started deployment, by what listens on it.
#[derive(Debug, Clone, Serialize)]
pub struct Layout {
    pub regions: Vec<RegionPorts>,
    pub router: u16,
    pub router_admin: u16,
    /// The fault proxy's control API (only with fault links).
    pub faults_control: Option<u16>,
    pub extra: BTreeMap<String, u16>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RegionPorts {
    pub id: String,
    pub name: String,
    pub postgres: Endpoint,
    pub standby: Option<Endpoint>,
    pub api: Vec<Endpoint>,
}

/// A port and where the others reach it: itself, or its fault link.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct Endpoint {
    pub port: u16,
    pub via: u16,
}

impl Topology {
    pub fn load(path: &Path) -> anyhow::Result<Topology> {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let topology: Topology = toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        topology.check()?;
        Ok(topology)
    }

    /// The repository's file.
    pub fn local() -> anyhow::Result<Topology> {
        Topology::load(&default_path())
    }

    pub fn deployment(&self, name: &str) -> anyhow::Result<&Bases> {
        self.deployments.get(name).with_context(|| format!("no deployment {name:?} in the topology"))
    }

    /// The ports of a deployment from `ports`, running `shape`, with `regions` (all if
    /// empty).
    pub fn layout(
        &self,
        ports: Ports,
        extra: &BTreeMap<String, u16>,
        shape: Shape,
        regions: &[String],
    ) -> anyhow::Result<Layout> {
        let fault_offset = match (shape.faults, ports.fault_offset) {
            (false, _) => 0,
            (true, Some(offset)) => offset,
            (true, None) => bail!("this deployment has no fault_offset: it runs without fault links"),
        };
        let standby_offset = match (shape.standby, ports.standby_offset) {
            (true, None) => bail!("this deployment has no standby_offset: it runs without standbys"),
            (_, offset) => offset.unwrap_or(0),
        };
        let endpoint = |port: u16| Endpoint { port, via: port + fault_offset };
        let regions = self
            .regions
            .iter()
            .filter(|r| regions.is_empty() || regions.contains(&r.id))
            .map(|region| {
                let n: u16 = region.id.parse().unwrap_or(0);
                RegionPorts {
                    id: region.id.clone(),
                    name: region.name.clone(),
                    postgres: endpoint(ports.postgres + n),
                    standby: shape.standby.then(|| endpoint(ports.postgres + standby_offset + n)),
                    api: (0..shape.instances.max(1)).map(|k| endpoint(ports.api + n + 10 * k)).collect(),
                }
            })
            .collect();
        Ok(Layout {
            regions,
            router: ports.router,
            router_admin: ports.router + 1,
            faults_control: shape.faults.then_some(ports.faults_control),
            extra: extra.clone(),
        })
    }

    /// Refuses a topology whose ports overlap: within a deployment (region 011's first
    /// instance would take region 001's second's port), or between two deployments meant
    /// to run side by side.
    pub fn check(&self) -> anyhow::Result<()> {
        let mut ids = BTreeSet::new();
        for region in &self.regions {
            if region.id.len() != 3 || !region.id.bytes().all(|b| b.is_ascii_digit()) || !ids.insert(&region.id) {
                bail!("region id {:?}: three digits, once each", region.id);
            }
        }
        let mut owner: BTreeMap<u16, String> = BTreeMap::new();
        for (name, bases) in &self.deployments {
            // As widely as it can run: two instances or more, its standbys and fault links.
            let widest = Shape {
                instances: self.instances.max(2),
                standby: bases.ports.standby_offset.is_some(),
                faults: bases.ports.fault_offset.is_some(),
            };
            let ports = self.layout(bases.ports, &bases.extra, widest, &[])?.ports();
            if let Some(block) = bases.block {
                // Placed anywhere at run time: its ports only must not overlap each other
                // and stay in the block.
                let mut own = BTreeMap::new();
                for (port, what) in ports {
                    if port >= block {
                        bail!("{name} {what}: port {port} is outside its block of {block}");
                    }
                    if let Some(other) = own.insert(port, what.clone()) {
                        bail!("{name}: port {port} is both {other} and {what}");
                    }
                }
                continue;
            }
            for (port, what) in ports {
                if let Some(other) = owner.insert(port, format!("{name} {what}")) {
                    bail!("port {port} is both {other} and {name} {what}");
                }
            }
        }
        Ok(())
    }
}

impl Layout {
    /// Every port it listens on (fault links included), with what listens.
    pub fn ports(&self) -> Vec<(u16, String)> {
        let mut ports = vec![(self.router, "router".to_owned()), (self.router_admin, "router admin".to_owned())];
        let mut endpoint = |e: &Endpoint, what: String| {
            if e.via != e.port {
                ports.push((e.via, format!("{what} fault link")));
            }
            ports.push((e.port, what));
        };
        for region in &self.regions {
            endpoint(&region.postgres, format!("pg-{}", region.id));
            if let Some(standby) = &region.standby {
                endpoint(standby, format!("pg-{}-standby", region.id));
            }
            for (k, api) in region.api.iter().enumerate() {
                endpoint(api, format!("api-{}-{k}", region.id));
            }
        }
        ports.extend(self.faults_control.map(|p| (p, "fault proxy control".to_owned())));
        ports.extend(self.extra.iter().map(|(name, port)| (*port, name.clone())));
        // The wide-area links of a deployment sit at wan_links + NNN.
        if let Some(&base) = self.extra.get("wan_links") {
            ports.extend(
                self.regions.iter().map(|r| (base + r.id.parse::<u16>().unwrap_or(0), format!("wan-{}", r.id))),
            );
        }
        ports
    }

    pub fn region(&self, id: &str) -> Option<&RegionPorts> {
        self.regions.iter().find(|r| r.id == id)
    }

    /// Shell assignments for `eval` in up.sh: REGIONS, REGION_NAME_NNN, PG_PORT_NNN,
    /// PG_VIA_NNN, STANDBY_PORT_NNN, STANDBY_VIA_NNN, API_PORT_NNN_K, API_VIA_NNN_K,
    /// ROUTER_PORT, ROUTER_ADMIN_PORT, FAULTS_CONTROL_PORT, and EXTRA_<NAME> for each of
    /// the deployment's `extra` ports (`console` → EXTRA_CONSOLE).
    pub fn shell(&self) -> String {
        let quote = |s: &str| format!("'{}'", s.replace('\'', r"'\''"));
        let ids: Vec<&str> = self.regions.iter().map(|r| r.id.as_str()).collect();
        let mut lines = vec![format!("REGIONS={}", quote(&ids.join(" ")))];
        for region in &self.regions {
            let id = &region.id;
            lines.push(format!("REGION_NAME_{id}={}", quote(&region.name)));
            lines.push(format!("PG_PORT_{id}={} PG_VIA_{id}={}", region.postgres.port, region.postgres.via));
            if let Some(standby) = &region.standby {
                lines.push(format!("STANDBY_PORT_{id}={} STANDBY_VIA_{id}={}", standby.port, standby.via));
            }
            for (k, api) in region.api.iter().enumerate() {
                lines.push(format!("API_PORT_{id}_{k}={} API_VIA_{id}_{k}={}", api.port, api.via));
            }
        }
        lines.push(format!("ROUTER_PORT={} ROUTER_ADMIN_PORT={}", self.router, self.router_admin));
        if let Some(control) = self.faults_control {
            lines.push(format!("FAULTS_CONTROL_PORT={control}"));
        }
        for (name, port) in &self.extra {
            lines.push(format!("EXTRA_{}={port}", name.to_uppercase()));
        }
        lines.join("\n") + "\n"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> anyhow::Result<Topology> {
        let topology: Topology = toml::from_str(text)?;
        topology.check()?;
        Ok(topology)
    }

    const BASES: &str = "postgres = 55000\napi = 8100\nrouter = 8080\nfaults_control = 8090\nstandby_offset = 100\nfault_offset = 1000\n";

    #[test]
    fn the_repositorys_topology_is_consistent() {
        let topology = Topology::local().unwrap_or_else(|e| panic!("{e:#}"));
        let local = topology.deployment("local").unwrap_or_else(|e| panic!("{e:#}"));
        let shape = Shape { instances: 2, ..Shape::default() };
        let layout = topology.layout(local.ports, &local.extra, shape, &[]).unwrap_or_else(|e| panic!("{e:#}"));
        assert_eq!(layout.region("001").map(|r| r.api[1].port), Some(8111));
        assert_eq!(layout.region("003").map(|r| r.postgres.port), Some(4003));
    }

    #[test]
    fn overlapping_ports_are_refused() {
        let regions = "[[regions]]\nid = \"001\"\nname = \"a\"\n[[regions]]\nid = \"011\"\nname = \"b\"\n";
        let err = parsed(&format!("instances = 1\n{regions}[deployments.local]\n{BASES}")).err();
        let err = err.map(|e| e.to_string()).unwrap_or_default();
        assert!(
            err.contains("api-001-1") && err.contains("api-011-0"),
            "region 011 takes 001's second instance: {err}"
        );
        let two = format!(
            "instances = 1\n[[regions]]\nid = \"001\"\nname = \"a\"\n[deployments.a]\n{BASES}[deployments.b]\n{BASES}"
        );
        assert!(parsed(&two).is_err(), "two deployments on the same ports");
    }

    #[test]
    fn fault_links_shift_what_the_others_dial() {
        let topology = Topology::local().unwrap_or_else(|e| panic!("{e:#}"));
        let local = topology.deployment("local").unwrap_or_else(|e| panic!("{e:#}"));
        let shape = Shape { instances: 1, standby: true, faults: true };
        let layout =
            topology.layout(local.ports, &local.extra, shape, &["002".to_owned()]).unwrap_or_else(|e| panic!("{e:#}"));
        assert_eq!(layout.regions.len(), 1);
        assert_eq!(layout.regions[0].api[0], Endpoint { port: 8102, via: 10102 });
        assert_eq!(layout.regions[0].standby, Some(Endpoint { port: 4102, via: 6102 }));
        assert!(layout.shell().contains("API_PORT_002_0=8102 API_VIA_002_0=10102"));
        let bench = topology.deployment("bench").unwrap_or_else(|e| panic!("{e:#}"));
        assert!(topology.layout(bench.ports, &bench.extra, shape, &[]).is_err(), "the bench runs no standby");
    }
}
