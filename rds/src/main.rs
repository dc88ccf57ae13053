use std::time::Duration;

use clap::{Parser, Subcommand};
use rds::fleet::{Database, Fleet};

/// Operations on the platform's databases in AWS: discovery by tags, status, failover drill.
#[derive(Parser)]
#[command(version, about)]
struct Args {
    /// AWS regions to look in (comma separated).
    #[arg(
        long,
        env = "LOYALTY_AWS_REGIONS",
        value_delimiter = ',',
        default_value = "eu-west-1,us-east-1,ap-southeast-1"
    )]
    aws_regions: Vec<String>,
    /// Another endpoint for the AWS API (a moto server in tests).
    #[arg(long, env = "AWS_ENDPOINT_URL")]
    endpoint_url: Option<String>,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List every region's database: status, endpoint, Multi-AZ state.
    Discover,
    /// One region's database.
    Status { region: String },
    /// Force a Multi-AZ failover of one region's database and wait until it is available.
    Failover {
        region: String,
        /// Give up after this many seconds.
        #[arg(long, default_value_t = 900)]
        timeout: u64,
        #[arg(long, default_value_t = 10)]
        poll: u64,
    },
}

fn print(databases: &[Database], json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(databases)?);
        return Ok(());
    }
    println!(
        "{:<6} {:<16} {:<20} {:<12} {:<9} {:<26} endpoint",
        "region", "aws region", "identifier", "status", "multi-az", "zones"
    );
    for d in databases {
        let zones = format!(
            "{} / {}",
            d.availability_zone.as_deref().unwrap_or("-"),
            d.secondary_availability_zone.as_deref().unwrap_or("-")
        );
        println!(
            "{:<6} {:<16} {:<20} {:<12} {:<9} {:<26} {}",
            d.region,
            d.aws_region,
            d.identifier,
            d.status,
            d.multi_az,
            zones,
            d.endpoint.as_deref().unwrap_or("-")
        );
    }
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let fleet = Fleet::connect(&args.aws_regions, args.endpoint_url.as_deref()).await;
    match args.command {
        Command::Discover => print(&fleet.discover().await?, args.json),
        Command::Status { region } => print(&[fleet.find(&region).await?], args.json),
        Command::Failover { region, timeout, poll } => {
            let (database, took) =
                fleet.failover(&region, Duration::from_secs(timeout), Duration::from_secs(poll)).await?;
            eprintln!("failover of {} done in {:.1} s", database.identifier, took.as_secs_f64());
            print(&[database], args.json)
        }
    }
}
