//! The proxy binary as the drills use it: a real process between a client and an echo
//! server, its faults switched over the control API.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{SocketAddr, TcpListener as StdListener};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use client::Method;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

struct Proxy {
    child: Child,
    /// The control API, through the typed client's pool (its raw requests).
    control: client::Client,
    listen: SocketAddr,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// An upstream that echoes whatever it receives.
async fn echo_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (mut socket, _) = listener.accept().await.unwrap();
            tokio::spawn(async move {
                let mut buf = [0u8; 1024];
                while let Ok(n) = socket.read(&mut buf).await {
                    if n == 0 || socket.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    address
}

async fn start(upstream: SocketAddr) -> Proxy {
    tls::install_default_provider();
    let (control, listen) = (free_port(), free_port());
    let listen: SocketAddr = format!("127.0.0.1:{listen}").parse().unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_loyalty-faults"))
        .args(["--control", &format!("127.0.0.1:{control}"), "--link", &format!("echo={listen}={upstream}")])
        .spawn()
        .unwrap();
    let control = client::Client::new(&format!("http://127.0.0.1:{control}")).unwrap();
    let proxy = Proxy { child, control, listen };
    let deadline = Instant::now() + Duration::from_secs(10);
    while proxy.control.raw(Method::GET, "/links").send().await.is_err() {
        assert!(Instant::now() < deadline, "the proxy did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    proxy
}

impl Proxy {
    async fn set(&self, fault: Value) -> Value {
        let res = self.control.raw(Method::PUT, "/links/echo").json(&fault).send().await.unwrap();
        assert_eq!(res.status(), 200);
        res.json().await.unwrap()
    }
}

/// Sends `text` and reads it back, answering how long that took (None: nothing came back
/// within `wait`, or the connection ended).
async fn round_trip(stream: &mut TcpStream, text: &[u8], wait: Duration) -> Option<Duration> {
    let started = Instant::now();
    stream.write_all(text).await.ok()?;
    let mut buf = vec![0u8; text.len()];
    match tokio::time::timeout(wait, stream.read_exact(&mut buf)).await {
        Ok(Ok(_)) if buf == text => Some(started.elapsed()),
        _ => None,
    }
}

#[tokio::test]
async fn each_fault_does_what_it_says_and_heals() {
    let proxy = start(echo_server().await).await;
    let mut stream = TcpStream::connect(proxy.listen).await.unwrap();
    let plain = round_trip(&mut stream, b"hello", Duration::from_secs(2)).await.expect("passes untouched");
    assert!(plain < Duration::from_millis(100), "{plain:?}");

    // Latency applies to the open connection, once each way.
    proxy.set(json!({"fault": "latency", "ms": 150})).await;
    let slow = round_trip(&mut stream, b"slow", Duration::from_secs(2)).await.expect("still passes");
    assert!(slow >= Duration::from_millis(300), "{slow:?}");

    // Drop: nothing passes, on open or new connections, until healed; then it flows.
    proxy.set(json!({"fault": "drop"})).await;
    assert_eq!(round_trip(&mut stream, b"lost?", Duration::from_millis(400)).await, None);
    let mut fresh = TcpStream::connect(proxy.listen).await.unwrap();
    fresh.write_all(b"held").await.unwrap();
    let state = proxy.set(json!({"fault": "none"})).await;
    assert_eq!(state["fault"], "none");
    let mut buf = [0u8; 5];
    tokio::time::timeout(Duration::from_secs(2), stream.read_exact(&mut buf)).await.unwrap().unwrap();
    assert_eq!(&buf, b"lost?", "the held bytes pass once healed");
    let mut buf = [0u8; 4];
    tokio::time::timeout(Duration::from_secs(2), fresh.read_exact(&mut buf)).await.unwrap().unwrap();
    assert_eq!(&buf, b"held");

    // Refuse: open connections are cut, new ones refused; healed, it accepts again.
    proxy.set(json!({"fault": "refuse"})).await;
    let mut buf = [0u8; 1];
    let read = tokio::time::timeout(Duration::from_secs(2), stream.read(&mut buf)).await.unwrap();
    assert!(matches!(read, Ok(0) | Err(_)), "the open connection was cut: {read:?}");
    tokio::time::sleep(Duration::from_millis(100)).await;
    let refused = TcpStream::connect(proxy.listen).await.unwrap_err();
    assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);
    let healed = proxy.control.raw(Method::POST, "/heal").send().await.unwrap();
    assert_eq!(healed.status(), 200);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut again = TcpStream::connect(proxy.listen).await.unwrap();
    assert!(round_trip(&mut again, b"back", Duration::from_secs(2)).await.is_some());

    let links: Value = proxy.control.raw(Method::GET, "/links").send().await.unwrap().json().await.unwrap();
    assert_eq!(links[0]["name"], "echo");
    assert_eq!(links[0]["fault"], "none");
}

#[tokio::test]
async fn unknown_links_and_faults_are_refused() {
    let proxy = start(echo_server().await).await;
    let res = proxy.control.raw(Method::PUT, "/links/nope").json(&json!({"fault": "drop"})).send().await.unwrap();
    assert_eq!(res.status(), 404);
    let res = proxy.control.raw(Method::PUT, "/links/echo").json(&json!({"fault": "fire"})).send().await.unwrap();
    assert_eq!(res.status(), 400);
}

#[tokio::test]
async fn a_dead_upstream_looks_dead_through_the_proxy() {
    let upstream = StdListener::bind("127.0.0.1:0").unwrap();
    let address = upstream.local_addr().unwrap();
    drop(upstream); // nothing listens there now
    let proxy = start(address).await;
    // The first connection is accepted before the proxy learns the upstream is gone...
    let mut first = TcpStream::connect(proxy.listen).await.unwrap();
    let mut buf = [0u8; 1];
    let read = tokio::time::timeout(Duration::from_secs(2), first.read(&mut buf)).await.unwrap();
    assert!(matches!(read, Ok(0) | Err(_)));
    // ...later ones are refused, as they would be without the proxy.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let refused = TcpStream::connect(proxy.listen).await.unwrap_err();
    assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);
    // When the upstream comes back, so does the proxy's port.
    let listener = TcpListener::bind(address).await.unwrap();
    tokio::spawn(async move { while listener.accept().await.is_ok() {} });
    let deadline = Instant::now() + Duration::from_secs(3);
    while TcpStream::connect(proxy.listen).await.is_err() {
        assert!(Instant::now() < deadline, "the port did not reopen");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
