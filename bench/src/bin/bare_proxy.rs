//! `loyalty-bare-proxy`: the least any proxy written in Rust costs on this machine, as a
//! baseline for the router hop. It forwards every request to one upstream with hyper on
//! both sides (the router's own outbound client, one per thread) and does nothing else: no
//! routing, no request id, no log line, no metrics, no timeout, no retry. It reads each
//! body whole, as the router does. A benchmark baseline, not a part of the platform.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use clap::Parser;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use router::forward::{self, Client};

// The router allocates with mimalloc; so does its baseline.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(about)]
struct Args {
    #[arg(long, default_value = "127.0.0.1:9070")]
    listen: SocketAddr,
    /// Base URL every request is forwarded to (`http://host:port`).
    #[arg(long)]
    upstream: String,
    /// Threads, each with its own event loop and client (the router's worker model).
    #[arg(long, default_value_t = 2)]
    threads: usize,
}

fn bad_gateway() -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = StatusCode::BAD_GATEWAY;
    response
}

async fn forward(client: Client, base: &str, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let (parts, body) = request.into_parts();
    let Ok(body) = body.collect().await.map(|b| b.to_bytes()) else { return bad_gateway() };
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let Ok(mut outgoing) = Request::builder().method(parts.method).uri(format!("{base}{path}")).body(Full::new(body))
    else {
        return bad_gateway();
    };
    for (name, value) in &parts.headers {
        if name != hyper::header::HOST && name != hyper::header::CONNECTION {
            outgoing.headers_mut().append(name, value.clone());
        }
    }
    let Ok(answer) = client.request(outgoing).await else { return bad_gateway() };
    let (parts, body) = answer.into_parts();
    let Ok(body) = body.collect().await.map(|b| b.to_bytes()) else { return bad_gateway() };
    Response::from_parts(parts, Full::new(body))
}

async fn serve(listener: std::net::TcpListener, base: &'static str) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::from_std(listener)?;
    let client = forward::client(Duration::from_secs(1), tls::client_config(None)?);
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        stream.set_nodelay(true)?;
        let client = client.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let client = client.clone();
                async move { Ok::<_, Infallible>(forward(client, base, request).await) }
            });
            // A client that goes away mid-request ends its connection; nothing to report.
            let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
        });
    }
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let base: &'static str = Box::leak(args.upstream.trim_end_matches('/').to_owned().into_boxed_str());
    let listener = std::net::TcpListener::bind(args.listen)?;
    listener.set_nonblocking(true)?;
    let threads: Vec<_> = (0..args.threads.max(1))
        .map(|_| {
            let listener = listener.try_clone()?;
            Ok(std::thread::spawn(move || {
                tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(serve(listener, base))
            }))
        })
        .collect::<std::io::Result<_>>()?;
    for thread in threads {
        thread.join().map_err(|_| anyhow::anyhow!("a proxy thread panicked"))??;
    }
    Ok(())
}
