//! IDX (MNIST, Fashion-MNIST), gzipped or not: any bytes give an IdxArray or an error.
#![no_main]

use convnet_datasets::idx::{read_idx, read_idx_shaped};
use libfuzzer_sys::fuzz_target;

#[path = "scratch.rs"]
mod scratch;

fuzz_target!(|data: &[u8]| {
    let path = scratch::scratch(data, "idx");
    let _ = read_idx(path, 1);
    let _ = read_idx(path, 3);
    let _ = read_idx_shaped(path, &[None, Some(28), Some(28)], "images");
});
