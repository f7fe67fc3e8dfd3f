//! Every reader of a data format against real files damaged every way (the sweep in
//! `convnet_testdata::sweep`): cut short at every length, and single bytes flipped. No case
//! may panic or give an error that does not name the file; a gzip file (CRC-32 and length in
//! its trailer) may never be accepted with different content. Uncompressed IDX and CIFAR-10
//! carry no checksum, so a flipped pixel is accepted as a different pixel: counted, not failed.

use std::io::Write;
use std::path::Path;

use convnet_datasets::cifar::{RECORD_BYTES, read_cifar_batch};
use convnet_datasets::idx::read_idx;
use convnet_testdata::cut::read_plain;
use convnet_testdata::fixtures_dir;
use convnet_testdata::sweep::{Tally, damages, report, sweep};
use flate2::Compression;
use flate2::write::GzEncoder;

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// The first `n` images of the real MNIST training file, as a valid IDX file.
fn mnist_images(n: usize) -> Vec<u8> {
    let plain = read_plain(&fixtures_dir().join("mnist/train-images-idx3-ubyte.gz")).unwrap();
    let mut v = plain[..16 + n * 784].to_vec();
    v[4..8].copy_from_slice(&(n as u32).to_be_bytes());
    v
}

fn mnist_labels(n: usize) -> Vec<u8> {
    let plain = read_plain(&fixtures_dir().join("mnist/train-labels-idx1-ubyte.gz")).unwrap();
    let mut v = plain[..8 + n].to_vec();
    v[4..8].copy_from_slice(&(n as u32).to_be_bytes());
    v
}

fn cifar_records(n: usize) -> Vec<u8> {
    std::fs::read(fixtures_dir().join("cifar-10/data_batch_1_first200.bin")).unwrap()
        [..n * RECORD_BYTES]
        .to_vec()
}

fn idx(rank: usize) -> impl Fn(&Path) -> Result<(Vec<usize>, Vec<u8>), String> {
    move |p| {
        read_idx(p, rank)
            .map(|a| (a.dims, a.data))
            .map_err(|e| e.to_string())
    }
}

fn cifar(p: &Path) -> Result<(Vec<u8>, Vec<u8>), String> {
    read_cifar_batch(p).map_err(|e| e.to_string())
}

fn check(name: &str, t: &Tally, checksummed: bool) {
    report(&t.line(name));
    assert_eq!(t.panics, 0, "{name}: {:?}", t.examples);
    assert_eq!(t.unnamed_errors, 0, "{name}: {:?}", t.examples);
    if checksummed {
        assert_eq!(t.accepted_changed, 0, "{name}: {:?}", t.examples);
    }
    assert!(t.errors > 0, "{name}: nothing was refused");
}

#[test]
fn damaged_idx_files_are_refused_or_read_never_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("idx-images.gz", gz(&mnist_images(12)), 3, true),
        ("idx-labels.gz", gz(&mnist_labels(300)), 1, true),
        ("idx-images", mnist_images(3), 3, false),
        ("idx-labels", mnist_labels(300), 1, false),
    ];
    for (name, bytes, rank, checksummed) in cases {
        let d = damages(bytes.len(), 4096, 1500, 7);
        let t = sweep(&bytes, &d, &dir.path().join(name), idx(rank));
        check(name, &t, checksummed);
    }
}

#[test]
fn damaged_cifar_files_are_refused_or_read_never_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let plain = cifar_records(2);
    for (name, bytes, checksummed) in [
        ("data_batch_1.bin", plain.clone(), false),
        ("data_batch_1.bin.gz", gz(&cifar_records(3)), true),
    ] {
        let d = damages(bytes.len(), 4096, 1500, 11);
        let t = sweep(&bytes, &d, &dir.path().join(name), cifar);
        check(name, &t, checksummed);
    }
}
