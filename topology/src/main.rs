//! `loyalty-topology`: a local deployment's ports and regions for the scripts that start
//! one. `env` prints shell assignments (up.sh evals them), `json` the whole layout
//! (bench.py), `check` only checks the file.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use topology::{Shape, Topology};

#[derive(Parser)]
#[command(about)]
struct Args {
    /// The topology file.
    #[arg(long, default_value_os_t = topology::default_path())]
    file: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args)]
struct Started {
    /// Which deployment of the file.
    #[arg(long, default_value = "local")]
    deployment: String,
    /// API instances per region (default: the file's).
    #[arg(long)]
    instances: Option<u16>,
    #[arg(long)]
    standby: bool,
    #[arg(long)]
    faults: bool,
    /// Only these regions (space-separated ids); default every region of the file.
    #[arg(long, default_value = "")]
    regions: String,
    /// Bases replacing the deployment's (a stack test's block of free ports).
    #[arg(long)]
    postgres: Option<u16>,
    #[arg(long)]
    api: Option<u16>,
    #[arg(long)]
    router: Option<u16>,
    #[arg(long)]
    faults_control: Option<u16>,
    #[arg(long)]
    standby_offset: Option<u16>,
    #[arg(long)]
    fault_offset: Option<u16>,
}

#[derive(Subcommand)]
enum Command {
    Env(Started),
    Json(Started),
    Check,
}

fn layout(topology: &Topology, started: &Started) -> anyhow::Result<topology::Layout> {
    let bases = topology.deployment(&started.deployment)?;
    let mut ports = bases.ports;
    ports.postgres = started.postgres.unwrap_or(ports.postgres);
    ports.api = started.api.unwrap_or(ports.api);
    ports.router = started.router.unwrap_or(ports.router);
    ports.faults_control = started.faults_control.unwrap_or(ports.faults_control);
    ports.standby_offset = started.standby_offset.or(ports.standby_offset);
    ports.fault_offset = started.fault_offset.or(ports.fault_offset);
    let shape = Shape {
        instances: started.instances.unwrap_or(topology.instances),
        standby: started.standby,
        faults: started.faults,
    };
    let regions: Vec<String> = started.regions.split_whitespace().map(str::to_owned).collect();
    let layout = topology.layout(ports, &bases.extra, shape, &regions)?;
    if let Some(missing) = regions.iter().find(|id| layout.region(id).is_none()) {
        anyhow::bail!("region {missing} is not in the topology");
    }
    Ok(layout)
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let topology = Topology::load(&args.file)?;
    match args.command {
        Command::Env(started) => print!("{}", layout(&topology, &started)?.shell()),
        Command::Json(started) => println!("{}", serde_json::to_string_pretty(&layout(&topology, &started)?)?),
        Command::Check => println!(
            "{}: {} regions, deployments {:?}: no port overlaps",
            args.file.display(),
            topology.regions.len(),
            topology.deployments.keys().collect::<Vec<_>>()
        ),
    }
    Ok(())
}
