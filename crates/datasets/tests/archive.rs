//! Unpacking CIFAR-10's binary archive: real records in a tar.gz laid out like the official
//! one unpack to batches the reader reads; an archive with an entry that climbs out with
//! `..`, an absolute path, or a batch of the wrong size is refused whole, leaving nothing.

use std::io::Write;

use convnet_datasets::archive::unpack_cifar_archive;
use convnet_datasets::cifar::{RECORD_BYTES, read_cifar_batch};
use convnet_datasets::{Dataset, DatasetKind, Split};
use convnet_testdata::files_in;
use convnet_testdata::fixtures_dir;
use flate2::Compression;
use flate2::write::GzEncoder;

fn records(n: usize, skip: usize) -> Vec<u8> {
    let all = std::fs::read(fixtures_dir().join("cifar-10/data_batch_1_first200.bin")).unwrap();
    all[skip * RECORD_BYTES..(skip + n) * RECORD_BYTES].to_vec()
}

/// Archive entries: `(path, bytes)`.
type Entries = Vec<(&'static str, Vec<u8>)>;

/// A tar.gz of `(path, bytes)` entries; paths are written raw into the headers, so they can
/// be hostile.
fn tar_gz(entries: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (path, bytes) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_size(bytes.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        {
            let name = &mut h.as_gnu_mut().unwrap().name;
            name[..path.len()].copy_from_slice(path.as_bytes());
        }
        h.set_cksum();
        b.append(&h, &bytes[..]).unwrap();
    }
    let tar = b.into_inner().unwrap();
    let mut e = GzEncoder::new(Vec::new(), Compression::fast());
    e.write_all(&tar).unwrap();
    e.finish().unwrap()
}

fn official_layout() -> Entries {
    let mut v = vec![
        (
            "cifar-10-batches-bin/batches.meta.txt",
            b"airplane\nautomobile\n".to_vec(),
        ),
        (
            "cifar-10-batches-bin/readme.html",
            b"<html></html>".to_vec(),
        ),
    ];
    for (i, name) in [
        "data_batch_1.bin",
        "data_batch_2.bin",
        "data_batch_3.bin",
        "data_batch_4.bin",
        "data_batch_5.bin",
        "test_batch.bin",
    ]
    .into_iter()
    .enumerate()
    {
        let path: &'static str = Box::leak(format!("cifar-10-batches-bin/{name}").into_boxed_str());
        v.push((path, records(3, 3 * i)));
    }
    v
}

#[test]
fn the_official_layout_unpacks_to_readable_batches() {
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("cifar-10-binary.tar.gz");
    std::fs::write(&archive, tar_gz(&official_layout())).unwrap();
    let folder = dir.path().join("data/cifar-10");
    let placed = unpack_cifar_archive(&archive, &folder).unwrap();
    assert_eq!(placed.len(), 7);
    assert_eq!(
        files_in(&folder),
        [
            "batches.meta.txt",
            "data_batch_1.bin",
            "data_batch_2.bin",
            "data_batch_3.bin",
            "data_batch_4.bin",
            "data_batch_5.bin",
            "test_batch.bin"
        ],
        "readme.html is not taken, and no staging folder is left"
    );
    let (_, labels) = read_cifar_batch(&folder.join("data_batch_2.bin")).unwrap();
    assert_eq!(
        labels,
        records(3, 3)
            .iter()
            .step_by(RECORD_BYTES)
            .copied()
            .collect::<Vec<_>>()
    );
    let train =
        Dataset::load(DatasetKind::Cifar10, Split::Train, &dir.path().join("data")).unwrap();
    assert_eq!(train.len(), 15);
    let test = Dataset::load(DatasetKind::Cifar10, Split::Test, &dir.path().join("data")).unwrap();
    assert_eq!(test.len(), 3);
}

#[test]
fn hostile_or_malformed_archives_are_refused_whole() {
    let cases: Vec<(&str, Entries, &str)> = vec![
        (
            "climbs out",
            vec![("cifar-10-batches-bin/../../data_batch_1.bin", records(1, 0))],
            "points outside the archive's folder",
        ),
        (
            "absolute",
            vec![("/tmp/data_batch_1.bin", records(1, 0))],
            "points outside the archive's folder",
        ),
        (
            "not whole records",
            vec![(
                "cifar-10-batches-bin/data_batch_1.bin",
                vec![3; RECORD_BYTES + 5],
            )],
            "whole 3073-byte records",
        ),
        (
            "no batches",
            vec![("cifar-10-batches-bin/readme.html", b"hi".to_vec())],
            "holds no cifar-10-batches-bin/data_batch_1.bin",
        ),
    ];
    for (what, mut entries, says) in cases {
        // Valid members first (but no batch when the case is a missing batch): they must not
        // be left behind when a later entry is refused.
        let mut all = official_layout();
        all.truncate(if what == "no batches" { 2 } else { 4 });
        all.append(&mut entries);
        let dir = tempfile::tempdir().unwrap();
        let archive = dir.path().join("evil.tar.gz");
        std::fs::write(&archive, tar_gz(&all)).unwrap();
        let folder = dir.path().join("cifar-10");
        let e = unpack_cifar_archive(&archive, &folder)
            .unwrap_err()
            .to_string();
        assert!(e.contains("evil.tar.gz") && e.contains(says), "{what}: {e}");
        assert!(
            files_in(&folder).is_empty(),
            "{what}: left {:?}",
            files_in(&folder)
        );
        assert!(!dir.path().join("data_batch_1.bin").exists(), "{what}");
    }
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.tar.gz");
    std::fs::write(&junk, b"not an archive").unwrap();
    let e = unpack_cifar_archive(&junk, &dir.path().join("c"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("junk.tar.gz"), "{e}");
}
