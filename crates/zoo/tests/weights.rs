//! The safetensors loader, on files written here with a known layout: torchvision's keys,
//! a `num_batches_tracked` counter per BatchNorm, and F32/F64/F16 dtypes.

use std::collections::HashMap;

use convnet_nn::{Model, Tensor};
use convnet_zoo::{
    ZooConfig, ZooError, build, load_safetensors, load_safetensors_file, save_safetensors,
};
use safetensors::Dtype;
use safetensors::tensor::TensorView;

fn small_resnet() -> Model<f32> {
    build(
        "resnet18",
        &ZooConfig::default()
            .width_divisor(16)
            .classes(5)
            .input([3, 16, 16]),
    )
    .unwrap()
}

/// Value `i` of tensor number `t`: distinct per tensor and exactly representable in f16.
fn value(t: usize, i: usize) -> f32 {
    ((t * 7 + i) % 64) as f32 / 32.0 - 1.0
}

/// A state dict as torchvision writes it for `model`: every key in `dtype`, plus an I64
/// `num_batches_tracked` per BatchNorm. `edit` may drop, add or reshape entries.
fn state_dict(
    model: &Model<f32>,
    dtype: Dtype,
    edit: impl FnOnce(&mut Vec<(String, Dtype, Vec<usize>, Vec<u8>)>),
) -> Vec<u8> {
    let mut entries = Vec::new();
    for (t, p) in model.param_specs().iter().enumerate() {
        let n = p.numel();
        let bytes: Vec<u8> = (0..n)
            .flat_map(|i| {
                let v = value(t, i);
                match dtype {
                    Dtype::F64 => f64::from(v).to_le_bytes().to_vec(),
                    Dtype::F16 => f32_to_f16_bits(v).to_le_bytes().to_vec(),
                    _ => v.to_le_bytes().to_vec(),
                }
            })
            .collect();
        entries.push((p.name.clone(), dtype, p.shape.clone(), bytes));
        if let Some(bn) = p.name.strip_suffix(".running_var") {
            entries.push((
                format!("{bn}.num_batches_tracked"),
                Dtype::I64,
                vec![],
                7i64.to_le_bytes().to_vec(),
            ));
        }
    }
    edit(&mut entries);
    let views: Vec<(String, TensorView<'_>)> = entries
        .iter()
        .map(|(n, d, s, b)| (n.clone(), TensorView::new(*d, s.clone(), b).unwrap()))
        .collect();
    safetensors::serialize(views, None::<HashMap<String, String>>).unwrap()
}

/// Exact for the values `value` produces (multiples of 1/32 in [−1, 1)).
fn f32_to_f16_bits(v: f32) -> u16 {
    if v == 0.0 {
        return 0;
    }
    let sign = if v < 0.0 { 0x8000 } else { 0 };
    let a = v.abs();
    let e = a.log2().floor() as i32;
    let frac = ((a / 2f32.powi(e) - 1.0) * 1024.0).round() as u16;
    sign | (((e + 15) as u16) << 10) | frac
}

#[test]
fn loads_a_torchvision_layout_in_every_float_dtype() {
    let model = small_resnet();
    for dtype in [Dtype::F32, Dtype::F64, Dtype::F16] {
        let bytes = state_dict(&model, dtype, |_| {});
        let (store, report) = load_safetensors(&model, &bytes, "test.safetensors").unwrap();
        assert_eq!(report.loaded, model.param_specs().len());
        assert_eq!(report.skipped.len(), 20, "one counter per BatchNorm");
        assert!(
            report
                .skipped
                .contains(&"layer1.0.bn1.num_batches_tracked".to_string())
        );
        for (t, p) in model.param_specs().iter().enumerate() {
            let v = store.get(&p.name).unwrap();
            assert_eq!(v.shape(), p.shape.as_slice());
            let want: Vec<f32> = (0..p.numel()).map(|i| value(t, i)).collect();
            assert_eq!(v.to_vec(), want, "{} ({dtype:?})", p.name);
            assert_eq!(store.is_buffer(&p.name), !p.trainable);
        }
        assert!(store.is_buffer("bn1.running_mean") && !store.is_buffer("fc.weight"));
    }
}

#[test]
fn reports_every_missing_unexpected_and_mismatched_key() {
    let model = small_resnet();
    let bytes = state_dict(&model, Dtype::F32, |e| {
        e.retain(|(n, ..)| n != "fc.bias" && n != "layer2.0.downsample.1.running_var");
        e.push(("fc2.weight".into(), Dtype::F32, vec![1], vec![0; 4]));
        let bn = e.iter_mut().find(|(n, ..)| n == "bn1.weight").unwrap();
        bn.1 = Dtype::I32;
    });
    let e = load_safetensors(&model, &bytes, "bad.safetensors").unwrap_err();
    assert!(matches!(e, ZooError::Weights { .. }));
    let msg = e.to_string();
    assert!(
        msg.contains("weights bad.safetensors: does not fit the model"),
        "{msg}"
    );
    assert!(
        msg.contains("missing (2): layer2.0.downsample.1.running_var [8], fc.bias [5]"),
        "{msg}"
    );
    assert!(msg.contains("unexpected (1): fc2.weight"), "{msg}");
    assert!(
        msg.contains("unsupported dtype (F32, F64, F16 and BF16 load) (1): bn1.weight (I32)"),
        "{msg}"
    );
    assert!(!msg.contains("num_batches_tracked"), "{msg}");

    let e = load_safetensors(&model, b"not safetensors", "junk.bin").unwrap_err();
    assert!(
        e.to_string()
            .starts_with("weights junk.bin: not a readable safetensors file"),
        "{e}"
    );
}

#[test]
fn shape_mismatches_name_both_shapes() {
    let model = small_resnet();
    let other = build::<f32>(
        "resnet18",
        &ZooConfig::default()
            .width_divisor(16)
            .classes(6)
            .input([3, 16, 16]),
    )
    .unwrap();
    let bytes = state_dict(&other, Dtype::F32, |_| {});
    let msg = load_safetensors(&model, &bytes, "six.safetensors")
        .unwrap_err()
        .to_string();
    assert!(msg.contains("shape mismatch (2): fc.weight: file [6, 32], model [5, 32], fc.bias: file [6], model [5]"), "{msg}");
}

#[test]
fn saved_weights_reload_to_the_same_outputs() {
    let model = small_resnet();
    let params = model.init_params(3).unwrap();
    let bytes = save_safetensors(&params).unwrap();
    let dir = std::env::temp_dir().join(format!("convnet-zoo-weights-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("resnet.safetensors");
    std::fs::write(&path, &bytes).unwrap();
    let (loaded, _) = load_safetensors_file(&model, &path).unwrap();
    let x = Tensor::<f32>::normal(&[2, 3, 16, 16], 0.0, 1.0, 4).unwrap();
    let inf = model.inference().unwrap();
    let a = inf.forward(&params, &x).unwrap();
    let b = inf.forward(&loaded, &x).unwrap();
    assert_eq!(a.to_vec(), b.to_vec());
    std::fs::remove_dir_all(&dir).unwrap();
    let e = load_safetensors_file(&model, &dir.join("absent.safetensors")).unwrap_err();
    assert!(matches!(e, ZooError::Io { .. }) && e.to_string().contains("absent.safetensors"));
}
