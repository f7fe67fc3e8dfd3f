//! The IDX format of MNIST and Fashion-MNIST (LeCun et al.): a 4-byte big-endian magic
//! `0x00 0x00 type ndim`, `ndim` big-endian u32 dimensions, then the row-major payload. Only
//! unsigned bytes (type 0x08) occur in these data sets, so only those are accepted.

use std::path::Path;

use crate::error::Result;
use crate::source::Source;

/// The largest payload we accept (a sanity bound far above any IDX file in use, so that a
/// corrupt header cannot make the reader chew through gigabytes before failing).
const MAX_PAYLOAD: usize = 1 << 31;

/// An IDX array of unsigned bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxArray {
    /// The dimensions from the header, outermost (the item count) first.
    pub dims: Vec<usize>,
    /// The payload, row-major: the product of `dims` bytes.
    pub data: Vec<u8>,
}

/// Reads an IDX file (gzipped or not) and checks it has `expected_rank` dimensions.
pub fn read_idx(path: &Path, expected_rank: usize) -> Result<IdxArray> {
    read_idx_shaped(path, &vec![None; expected_rank], "")
}

/// Reads an IDX file whose dimensions must match `expected` (`None`: any size), checked
/// from the header before any of the payload is read; `what` names the items in the message
/// (e.g. "images" gives "images are 28×27, expected 28×28").
pub fn read_idx_shaped(path: &Path, expected: &[Option<usize>], what: &str) -> Result<IdxArray> {
    let expected_rank = expected.len();
    let mut src = Source::open(path)?;
    let magic = src.read_u32_be("the magic number")?;
    let [zero_a, zero_b, kind, rank] = magic.to_be_bytes();
    if zero_a != 0 || zero_b != 0 {
        return Err(src.format_error(
            0,
            format!("bad magic number 0x{magic:08x}: an IDX file starts with two zero bytes"),
        ));
    }
    if kind != 0x08 {
        return Err(src.format_error(
            2,
            format!("element type 0x{kind:02x}: expected 0x08 (unsigned byte)"),
        ));
    }
    if rank as usize != expected_rank {
        return Err(src.format_error(
            3,
            format!(
                "magic 0x{magic:08x} says {rank} dimensions, expected {expected_rank} (0x{:08x})",
                0x0800 | expected_rank
            ),
        ));
    }
    let mut dims = Vec::with_capacity(expected_rank);
    for i in 0..expected_rank {
        dims.push(src.read_u32_be(&format!("dimension {i}"))? as usize);
    }
    let wrong = dims
        .iter()
        .zip(expected)
        .position(|(&d, e)| e.is_some_and(|e| e != d));
    if let Some(i) = wrong {
        let show = |v: &[usize]| v.iter().map(usize::to_string).collect::<Vec<_>>().join("×");
        let want: Vec<usize> = expected
            .iter()
            .zip(&dims)
            .map(|(e, &d)| e.unwrap_or(d))
            .collect();
        let items = if what.is_empty() { "items" } else { what };
        return Err(src.format_error(
            4 + 4 * i as u64,
            format!(
                "{items} are {}, expected {}",
                show(&dims[1..]),
                show(&want[1..])
            ),
        ));
    }
    let len = dims
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .filter(|&l| l <= MAX_PAYLOAD)
        .ok_or_else(|| src.format_error(4, format!("dimensions {dims:?} are implausibly large")))?;
    let data = src.read_payload(len, &format!("data for dimensions {dims:?}"))?;
    Ok(IdxArray { dims, data })
}
