//! Checkpoints against damage (the sweep in `convnet_testdata::sweep`): cut short at every
//! length and every byte flipped. A checkpoint carries a SHA-256 over its tensors and
//! metadata, so every case must be refused with an error naming the file, or be read back
//! with exactly the original content (a flip that the format ignores) — never a panic, never
//! different numbers.

use std::collections::BTreeMap;

use convnet_optim::OptimizerState;
use convnet_tensor::Tensor;
use convnet_testdata::sweep::{damages, report, sweep};
use convnet_train::{Checkpoint, TrainPosition};

fn small() -> Checkpoint<f32> {
    let w = Tensor::<f32>::normal(&[4, 3], 0.0, 1.0, 1).unwrap();
    let b = Tensor::<f32>::normal(&[4], 0.0, 1.0, 2).unwrap();
    let optimizer = OptimizerState {
        kind: "Sgd".into(),
        step: 9,
        hyper: BTreeMap::from([("lr".to_string(), 0.05), ("momentum".to_string(), 0.9)]),
        param_steps: BTreeMap::from([("fc.weight".to_string(), 9u64)]),
        slots: BTreeMap::from([("momentum/fc.weight".to_string(), w.scale(0.1))]),
    };
    Checkpoint {
        params: vec![("fc.weight".into(), w), ("fc.bias".into(), b)],
        optimizer: Some(optimizer),
        scheduler: BTreeMap::from([("step".to_string(), 9.0)]),
        position: TrainPosition {
            epoch: 1,
            step: 9,
            batch_in_epoch: 2,
        },
        rng: BTreeMap::from([("seed".to_string(), 3u64)]),
        info: BTreeMap::from([("model".to_string(), "lenet5".to_string())]),
        fit: BTreeMap::from([("best_val_accuracy".to_string(), 0.75)]),
    }
}

/// Everything a checkpoint holds, in a form that compares bit for bit.
fn content(c: &Checkpoint<f32>) -> String {
    let bits = |t: &Tensor<f32>| {
        let v: Vec<u32> = t.to_vec().iter().map(|x| x.to_bits()).collect();
        format!("{:?}{v:?}", t.shape())
    };
    let mut s = String::new();
    for (n, t) in &c.params {
        s += &format!("{n}={};", bits(t));
    }
    if let Some(o) = &c.optimizer {
        s += &format!("{}:{}:{:?}:", o.kind, o.step, o.param_steps);
        for (k, v) in &o.hyper {
            s += &format!("{k}={:x};", v.to_bits());
        }
        for (k, t) in &o.slots {
            s += &format!("{k}={};", bits(t));
        }
    }
    let f64s = |m: &BTreeMap<String, f64>| {
        m.iter()
            .map(|(k, v)| format!("{k}={:x}", v.to_bits()))
            .collect::<Vec<_>>()
            .join(",")
    };
    s += &format!(
        "{}|{:?}|{:?}|{:?}|{}",
        f64s(&c.scheduler),
        c.position,
        c.rng,
        c.info,
        f64s(&c.fit)
    );
    s
}

#[test]
fn damaged_checkpoints_are_refused_never_read_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = small().to_bytes().unwrap();
    let d = damages(bytes.len(), 8192, 3000, 5);
    let scratch = dir.path().join("damaged.safetensors");
    let t = sweep(&bytes, &d, &scratch, |p| {
        Checkpoint::<f32>::load(p)
            .map(|c| content(&c))
            .map_err(|e| e.to_string())
    });
    report(&t.line("checkpoint"));
    assert_eq!(t.panics, 0, "{:?}", t.examples);
    assert_eq!(t.unnamed_errors, 0, "{:?}", t.examples);
    assert_eq!(t.accepted_changed, 0, "{:?}", t.examples);
    assert!(t.errors > t.cases / 2, "{t:?}");
}
