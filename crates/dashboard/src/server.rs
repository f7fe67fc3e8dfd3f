//! The HTTP side: the page and its assets (compiled into the binary), `/state`, the
//! server-sent event stream `/events`, and the pictures under `/img/`.
//!
//! tiny_http: a small, synchronous, well-kept server is all a page for one person needs, and
//! it keeps an async runtime out of a training process. Each event stream gets a thread of its
//! own writing to its socket, so a stalled browser stalls only that thread.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::mpsc::RecvTimeoutError;
use std::thread::JoinHandle;
use std::time::Duration;

use tiny_http::{Header, Request, Response, Server};

use crate::hub::Hub;

/// The page.
pub const INDEX_HTML: &str = include_str!("../assets/index.html");
/// The page's script: draws the charts and cards (SVG and DOM, no library).
pub const APP_JS: &str = include_str!("../assets/app.js");
/// The page's style.
pub const STYLE_CSS: &str = include_str!("../assets/style.css");

/// A running dashboard server; dropping it stops it.
pub struct DashboardServer {
    /// Where it listens.
    pub addr: SocketAddr,
    server: Arc<Server>,
    thread: Option<JoinHandle<()>>,
}

impl DashboardServer {
    /// Serves `hub` on `host:port` (port 0: the system picks a free one).
    pub fn start(hub: Arc<Hub>, host: &str, port: u16) -> Result<Self, String> {
        let server = Server::http((host, port))
            .map_err(|e| format!("dashboard: cannot listen on {host}:{port}: {e}"))?;
        let addr = server
            .server_addr()
            .to_ip()
            .ok_or_else(|| "dashboard: the server has no IP address".to_string())?;
        let server = Arc::new(server);
        let listener = Arc::clone(&server);
        let thread = std::thread::Builder::new()
            .name("dashboard-http".into())
            .spawn(move || {
                for request in listener.incoming_requests() {
                    route(&hub, request);
                }
            })
            .map_err(|e| format!("dashboard: cannot start the server thread: {e}"))?;
        Ok(DashboardServer {
            addr,
            server,
            thread: Some(thread),
        })
    }

    /// The page's address.
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }
}

impl std::fmt::Debug for DashboardServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DashboardServer")
            .field("addr", &self.addr)
            .finish()
    }
}

impl Drop for DashboardServer {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn header(name: &str, value: &str) -> Header {
    Header::from_bytes(name.as_bytes(), value.as_bytes()).expect("valid static header")
}

fn send(request: Request, status: u16, content_type: &str, body: Vec<u8>) {
    let response = Response::from_data(body)
        .with_status_code(status)
        .with_header(header("Content-Type", content_type))
        .with_header(header("Cache-Control", "no-store"));
    // A browser that went away mid-answer is not an error of the run.
    let _ = request.respond(response);
}

fn route(hub: &Arc<Hub>, request: Request) {
    let path = request.url().split('?').next().unwrap_or("/").to_string();
    match path.as_str() {
        "/" | "/index.html" => send(request, 200, "text/html; charset=utf-8", INDEX_HTML.into()),
        "/app.js" => send(
            request,
            200,
            "text/javascript; charset=utf-8",
            APP_JS.into(),
        ),
        "/style.css" => send(request, 200, "text/css; charset=utf-8", STYLE_CSS.into()),
        "/favicon.ico" => send(request, 204, "image/x-icon", Vec::new()),
        "/state" => send(
            request,
            200,
            "application/json",
            hub.state_json().into_bytes(),
        ),
        "/events" => {
            let hub = Arc::clone(hub);
            let _ = std::thread::Builder::new()
                .name("dashboard-events".into())
                .spawn(move || stream_events(&hub, request));
        }
        p => match p.strip_prefix("/img/").and_then(|key| hub.image(key)) {
            Some(png) => send(request, 200, "image/png", png),
            None => send(request, 404, "text/plain", b"not found".to_vec()),
        },
    }
}

/// Writes server-sent events to one client until it goes away; a comment every 15 s keeps
/// proxies and the browser from timing the stream out.
fn stream_events(hub: &Hub, request: Request) {
    let events = hub.subscribe();
    let mut w = request.into_writer();
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
