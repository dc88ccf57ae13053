//! The web console: server-rendered pages (maud) with htmx for partial updates, a client
//! of the platform's public API through the router (the `client` crate). It keeps no
//! data of its own: the platform token lives in an encrypted, HttpOnly session cookie,
//! and every page is a call to the platform made with it.
//!
//! Layout: `session` (the cookie, the CSRF token), `error` (what a refusal looks like),
//! `security` (headers), `chart` (SVG), `pages/` (one module per area of the console).

pub mod chart;
pub mod config;
pub mod error;
pub mod pages;
pub mod security;
pub mod session;

use std::net::TcpListener;

use actix_session::SessionMiddleware;
use actix_session::config::{CookieContentSecurity, PersistentSession};
use actix_session::storage::CookieSessionStore;
use actix_web::cookie::{Key, SameSite};
use actix_web::dev::Server;
use actix_web::{App, HttpServer, web};
use anyhow::Context;
use base64::Engine;
use observability::address::Proxies;

pub use config::Config;

/// What every handler shares: the platform's client (one connection pool).
#[derive(Clone)]
pub struct AppState {
    pub platform: client::Client,
    /// The router's admin address, for the admin page's figures.
    pub metrics: Option<client::Client>,
    /// The router's proxy token: with it, each call names the visitor's address, so the
    /// router's per-address limits count visitors, not the console.
    pub proxy_token: Option<String>,
    /// Proxies in front of the console that append to `X-Forwarded-For`.
    pub proxies: Proxies,
}

impl AppState {
    /// The platform's client speaking for the visitor of `req`.
    pub fn platform_for(&self, req: &actix_web::HttpRequest) -> client::Client {
        match (&self.proxy_token, self.proxies.client(req)) {
            (Some(token), Some(address)) => self.platform.on_behalf_of(address, token),
            _ => self.platform.clone(),
        }
    }
}

pub struct Application {
    address: std::net::SocketAddr,
    server: Server,
}

/// The cookie key: the configured one, or one drawn now (sessions then end with the process).
fn session_key(config: &Config) -> anyhow::Result<Key> {
    match &config.session_key {
        Some(encoded) => {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(encoded.trim())
                .context("session_key is not base64")?;
            Key::try_from(bytes.as_slice()).context("session_key needs at least 64 bytes")
        }
        None => Ok(Key::generate()),
    }
}

impl Application {
    pub fn build(config: Config) -> anyhow::Result<Application> {
        let key = session_key(&config)?;
        let platform = client::Client::builder(&config.platform_url)
            .ca_file(config.tls.ca_file.as_deref())
            .retry(client::Retry::default())
            .build()?;
        let metrics = config.router_metrics_url.as_deref().map(|url| platform.with_base(url));
        let state = AppState {
            platform,
            metrics,
            proxy_token: config.proxy_token.clone(),
            proxies: Proxies::new(config.trusted_proxy_hops, &config.trusted_proxies)?,
        };
        let server_tls = config.tls.server()?;
        let secure = config.secure_cookies || server_tls.is_some();
        let listener = TcpListener::bind(&config.listen).with_context(|| format!("binding {}", config.listen))?;
        let address = listener.local_addr()?;
        let mut server = HttpServer::new(move || {
            let sessions = SessionMiddleware::builder(CookieSessionStore::default(), key.clone())
                .cookie_name("loyalty_console".to_owned())
                .cookie_http_only(true)
                .cookie_secure(secure)
                .cookie_same_site(SameSite::Strict)
                .cookie_content_security(CookieContentSecurity::Private)
                .session_lifecycle(
                    PersistentSession::default().session_ttl(actix_web::cookie::time::Duration::hours(8)),
                )
                .build();
            App::new()
                .app_data(web::Data::new(state.clone()))
                .app_data(web::FormConfig::default().limit(16 * 1024))
                .wrap(sessions)
                .wrap(security::headers())
                .configure(pages::routes)
        });
        // Not actix's 5 s: the public load balancer keeps idle connections for 60 s.
        server = server.keep_alive(observability::KEEP_ALIVE);
        if let Some(workers) = config.workers {
            server = server.workers(workers);
        }
        let server = match server_tls {
            Some(tls) => server.listen_rustls_0_23(listener, tls)?,
            None => server.listen(listener)?,
        };
        Ok(Application { address, server: server.run() })
    }

    pub fn address(&self) -> std::net::SocketAddr {
        self.address
    }

    pub fn port(&self) -> u16 {
        self.address.port()
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::TcpStream;
    use std::time::Duration;

    use super::*;

    /// One `GET /healthz` on `stream`, which stays open; the answer's status line.
    fn health(stream: &mut TcpStream) -> String {
        stream.write_all(b"GET /healthz HTTP/1.1\r\nhost: console\r\n\r\n").unwrap();
        let mut answer = [0u8; 512];
        let read = stream.read(&mut answer).unwrap_or(0);
        String::from_utf8_lossy(&answer[..read]).lines().next().unwrap_or_default().to_owned()
    }

    /// A load balancer reuses a connection that has been idle for up to 60 s; actix's own
    /// default would have closed it after 5.
    #[actix_web::test]
    async fn an_idle_connection_stays_open_for_the_load_balancer() {
        let config = Config { listen: "127.0.0.1:0".into(), workers: Some(1), ..Config::default() };
        let app = Application::build(config).unwrap();
        let address = app.address();
        actix_web::rt::spawn(app.run_until_stopped());
        let (first, after_idling) = actix_web::rt::task::spawn_blocking(move || {
            let mut stream = TcpStream::connect(address).unwrap();
            stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let first = health(&mut stream);
            std::thread::sleep(Duration::from_secs(6));
            (first, health(&mut stream))
        })
        .await
        .unwrap();
        assert_eq!(first, "HTTP/1.1 200 OK");
        assert_eq!(after_idling, "HTTP/1.1 200 OK", "the console closed a connection idle for 6 s");
    }
}
