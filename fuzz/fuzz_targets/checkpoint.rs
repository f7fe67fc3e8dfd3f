//! Checkpoints (safetensors with convnet's metadata and SHA-256): any bytes give a checkpoint
//! or an error.
#![no_main]

use convnet_train::Checkpoint;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = Checkpoint::<f32>::from_bytes(data);
    let _ = Checkpoint::<f64>::from_bytes(data);
});
