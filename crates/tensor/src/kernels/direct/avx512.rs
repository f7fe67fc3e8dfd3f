//! The AVX-512 micro-kernels of the direct convolution, and the safe entry points that
//! check every bound before entering them.
//!
//! Soundness rests on two things: an [`Avx512`] token exists only after run-time detection
//! found `avx512f`, and each safe entry point asserts (O(1) per call, before any `unsafe`)
//! that the furthest element its loops address lies inside the slice.

use std::arch::x86_64::{
    _mm512_fmadd_ps, _mm512_loadu_ps, _mm512_set1_ps, _mm512_setzero_ps, _mm512_storeu_ps,
};

use super::band::TILE_COLS;

/// Output channels per forward tile: a tile holds `PANEL × TILE_COLS` outputs in 24 of the
/// 32 vector registers.
pub(crate) const PANEL: usize = 8;
const VECS: usize = TILE_COLS / 16;

/// Taps × output channels of one weight-gradient tile (12 × 2 vectors: 24 accumulators).
pub(crate) const WG_TAPS: usize = 12;
pub(crate) const WG_COLS: usize = 32;
const WG_VECS: usize = WG_COLS / 16;

/// Proof that this CPU supports AVX-512F; only [`Avx512::detect`] makes one.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Avx512(());

impl Avx512 {
    pub(crate) fn detect() -> Option<Avx512> {
        std::is_x86_feature_detected!("avx512f").then_some(Avx512(()))
    }
}

/// Forward tiles `tiles` of one weight panel: for each tile `t`,
/// `out[r][t·48 + i] = Σ_j panel[j·8 + r] · x[off(j) + t·48 + i]` for `r < 8`, `i < 48`.
///
/// `panel` is `[taps, 8]` (one panel of packed weights), `out` the panel's 8 grid rows of
/// stride `ld`.
pub(crate) fn forward_tiles(
    _cpu: Avx512,
    x: &[f32],
    offsets: &[usize],
    panel: &[f32],
    (out, ld): (&mut [f32], usize),
    tiles: std::ops::Range<usize>,
) {
    if tiles.is_empty() || offsets.is_empty() {
        return;
    }
    let max_off = offsets.iter().copied().max().unwrap_or(0);
    // Checked arithmetic: a wrapped sum could pass a bound it does not meet.
    let end = tiles.end.checked_mul(TILE_COLS);
    assert!(
        end.and_then(|e| max_off.checked_add(e))
            .is_some_and(|reach| reach <= x.len()),
        "direct conv: input band too short"
    );
    let end = end.unwrap_or(usize::MAX);
    assert!(
        offsets
            .len()
            .checked_mul(PANEL)
            .is_some_and(|n| n <= panel.len()),
        "direct conv: panel too short"
    );
    assert!(
        end <= ld
            && (PANEL - 1)
                .checked_mul(ld)
                .and_then(|r| r.checked_add(end))
                .is_some_and(|reach| reach <= out.len()),
        "direct conv: output too short"
    );
    for t in tiles {
        // SAFETY: avx512f is present (token); tile t < tiles.end reads x[off + t·48 + i] for
        // i < 48, at most x[max_off + end − 1], reads panel[j·8 + r] up to panel[taps·8 − 1],
        // and writes out[r·ld + t·48 + i] up to out[7·ld + end − 1]; each bound was checked
        // above without overflow. The loads and stores are unaligned (`loadu`/`storeu`).
        unsafe {
            forward_tile(
                x.as_ptr().add(t * TILE_COLS),
                offsets,
                panel.as_ptr(),
                out.as_mut_ptr().add(t * TILE_COLS),
                ld,
            );
        }
    }
}

#[target_feature(enable = "avx512f")]
unsafe fn forward_tile(
    x: *const f32,
    offsets: &[usize],
    panel: *const f32,
    out: *mut f32,
    ld: usize,
) {
    let mut acc = [[_mm512_setzero_ps(); VECS]; PANEL];
    for (j, &off) in offsets.iter().enumerate() {
        // SAFETY (whole block): bounds proved by `forward_tiles`.
        unsafe {
            let src = x.add(off);
            let mut b = [_mm512_setzero_ps(); VECS];
            for (v, bv) in b.iter_mut().enumerate() {
                *bv = _mm512_loadu_ps(src.add(16 * v));
            }
            let wj = panel.add(j * PANEL);
            for (r, acc_r) in acc.iter_mut().enumerate() {
                let a = _mm512_set1_ps(*wj.add(r));
                for (av, &bv) in acc_r.iter_mut().zip(&b) {
                    *av = _mm512_fmadd_ps(a, bv, *av);
                }
            }
        }
    }
    for (r, acc_r) in acc.iter().enumerate() {
        for (v, &av) in acc_r.iter().enumerate() {
            // SAFETY: bounds proved by `forward_tiles`.
            unsafe { _mm512_storeu_ps(out.add(r * ld + 16 * v), av) };
        }
    }
}

/// One weight-gradient tile over grid cells `cells`: for `j < offsets.len() ≤ 12` and
/// `i < 32`, `acc[j·ldk + i] += Σ_q x[offsets[j] + q] · gyt[q·ldk + i]`.
///
/// `gyt` is the transposed output gradient `[cells, ldk]` starting at this tile's first
/// output channel (zero on junk cells); `acc` the transposed gradient `[taps, ldk]` at the
/// same channel and this tile's first tap.
pub(crate) fn weight_grad_tile(
    _cpu: Avx512,
    x: &[f32],
    offsets: &[usize],
    (gyt, ldk): (&[f32], usize),
    cells: std::ops::Range<usize>,
    acc: &mut [f32],
) {
    let taps = offsets.len();
    assert!(
        taps <= WG_TAPS,
        "direct conv: at most {WG_TAPS} taps per tile"
    );
    if taps == 0 || cells.is_empty() {
        return;
    }
    let max_off = offsets.iter().copied().max().unwrap_or(0);
    // Checked arithmetic: a wrapped sum could pass a bound it does not meet.
    let reach = |rows: usize, len: usize| {
        rows.checked_mul(ldk)
            .and_then(|r| r.checked_add(WG_COLS))
            .is_some_and(|end| end <= len)
    };
    assert!(
        max_off
            .checked_add(cells.end)
            .is_some_and(|end| end <= x.len()),
        "direct conv: input band too short"
    );
    assert!(reach(cells.end - 1, gyt.len()), "direct conv: gy too short");
    assert!(reach(taps - 1, acc.len()), "direct conv: gw too short");
    // Unused tap slots repeat the first offset: valid reads whose sums are dropped.
    let mut offs = [offsets[0]; WG_TAPS];
    offs[..taps].copy_from_slice(offsets);
    let mut sums = [[0.0f32; WG_COLS]; WG_TAPS];
    for (row, j) in sums.iter_mut().zip(0..taps) {
        row.copy_from_slice(&acc[j * ldk..][..WG_COLS]);
    }
    // SAFETY: avx512f is present (token); cell q < cells.end reads x[off + q] up to
    // x[max_off + cells.end − 1] (unused tap slots repeat offsets[0], also in range) and
    // gyt[q·ldk + i] for i < 32 up to gyt[(cells.end − 1)·ldk + 31]; both were checked above
    // without overflow. `sums` is a local array the kernel owns.
    unsafe { weight_grad_sums(x.as_ptr(), &offs, gyt.as_ptr(), ldk, cells, &mut sums) };
    for (row, j) in sums.iter().zip(0..taps) {
        acc[j * ldk..][..WG_COLS].copy_from_slice(row);
    }
}

#[target_feature(enable = "avx512f")]
unsafe fn weight_grad_sums(
    x: *const f32,
    offs: &[usize; WG_TAPS],
    gyt: *const f32,
    ldk: usize,
    cells: std::ops::Range<usize>,
    sums: &mut [[f32; WG_COLS]; WG_TAPS],
) {
    let mut acc = [[_mm512_setzero_ps(); WG_VECS]; WG_TAPS];
    for (a, s) in acc.iter_mut().zip(sums.iter()) {
        for (v, av) in a.iter_mut().enumerate() {
            // SAFETY: `s` has 32 elements.
            *av = unsafe { _mm512_loadu_ps(s.as_ptr().add(16 * v)) };
        }
    }
    for q in cells {
        // SAFETY (whole block): bounds proved by `weight_grad_tile`.
        unsafe {
            let row = gyt.add(q * ldk);
            let mut b = [_mm512_setzero_ps(); WG_VECS];
            for (v, bv) in b.iter_mut().enumerate() {
                *bv = _mm512_loadu_ps(row.add(16 * v));
            }
            for (acc_j, &off) in acc.iter_mut().zip(offs) {
                let a = _mm512_set1_ps(*x.add(off + q));
                for (av, &bv) in acc_j.iter_mut().zip(&b) {
                    *av = _mm512_fmadd_ps(a, bv, *av);
                }
            }
        }
    }
    for (a, s) in acc.iter().zip(sums.iter_mut()) {
        for (v, &av) in a.iter().enumerate() {
            // SAFETY: `s` has 32 elements.
            unsafe { _mm512_storeu_ps(s.as_mut_ptr().add(16 * v), av) };
        }
    }
}
