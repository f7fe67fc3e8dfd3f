//! The HTTP side: the page and its assets (compiled into the binary), `/state`, the
//! server-sent event stream `/events`, and the pictures under `/img/`.
//!
//! The requests are parsed by `httparse` (hyper's parser) and the sockets are ours, because a
//! server inside a training process must bound what a client can make it hold: a request head
//! is read into at most [`MAX_HEAD`] bytes (beyond: 431 and the connection is closed), a client
//! has [`READ_TIMEOUT`] to send it, and at most [`MAX_CONNECTIONS`] are served at once
//! (beyond: 503). (tiny_http, tried first, reads header lines without any bound.) Every
//! connection, event streams included, has a thread of its own, so a stalled browser stalls
//! only that thread; every answer closes its connection, which browsers handle without
//! noticing.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::RecvTimeoutError;
use std::thread::JoinHandle;
use std::time::Duration;

use crate::hub::Hub;

/// The page.
pub const INDEX_HTML: &str = include_str!("../assets/index.html");
/// The page's script: draws the charts and cards (SVG and DOM, no library).
pub const APP_JS: &str = include_str!("../assets/app.js");
/// The page's style.
pub const STYLE_CSS: &str = include_str!("../assets/style.css");

/// The largest request head (request line and headers) read, in bytes.
pub const MAX_HEAD: usize = 16 * 1024;
/// Connections served at once, event streams included.
pub const MAX_CONNECTIONS: usize = 64;
/// How long a client may take to send its request head.
pub const READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Headers parsed at most.
const MAX_HEADERS: usize = 64;

/// A running dashboard server; dropping it stops accepting connections.
pub struct DashboardServer {
    /// Where it listens.
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for DashboardServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DashboardServer")
            .field("addr", &self.addr)
            .finish()
    }
}

impl DashboardServer {
    /// Serves `hub` on `host:port` (port 0: the system picks a free one).
    pub fn start(hub: Arc<Hub>, host: &str, port: u16) -> Result<Self, String> {
        let listener = TcpListener::bind((host, port))
            .map_err(|e| format!("dashboard: cannot listen on {host}:{port}: {e}"))?;
        let addr = listener
            .local_addr()
            .map_err(|e| format!("dashboard: {e}"))?;
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = Arc::clone(&stop);
        let open = Arc::new(AtomicUsize::new(0));
        let thread = std::thread::Builder::new()
            .name("dashboard-http".into())
            .spawn(move || {
                for stream in listener.incoming() {
                    if stopping.load(Ordering::Relaxed) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    serve_connection(&hub, &open, stream);
                }
            })
            .map_err(|e| format!("dashboard: cannot start the server thread: {e}"))?;
        Ok(DashboardServer {
            addr,
            stop,
            thread: Some(thread),
        })
    }

    /// The page's address.
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }
}

impl Drop for DashboardServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.addr);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Counts a connection while it is open.
struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

fn serve_connection(hub: &Arc<Hub>, open: &Arc<AtomicUsize>, mut stream: TcpStream) {
    if open.fetch_add(1, Ordering::Relaxed) >= MAX_CONNECTIONS {
        open.fetch_sub(1, Ordering::Relaxed);
        respond(&mut stream, 503, "text/plain", b"too many connections");
        return;
    }
    let slot = Slot(Arc::clone(open));
    let hub = Arc::clone(hub);
    let spawned = std::thread::Builder::new()
        .name("dashboard-conn".into())
        .spawn(move || {
            let _slot = slot;
            handle(&hub, stream);
        });
    // A thread that cannot start drops its closure, and with it the slot and the stream.
    drop(spawned);
}

/// What a request head parsed to.
enum Head {
    Get(String),
    Refused(u16, &'static str),
}

/// Reads one request head, at most [`MAX_HEAD`] bytes.
fn read_head(stream: &mut TcpStream) -> Option<Head> {
    let _ = stream.set_read_timeout(Some(READ_TIMEOUT));
    let mut buf = vec![0u8; MAX_HEAD];
    let mut len = 0;
    loop {
        if len == buf.len() {
            return Some(Head::Refused(431, "request header fields too large"));
        }
        let n = stream.read(&mut buf[len..]).ok()?;
        if n == 0 {
            return None;
        }
        len += n;
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut request = httparse::Request::new(&mut headers);
        match request.parse(&buf[..len]) {
            Ok(httparse::Status::Partial) => continue,
            Ok(httparse::Status::Complete(_)) => {
                let path = request.path.unwrap_or("/").to_string();
                return Some(match request.method {
                    Some("GET") | Some("HEAD") => Head::Get(path),
                    _ => Head::Refused(405, "only GET is served"),
                });
            }
            Err(httparse::Error::TooManyHeaders) => {
                return Some(Head::Refused(431, "too many header fields"));
            }
            Err(_) => return Some(Head::Refused(400, "not an HTTP request")),
        }
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        _ => "Error",
    }
}

fn respond(stream: &mut TcpStream, status: u16, content_type: &str, body: &[u8]) {
    let head = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nConnection: close\r\n\r\n",
        reason(status),
        body.len()
    );
    // A browser that went away mid-answer is not an error of the run.
    let _ = stream
        .write_all(head.as_bytes())
        .and_then(|()| stream.write_all(body))
        .and_then(|()| stream.flush());
    let _ = stream.shutdown(Shutdown::Write);
}

fn handle(hub: &Hub, mut stream: TcpStream) {
    let path = match read_head(&mut stream) {
        None => return,
        Some(Head::Refused(status, why)) => {
            respond(&mut stream, status, "text/plain", why.as_bytes());
            return;
        }
        Some(Head::Get(path)) => path,
    };
    let path = path.split('?').next().unwrap_or("/");
    match path {
        "/" | "/index.html" => respond(
            &mut stream,
            200,
            "text/html; charset=utf-8",
            INDEX_HTML.as_bytes(),
        ),
        "/app.js" => respond(
            &mut stream,
            200,
            "text/javascript; charset=utf-8",
            APP_JS.as_bytes(),
        ),
        "/style.css" => respond(
            &mut stream,
            200,
            "text/css; charset=utf-8",
            STYLE_CSS.as_bytes(),
        ),
        "/favicon.ico" => respond(&mut stream, 204, "image/x-icon", b""),
        "/state" => respond(
            &mut stream,
            200,
            "application/json",
            hub.state_json().as_bytes(),
        ),
        "/events" => stream_events(hub, stream),
        p => match p.strip_prefix("/img/").and_then(|key| hub.image(key)) {
            Some(png) => respond(&mut stream, 200, "image/png", &png),
            None => respond(&mut stream, 404, "text/plain", b"not found"),
        },
    }
}

/// Writes server-sent events to one client until it goes away; a comment every 15 s keeps
/// proxies and the browser from timing the stream out.
fn stream_events(hub: &Hub, mut w: TcpStream) {
    let events = hub.subscribe();
    let head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-store\r\n\
                Connection: keep-alive\r\n\r\n: connected\n\n";
    if w.write_all(head.as_bytes())
        .and_then(|()| w.flush())
        .is_err()
    {
        return;
    }
    loop {
        let message = match events.recv_timeout(Duration::from_secs(15)) {
            Ok(m) => m,
            Err(RecvTimeoutError::Timeout) => ": keep-alive\n\n".to_string(),
            Err(RecvTimeoutError::Disconnected) => return,
        };
        if w.write_all(message.as_bytes())
            .and_then(|()| w.flush())
            .is_err()
        {
            return;
        }
    }
}
