//! A headless Chromium for the tests, driven over W3C WebDriver by chromedriver: a small client
//! on ureq and serde_json, the capabilities this closed-network machine needs, and guards that
//! end the browser, the driver and the session whatever the test does.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
pub const DEADLINE: Duration = Duration::from_secs(60);
pub const POLL: Duration = Duration::from_millis(250);

/// Fails the test, saying how to get them, when Chromium or chromedriver is missing.
pub fn require_browser() {
    for tool in [CHROMIUM, CHROMEDRIVER] {
        assert!(
            Path::new(tool).exists(),
            "{tool} is missing: this test needs Debian's chromium and chromium-driver \
             (`apt-get install -y --no-install-recommends chromium chromium-driver`, as .ci/run does)"
        );
    }
}

/// Headless Chromium with its own profile, quiet on the network, and its console log kept.
pub fn chromium_capabilities(profile: &Path) -> Value {
    json!({
        "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-quic",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--disable-dev-shm-usage",
                    format!("--user-data-dir={}", profile.display()),
                    "--window-size=1400,1000",
                ],
            },
            "goog:loggingPrefs": { "browser": "ALL" },
        }
    })
}

/// Where a test's screenshot goes: `target/NAME` of the workspace.
pub fn screenshot_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../target")
        .join(name)
}

/// A child process killed (and reaped) when this goes out of scope, panics included.
pub struct Killed(pub Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().unwrap().port()
}

/// A W3C WebDriver endpoint: chromedriver's base URL.
#[derive(Debug)]
pub struct WebDriver {
    agent: ureq::Agent,
    base: String,
}

impl WebDriver {
    pub fn new(base: String) -> Self {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .proxy(None)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        WebDriver { agent, base }
    }

    /// One command: the answer's `value`, or the WebDriver error as text.
    pub fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Value, String> {
        let url = format!("{}{path}", self.base);
        let sent = match (method, body) {
            ("GET", _) => self.agent.get(&url).call(),
            ("DELETE", _) => self.agent.delete(&url).call(),
            ("POST", b) => self
                .agent
                .post(&url)
                .header("Content-Type", "application/json")
                .send(b.unwrap_or(&json!({})).to_string()),
            _ => unreachable!("{method}"),
        };
        let mut response = sent.map_err(|e| format!("{method} {path}: {e}"))?;
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .with_config()
            .limit(256 << 20)
            .read_to_string()
            .map_err(|e| format!("{method} {path}: reading the answer: {e}"))?;
        let answer: Value = serde_json::from_str(&text)
            .map_err(|e| format!("{method} {path}: HTTP {status}, not JSON ({e}): {text}"))?;
        let value = answer.get("value").cloned().unwrap_or(Value::Null);
        if status == 200 {
            Ok(value)
        } else {
            Err(format!(
                "{method} {path}: HTTP {status}: {}: {}",
                value["error"].as_str().unwrap_or("?"),
                value["message"].as_str().unwrap_or(&text)
            ))
        }
    }

    /// A browser session; its screenshots (on a failed wait too) go to `target/SCREENSHOT`.
    pub fn start_session(&self, capabilities: Value, screenshot: &str) -> Session<'_> {
        let value = self
            .call(
                "POST",
                "/session",
                Some(&json!({ "capabilities": capabilities })),
            )
            .unwrap_or_else(|e| panic!("creating a Chromium session: {e}"));
        let id = value["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no sessionId in {value}"))
            .to_string();
        Session {
            driver: self,
            id: Some(id),
            screenshot: screenshot_path(screenshot),
        }
    }
}

/// A browser session, deleted (the browser quits) when this goes out of scope.
#[derive(Debug)]
pub struct Session<'a> {
    driver: &'a WebDriver,
    id: Option<String>,
    screenshot: PathBuf,
}

impl Session<'_> {
    pub fn path(&self, tail: &str) -> String {
        format!("/session/{}{tail}", self.id.as_deref().unwrap())
    }

    pub fn call(&self, method: &str, tail: &str, body: Option<&Value>) -> Result<Value, String> {
        self.driver.call(method, &self.path(tail), body)
    }

    pub fn navigate(&self, url: &str) {
        self.call("POST", "/url", Some(&json!({ "url": url })))
            .unwrap_or_else(|e| panic!("navigating to {url}: {e}"));
    }

    /// Runs `script` (a function body; `return` gives the result) in the page.
    pub fn execute(&self, script: &str) -> Value {
        let body = json!({ "script": script, "args": [] });
        self.call("POST", "/execute/sync", Some(&body))
            .unwrap_or_else(|e| panic!("executing script: {e}\n{script}"))
    }

    /// Runs `script` until `check` accepts its result; on the deadline saves a screenshot and
    /// panics with `what` and the last reason `check` gave.
    pub fn wait_for<T>(
        &self,
        what: &str,
        script: &str,
        mut check: impl FnMut(&Value) -> Result<T, String>,
    ) -> T {
        let start = Instant::now();
        loop {
            let value = self.execute(script);
            match check(&value) {
                Ok(t) => return t,
                Err(why) if start.elapsed() > DEADLINE => {
                    let shot = self.save_screenshot();
                    panic!(
                        "{what}: not so after {DEADLINE:?}: {why}\nlast value: {value}\n\
                         screenshot: {}",
                        shot.display()
                    );
                }
                Err(_) => thread::sleep(POLL),
            }
        }
    }

    pub fn screenshot(&self) -> Vec<u8> {
        let value = self
            .call("GET", "/screenshot", None)
            .unwrap_or_else(|e| panic!("taking a screenshot: {e}"));
        STANDARD
            .decode(value.as_str().expect("the screenshot is a base64 string"))
            .expect("the screenshot is valid base64")
    }

    pub fn save_screenshot(&self) -> PathBuf {
        let path = self.screenshot.clone();
        let png = self.screenshot();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &png).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        path
    }

    /// Saves a screenshot, checks that it is a PNG, and says where it is.
    pub fn save_and_check_screenshot(&self) {
        let shot = self.save_screenshot();
        let png = std::fs::read(&shot).unwrap();
        assert!(
            png.starts_with(b"\x89PNG\r\n\x1a\n"),
            "{}: not a PNG ({} bytes)",
            shot.display(),
            png.len()
        );
        println!("screenshot: {} ({} bytes)", shot.display(), png.len());
    }

    /// Prints the console log and fails on any SEVERE entry in it (`page` names the page).
    pub fn assert_no_console_errors(&self, page: &str) {
        let log = self.browser_log();
        println!("browser console ({} entries):", log.len());
        for entry in &log {
            println!(
                "  {} {}",
                entry["level"].as_str().unwrap_or("?"),
                entry["message"]
            );
        }
        let severe: Vec<&Value> = log
            .iter()
            .filter(|e| e["level"] == json!("SEVERE"))
            .collect();
        assert!(severe.is_empty(), "console errors on {page}: {severe:#?}");
    }

    /// The browser's console log, through chromedriver's legacy log endpoints.
    pub fn browser_log(&self) -> Vec<Value> {
        let body = json!({ "type": "browser" });
        let mut errors = Vec::new();
        for (method, tail) in [("POST", "/se/log"), ("POST", "/log"), ("GET", "/log")] {
            match self.call(method, tail, Some(&body)) {
                Ok(Value::Array(entries)) => return entries,
                Ok(other) => errors.push(format!("{method} {tail}: not a list: {other}")),
                Err(e) => errors.push(e),
            }
        }
        panic!("reading the browser's console log: {}", errors.join("; "))
    }

    pub fn quit(mut self) {
        let id = self.id.take().unwrap();
        self.driver
            .call("DELETE", &format!("/session/{id}"), None)
            .unwrap_or_else(|e| panic!("deleting the session: {e}"));
    }
}

impl Drop for Session<'_> {
    fn drop(&mut self) {
        if let Some(id) = self.id.take() {
            let _ = self.driver.call("DELETE", &format!("/session/{id}"), None);
        }
    }
}

/// Starts chromedriver on a free port and waits until it says it is ready.
pub fn start_chromedriver() -> (Killed, WebDriver) {
    let port = free_port();
    let child = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{CHROMEDRIVER}: {e}"));
    let mut child = Killed(child);
    let driver = WebDriver::new(format!("http://127.0.0.1:{port}"));
    let start = Instant::now();
    loop {
        match driver.call("GET", "/status", None) {
            Ok(v) if v["ready"] == json!(true) => return (child, driver),
            answer => {
                if let Ok(Some(status)) = child.0.try_wait() {
                    panic!("{CHROMEDRIVER} --port={port} exited ({status}) before it was ready");
                }
                if start.elapsed() > DEADLINE {
                    panic!("{CHROMEDRIVER} not ready after {DEADLINE:?}: {answer:?}");
                }
                thread::sleep(POLL);
            }
        }
    }
}
