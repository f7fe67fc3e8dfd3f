//! The damaged-file sweep every reader of the project goes through: a real file cut short at
//! every length and hit by single-byte flips (every byte of a small file, a seeded sample of a
//! large one), each fed to the reader. Every case must end in an error that names the file or
//! in acceptance; a panic is a failure, and so is accepting content that differs from the
//! original where the format carries a checksum.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

/// One way to damage a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Damage {
    /// Keep only the first `len` bytes.
    Truncate(usize),
    /// XOR the byte at `at` with `mask` (never 0).
    Flip {
        /// Byte offset of the flip; must be less than the file's length.
        at: usize,
        /// The bits flipped.
        mask: u8,
    },
}

impl Damage {
    /// A damaged copy of `bytes`.
    ///
    /// # Panics
    /// For a [`Damage::Flip`] whose offset is not inside `bytes`.
    pub fn apply(self, bytes: &[u8]) -> Vec<u8> {
        match self {
            Damage::Truncate(len) => bytes[..len.min(bytes.len())].to_vec(),
            Damage::Flip { at, mask } => {
                let mut v = bytes.to_vec();
                v[at] ^= mask;
                v
            }
        }
    }
}

/// Every truncation (lengths 0..len), and single-byte flips: at every offset when the file has
/// at most `all_flips_up_to` bytes, else at `sampled` offsets drawn with `seed` (always
/// including the first 64 bytes, where headers live).
pub fn damages(len: usize, all_flips_up_to: usize, sampled: usize, seed: u64) -> Vec<Damage> {
    let mut out: Vec<Damage> = (0..len).map(Damage::Truncate).collect();
    // SplitMix64: a tiny, well-known generator, enough to spread offsets and masks.
    let mut state = seed;
    let mut next = move || {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let offsets: Vec<usize> = if len <= all_flips_up_to {
        (0..len).collect()
    } else {
        let head = 0..len.min(64);
        head.chain((0..sampled).map(|_| (next() % len as u64) as usize))
            .collect()
    };
    for at in offsets {
        let mask = (next() % 255) as u8 + 1;
        out.push(Damage::Flip { at, mask });
    }
    out
}

/// What a sweep saw.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    /// Damaged files fed to the reader.
    pub cases: usize,
    /// Refused with an error naming the file.
    pub errors: usize,
    /// Refused with an error that does not name the file (a failure).
    pub unnamed_errors: usize,
    /// The reader panicked (a failure).
    pub panics: usize,
    /// Accepted with exactly the original content (the damage hit bytes that carry none,
    /// such as a gzip header's timestamp).
    pub accepted_unchanged: usize,
    /// Accepted with content that differs from the original.
    pub accepted_changed: usize,
    /// The first few failures, for the assertion message.
    pub examples: Vec<String>,
}

impl Tally {
    /// One line for the log: `name: N cases: E errors, P panics, …`.
    pub fn line(&self, name: &str) -> String {
        format!(
            "{name}: {} cases: {} errors naming the file, {} unnamed errors, {} panics, {} \
             accepted unchanged, {} accepted changed",
            self.cases,
            self.errors,
            self.unnamed_errors,
            self.panics,
            self.accepted_unchanged,
            self.accepted_changed
        )
    }

    fn fail(&mut self, what: String) {
        if self.examples.len() < 5 {
            self.examples.push(what);
        }
    }
}

/// Runs `read` on `original` damaged every way in `damages`, each written to `scratch` (a
/// path whose name the errors must contain). `read` returns the file's content in a
/// comparable form (e.g. the decoded bytes) or the error's message.
pub fn sweep<C: PartialEq>(
    original: &[u8],
    damages: &[Damage],
    scratch: &Path,
    read: impl Fn(&Path) -> Result<C, String>,
) -> Tally {
    let name = scratch
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let want = read_or_panic(&read, original, scratch);
    save_seed(original, &name);
    let mut t = Tally::default();
    for &d in damages {
        t.cases += 1;
        std::fs::write(scratch, d.apply(original)).expect("the scratch file can be written");
        match catch_unwind(AssertUnwindSafe(|| read(scratch))) {
            Err(_) => {
                t.panics += 1;
                t.fail(format!("{d:?}: panicked"));
            }
            Ok(Err(msg)) if msg.contains(&name) => t.errors += 1,
            Ok(Err(msg)) => {
                t.unnamed_errors += 1;
                t.fail(format!("{d:?}: error without the file name: {msg}"));
            }
            Ok(Ok(c)) if c == want => t.accepted_unchanged += 1,
            Ok(Ok(_)) => {
                t.accepted_changed += 1;
                t.fail(format!("{d:?}: accepted with different content"));
            }
        }
    }
    t
}

fn read_or_panic<C>(read: &impl Fn(&Path) -> Result<C, String>, bytes: &[u8], scratch: &Path) -> C {
    std::fs::write(scratch, bytes).expect("the scratch file can be written");
    read(scratch).unwrap_or_else(|e| panic!("the undamaged file is refused: {e}"))
}

/// The environment variable naming a folder where every sweep leaves its undamaged file: a
/// seed corpus of real, valid files for the fuzz targets (`fuzz/README.md`).
pub const SEEDS_ENV: &str = "CONVNET_FUZZ_SEEDS";

fn save_seed(bytes: &[u8], name: &str) {
    if let Some(dir) = std::env::var_os(SEEDS_ENV) {
        let dir = std::path::PathBuf::from(dir);
        std::fs::create_dir_all(&dir).expect("the seed folder can be made");
        std::fs::write(dir.join(name), bytes).expect("a seed can be written");
    }
}

/// Prints `line` on the terminal past the test harness's capture, so the counts show in CI
/// logs.
pub fn report(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "sweep: {line}");
}
