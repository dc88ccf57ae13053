use std::path::PathBuf;

use clap::Parser;

// Every forwarded request allocates and frees headers, bodies and futures on two
// threads; glibc's malloc took a tenth of the router's CPU time under load.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The loyalty platform's router: one entry point for every region.
#[derive(Parser)]
#[command(version, about)]
struct Args {
    /// TOML configuration file; `LOYALTY_ROUTER_...` environment variables override it.
    #[arg(long, env = "LOYALTY_ROUTER_CONFIG")]
    config: Option<PathBuf>,
}

fn main() -> std::process::ExitCode {
    observability::telemetry::exit_code("the router", actix_web::rt::System::new().block_on(serve()))
}

async fn serve() -> anyhow::Result<()> {
    tls::install_default_provider();
    let args = Args::parse();
    let config = router::Config::load(args.config.as_deref())?;
    observability::telemetry::init_tracing(config.log_json);
    observability::open_files::raise_limit();
    let app = router::Application::build(config).await?;
    app.run_until_stopped().await?;
    Ok(())
}
