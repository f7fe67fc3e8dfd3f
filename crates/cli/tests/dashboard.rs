//! The dashboard in a real browser: headless Chromium, driven over WebDriver by chromedriver.
//! One test loads the live page of `convnet train --dashboard` while LeNet-5 trains on the
//! MNIST fixtures and checks the layer cards, the live loss chart, the activation and filter
//! images, and the console; the other opens the one file `convnet report` writes for a finished
//! run (after `convnet lr-find`) from disk and checks the same page, drawn from the data inline,
//! with nothing fetched from any server. Needs Debian's `chromium` and `chromium-driver`
//! (`.ci/run` installs them); without them it fails.

use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

mod common;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const DEADLINE: Duration = Duration::from_secs(60);
const POLL: Duration = Duration::from_millis(250);

/// The two tests train LeNet-5 and drive a browser each: on a small machine they would starve
/// each other (and the live one's deadlines), so they take turns.
fn one_at_a_time() -> MutexGuard<'static, ()> {
    static TURN: Mutex<()> = Mutex::new(());
    // A test that failed holding the turn poisons it; the other still runs.
    TURN.lock().unwrap_or_else(|e| e.into_inner())
}

/// Fails the test, saying how to get them, when Chromium or chromedriver is missing.
fn require_browser() {
    for tool in [CHROMIUM, CHROMEDRIVER] {
        assert!(
            Path::new(tool).exists(),
            "{tool} is missing: this test needs Debian's chromium and chromium-driver \
             (`apt-get install -y --no-install-recommends chromium chromium-driver`, as .ci/run does)"
        );
    }
}

/// Headless Chromium with its own profile, quiet on the network, and its console log kept.
fn chromium_capabilities(profile: &Path) -> Value {
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
fn screenshot_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../target")
        .join(name)
}

/// A child process killed (and reaped) when this goes out of scope, panics included.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().unwrap().port()
}

/// Every line the child writes to stdout and stderr, sent as it comes; the readers keep
/// draining after the test has what it wants, so the child never blocks on a full pipe.
fn lines_of(child: &mut Child) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    let out: Box<dyn Read + Send> = Box::new(child.stdout.take().unwrap());
    let err: Box<dyn Read + Send> = Box::new(child.stderr.take().unwrap());
    for (stream, prefix) in [(out, ""), (err, "stderr: ")] {
        let tx = tx.clone();
        thread::spawn(move || {
            for line in BufReader::new(stream).lines() {
                let Ok(line) = line else { break };
                if tx.send(format!("{prefix}{line}")).is_err() {
                    break;
                }
            }
        });
    }
    rx
}

/// Starts the trainer with its dashboard and returns it with the dashboard's URL.
fn start_trainer(out: &Path) -> (Killed, String) {
    let mut cmd = common::isolated();
    cmd.env("CONVNET_DATA", common::data_dir())
        .args([
            "train",
            "--model",
            "lenet5",
            "--dataset",
            "mnist",
            "--dashboard",
            "--port",
            "0",
            "--epochs",
            "50",
            "--batch-size",
            "16",
            "--limit-val-batches",
            "2",
            "--progress",
            "lines",
            "--out",
        ])
        .arg(out)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("the convnet binary starts");
    let lines = lines_of(&mut child);
    let trainer = Killed(child);
    let start = Instant::now();
    let mut said = Vec::new();
    loop {
        let left = DEADLINE.saturating_sub(start.elapsed());
        match lines.recv_timeout(left) {
            Ok(line) => {
                if let Some(url) = line.strip_prefix("dashboard: ") {
                    let url = url.trim().to_string();
                    // Keep draining (and echo what the trainer says, for --nocapture).
                    thread::spawn(move || {
                        for line in lines {
                            println!("trainer: {line}");
                        }
                    });
                    return (trainer, url);
                }
                said.push(line);
            }
            Err(e) => {
                let how = match e {
                    mpsc::RecvTimeoutError::Timeout => format!("within {DEADLINE:?}"),
                    mpsc::RecvTimeoutError::Disconnected => "before it closed its output".into(),
                };
                panic!(
                    "`convnet train --dashboard` printed no `dashboard: <url>` line {how}; \
                     it printed:\n{}",
                    said.join("\n")
                )
            }
        }
    }
}

/// A W3C WebDriver endpoint: chromedriver's base URL.
#[derive(Debug)]
struct WebDriver {
    agent: ureq::Agent,
    base: String,
}

impl WebDriver {
    fn new(base: String) -> Self {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .proxy(None)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        WebDriver { agent, base }
    }

    /// One command: the answer's `value`, or the WebDriver error as text.
    fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Value, String> {
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
    fn start_session(&self, capabilities: Value, screenshot: &str) -> Session<'_> {
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
struct Session<'a> {
    driver: &'a WebDriver,
    id: Option<String>,
    screenshot: PathBuf,
}

impl Session<'_> {
    fn path(&self, tail: &str) -> String {
        format!("/session/{}{tail}", self.id.as_deref().unwrap())
    }

    fn call(&self, method: &str, tail: &str, body: Option<&Value>) -> Result<Value, String> {
        self.driver.call(method, &self.path(tail), body)
    }

    fn navigate(&self, url: &str) {
        self.call("POST", "/url", Some(&json!({ "url": url })))
            .unwrap_or_else(|e| panic!("navigating to {url}: {e}"));
    }

    /// Runs `script` (a function body; `return` gives the result) in the page.
    fn execute(&self, script: &str) -> Value {
        let body = json!({ "script": script, "args": [] });
        self.call("POST", "/execute/sync", Some(&body))
            .unwrap_or_else(|e| panic!("executing script: {e}\n{script}"))
    }

    /// Runs `script` until `check` accepts its result; on the deadline saves a screenshot and
    /// panics with `what` and the last reason `check` gave.
    fn wait_for<T>(
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

    fn screenshot(&self) -> Vec<u8> {
        let value = self
            .call("GET", "/screenshot", None)
            .unwrap_or_else(|e| panic!("taking a screenshot: {e}"));
        base64_decode(value.as_str().expect("the screenshot is a base64 string"))
    }

    fn save_screenshot(&self) -> PathBuf {
        let path = self.screenshot.clone();
        let png = self.screenshot();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &png).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        path
    }

    /// Saves a screenshot, checks that it is a PNG, and says where it is.
    fn save_and_check_screenshot(&self) {
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
    fn assert_no_console_errors(&self, page: &str) {
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
    fn browser_log(&self) -> Vec<Value> {
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

    fn quit(mut self) {
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
fn start_chromedriver() -> (Killed, WebDriver) {
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

fn base64_decode(text: &str) -> Vec<u8> {
    let digit = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("not base64: {:?}", c as char),
    };
    let digits: Vec<u8> = text
        .bytes()
        .filter(|c| !c.is_ascii_whitespace() && *c != b'=')
        .map(digit)
        .collect();
    let mut out = Vec::with_capacity(digits.len() * 3 / 4);
    for chunk in digits.chunks(4) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &d)| n | (u32::from(d) << (18 - 6 * i)));
        out.extend_from_slice(&n.to_be_bytes()[1..chunk.len()]);
    }
    out
}

/// The LeNet-5 layers in network order: name, kind, output shape, and the parameter-count
/// formula its card must show (where the test checks one).
const LAYERS: [(&str, &str, &str, Option<&str>); 12] = [
    (
        "features.0",
        "Conv2d",
        "[B, 6, 28, 28]",
        Some("(5·5·1 + 1)·6 = 156"),
    ),
    ("features.1", "ReLU", "[B, 6, 28, 28]", None),
    ("features.2", "MaxPool2d", "[B, 6, 14, 14]", None),
    (
        "features.3",
        "Conv2d",
        "[B, 16, 10, 10]",
        Some("(5·5·6 + 1)·16 = 2,416"),
    ),
    ("features.4", "ReLU", "[B, 16, 10, 10]", None),
    ("features.5", "MaxPool2d", "[B, 16, 5, 5]", None),
    ("flatten", "Flatten", "[B, 400]", None),
    (
        "classifier.0",
        "Linear",
        "[B, 120]",
        Some("(400 + 1)·120 = 48,120"),
    ),
    ("classifier.1", "ReLU", "[B, 120]", None),
    (
        "classifier.2",
        "Linear",
        "[B, 84]",
        Some("(120 + 1)·84 = 10,164"),
    ),
    ("classifier.3", "ReLU", "[B, 84]", None),
    (
        "classifier.4",
        "Linear",
        "[B, 10]",
        Some("(84 + 1)·10 = 850"),
    ),
];

const CARDS: &str = r#"
    const text = (card, sel) => {
        const e = card.querySelector(sel);
        return e ? e.textContent.replace(/\s+/g, ' ').trim() : null;
    };
    return Array.from(document.querySelectorAll('#layers .card')).map(card => ({
        layer: card.getAttribute('data-layer'),
        kind: text(card, '.kind'),
        shape: text(card, '.shape'),
        params: text(card, '.params'),
    }));
"#;

fn check_cards(cards: &Value) -> Result<(), String> {
    let cards = cards.as_array().ok_or("not a list")?;
    let names: Vec<&str> = cards
        .iter()
        .map(|c| c["layer"].as_str().unwrap_or("<none>"))
        .collect();
    let want: Vec<&str> = LAYERS.iter().map(|l| l.0).collect();
    if names != want {
        return Err(format!("data-layer of the cards: {names:?}, want {want:?}"));
    }
    let mut wrong = Vec::new();
    for (card, (name, kind, shape, params)) in cards.iter().zip(LAYERS) {
        if card["kind"].as_str() != Some(kind) {
            wrong.push(format!("{name}: .kind is {}, want {kind:?}", card["kind"]));
        }
        if card["shape"].as_str() != Some(shape) {
            wrong.push(format!(
                "{name}: .shape is {}, want {shape:?}",
                card["shape"]
            ));
        }
        if let Some(params) = params
            && !card["params"].as_str().is_some_and(|p| p.contains(params))
        {
            wrong.push(format!(
                "{name}: .params is {}, want it to contain {params:?}",
                card["params"]
            ));
        }
    }
    if wrong.is_empty() {
        Ok(())
    } else {
        Err(wrong.join("; "))
    }
}

const LOSS_POINTS: &str = r#"
    const chart = document.querySelector('#loss-chart');
    return chart ? chart.getAttribute('data-points') : null;
"#;

fn loss_points(v: &Value) -> Result<u64, String> {
    v.as_str()
        .and_then(|s| s.trim().parse().ok())
        .ok_or_else(|| format!("#loss-chart's data-points is {v}, not a number"))
}

/// A script listing every image matching `selector` as `[src, complete, naturalWidth]`, a long
/// `src` (a data: URI) cut to its first 64 characters and its length.
fn images_script(selector: &str) -> String {
    format!(
        "const cut = s => s === null || s.length <= 64 ? s : `${{s.slice(0, 64)}}… (${{s.length}} chars)`; \
         return Array.from(document.querySelectorAll({})).map(i => [cut(i.getAttribute('src')), i.complete, i.naturalWidth]);",
        json!(selector)
    )
}

fn all_decoded(v: &Value) -> Result<usize, String> {
    let images = v.as_array().ok_or("not a list")?;
    if images.is_empty() {
        return Err("no such image yet".into());
    }
    let bad: Vec<&Value> = images
        .iter()
        .filter(|i| !(i[1] == json!(true) && i[2].as_u64().is_some_and(|w| w > 0)))
        .collect();
    if bad.is_empty() {
        Ok(images.len())
    } else {
        Err(format!(
            "{} of {} not decoded ([src, complete, naturalWidth]): {bad:?}",
            bad.len(),
            images.len()
        ))
    }
}

/// [`all_decoded`], and every picture inline: its `src` a base64 PNG data: URI.
fn all_decoded_inline(v: &Value) -> Result<usize, String> {
    let n = all_decoded(v)?;
    let linked: Vec<&Value> = v
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| !i[0].as_str().is_some_and(|s| s.starts_with(INLINE_PNG)))
        .collect();
    if linked.is_empty() {
        Ok(n)
    } else {
        Err(format!(
            "{} of {n} not a {INLINE_PNG}… src ([src, complete, naturalWidth]): {linked:?}",
            linked.len()
        ))
    }
}

const INLINE_PNG: &str = "data:image/png;base64,";

/// Runs `convnet ARGS` (isolated, on the tests' data) and fails the test, with everything it
/// printed, unless it succeeds.
fn convnet_ok(args: &[&str]) {
    let started = Instant::now();
    let o = common::convnet(args);
    let said = common::text(&o);
    assert!(
        o.status.success(),
        "`convnet {}` failed ({}); it printed:\n{said}",
        args.join(" "),
        o.status
    );
    println!(
        "`convnet {}` in {:?}:\n{}",
        args.join(" "),
        started.elapsed(),
        said.trim_end()
    );
}

/// `#lr-find`: whether it is hidden and how many polylines it holds.
const LR_FIND: &str = r#"
    const fig = document.querySelector('#lr-find');
    return fig ? { hidden: fig.hidden, polylines: fig.querySelectorAll('polyline').length } : null;
"#;

/// Every optimizer-race chart as `[data-surface, polylines]`.
const RACE: &str = r#"
    return Array.from(document.querySelectorAll('#race svg.race'))
        .map(s => [s.getAttribute('data-surface'), s.querySelectorAll('polyline').length]);
"#;

/// The rows of `#confusion table`, or null without one.
const CONFUSION_ROWS: &str = r#"
    const table = document.querySelector('#confusion table');
    return table ? table.rows.length : null;
"#;

/// The names of every resource the page loaded (a long one cut to 100 characters).
const RESOURCES: &str = r#"
    return performance.getEntriesByType('resource')
        .map(e => e.name.length <= 100 ? e.name : e.name.slice(0, 100) + '…');
"#;

#[test]
fn dashboard_in_a_real_browser() {
    require_browser();
    let _turn = one_at_a_time();
    let started = Instant::now();
    let out = tempfile::tempdir().unwrap();
    let profile = tempfile::tempdir().unwrap();
    let (_trainer, url) = start_trainer(out.path());
    let (_chromedriver, driver) = start_chromedriver();
    println!("dashboard at {url} after {:?}", started.elapsed());

    let session = driver.start_session(
        chromium_capabilities(profile.path()),
        "dashboard-screenshot.png",
    );
    session.navigate(&url);

    session.wait_for("the LeNet-5 layer cards", CARDS, check_cards);
    println!("layer cards right after {:?}", started.elapsed());

    let first = session.wait_for("a training-loss point", LOSS_POINTS, |v| {
        loss_points(v).and_then(|n| if n > 0 { Ok(n) } else { Err("0 points".into()) })
    });
    let later = session.wait_for("more training-loss points", LOSS_POINTS, |v| {
        loss_points(v).and_then(|n| {
            if n > first {
                Ok(n)
            } else {
                Err(format!("{n} points, first seen {first}"))
            }
        })
    });
    println!(
        "loss chart: {first} then {later} points after {:?}",
        started.elapsed()
    );

    let activations = session.wait_for(
        "activation maps decoded",
        &images_script("#layers .card img.activation"),
        all_decoded,
    );
    let filters = session.wait_for(
        "features.0's filters decoded",
        &images_script(r#"#layers .card[data-layer="features.0"] img.filters"#),
        all_decoded,
    );
    println!(
        "{activations} activation and {filters} filter images decoded after {:?}",
        started.elapsed()
    );

    session.save_and_check_screenshot();
    session.assert_no_console_errors("the dashboard");

    session.quit();
    println!("done in {:?}", started.elapsed());
}

#[test]
fn report_in_a_real_browser() {
    require_browser();
    let _turn = one_at_a_time();
    let started = Instant::now();
    let out = tempfile::tempdir().unwrap();
    let profile = tempfile::tempdir().unwrap();
    let dir = out.path().to_str().expect("a UTF-8 temporary directory");
    convnet_ok(&[
        "lr-find",
        "--model",
        "lenet5",
        "--dataset",
        "mnist",
        "--steps",
        "40",
        "--batch-size",
        "16",
        "--out",
        dir,
    ]);
    convnet_ok(&[
        "train",
        "--model",
        "lenet5",
        "--dataset",
        "mnist",
        "--epochs",
        "2",
        "--batch-size",
        "16",
        "--limit-train-batches",
        "30",
        "--limit-val-batches",
        "2",
        "--out",
        dir,
        "--progress",
        "none",
    ]);
    convnet_ok(&["report", dir]);
    let report = out.path().join("report.html");
    assert!(report.is_file(), "{}: not written", report.display());
    let url = format!("file://{}", report.display());
    println!("report at {url} after {:?}", started.elapsed());

    let (_chromedriver, driver) = start_chromedriver();
    let session = driver.start_session(
        chromium_capabilities(profile.path()),
        "report-screenshot.png",
    );
    session.navigate(&url);

    session.wait_for("the LeNet-5 layer cards", CARDS, check_cards);
    let points = session.wait_for("one loss point per epoch", LOSS_POINTS, |v| {
        loss_points(v).and_then(|n| {
            if n == 2 {
                Ok(n)
            } else {
                Err(format!("{n} points, want 2 (one per epoch)"))
            }
        })
    });
    let activations = session.wait_for(
        "activation maps decoded from data: URIs",
        &images_script("#layers .card img.activation"),
        all_decoded_inline,
    );
    let filters = session.wait_for(
        "features.0's filters decoded from a data: URI",
        &images_script(r#"#layers .card[data-layer="features.0"] img.filters"#),
        all_decoded_inline,
    );
    let lr_find = session.wait_for("the learning-rate range test's chart", LR_FIND, |v| match (
        v["hidden"].as_bool(),
        v["polylines"].as_u64(),
    ) {
        (Some(false), Some(n)) if n > 0 => Ok(n),
        (None, _) => Err("no #lr-find".into()),
        (Some(true), _) => Err("#lr-find is hidden".into()),
        _ => Err("#lr-find holds no polyline".into()),
    });
    let race = session.wait_for("the optimizer race on three surfaces", RACE, |v| {
        let charts = v.as_array().ok_or("not a list")?;
        let surfaces: Vec<&str> = charts.iter().filter_map(|c| c[0].as_str()).collect();
        let missing: Vec<&str> = ["saddle", "rosenbrock", "beale"]
            .into_iter()
            .filter(|s| !surfaces.contains(s))
            .collect();
        if missing.is_empty() {
            let tracks = charts.iter().map(|c| format!("{} {}", c[0], c[1]));
            Ok(tracks.collect::<Vec<_>>().join(", "))
        } else {
            Err(format!(
                "no #race svg.race for {missing:?}; data-surface of those there: {surfaces:?}"
            ))
        }
    });
    let rows = session.wait_for(
        "the confusion matrix: a header and 10 classes",
        CONFUSION_ROWS,
        |v| match v.as_u64() {
            Some(11) => Ok(11),
            Some(n) => Err(format!("{n} rows, want 11")),
            None => Err("no #confusion table".into()),
        },
    );
    println!(
        "{points} loss points, {activations} activation and {filters} filter images, \
         {lr_find} polyline(s) in #lr-find, race polylines by surface: {race}; {rows} confusion \
         rows, after {:?}",
        started.elapsed()
    );

    let resources = session.execute(RESOURCES);
    let resources = resources.as_array().expect("a list of resource names");
    println!("resources loaded ({}): {resources:?}", resources.len());
    let fetched: Vec<&Value> = resources
        .iter()
        .filter(|name| {
            name.as_str()
                .is_some_and(|n| n.starts_with("http:") || n.starts_with("https:"))
        })
        .collect();
    assert!(
        fetched.is_empty(),
        "the report fetched from a server: {fetched:?}"
    );

    session.save_and_check_screenshot();
    session.assert_no_console_errors("the report");

    session.quit();
    println!("done in {:?}", started.elapsed());
}
