//! HTTP written by hand, byte for byte, for what a well-behaved client cannot send:
//! malformed requests, forged headers, a connection from another source address.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// `request`, bytes as they go on the wire, on a connection of its own to `router` (from
/// `source`, when given): the status the router answered (0: none, or the request could
/// not be written), or `None` when the connection was still open after 15 s.
pub async fn exchange(router: &str, source: Option<IpAddr>, request: &[u8]) -> Option<u16> {
    let address: SocketAddr = router.trim_start_matches("http://").parse().unwrap();
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    if let Some(source) = source {
        socket.bind(SocketAddr::new(source, 0)).unwrap();
    }
    let mut stream = socket.connect(address).await.unwrap();
    if stream.write_all(request).await.is_err() {
        return Some(0);
    }
    let mut answer = Vec::new();
    // A reset after part of the answer still leaves its status line to read.
    let _ = tokio::time::timeout(Duration::from_secs(15), stream.read_to_end(&mut answer)).await.ok()?;
    let head = String::from_utf8_lossy(&answer[..answer.len().min(64)]).into_owned();
    Some(head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0))
}
