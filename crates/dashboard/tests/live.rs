//! The dashboard end to end without a browser: a real fit on the embedded digits fills the
//! state, the server answers over real sockets, events stream, and a client that never reads
//! cannot hold training up.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use convnet_dashboard::{DashState, DashboardServer, Hub, Monitor, RunInfo, SampleBatch};
use convnet_datasets::{DataLoader, Dataset, DatasetKind, LoaderConfig, Split};
use convnet_nn::layers::shorthand::*;
use convnet_nn::{CrossEntropyLoss, Model, Sequential};
use convnet_optim::SgdConfig;
use convnet_train::{FitConfig, ProgressMode, Trainer};

fn get(addr: std::net::SocketAddr, path: &str) -> (String, Vec<u8>) {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    (head, raw[split + 4..].to_vec())
}

fn model() -> Model<f32> {
    let net = Sequential::default()
        .with(conv(4, 3).padding(1))
        .with(relu())
        .with(max_pool(2))
        .with(flatten())
        .with(linear(10));
    Model::new(net, &[1, 8, 8]).unwrap()
}

#[test]
fn a_fit_fills_the_page_and_the_server_serves_it() {
    let digits = Dataset::load(DatasetKind::Digits, Split::Train, Path::new("embedded")).unwrap();
    let (train, val) = digits.split_off(300).unwrap();
    let train = DataLoader::new(train, LoaderConfig::new(32, 0)).unwrap();
    let val = DataLoader::new(val, LoaderConfig::evaluation(300)).unwrap();
    let first = val.epoch(0).next().unwrap().unwrap();
    let sample = SampleBatch {
        images: first.images.narrow(0, 0, 4).unwrap().contiguous(),
        labels: first.labels[..4].to_vec(),
    };
    let val_sample = SampleBatch {
        images: first.images.clone(),
        labels: first.labels.clone(),
    };

    let model = model();
    let hub = Arc::new(Hub::new(DashState::default()));
    let run = RunInfo {
        model: "tiny".into(),
        dataset: "digits".into(),
        batch_size: 32,
        ..RunInfo::default()
    };
    let monitor = Monitor::new(
        Arc::clone(&hub),
        &model,
        CrossEntropyLoss::new(),
        run,
        sample,
        Some(val_sample),
        Duration::ZERO,
    )
    .unwrap();
    let server = DashboardServer::start(Arc::clone(&hub), "127.0.0.1", 0).unwrap();
    assert!(server.addr.ip().is_loopback());

    // A client that subscribes and never reads a byte.
    let mut stalled = TcpStream::connect(server.addr).unwrap();
    write!(stalled, "GET /events HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    // And one that reads.
    let live = TcpStream::connect(server.addr).unwrap();
    live.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    write!(&live, "GET /events HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut live = BufReader::new(live);
    let mut line = String::new();
    live.read_line(&mut line).unwrap();
    assert!(line.starts_with("HTTP/1.1 200"), "{line}");

    let sgd = SgdConfig::new(0.1).momentum(0.9).build::<f32>().unwrap();
    let mut trainer =
        Trainer::new(&model, CrossEntropyLoss::new(), Box::new(sgd), None, 0).unwrap();
    trainer.callbacks.push(Box::new(monitor));
    let config = FitConfig {
        progress: ProgressMode::Silent,
        ..FitConfig::new(2, 0)
    };
    let report = trainer.fit(&train, Some(&val), &config).unwrap();
    // Dropping the trainer drops the monitor, which waits for the worker's last snapshot.
    drop(trainer);

    hub.with_state(|s| {
        assert_eq!(s.train.len(), report.step_losses.len());
        assert_eq!(
            s.train.iter().map(|p| p.loss).collect::<Vec<_>>(),
            report.step_losses
        );
        assert_eq!(s.train.last().unwrap().step, report.position.step);
        assert_eq!(s.val.len(), 2);
        assert_eq!(s.val[1].accuracy, report.history[1].val_accuracy.unwrap());
        let confusion = s.confusion.as_ref().unwrap();
        assert_eq!(confusion.iter().flatten().sum::<usize>(), 300);
        let names: Vec<&str> = s.layers.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["0", "1", "2", "3", "4"]);
        assert_eq!(s.layers[0].params_formula, "(3·3·1 + 1)·4 = 40");
        for card in &s.layers {
            let live = card
                .live
                .as_ref()
                .unwrap_or_else(|| panic!("{} has no figures", card.name));
            assert!(live.gradient.is_some(), "{}", card.name);
        }
        // ReLU zeros are counted; the conv has an update ratio and pictures.
        assert!(s.layers[1].live.as_ref().unwrap().zero_fraction > 0.0);
        assert!(s.layers[0].live.as_ref().unwrap().update_ratio.unwrap() > 0.0);
        assert!(s.layers[0].filter_image.is_some() && s.layers[0].activation_image.is_some());
        assert_eq!(s.samples.len(), 4);
        let wrong = 300 - (0..10).map(|c| confusion[c][c]).sum::<usize>();
        assert_eq!(s.misclassified.len(), wrong.min(12));
    });

    // The server: page, state, pictures, a 404.
    let (head, body) = get(server.addr, "/");
    assert!(head.contains("200") && String::from_utf8_lossy(&body).contains("convnet dashboard"));
    let (_, body) = get(server.addr, "/state");
    let state: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        state["train"].as_array().unwrap().len(),
        report.step_losses.len()
    );
    let url = state["layers"][0]["activation_image"]
        .as_str()
        .unwrap()
        .to_string();
    let (head, png) = get(server.addr, &url);
    assert!(head.contains("image/png"), "{head}");
    assert_eq!(&png[..4], b"\x89PNG");
    let (head, _) = get(server.addr, "/img/nothing");
    assert!(head.contains("404"), "{head}");

    // The reading client got step, epoch and layer events while the stalled one sat there.
    let mut seen = std::collections::BTreeSet::new();
    while seen.len() < 3 {
        line.clear();
        if live.read_line(&mut line).unwrap() == 0 {
            break;
        }
        if let Some(e) = line.strip_prefix("event: ") {
            seen.insert(e.trim().to_string());
        }
    }
    assert!(
        seen.contains("step") && seen.contains("epoch") && seen.contains("layers"),
        "{seen:?}"
    );
    // Thousands more events with the stalled client still connected: publishing never waits.
    for _ in 0..5_000 {
        hub.publish("step", "{\"points\":[]}");
    }
    assert!(hub.subscribers() >= 2);
    drop(stalled);
}
