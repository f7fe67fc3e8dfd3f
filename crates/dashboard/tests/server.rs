//! The server under hostile and careless clients: a browser that disconnects mid-stream, two
//! browsers at once, garbage, oversized heads, slow clients and too many connections. Every
//! case ends with the server still answering.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use convnet_dashboard::server::{MAX_CONNECTIONS, MAX_HEAD};
use convnet_dashboard::{DashState, DashboardServer, Hub};

fn start() -> (Arc<Hub>, DashboardServer) {
    let hub = Arc::new(Hub::new(DashState::default()));
    let server = DashboardServer::start(Arc::clone(&hub), "127.0.0.1", 0).unwrap();
    (hub, server)
}

/// Sends `request` and returns the status line (empty if the server closed without one).
fn status_of(addr: SocketAddr, request: &[u8]) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    // The server may close while we are still writing an oversized head.
    let _ = s.write_all(request);
    let mut reply = Vec::new();
    let _ = s.read_to_end(&mut reply);
    String::from_utf8_lossy(&reply)
        .lines()
        .next()
        .unwrap_or("")
        .to_string()
}

fn alive(addr: SocketAddr) {
    assert_eq!(
        status_of(addr, b"GET /state HTTP/1.1\r\nHost: x\r\n\r\n"),
        "HTTP/1.1 200 OK"
    );
}

/// An event stream, past its response head.
fn subscribe(addr: SocketAddr) -> BufReader<TcpStream> {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut r = BufReader::new(s);
    let mut line = String::new();
    while line != ": connected\n" {
        line.clear();
        assert!(r.read_line(&mut line).unwrap() > 0, "the stream closed");
    }
    r
}

/// The next `event:` name on a stream.
fn next_event(r: &mut BufReader<TcpStream>) -> String {
    let mut line = String::new();
    loop {
        line.clear();
        assert!(r.read_line(&mut line).unwrap() > 0, "the stream closed");
        if let Some(e) = line.strip_prefix("event: ") {
            return e.trim().to_string();
        }
    }
}

/// Polls `f` until it holds, for at most 20 s.
fn eventually(what: &str, f: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !f() {
        assert!(Instant::now() < deadline, "never: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn two_browsers_at_once_and_one_leaving_mid_stream() {
    let (hub, server) = start();
    let mut a = subscribe(server.addr);
    let mut b = subscribe(server.addr);
    eventually("both subscribed", || hub.subscribers() == 2);
    hub.publish("step", "{\"n\":1}");
    assert_eq!(next_event(&mut a), "step");
    assert_eq!(next_event(&mut b), "step");
    // One leaves in the middle of the stream; the other goes on receiving.
    drop(a);
    for _ in 0..50 {
        hub.publish("layers", "{}");
    }
    assert_eq!(next_event(&mut b), "layers");
    eventually("the closed stream forgotten", || {
        hub.publish("step", "{}");
        hub.subscribers() == 1
    });
    alive(server.addr);
}

#[test]
fn garbage_unknown_paths_and_other_methods() {
    let (_hub, server) = start();
    let addr = server.addr;
    assert_eq!(
        status_of(addr, b"GET /nothing/here HTTP/1.1\r\n\r\n"),
        "HTTP/1.1 404 Not Found"
    );
    assert_eq!(
        status_of(addr, b"GET /img/../../etc/passwd HTTP/1.1\r\n\r\n"),
        "HTTP/1.1 404 Not Found"
    );
    assert_eq!(
        status_of(addr, b"\x00\x01\x02 garbage \xff\r\n\r\n"),
        "HTTP/1.1 400 Bad Request"
    );
    assert_eq!(
        status_of(addr, b"POST /state HTTP/1.1\r\nContent-Length: 0\r\n\r\n"),
        "HTTP/1.1 405 Method Not Allowed"
    );
    // A client that connects and says nothing, or half a head, then leaves.
    drop(TcpStream::connect(addr).unwrap());
    let mut half = TcpStream::connect(addr).unwrap();
    half.write_all(b"GET /sta").unwrap();
    drop(half);
    alive(addr);
}

#[test]
fn oversized_heads_are_refused() {
    let (_hub, server) = start();
    let mut long = b"GET / HTTP/1.1\r\nX-Long: ".to_vec();
    long.extend(std::iter::repeat_n(b'a', 4 * MAX_HEAD));
    long.extend(b"\r\n\r\n");
    assert_eq!(
        status_of(server.addr, &long),
        "HTTP/1.1 431 Request Header Fields Too Large"
    );
    let mut many = b"GET / HTTP/1.1\r\n".to_vec();
    for i in 0..200 {
        many.extend(format!("X-{i}: 1\r\n").as_bytes());
    }
    many.extend(b"\r\n");
    assert_eq!(
        status_of(server.addr, &many),
        "HTTP/1.1 431 Request Header Fields Too Large"
    );
    alive(server.addr);
}

#[test]
fn too_many_connections_are_turned_away_and_then_served_again() {
    let (hub, server) = start();
    let streams: Vec<_> = (0..MAX_CONNECTIONS)
        .map(|_| subscribe(server.addr))
        .collect();
    eventually("all subscribed", || hub.subscribers() == MAX_CONNECTIONS);
    assert_eq!(
        status_of(server.addr, b"GET /state HTTP/1.1\r\n\r\n"),
        "HTTP/1.1 503 Service Unavailable"
    );
    drop(streams);
    eventually("the streams closed", || {
        hub.publish("step", "{}");
        hub.subscribers() == 0
    });
    eventually("served again", || {
        status_of(server.addr, b"GET /state HTTP/1.1\r\n\r\n") == "HTTP/1.1 200 OK"
    });
}
