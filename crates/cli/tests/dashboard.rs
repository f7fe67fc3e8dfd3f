//! The dashboard in a real browser: headless Chromium, driven over WebDriver by chromedriver.
//! One test loads the live page of `convnet train --dashboard` while LeNet-5 trains on the
//! MNIST fixtures and checks the layer cards, the live loss chart, the activation and filter
//! images, and the console; the other opens the one file `convnet report` writes for a finished
//! run (after `convnet lr-find`) from disk and checks the same page, drawn from the data inline,
//! with nothing fetched from any server. Needs Debian's `chromium` and `chromium-driver`
//! (`.ci/run` installs them); without them it fails.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::{Mutex, MutexGuard, mpsc};
use std::thread;
use std::time::Instant;

use serde_json::{Value, json};

mod common;

use common::browser::*;

/// The two tests train LeNet-5 and drive a browser each: on a small machine they would starve
/// each other (and the live one's deadlines), so they take turns.
fn one_at_a_time() -> MutexGuard<'static, ()> {
    static TURN: Mutex<()> = Mutex::new(());
    // A test that failed holding the turn poisons it; the other still runs.
    TURN.lock().unwrap_or_else(|e| e.into_inner())
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
