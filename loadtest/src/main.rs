use clap::Parser;
use loadtest::scenario::Scenario;

/// Load the platform through its router and check that no point was lost or invented.
/// Exits non-zero when any invariant broke.
#[derive(Parser)]
#[command(version, about)]
struct Args {
    #[command(flatten)]
    scenario: Scenario,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tls::install_default_provider();
    let scenario = Args::parse().scenario;
    let out = scenario.out.clone();
    let report = loadtest::run(scenario).await?;
    report.print();
    report.write(&out)?;
    println!("report: {0}/report.md, {0}/summary.json, chart: {0}/chart.svg", out.display());
    if !report.passed() {
        std::process::exit(1);
    }
    Ok(())
}
