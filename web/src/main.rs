use std::path::PathBuf;

use clap::Parser;

/// The loyalty platform's web console: customer portal, staff till and admin pages.
#[derive(Parser)]
#[command(version, about)]
struct Args {
    /// TOML configuration file; `LOYALTY_WEB_...` environment variables override it.
    #[arg(long, env = "LOYALTY_WEB_CONFIG")]
    config: Option<PathBuf>,
}

fn main() -> std::process::ExitCode {
    observability::telemetry::exit_code("the web console", actix_web::rt::System::new().block_on(serve()))
}

async fn serve() -> anyhow::Result<()> {
    tls::install_default_provider();
    let args = Args::parse();
    let config = web::Config::load(args.config.as_deref())?;
    observability::telemetry::init_tracing(config.log_json);
    observability::open_files::raise_limit();
    let app = web::Application::build(config)?;
    tracing::info!(url = %format!("http://{}", app.address()), "web console listening");
    app.run_until_stopped().await?;
    Ok(())
}
