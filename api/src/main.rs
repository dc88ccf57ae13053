use std::path::PathBuf;

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
}

fn main() -> std::process::ExitCode {
    observability::telemetry::exit_code("the regional API", actix_web::rt::System::new().block_on(serve()))
}

async fn serve() -> anyhow::Result<()> {
    tls::install_default_provider();
    let args = Args::parse();
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
