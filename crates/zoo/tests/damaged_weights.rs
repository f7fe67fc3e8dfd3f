//! The safetensors weights loader against damage (the sweep in `convnet_testdata::sweep`): a
//! small model's weights cut short at every length and every byte flipped. No case may panic
//! or give an error that does not name the file. The format has no checksum, so a flipped
//! weight is loaded as a different weight: counted, not failed (checkpoints, which do carry
//! one, are swept in convnet-train).

use convnet_testdata::sweep::{damages, report, sweep};
use convnet_zoo::{ZooConfig, build, load_safetensors_file, save_safetensors};

#[test]
fn damaged_weight_files_are_refused_or_loaded_never_a_panic() {
    let model = build::<f32>(
        "lenet5",
        &ZooConfig::default()
            .width_divisor(16)
            .classes(3)
            .input([1, 12, 12]),
    )
    .unwrap();
    let params = model.init_params(1).unwrap();
    let bytes = save_safetensors(&params).unwrap();
    assert!(
        bytes.len() < 16_384,
        "{} bytes: keep the sweep fast",
        bytes.len()
    );
    let dir = tempfile::tempdir().unwrap();
    let d = damages(bytes.len(), 4096, 2000, 3);
    let t = sweep(&bytes, &d, &dir.path().join("weights.safetensors"), |p| {
        load_safetensors_file(&model, p)
            .map(|(store, _)| {
                store
                    .iter()
                    .flat_map(|(_, t)| t.to_vec())
                    .map(f32::to_bits)
                    .collect::<Vec<_>>()
            })
            .map_err(|e| e.to_string())
    });
    report(&t.line("safetensors weights"));
    assert_eq!(t.panics, 0, "{:?}", t.examples);
    assert_eq!(t.unnamed_errors, 0, "{:?}", t.examples);
    assert!(t.errors > 0);
}
