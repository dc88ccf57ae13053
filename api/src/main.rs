use std::path::PathBuf;

use api::db::audit::Audit;
use api::startup::{AuditOptions, AuditRun};
use clap::Parser;

// Requests allocate and free JSON, rows and futures across the workers and the database
// threads; glibc's malloc showed in the profile, mimalloc is made for this.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The loyalty platform's regional API server.
#[derive(Parser)]
#[command(version, about)]
struct Args {
    /// TOML configuration file; `LOYALTY_...` environment variables override it.
    #[arg(long, env = "LOYALTY_CONFIG")]
    config: Option<PathBuf>,
    /// Print the OpenAPI document and exit.
    #[arg(long)]
    print_openapi: bool,
    /// Print a new token signing key and exit: the seed (secret: auth.signing_key), then
    /// the public key (every region's auth.verifying_keys), base64url, one per line.
    #[arg(long)]
    new_signing_key: bool,
    /// Apply pending migrations and exit (the deploy runs this as the migration role;
    /// instances with `db.migrate = false` only check the schema).
    #[arg(long)]
    migrate: bool,
    /// Check every group's books and exit: balance and debt are their ledger's sums, each
    /// entry's balance follows from the ones before it, open offers are counted right, no
    /// bill is returned beyond what it awarded, every used offer's bill used it. Exits 1 when anything is off; read-only
    /// (`database_url` may name a readable replica, to spare the primary).
    #[arg(long)]
    audit: bool,
    /// With --audit: the report as JSON.
    #[arg(long, requires = "audit")]
    json: bool,
    /// With --audit: also check this region's membership index against every other
    /// configured region's groups (over `/internal`: the regions' `urls` and the service
    /// token). A region that cannot be asked fails the audit.
    #[arg(long, requires = "audit")]
    across_regions: bool,
    /// With --across-regions: set each index row found off to what its group's region
    /// says (after restoring either side's database from a backup, say), each only if it
    /// still reads as the audit read it. What was set right is reported, not failed.
    #[arg(long, requires = "across_regions")]
    repair: bool,
    /// With --audit: run as the daily timer does, on the instance so named, and only if
    /// it claims today's (UTC) audit of the region first; when another instance holds the
    /// day, say so on stderr and exit 0; an audit that could not ask every region gives
    /// the day up for the next try. Prints the report as one JSON line for CloudWatch
    /// Logs: the counts, `findings` (the number the books alarm watches), the first 20.
    #[arg(long, requires = "audit", conflicts_with = "json", value_name = "INSTANCE")]
    daily: Option<String>,
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let service = if args.audit { "the audit" } else { "the regional API" };
    observability::telemetry::exit_code(service, actix_web::rt::System::new().block_on(serve(args)))
}

async fn serve(args: Args) -> anyhow::Result<()> {
    tls::install_default_provider();
    if args.new_signing_key {
        let (seed, public) = api::auth::new_signing_key();
        println!("{seed}\n{public}");
        return Ok(());
    }
    if args.print_openapi {
        println!("{}", serde_json::to_string_pretty(&api::routes::openapi_document())?);
        return Ok(());
    }
    let config = api::Config::load(args.config.as_deref())?;
    if args.audit {
        // Before tracing: the report is the command's output, alone on stdout.
        return audit(&config, &args).await;
    }
    observability::telemetry::init_tracing(config.log_json);
    observability::open_files::raise_limit();
    if args.migrate {
        let applied = api::startup::migrate_only(&config).await?;
        println!("{} migration(s) applied", applied.len());
        return Ok(());
    }
    let app = api::Application::build(config).await?;
    app.run_until_stopped().await?;
    Ok(())
}

async fn audit(config: &api::Config, args: &Args) -> anyhow::Result<()> {
    let options = AuditOptions { across_regions: args.across_regions, repair: args.repair, daily: args.daily.clone() };
    let audit = match api::startup::audit_only(config, &options).await? {
        AuditRun::Read(audit) => audit,
        AuditRun::Held { by, finished } => {
            let state = if finished { "done by" } else { "claimed by" };
            eprintln!("today's audit of region {} is {state} {by}", config.region);
            return Ok(());
        }
    };
    if let Some(instance) = &args.daily {
        println!("{}", serde_json::to_string(&DailyLine::of(config.region, instance, &audit))?);
    } else if args.json {
        println!("{}", serde_json::to_string_pretty(&audit)?);
    } else {
        report(&audit, args.across_regions);
    }
    if !audit.findings.is_empty() {
        anyhow::bail!("the books of region {} do not add up", config.region);
    }
    if !audit.index.regions_unreached.is_empty() {
        anyhow::bail!("region {}'s index was not checked against every region", config.region);
    }
    Ok(())
}

fn report(audit: &Audit, across_regions: bool) {
    let counted = |n: u64, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    println!(
        "{}, {}, {}: {}",
        counted(audit.groups, "group", "groups"),
        counted(audit.entries.unsigned_abs(), "ledger entry", "ledger entries"),
        counted(audit.answers, "answer kept for retries", "answers kept for retries"),
        counted(audit.findings.len() as u64, "finding", "findings")
    );
    if across_regions {
        println!(
            "{} of other regions' groups compared with the index, {} still on their way",
            counted(audit.index.memberships, "membership", "memberships"),
            audit.index.memberships_pending
        );
    }
    for finding in &audit.findings {
        println!("  - {finding}");
    }
    for repaired in &audit.index.repaired {
        println!("  - set right: {repaired}");
    }
    for region in &audit.index.regions_unreached {
        println!("  - not checked, region {region}");
    }
}

/// The daily audit's report as one CloudWatch Logs event: counts only, and the first
/// findings, so that a region whose books are badly off still fits one event (256 KiB).
#[derive(serde::Serialize)]
struct DailyLine<'a> {
    region: String,
    instance: &'a str,
    groups: u64,
    entries: i64,
    answers: u64,
    memberships: u64,
    findings: usize,
    regions_unreached: &'a [String],
    first_findings: Vec<String>,
}

impl<'a> DailyLine<'a> {
    fn of(region: impl ToString, instance: &'a str, audit: &'a Audit) -> Self {
        DailyLine {
            region: region.to_string(),
            instance,
            groups: audit.groups,
            entries: audit.entries,
            answers: audit.answers,
            memberships: audit.index.memberships,
            findings: audit.findings.len(),
            regions_unreached: &audit.index.regions_unreached,
            first_findings: audit.findings.iter().take(20).map(ToString::to_string).collect(),
        }
    }
}
