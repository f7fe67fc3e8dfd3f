//! The weight gradient by Winograd F(4×4, 3×3): `gw = Gᵀ [Σ_tiles (A e Aᵀ) ⊙ (Bᵀ d B)] G`
//! for output-gradient blocks `e` and input patches `d` (see `transform::output_grad_tile`
//! for why the transposed transforms give the gradient).
//!
//! Each worker takes a contiguous range of the batch's tiles (numbered across images, so
//! batch 1 splits too) and, chunk by chunk, transforms the input patches into `V[c][ξ][t]`
//! and the output-gradient blocks into `E[k][ξ][t]`, then accumulates the 36 products
//! `P[k][ξ][c] += E[k][ξ][·] · V[·][ξ][c]ᵀ` on the `gemm` crate. The workers' `P` are summed
//! in worker order (reproducible for a given thread count) and carried back to 3×3 filters.

use rayon::prelude::*;

#[cfg(target_arch = "x86_64")]
use super::simd;
use super::transform::{ALPHA, LANES, OUT, POSITIONS, filter_grad_tile, output_grad_tile};
use super::{Chunk, Scratch, Shape, input_chunk, lengths_fit, tile_origin, unavailable_reason};
use crate::buffers::ScratchBuf;
use crate::kernels::direct::Pass;
use crate::kernels::gemm::{MatMut, MatRef, gemm_into};
use crate::kernels::geometry::Conv2dGeometry;

/// Fewest tiles per chunk: each chunk re-reads and re-writes the `36·K·C` sums, so the
/// chunk must be long enough to amortise that.
const MIN_CHUNK_GRAD_TILES: usize = 128;

/// `gw = ∂L/∂w` from `x` and `gy` (overwriting `gw`) if Winograd applies to `g`, else
/// `false`; `chunk_tiles` overrides the tiles per chunk (tests).
pub(crate) fn weight_grad_chunked(
    g: &Conv2dGeometry,
    x: &[f32],
    gy: &[f32],
    gw: &mut [f32],
    chunk_tiles: Option<usize>,
) -> bool {
    if unavailable_reason(Pass::WeightGrad, g).is_some() || !lengths_fit(g, x, gw, gy) {
        return false;
    }
    let s = Shape::forward_of(g);
    let total = g.batch * s.tiles_per_image();
    let tiles = chunk_tiles.map_or_else(
        || s.chunk_tiles().max(MIN_CHUNK_GRAD_TILES),
        |t| t.next_multiple_of(LANES).max(LANES),
    );
    let workers = rayon::current_num_threads().clamp(1, total.div_ceil(tiles).max(1));
    let per_worker = total.div_ceil(workers);
    let sums_len = s.cout * POSITIONS * s.cin;
    let mut parts: Vec<ScratchBuf<f32>> = (0..workers)
        .into_par_iter()
        .map(|i| {
            let (start, end) = (i * per_worker, ((i + 1) * per_worker).min(total));
            let mut sums = ScratchBuf::zeroed(sums_len);
            let mut sc = Scratch::new(&s, tiles.min(end.saturating_sub(start)));
            for first in (start..end).step_by(tiles) {
                let chunk = Chunk::new(first, tiles.min(end - first));
                accumulate(&s, (x, gy), chunk, &mut sc, &mut sums);
            }
            sums
        })
        .collect();
    let (first, rest) = parts.split_first_mut().expect("at least one worker");
    const BLOCK: usize = 1 << 14;
    first
        .par_chunks_mut(BLOCK)
        .enumerate()
        .for_each(|(b, dst)| {
            for part in rest.iter() {
                for (d, v) in dst.iter_mut().zip(&part[b * BLOCK..]) {
                    *d += v;
                }
            }
        });
    let sums = &*first;
    gw.par_chunks_mut(s.cin * 9)
        .enumerate()
        .for_each(|(k, gwk)| {
            best!(filters_back(
                &s,
                &sums[k * POSITIONS * s.cin..][..POSITIONS * s.cin],
                gwk
            ))
        });
    true
}

/// One chunk's contribution: both transforms, then `P[k][ξ][c] += E[k][ξ][·] · V[c][ξ][·]ᵀ`.
fn accumulate(
    s: &Shape,
    (x, gy): (&[f32], &[f32]),
    chunk: Chunk,
    sc: &mut Scratch,
    sums: &mut [f32],
) {
    let row = POSITIONS * chunk.ld;
    // `Scratch::m` holds the transformed output gradients `E[k][ξ][t]` here.
    let (v, e) = (&mut sc.v[..s.cin * row], &mut sc.m[..s.cout * row]);
    for (c, vc) in v.chunks_exact_mut(row).enumerate() {
        best!(input_chunk(s, x, chunk, c, vc));
    }
    for (k, ek) in e.chunks_exact_mut(row).enumerate() {
        best!(output_grad_chunk(s, gy, chunk, k, ek));
    }
    for xi in 0..POSITIONS {
        let lhs = MatRef {
            data: &e[xi * chunk.ld..],
            rows: s.cout,
            cols: chunk.len,
            rs: row,
            cs: 1,
        };
        let rhs = MatRef {
            data: &v[xi * chunk.ld..],
            rows: chunk.len,
            cols: s.cin,
            rs: 1,
            cs: row,
        };
        let mut dst = MatMut {
            data: &mut sums[xi * s.cin..],
            rows: s.cout,
            cols: s.cin,
            rs: POSITIONS * s.cin,
            cs: 1,
        };
        gemm_into(&mut dst, lhs, rhs, true, false);
    }
}

/// `E[ξ][t]` of output channel `k` for the chunk's tiles into `ek` (`POSITIONS · ld`): the
/// 4×4 gradient blocks, zero past the output's edges and for lanes past the chunk.
#[inline(always)]
pub(super) fn output_grad_chunk(s: &Shape, gy: &[f32], chunk: Chunk, k: usize, ek: &mut [f32]) {
    let plane = s.ho * s.wo;
    for g0 in (0..chunk.ld).step_by(LANES) {
        let mut blk = [[[0.0; LANES]; OUT]; OUT];
        for l in 0..LANES.min(chunk.len.saturating_sub(g0)) {
            let (b, oy, ox) = tile_origin(s, chunk.first + g0 + l);
            let yp = &gy[(b * s.cout + k) * plane..][..plane];
            for (r, row) in blk.iter_mut().enumerate().take(s.ho - oy) {
                let yr = &yp[(oy + r) * s.wo..][..s.wo];
                for (q, lanes) in row.iter_mut().enumerate().take(s.wo - ox) {
                    lanes[l] = yr[ox + q];
                }
            }
        }
        let w = output_grad_tile(&blk);
        for (xi, lanes) in w.iter().flatten().enumerate() {
            ek[xi * chunk.ld + g0..][..LANES].copy_from_slice(lanes);
        }
    }
}

/// The 3×3 gradients `gwk[c][r][q]` of output channel `k` from its sums `pk[ξ][c]`.
#[inline(always)]
pub(super) fn filters_back(s: &Shape, pk: &[f32], gwk: &mut [f32]) {
    for c0 in (0..s.cin).step_by(LANES) {
        let n = LANES.min(s.cin - c0);
        let mut p = [[[0.0; LANES]; ALPHA]; ALPHA];
        for (xi, lanes) in p.iter_mut().flatten().enumerate() {
            lanes[..n].copy_from_slice(&pk[xi * s.cin + c0..][..n]);
        }
        let g = filter_grad_tile(&p);
        for l in 0..n {
            let gc = &mut gwk[(c0 + l) * 9..][..9];
            for (r, row) in g.iter().enumerate() {
                for (q, lanes) in row.iter().enumerate() {
                    gc[r * 3 + q] = lanes[l];
                }
            }
        }
    }
}

/// AVX-512 copies of this file's stage functions (see `super::best`).
#[cfg(target_arch = "x86_64")]
pub(super) mod simd_grad {
    use super::*;

    #[target_feature(enable = "avx512f")]
    pub(in super::super) fn output_grad_chunk(
        s: &Shape,
        gy: &[f32],
        chunk: Chunk,
        k: usize,
        ek: &mut [f32],
    ) {
        super::output_grad_chunk(s, gy, chunk, k, ek)
    }

    #[target_feature(enable = "avx512f")]
    pub(in super::super) fn filters_back(s: &Shape, pk: &[f32], gwk: &mut [f32]) {
        super::filters_back(s, pk, gwk)
    }
}
