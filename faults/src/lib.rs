//! A TCP proxy whose links can be told to misbehave, so the failure drills inject faults
//! deterministically and without root: the local deployment puts one link between the
//! router and each API instance and one in front of each Postgres server.
//!
//! A link forwards bytes between its listener and its upstream, and injects its current
//! [`Fault`], which can be changed at any time and applies to open connections too.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};

pub mod control;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "fault", rename_all = "snake_case")]
pub enum Fault {
    /// Traffic passes untouched.
    None,
    /// Every chunk of bytes waits `ms` before it is passed on, in both directions, so a
    /// request/answer round trip takes at least 2 × `ms` longer.
    Latency { ms: u64 },
    /// Connections are accepted and kept open, but no byte passes: a network partition as
    /// both ends see it (only their own timeouts end the wait).
    Drop,
    /// The port is closed: new connections are refused and open ones are cut, as when
    /// the process behind it is gone.
    Refuse,
}

#[derive(Debug, Serialize)]
pub struct LinkState {
    pub name: String,
    pub listen: SocketAddr,
    pub upstream: SocketAddr,
    #[serde(flatten)]
    pub fault: Fault,
    pub open_connections: u64,
}

pub struct Link {
    pub name: String,
    pub listen: SocketAddr,
    pub upstream: SocketAddr,
    fault: watch::Sender<Fault>,
    open: AtomicU64,
    /// Told when the upstream refused a connection.
    upstream_gone: Notify,
}

/// The connection has to go: its link refuses, or the proxy is shutting down.
struct Cut;

impl From<Cut> for std::io::Error {
    fn from(_: Cut) -> Self {
        std::io::Error::new(std::io::ErrorKind::ConnectionReset, "cut by the fault proxy")
    }
}

impl Link {
    pub fn new(name: &str, listen: SocketAddr, upstream: SocketAddr) -> Arc<Link> {
        Arc::new(Link {
            name: name.to_owned(),
            listen,
            upstream,
            fault: watch::Sender::new(Fault::None),
            open: AtomicU64::new(0),
            upstream_gone: Notify::new(),
        })
    }

    pub fn set(&self, fault: Fault) {
        self.fault.send_replace(fault);
        tracing::info!(link = %self.name, ?fault, "fault set");
    }

    pub fn state(&self) -> LinkState {
        LinkState {
            name: self.name.clone(),
            listen: self.listen,
            upstream: self.upstream,
            fault: *self.fault.borrow(),
            open_connections: self.open.load(Ordering::Relaxed),
        }
    }

    /// Listens and forwards until the process ends. While the link refuses, its port is
    /// closed (so connecting fails at once with "connection refused"). So is it while the
    /// upstream refuses: a dead server must look dead through the proxy too (libpq, for
    /// one, tries its next host on a refused connection, not on one closed after accept).
    pub async fn serve(self: Arc<Self>) -> std::io::Result<()> {
        let mut fault = self.fault.subscribe();
        loop {
            if *fault.borrow_and_update() == Fault::Refuse {
                if fault.changed().await.is_err() {
                    return Ok(());
                }
                continue;
            }
            let listener = TcpListener::bind(self.listen).await?;
            loop {
                tokio::select! {
                    accepted = listener.accept() => match accepted {
                        Ok((client, _)) => { tokio::spawn(self.clone().carry(client)); }
                        Err(err) => {
                            // Out of file descriptors and the like: pause rather than spin.
                            tracing::warn!(link = %self.name, %err, "accept failed");
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                    },
                    changed = fault.changed() => {
                        if changed.is_err() { return Ok(()); }
                        if *fault.borrow() == Fault::Refuse { break; }
                    }
                    () = self.upstream_gone.notified() => {
                        drop(listener);
                        self.wait_for_upstream().await;
                        break;
                    }
                }
            }
        }
    }

    async fn wait_for_upstream(&self) {
        tracing::info!(link = %self.name, "upstream refuses; port closed until it is back");
        while TcpStream::connect(self.upstream).await.is_err() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        tracing::info!(link = %self.name, "upstream is back");
    }

    async fn carry(self: Arc<Self>, client: TcpStream) {
        let mut fault = self.fault.subscribe();
        // A new connection under `Drop` waits as its packets would.
        if passable(&mut fault).await.is_err() {
            return;
        }
        let Ok(upstream) = TcpStream::connect(self.upstream).await else {
            self.upstream_gone.notify_one();
            return;
        };
        let _ = client.set_nodelay(true);
        let _ = upstream.set_nodelay(true);
        self.open.fetch_add(1, Ordering::Relaxed);
        let (client_read, client_write) = client.into_split();
        let (upstream_read, upstream_write) = upstream.into_split();
        let _ = tokio::try_join!(
            pump(client_read, upstream_write, self.fault.subscribe()),
            pump(upstream_read, client_write, self.fault.subscribe()),
        );
        self.open.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Waits while the link drops traffic; answers the delay to add, or `Cut`.
async fn passable(fault: &mut watch::Receiver<Fault>) -> Result<Option<Duration>, Cut> {
    loop {
        let current = *fault.borrow_and_update();
        match current {
            Fault::None => return Ok(None),
            Fault::Latency { ms } => return Ok(Some(Duration::from_millis(ms))),
            Fault::Refuse => return Err(Cut),
            Fault::Drop => fault.changed().await.map_err(|_| Cut)?,
        }
    }
}

/// Resolves when the link starts refusing (or the proxy shuts down).
async fn refused(fault: &mut watch::Receiver<Fault>) -> Cut {
    loop {
        if *fault.borrow_and_update() == Fault::Refuse || fault.changed().await.is_err() {
            return Cut;
        }
    }
}

/// Copies one direction of a connection, applying the link's fault to every chunk.
async fn pump(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    mut fault: watch::Receiver<Fault>,
) -> std::io::Result<()> {
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        let n = tokio::select! {
            read = from.read(&mut buf) => read?,
            cut = refused(&mut fault) => return Err(cut.into()),
        };
        if n == 0 {
            to.shutdown().await?;
            return Ok(());
        }
        if let Some(delay) = passable(&mut fault).await? {
            tokio::time::sleep(delay).await;
        }
        to.write_all(&buf[..n]).await?;
    }
}
