//! The committed fixtures are what `README.md` and `src/lib.rs` say they are: the pinned
//! checksums, the pinned figures, under the size budget — and, where the originals are at
//! hand (`CONVNET_DATA`, as in CI), exactly the prefixes of them that `cut` describes.

use std::collections::BTreeSet;

use convnet_testdata::cut::{SPECS, facts_of, make, plain, read_plain};
use convnet_testdata::{FIXTURE_FILES, Origin, SPLITS, TestData, fixtures_dir, test_data};
use sha2::{Digest, Sha256};

/// The issue that asked for the fixtures set this budget for all of them together.
const BUDGET_BYTES: u64 = 2_000_000;

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn every_fixture_has_its_pinned_checksum_and_the_set_fits_the_budget() {
    let specs: BTreeSet<_> = SPECS.iter().map(|s| s.path).collect();
    let pinned: BTreeSet<_> = FIXTURE_FILES.iter().map(|f| f.path).collect();
    assert_eq!(specs, pinned, "every cut fixture has a pinned checksum");
    let mut total = 0;
    for f in FIXTURE_FILES {
        let path = fixtures_dir().join(f.path);
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(sha256_hex(&bytes), f.sha256, "{}", path.display());
        total += bytes.len() as u64;
    }
    assert!(
        total < BUDGET_BYTES,
        "fixtures take {total} bytes, over {BUDGET_BYTES}"
    );
}

#[test]
fn fixtures_show_their_pinned_figures() {
    let fixtures = TestData {
        dir: fixtures_dir(),
        origin: Origin::Fixtures,
    };
    for (folder, part) in SPLITS.iter().copied() {
        let got = facts_of(&fixtures.dir, folder, part).unwrap();
        let want = fixtures.facts(folder, part);
        assert_eq!(got.len, want.len, "{folder} {part:?}");
        assert_eq!(got.class_counts, want.class_counts, "{folder} {part:?}");
        assert!(
            (got.mean_pixel - want.mean_pixel).abs() < 1e-6,
            "{folder} {part:?}: mean pixel {} against {}",
            got.mean_pixel,
            want.mean_pixel
        );
    }
}

/// With the originals at hand, cutting them again gives the committed content (compared after
/// decompression, so a different deflate implementation cannot make it fail). Without them the
/// two tests above are what can be checked, and this one says so.
#[test]
fn fixtures_are_prefixes_of_the_originals() {
    let data = test_data();
    if !data.is_full() {
        println!(
            "CONVNET_DATA is unset: the originals are not here; checked checksums and figures only"
        );
        return;
    }
    for spec in SPECS {
        let fresh = make(spec, &data.dir).unwrap();
        let committed = fixtures_dir().join(spec.path);
        assert_eq!(
            plain(fresh, spec.path).unwrap(),
            read_plain(&committed).unwrap(),
            "{} differs from a fresh cut of {}",
            committed.display(),
            spec.original
        );
    }
}
