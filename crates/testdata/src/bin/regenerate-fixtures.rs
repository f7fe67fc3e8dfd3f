//! Cuts the fixtures in `crates/testdata/fixtures` from the original data sets and prints
//! what to pin in `src/lib.rs` and `README.md`: each file's SHA-256 and each split's figures.
//!
//! `cargo run -p convnet-testdata --bin regenerate-fixtures -- [ORIGINALS]`, where ORIGINALS
//! (default `$CONVNET_DATA`) holds `mnist/`, `fashion-mnist/`, `cifar-10/` and
//! `sklearn-digits/` as described in `shared/data/README.md`.

use std::path::PathBuf;
use std::process::ExitCode;

use convnet_testdata::cut::{SPECS, facts_of, make};
use convnet_testdata::{DATA_ENV, SPLITS, fixtures_dir};
use sha2::{Digest, Sha256};

fn main() -> ExitCode {
    let Some(originals) = std::env::args_os()
        .nth(1)
        .or_else(|| std::env::var_os(DATA_ENV))
        .map(PathBuf::from)
    else {
        eprintln!("usage: regenerate-fixtures ORIGINALS (or set {DATA_ENV})");
        return ExitCode::from(2);
    };
    let out = fixtures_dir();
    println!("// FIXTURE_FILES");
    for spec in SPECS {
        let bytes = match make(spec, &originals) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("regenerate-fixtures: {e}");
                return ExitCode::FAILURE;
            }
        };
        let target = out.join(spec.path);
        let tmp = target.with_extension("part");
        let written = target
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| std::fs::write(&tmp, &bytes))
            .and_then(|()| std::fs::rename(&tmp, &target));
        if let Err(e) = written {
            eprintln!("regenerate-fixtures: {}: {e}", target.display());
            return ExitCode::FAILURE;
        }
        let sha: String = Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        println!(
            "FixtureFile {{ path: {:?}, sha256: {sha:?} }}, // {} bytes",
            spec.path,
            bytes.len()
        );
    }
    println!("// FIXTURE_FACTS");
    for (folder, part) in SPLITS.iter().copied() {
        match facts_of(&out, folder, part) {
            Ok(f) => println!(
                "({folder:?}, Part::{part:?}, SplitFacts {{ len: {}, class_counts: {:?}, mean_pixel: {:.6} }}),",
                f.len, f.class_counts, f.mean_pixel
            ),
            Err(e) => {
                eprintln!("regenerate-fixtures: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}
