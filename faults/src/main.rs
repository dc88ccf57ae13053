//! `loyalty-faults`: the fault-injection proxy of the failure drills.
//!
//!     loyalty-faults --control 127.0.0.1:8090 \
//!         --link api-001-0=127.0.0.1:9101=127.0.0.1:8101 --link pg-001=...
//!     curl -X PUT 127.0.0.1:8090/links/pg-001 -d '{"fault":"latency","ms":200}' -H 'content-type: application/json'
//!     curl -X POST 127.0.0.1:8090/heal

use std::net::SocketAddr;
use std::sync::Arc;

use actix_web::{App, HttpServer, web};
use anyhow::Context;
use clap::Parser;
use faults::Link;
use faults::control::{self, Links};

#[derive(Parser)]
#[command(about = "TCP proxy that injects latency, dropped traffic and refused connections on request")]
struct Args {
    /// Where the control API listens.
    #[arg(long, default_value = "127.0.0.1:8090")]
    control: SocketAddr,
    /// A link, as NAME=LISTEN=UPSTREAM (addresses as host:port).
    #[arg(long = "link", value_parser = parse_link, required = true)]
    links: Vec<(String, SocketAddr, SocketAddr)>,
}

fn parse_link(text: &str) -> Result<(String, SocketAddr, SocketAddr), String> {
    let parts: Vec<&str> = text.split('=').collect();
    let [name, listen, upstream] = parts[..] else {
        return Err(format!("expected NAME=LISTEN=UPSTREAM, got {text:?}"));
    };
    let address = |a: &str| a.parse::<SocketAddr>().map_err(|e| format!("{a:?}: {e}"));
    Ok((name.to_owned(), address(listen)?, address(upstream)?))
}

fn main() -> std::process::ExitCode {
    observability::telemetry::init_tracing(false);
    observability::telemetry::exit_code("the fault proxy", serve())
}

fn serve() -> anyhow::Result<()> {
    let args = Args::parse();
    let links: Links =
        Arc::new(args.links.iter().map(|(name, listen, upstream)| Link::new(name, *listen, *upstream)).collect());

    let proxy = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    for link in links.iter() {
        let link = link.clone();
        proxy.spawn(async move {
            let name = link.name.clone();
            if let Err(err) = link.serve().await {
                tracing::error!(link = %name, %err, "link stopped");
                std::process::exit(1);
            }
        });
    }
    tracing::info!(control = %args.control, links = links.len(), "fault proxy up");
    let data = web::Data::new(links);
    actix_web::rt::System::new().block_on(async move {
        HttpServer::new(move || App::new().app_data(data.clone()).configure(control::routes))
            .workers(1)
            .bind(args.control)
            .with_context(|| format!("binding the control API to {}", args.control))?
            .run()
            .await
            .context("control API")
    })
}
