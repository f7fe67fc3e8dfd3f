//! Packing `f32` views into bf16 pair tiles (the layout is described in the module above).
//!
//! A matrix is seen as `X[i][k]`: rows `i` (the output rows for the left operand, the output
//! columns for the right one, passed transposed) and the reduction axis `k`. Each 16 × 32 block
//! of `X` becomes one tile, either with a line per row `i` (left operand) or a line per pair of
//! `k` (right operand). A full block whose `k` or `i` axis is contiguous is converted 16 or 32
//! values at a time with AVX512-BF16; edge blocks and other strides go value by value through
//! [`round_to_bf16`], which rounds bit-for-bit like the instruction.

use super::{TILE_K, TILE_ROWS, round_to_bf16};
use crate::kernels::gemm::MatRef;

/// One 64-byte tile line: 16 pairs of bf16, the even `k` in the low half.
#[derive(Debug, Clone, Copy, Default)]
#[repr(C, align(64))]
pub(crate) struct Line(pub(crate) [u32; 16]);

/// A matrix packed as bf16 pair tiles, `tiles_i` (even) by `tiles_k`, tile `(ti, tk)` at lines
/// `(ti · tiles_k + tk) · 16 ..`.
#[derive(Debug)]
pub(crate) struct Packed {
    pub(crate) lines: Vec<Line>,
    pub(crate) tiles_i: usize,
    pub(crate) tiles_k: usize,
}

/// Two bf16 values as one pair word.
fn pair(lo: f32, hi: f32) -> u32 {
    u32::from(round_to_bf16(lo)) | (u32::from(round_to_bf16(hi)) << 16)
}

impl Packed {
    /// Packs `x` (`X[i][k]`, any strides, already proved to lie inside its slice). With
    /// `by_pairs`, tile line `p` holds pair `p` of 16 rows (the right operand's layout); else
    /// line `i` holds row `i`'s 16 pairs (the left operand's).
    pub(crate) fn pack(x: MatRef<'_, f32>, by_pairs: bool) -> Packed {
        let tiles_i = x.rows.div_ceil(2 * TILE_ROWS) * 2;
        let tiles_k = x.cols.div_ceil(TILE_K);
        let mut lines = vec![Line::default(); tiles_i * tiles_k * TILE_ROWS];
        // Walk the source in memory order: along `k` first where `k` is contiguous, else
        // across `i` first (reading a row-major right operand column strip by column strip
        // would touch a new row, often a new page, every 64 bytes).
        let order: Vec<(usize, usize)> = if x.cs == 1 || x.rs != 1 {
            (0..tiles_i)
                .flat_map(|ti| (0..tiles_k).map(move |tk| (ti, tk)))
                .collect()
        } else {
            (0..tiles_k)
                .flat_map(|tk| (0..tiles_i).map(move |ti| (ti, tk)))
                .collect()
        };
        for (ti, tk) in order {
            let at = (ti * tiles_k + tk) * TILE_ROWS;
            let tile = &mut lines[at..at + TILE_ROWS];
            let (i0, k0) = (ti * TILE_ROWS, tk * TILE_K);
            let full = i0 + TILE_ROWS <= x.rows && k0 + TILE_K <= x.cols;
            let stage = stage_block(x, (i0, k0), full);
            let (block, by_rows) = match stage {
                Stage::Rows(b) => (b, true),
                Stage::Pairs(b) => (b, false),
            };
            for (a, line) in tile.iter_mut().enumerate() {
                for (b, word) in line.0.iter_mut().enumerate() {
                    // The tile wants lines by pairs for the right operand, by rows for
                    // the left; transpose when the block came the other way.
                    *word = if by_rows != by_pairs {
                        block[a][b]
                    } else {
                        block[b][a]
                    };
                }
            }
        }
        Packed {
            lines,
            tiles_i,
            tiles_k,
        }
    }

    /// Output units (pairs of tiles) along `i`.
    pub(crate) fn units(&self) -> usize {
        self.tiles_i / 2
    }

    /// The `tiles_k` tiles of tile row `ti`, in `k` order.
    pub(crate) fn strip(&self, ti: usize) -> &[Line] {
        let len = self.tiles_k * TILE_ROWS;
        &self.lines[ti * len..(ti + 1) * len]
    }
}

/// A 16 × 32 block of `X` as 16 lines of pairs: by rows `i` or by pairs `p`.
enum Stage {
    Rows([[u32; 16]; TILE_ROWS]),
    Pairs([[u32; 16]; TILE_ROWS]),
}

/// Block `(i0, k0)` of `x`, converted 16 or 32 values at a time where the block is `full` and
/// one of its axes contiguous, else value by value.
fn stage_block(x: MatRef<'_, f32>, (i0, k0): (usize, usize), full: bool) -> Stage {
    #[cfg(target_arch = "x86_64")]
    if let (Some(cpu), true) = (super::avx512::Bf16Cpu::detect(), full) {
        let mut block = [[0u32; 16]; TILE_ROWS];
        if x.cs == 1 {
            for (i, line) in block.iter_mut().enumerate() {
                let from = (i0 + i) * x.rs + k0;
                *line = cpu.pairs_of_run(&x.data[from..from + TILE_K]);
            }
            return Stage::Rows(block);
        }
        if x.rs == 1 {
            for (p, line) in block.iter_mut().enumerate() {
                let even = i0 + (k0 + 2 * p) * x.cs;
                let odd = even + x.cs;
                *line = cpu.pairs_of_columns(
                    &x.data[even..even + TILE_ROWS],
                    &x.data[odd..odd + TILE_ROWS],
                );
            }
            return Stage::Pairs(block);
        }
    }
    let _ = full;
    Stage::Rows(scalar_block(x, i0, k0))
}

/// Block `(i0, k0)` of `x` by rows, value by value, zero past the edges.
fn scalar_block(x: MatRef<'_, f32>, i0: usize, k0: usize) -> [[u32; 16]; TILE_ROWS] {
    let get = |i: usize, k: usize| {
        if i < x.rows && k < x.cols {
            x.data[i * x.rs + k * x.cs]
        } else {
            0.0
        }
    };
    let mut stage = [[0u32; 16]; TILE_ROWS];
    for (i, line) in stage.iter_mut().enumerate() {
        for (p, word) in line.iter_mut().enumerate() {
            let k = k0 + 2 * p;
            *word = pair(get(i0 + i, k), get(i0 + i, k + 1));
        }
    }
    stage
}
