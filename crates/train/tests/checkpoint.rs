//! Checkpoints round-trip bit-exactly, reject corruption with a precise message, and are
//! written atomically.

use std::collections::BTreeMap;

use convnet_autograd::ParamStore;
use convnet_optim::OptimizerState;
use convnet_tensor::Tensor;
use convnet_train::{Checkpoint, TrainPosition};

fn sample() -> Checkpoint<f32> {
    let w = Tensor::<f32>::normal(&[3, 2], 0.0, 1.0, 1).unwrap();
    let b = Tensor::<f32>::from_vec(vec![f32::MIN_POSITIVE, -0.0, 1e-30], &[3]).unwrap();
    let mut slots = BTreeMap::new();
    slots.insert("exp_avg/fc.weight".to_string(), w.scale(0.5));
    let optimizer = OptimizerState {
        kind: "Adam".into(),
        step: 7,
        hyper: BTreeMap::from([("lr".to_string(), 1e-3 / 3.0), ("beta1".to_string(), 0.9)]),
        param_steps: BTreeMap::from([("fc.weight".to_string(), 7u64)]),
        slots,
    };
    Checkpoint {
        params: vec![("fc.weight".into(), w), ("fc.bias".into(), b)],
        optimizer: Some(optimizer),
        scheduler: BTreeMap::from([("step".to_string(), 12.0), ("best".to_string(), 0.1 + 0.2)]),
        position: TrainPosition {
            epoch: 2,
            step: 120,
            batch_in_epoch: 5,
        },
        rng: BTreeMap::from([("seed".to_string(), 42u64)]),
        info: BTreeMap::from([("model".to_string(), "lenet5".to_string())]),
        fit: BTreeMap::from([
            ("best_val_accuracy".to_string(), f64::NEG_INFINITY),
            ("running.loss_sum".to_string(), 1.0 / 3.0),
        ]),
    }
}

fn bits(t: &Tensor<f32>) -> Vec<u32> {
    t.to_vec().iter().map(|v| v.to_bits()).collect()
}

#[test]
fn round_trip_is_bit_exact() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ck.safetensors");
    let c = sample();
    c.save(&path).unwrap();
    let back = Checkpoint::<f32>::load(&path).unwrap();
    assert_eq!(back.params.len(), 2);
    for ((n1, t1), (n2, t2)) in c.params.iter().zip(&back.params) {
        assert_eq!(n1, n2);
        assert_eq!(t1.shape(), t2.shape());
        assert_eq!(bits(t1), bits(t2));
    }
    let (o1, o2) = (
        c.optimizer.as_ref().unwrap(),
        back.optimizer.as_ref().unwrap(),
    );
    assert_eq!(
        (o1.kind.as_str(), o1.step, &o1.param_steps),
        (o2.kind.as_str(), o2.step, &o2.param_steps)
    );
    assert_eq!(o1.hyper, o2.hyper);
    assert_eq!(
        bits(&o1.slots["exp_avg/fc.weight"]),
        bits(&o2.slots["exp_avg/fc.weight"])
    );
    assert_eq!(c.scheduler, back.scheduler);
    assert_eq!(back.scheduler["best"].to_bits(), (0.1f64 + 0.2).to_bits());
    assert_eq!(c.position, back.position);
    assert_eq!((c.rng, c.info), (back.rng, back.info));
    assert_eq!(c.fit, back.fit);
}

#[test]
fn a_crafted_step_counter_near_the_top_of_u64_is_refused() {
    // A well-formed file (valid checksum) whose counters would overflow on the next step.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ck.safetensors");
    let mut c = sample();
    c.position.step = u64::MAX;
    c.save(&path).unwrap();
    let e = Checkpoint::<f32>::load(&path).unwrap_err().to_string();
    assert!(
        e.contains("position.step") && e.contains("implausibly large"),
        "{e}"
    );
    let mut c = sample();
    if let Some(o) = c.optimizer.as_mut() {
        o.param_steps.insert("fc.weight".into(), u64::MAX);
    }
    c.save(&path).unwrap();
    let e = Checkpoint::<f32>::load(&path).unwrap_err().to_string();
    assert!(e.contains("step count for fc.weight"), "{e}");
}

#[test]
fn corruption_is_detected_and_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ck.safetensors");
    sample().save(&path).unwrap();
    let mut bytes = std::fs::read(&path).unwrap();
    let n = bytes.len();
    bytes[n - 3] ^= 0x01;
    std::fs::write(&path, &bytes).unwrap();
    let e = Checkpoint::<f32>::load(&path).unwrap_err().to_string();
    assert!(
        e.starts_with(&format!("checkpoint {}: checksum mismatch", path.display())),
        "{e}"
    );

    std::fs::write(&path, &bytes[..n / 2]).unwrap();
    let e = Checkpoint::<f32>::load(&path).unwrap_err().to_string();
    assert!(e.contains("not a readable safetensors file"), "{e}");

    std::fs::write(&path, b"garbage").unwrap();
    assert!(Checkpoint::<f32>::load(&path).is_err());
    let e = Checkpoint::<f64>::load(&dir.path().join("none"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("none"), "{e}");
}

#[test]
fn wrong_dtype_is_reported() {
    let bytes = sample().to_bytes().unwrap();
    let e = Checkpoint::<f64>::from_bytes(&bytes).unwrap_err();
    assert_eq!(e, "holds f32 tensors, expected f64");
}

#[test]
fn restoring_into_a_different_model_lists_every_difference() {
    let c = sample();
    let mut store = ParamStore::<f32>::new();
    store.insert("fc.weight", Tensor::zeros(&[2, 3])).unwrap();
    store.insert("fc2.bias", Tensor::zeros(&[3])).unwrap();
    let e = c
        .restore_params(&mut store, std::path::Path::new("ck"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains(
            "parameter fc.weight has shape [3, 2] in the checkpoint but [2, 3] in the model"
        ),
        "{e}"
    );
    assert!(e.contains("missing parameter fc2.bias [3]"), "{e}");
    assert!(
        e.contains("unexpected parameter fc.bias [3] (not in the model)"),
        "{e}"
    );
    assert_eq!(
        store.get("fc.weight").unwrap().to_vec(),
        vec![0.0; 6],
        "nothing changed"
    );

    let mut ok = ParamStore::<f32>::new();
    ok.insert("fc.weight", Tensor::zeros(&[3, 2])).unwrap();
    ok.insert("fc.bias", Tensor::zeros(&[3])).unwrap();
    c.restore_params(&mut ok, std::path::Path::new("ck"))
        .unwrap();
    assert_eq!(bits(ok.get("fc.weight").unwrap()), bits(&c.params[0].1));
}

#[test]
fn saving_replaces_atomically_and_leaves_no_temporary_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ck.safetensors");
    let mut c = sample();
    c.save(&path).unwrap();
    c.position.epoch = 3;
    c.save(&path).unwrap();
    assert_eq!(Checkpoint::<f32>::load(&path).unwrap().position.epoch, 3);
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");

    // A save that cannot complete (the target is a non-empty directory) fails cleanly and
    // leaves no partial file beside it.
    let blocked = dir.path().join("blocked");
    std::fs::create_dir(&blocked).unwrap();
    std::fs::write(blocked.join("x"), b"x").unwrap();
    assert!(c.save(&blocked).is_err());
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(
        Checkpoint::<f32>::load(&path).is_ok(),
        "the previous checkpoint is still loadable"
    );
}
