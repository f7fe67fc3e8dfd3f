//! CIFAR-10 binary batches, gzipped or not: any bytes give records or an error.
#![no_main]

use convnet_datasets::cifar::read_cifar_batch;
use libfuzzer_sys::fuzz_target;

#[path = "scratch.rs"]
mod scratch;

fuzz_target!(|data: &[u8]| {
    let _ = read_cifar_batch(scratch::scratch(data, "cifar"));
});
