//! The band layout shared by the direct kernels: a zero-padded copy of a band of input
//! rows, and the "extended grid" of output positions that reads it with one offset per tap.
//!
//! For a stride-1 convolution, pad each input plane to `Wp = W + 2·pw` columns and lay the
//! planes of a band one after another. Output position `(oh, ow)` of the band is then grid
//! cell `q = oh·Wp + ow`, and kernel tap `j = (c, ki, kj)` reads padded element
//! `off(j) + q` with `off(j) = c·plane + ki·d·Wp + kj·d` — the same offset for every
//! output. Row `j` of the im2col matrix is therefore a *contiguous* slice of the band, and
//! no column matrix is ever built. The price is `Wp − Wo` junk cells per output row (they
//! read across the padding into the next row); the forward kernel computes and drops them,
//! the weight-gradient kernel multiplies them by zeros.

use super::super::geometry::Conv2dGeometry;

/// Columns of a forward tile (three AVX-512 vectors); grid rows are padded to a multiple.
pub(crate) const TILE_COLS: usize = 48;

/// Preferred size of one band of padded input, in elements: about 1 MiB of f32, so the
/// band stays in L2 while every output-channel panel sweeps over it.
pub(crate) const BAND_ELEMS: usize = 1 << 18;

/// Sizes of the band layout of one stride-1, single-group convolution.
#[derive(Debug, Clone)]
pub(crate) struct Bands {
    pub(crate) c: usize,
    pub(crate) k: usize,
    pub(crate) h: usize,
    pub(crate) w: usize,
    pub(crate) ph: usize,
    pub(crate) pw: usize,
    pub(crate) ho: usize,
    pub(crate) wo: usize,
    /// Padded row width.
    pub(crate) wp: usize,
    /// Output rows per band (the last band may have fewer).
    pub(crate) rows: usize,
    /// Padded input rows one band reads: `rows + (kh − 1)·d`.
    pub(crate) in_rows: usize,
    /// Elements of one channel's padded band.
    pub(crate) plane: usize,
    /// Row stride of the grid buffers (`rows·Wp` rounded up to [`TILE_COLS`]).
    pub(crate) ld: usize,
    /// Tap offsets `off(j)`, in the OIHW weight order `j = (c·kh + ki)·kw + kj`.
    pub(crate) offsets: Vec<usize>,
    /// Length of the padded band buffer: every read `off(j) + q` with `q < ld` lands inside.
    pub(crate) x_len: usize,
}

impl Bands {
    /// The layout for `g`, which must have stride 1, one group and a non-empty output.
    pub(crate) fn new(g: &Conv2dGeometry) -> Bands {
        debug_assert!(g.stride_h == 1 && g.stride_w == 1 && g.groups == 1);
        let (c, k) = (g.in_channels, g.out_channels);
        let (ho, wo) = (g.out_h(), g.out_w());
        let wp = g.in_w + 2 * g.pad_w;
        let reach_h = (g.kernel_h - 1) * g.dilation_h;
        // Bound the output grid (forward) and the transposed gradient (weight gradient) by
        // the same budget as the input: a 3→64-channel layer has a small input band but a
        // grid 21× larger, which would otherwise spill to memory twice.
        let per_row = (c.max(k.next_multiple_of(32)) * wp).max(1);
        let rows = (BAND_ELEMS / per_row)
            .saturating_sub(reach_h)
            .clamp(1, ho.max(1));
        let in_rows = rows + reach_h;
        let plane = in_rows * wp;
        let ld = (rows * wp).div_ceil(TILE_COLS) * TILE_COLS;
        let mut offsets = Vec::with_capacity(c * g.kernel_h * g.kernel_w);
        for ci in 0..c {
            for ki in 0..g.kernel_h {
                for kj in 0..g.kernel_w {
                    offsets.push(ci * plane + ki * g.dilation_h * wp + kj * g.dilation_w);
                }
            }
        }
        let max_off = offsets.iter().copied().max().unwrap_or(0);
        Bands {
            c,
            k,
            h: g.in_h,
            w: g.in_w,
            ph: g.pad_h,
            pw: g.pad_w,
            ho,
            wo,
            wp,
            rows,
            in_rows,
            plane,
            ld,
            offsets,
            x_len: (max_off + ld).max(c * plane),
        }
    }

    /// Output rows `(oh0, count)` of each band, in order.
    pub(crate) fn bands(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        (0..self.ho)
            .step_by(self.rows)
            .map(|oh0| (oh0, self.rows.min(self.ho - oh0)))
    }

    /// Writes the padded band starting at output row `oh0` of image `x` (`[C, H, W]`) into
    /// `buf`: every padded row the band can read is rewritten (input row or zeros), so no
    /// stale value from an earlier band or image survives. The padding columns and the
    /// tail slack are never written and must be zero from allocation.
    pub(crate) fn fill_input(&self, x: &[f32], oh0: usize, buf: &mut [f32]) {
        let (h, w, wp, pw) = (self.h, self.w, self.wp, self.pw);
        for ci in 0..self.c {
            let src = &x[ci * h * w..][..h * w];
            let dst = &mut buf[ci * self.plane..][..self.plane];
            for r in 0..self.in_rows {
                let row = &mut dst[r * wp + pw..][..w];
                // Padded row r of the band is input row oh0 + r − ph.
                match (oh0 + r).checked_sub(self.ph).filter(|&ih| ih < h) {
                    Some(ih) => row.copy_from_slice(&src[ih * w..][..w]),
                    None => row.fill(0.0),
                }
            }
        }
    }

    /// Copies `count` output rows of a grid buffer (`[K', ld]`, K' ≥ K) into the band's
    /// rows of image output `y` (`[K, Ho, Wo]`), dropping the junk cells.
    pub(crate) fn store_output(&self, grid: &[f32], (oh0, count): (usize, usize), y: &mut [f32]) {
        let (wo, wp) = (self.wo, self.wp);
        for ko in 0..self.k {
            let src = &grid[ko * self.ld..];
            let dst = &mut y[(ko * self.ho + oh0) * wo..][..count * wo];
            for (t, out_row) in dst.chunks_exact_mut(wo).enumerate() {
                out_row.copy_from_slice(&src[t * wp..][..wo]);
            }
        }
    }

    /// Writes `count` rows of output gradient `gy` (`[K, Ho, Wo]`) from row `oh0`,
    /// transposed, into `gyt` (`[ld, ldk]`, cell-major): `gyt[q·ldk + k] = gy[k, cell q]` on
    /// valid cells, zero on junk cells and past the band, so junk contributes nothing.
    /// Columns `K..ldk` are never written and must be zero from allocation.
    pub(crate) fn fill_grad_transposed(
        &self,
        gy: &[f32],
        (oh0, count): (usize, usize),
        (gyt, ldk): (&mut [f32], usize),
    ) {
        let (wo, wp, k) = (self.wo, self.wp, self.k);
        let gyt = &mut gyt[..self.ld * ldk];
        for cell in gyt.chunks_exact_mut(ldk) {
            cell[..k].fill(0.0);
        }
        // Blocks of 16 channels × one output row: reads and writes both stay in L1.
        for k0 in (0..k).step_by(16) {
            let k1 = (k0 + 16).min(k);
            for t in 0..count {
                for ko in k0..k1 {
                    let src = &gy[(ko * self.ho + oh0 + t) * wo..][..wo];
                    for (ow, &v) in src.iter().enumerate() {
                        gyt[(t * wp + ow) * ldk + ko] = v;
                    }
                }
            }
        }
    }
}
