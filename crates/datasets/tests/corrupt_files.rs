//! A truncated file, a wrong magic number, dimensions that disagree with the file size, an
//! image/label count mismatch, a label out of range and a gzip error are each reported with
//! the file, the offset and what was expected — never a panic.

use std::io::Write;
use std::path::Path;

use convnet_datasets::cifar::{RECORD_BYTES, read_cifar_batch};
use convnet_datasets::idx::read_idx;
use convnet_datasets::{Dataset, DatasetKind, Split};
use flate2::Compression;
use flate2::write::GzEncoder;

fn idx_bytes(magic: u32, dims: &[u32], payload: &[u8]) -> Vec<u8> {
    let mut v = magic.to_be_bytes().to_vec();
    for d in dims {
        v.extend_from_slice(&d.to_be_bytes());
    }
    v.extend_from_slice(payload);
    v
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

#[test]
fn idx_errors_name_file_offset_and_expectation() {
    let dir = tempfile::tempdir().unwrap();
    let good = idx_bytes(0x0803, &[2, 2, 2], &[1, 2, 3, 4, 5, 6, 7, 8]);
    let p = write(dir.path(), "ok", &good);
    assert_eq!(read_idx(&p, 3).unwrap().dims, vec![2, 2, 2]);
    let pz = write(dir.path(), "ok.gz", &gz(&good));
    assert_eq!(read_idx(&pz, 3).unwrap().data, vec![1, 2, 3, 4, 5, 6, 7, 8]);

    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "magic",
            idx_bytes(0x0100_0803, &[2, 2, 2], &[0; 8]),
            "at byte 0: bad magic number 0x01000803",
        ),
        (
            "type",
            idx_bytes(0x0d03, &[2, 2, 2], &[0; 8]),
            "at byte 2: element type 0x0d: expected 0x08",
        ),
        (
            "rank",
            idx_bytes(0x0801, &[8], &[0; 8]),
            "at byte 3: magic 0x00000801 says 1 dimensions, expected 3",
        ),
        (
            "short",
            good[..good.len() - 3].to_vec(),
            "header promises 8 bytes",
        ),
        ("long", [good.clone(), vec![0]].concat(), "has 9 left"),
        (
            "header",
            good[..6].to_vec(),
            "file ends early: expected 4 bytes of dimension 0",
        ),
        (
            "huge",
            idx_bytes(0x0803, &[u32::MAX, u32::MAX, 2], &[]),
            "implausibly large",
        ),
    ];
    for (name, bytes, want) in cases {
        let p = write(dir.path(), name, &bytes);
        let e = read_idx(&p, 3).unwrap_err().to_string();
        assert!(e.starts_with(&p.display().to_string()), "{e}");
        assert!(e.contains(want), "{name}: {e}");
    }
    // Truncated inside a gzip stream: the decompressed data ends early.
    let cut = gz(&good[..good.len() - 3]);
    let p = write(dir.path(), "short.gz", &cut);
    let e = read_idx(&p, 3).unwrap_err().to_string();
    assert!(e.contains("at byte 21: file ends early: expected 8 bytes of data for dimensions [2, 2, 2], found 5"), "{e}");
    // A corrupt deflate stream.
    let mut bad = gz(&good);
    let n = bad.len();
    bad.truncate(n - 12);
    bad.extend_from_slice(&[0xff; 4]);
    let p = write(dir.path(), "bad.gz", &bad);
    let e = read_idx(&p, 3).unwrap_err().to_string();
    assert!(e.contains("bad.gz"), "{e}");
}

#[test]
fn mnist_pairs_are_cross_checked() {
    let dir = tempfile::tempdir().unwrap();
    let mnist = dir.path().join("mnist");
    std::fs::create_dir(&mnist).unwrap();
    let images = idx_bytes(0x0803, &[3, 28, 28], &[0; 3 * 784]);
    write(&mnist, "t10k-images-idx3-ubyte", &images);
    write(
        &mnist,
        "t10k-labels-idx1-ubyte.gz",
        &gz(&idx_bytes(0x0801, &[2], &[1, 2])),
    );
    let e = Dataset::load(DatasetKind::Mnist, Split::Test, dir.path())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("has 3 images but") && e.contains("has 2 labels"),
        "{e}"
    );

    write(
        &mnist,
        "t10k-labels-idx1-ubyte.gz",
        &gz(&idx_bytes(0x0801, &[3], &[1, 12, 2])),
    );
    let e = Dataset::load(DatasetKind::Mnist, Split::Test, dir.path())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("at byte 9: label 12 of example 1 is not in 0–9"),
        "{e}"
    );

    write(
        &mnist,
        "t10k-images-idx3-ubyte",
        &idx_bytes(0x0803, &[3, 28, 27], &[0; 3 * 28 * 27]),
    );
    let e = Dataset::load(DatasetKind::Mnist, Split::Test, dir.path())
        .unwrap_err()
        .to_string();
    assert!(e.contains("images are 28×27, expected 28×28"), "{e}");
}

#[test]
fn cifar_records_are_validated() {
    let dir = tempfile::tempdir().unwrap();
    let mut rec = vec![3u8];
    rec.extend(std::iter::repeat_n(7u8, 3072));
    let two = [rec.clone(), rec.clone()].concat();
    let p = write(dir.path(), "ok.bin", &two);
    let (images, labels) = read_cifar_batch(&p).unwrap();
    assert_eq!((images.len(), labels), (2 * 3072, vec![3, 3]));

    let p = write(dir.path(), "cut.bin", &two[..3073 + 100]);
    let e = read_cifar_batch(&p).unwrap_err().to_string();
    assert!(
        e.contains(
            "not a positive multiple of the 3073-byte record (1 whole records, 100 bytes left over)"
        ),
        "{e}"
    );
    let p = write(dir.path(), "cut.bin.gz", &gz(&two[..3073 + 100]));
    let e = read_cifar_batch(&p).unwrap_err().to_string();
    assert!(e.contains("at byte 3173: file ends inside record 1"), "{e}");
    let mut badlabel = two.clone();
    badlabel[3073] = 10;
    let p = write(dir.path(), "label.bin", &badlabel);
    let e = read_cifar_batch(&p).unwrap_err().to_string();
    assert!(
        e.contains("at byte 3073: record 1 has label 10, expected 0–9"),
        "{e}"
    );
    let p = write(dir.path(), "empty.bin", &[]);
    assert!(read_cifar_batch(&p).is_err());
}

#[test]
fn idx_dimensions_are_checked_before_the_payload_is_read() {
    // A header that says 28×27 with no payload at all: the shape is the error, not the length.
    let dir = tempfile::tempdir().unwrap();
    let mnist = dir.path().join("mnist");
    std::fs::create_dir(&mnist).unwrap();
    write(
        &mnist,
        "t10k-images-idx3-ubyte",
        &idx_bytes(0x0803, &[60_000, 28, 27], &[]),
    );
    write(
        &mnist,
        "t10k-labels-idx1-ubyte",
        &idx_bytes(0x0801, &[60_000], &[]),
    );
    let e = Dataset::load(DatasetKind::Mnist, Split::Test, dir.path())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("t10k-images-idx3-ubyte") && e.contains("at byte 12: images are 28×27"),
        "{e}"
    );
}

#[test]
fn a_gzipped_idx_header_promising_more_than_the_file_can_hold_is_refused_unread() {
    // 87 compressed bytes cannot hold 47 MB: deflate expands at most 1032-fold.
    let dir = tempfile::tempdir().unwrap();
    let bytes = gz(&idx_bytes(0x0803, &[60_000, 28, 28], &[0; 64]));
    let p = write(dir.path(), "bomb.gz", &bytes);
    let e = read_idx(&p, 3).unwrap_err().to_string();
    assert!(
        e.contains("bomb.gz")
            && e.contains("header promises 47040000 bytes")
            && e.contains("compressed bytes can decompress to at most"),
        "{e}"
    );
}

#[test]
fn a_cifar_gzip_bomb_is_stopped_at_the_record_cap() {
    // 60,001 all-zero records: 184 MB that gzip packs into ~180 KB. The reader stops at the
    // cap instead of growing without bound.
    let dir = tempfile::tempdir().unwrap();
    let mut enc = GzEncoder::new(Vec::new(), Compression::best());
    let zeros = vec![0u8; RECORD_BYTES * 1000];
    for _ in 0..60 {
        enc.write_all(&zeros).unwrap();
    }
    enc.write_all(&zeros[..RECORD_BYTES]).unwrap();
    let bytes = enc.finish().unwrap();
    assert!(bytes.len() < 400_000, "{}", bytes.len());
    let p = write(dir.path(), "data_batch_1.bin.gz", &bytes);
    let e = read_cifar_batch(&p).unwrap_err().to_string();
    assert!(
        e.contains("data_batch_1.bin.gz") && e.contains("more than 60000 records"),
        "{e}"
    );
}
