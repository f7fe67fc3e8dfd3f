//! im2col and its adjoint col2im for one image group and a band of output rows.
//!
//! Row `(c, ki, kj)` of the column matrix holds, for every output position of the band, the
//! input value that kernel tap `(ki, kj)` of channel `c` multiplies (zero where the tap
//! falls in padding). These loops run once per GEMM and on small feature maps their cost
//! is dominated by per-call overhead, not bandwidth, so both have two shapes:
//!
//! * **flat** — stride 1 and `out_w == in_w` (every "same" convolution: 3×3 pad 1, 5×5 pad
//!   2, …). Then consecutive output rows read consecutive input rows, so a tap's whole band
//!   is *one* contiguous slice of the input plane shifted by the tap offset. One memcpy per
//!   tap, then the few positions that wrapped around a row edge (they belong to horizontal
//!   padding) are zeroed with strided stores.
//! * **general** — any stride/dilation/padding: per output row, the valid output-column
//!   range is computed once, and the row is a contiguous copy (stride 1) or a strided
//!   gather plus zero fills for padding — never a bounds test per element.

use smallvec::SmallVec;

use super::geometry::Conv2dGeometry;
use crate::element::Element;

/// Where a band's column block lives inside the column matrix.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ColBlock {
    /// Output rows `oh0..oh1` of the image.
    pub oh0: usize,
    pub oh1: usize,
    /// Row stride of the column matrix.
    pub ld: usize,
    /// First column of this image's band.
    pub col0: usize,
    /// Channels covered (the block's matrix has `channels·kh·kw` rows); the plane slice
    /// passed alongside starts at the block's first channel.
    pub channels: usize,
}

/// Whether the flat form applies to `g`.
fn flat(g: &Conv2dGeometry) -> bool {
    g.stride_h == 1 && g.stride_w == 1 && g.out_w() == g.in_w
}

/// Range of output columns `ow` whose input column `ow·stride + off` lies in `[0, w)`.
#[inline]
fn valid_range(off: isize, stride: usize, w: usize, wo: usize) -> (usize, usize) {
    let s = stride as isize;
    let lo = if off >= 0 { 0 } else { (-off + s - 1) / s };
    let last = w as isize - 1 - off;
    let hi = if last < 0 { 0 } else { last / s + 1 };
    let hi = (hi as usize).min(wo);
    ((lo as usize).min(hi), hi)
}

/// One tap's band in flat form: the valid band rows `t_lo..t_hi`, and the copy
/// `dst[d0..d0+len] ⇄ plane[s0..s0+len]` covering them (clipped to the plane; what the clip
/// drops is horizontal padding, zeroed by `zero_wraps`).
struct FlatTap {
    t_lo: usize,
    t_hi: usize,
    d0: usize,
    s0: usize,
    len: usize,
    off_w: isize,
}

fn flat_tap(g: &Conv2dGeometry, b: ColBlock, ki: usize, kj: usize) -> FlatTap {
    let (h, w) = (g.in_h as isize, g.in_w as isize);
    let rows = (b.oh1 - b.oh0) as isize;
    // Band row t reads input row `first + t`.
    let first = b.oh0 as isize + (ki * g.dilation_h) as isize - g.pad_h as isize;
    let off_w = (kj * g.dilation_w) as isize - g.pad_w as isize;
    let t_lo = (-first).clamp(0, rows);
    let t_hi = (h - first).clamp(t_lo, rows);
    let s_start = (first + t_lo) * w + off_w;
    let s_end = (first + t_hi) * w + off_w;
    let (cs0, cs1) = (s_start.max(0), s_end.min(h * w));
    let (d0, s0, len) = if cs1 > cs0 {
        (
            (t_lo * w + cs0 - s_start) as usize,
            cs0 as usize,
            (cs1 - cs0) as usize,
        )
    } else {
        (0, 0, 0) // nothing to copy (all rows padding, or a tap wider than the row)
    };
    FlatTap {
        t_lo: t_lo as usize,
        t_hi: t_hi as usize,
        d0,
        s0,
        len,
        off_w,
    }
}

/// Every tap's flat-form copy for band `b`, computed once per call rather than once per
/// channel (on 4×4 maps the copies are a dozen elements, so the bookkeeping dominated);
/// `None` when the flat form does not apply.
fn flat_taps(g: &Conv2dGeometry, b: ColBlock) -> Option<SmallVec<[FlatTap; 25]>> {
    flat(g).then(|| {
        (0..g.kernel_h)
            .flat_map(|ki| (0..g.kernel_w).map(move |kj| flat_tap(g, b, ki, kj)))
            .collect()
    })
}

/// Zeroes the positions of band rows `t_lo..t_hi` whose input column `ow + off_w` is off
/// the row (they were filled from the neighbouring row, or not at all).
fn zero_wraps<T: Element>(row: &mut [T], w: usize, tap: &FlatTap) {
    let (lo, hi) = valid_range(tap.off_w, 1, w, w);
    // Column-outer so each store is strided: a contiguous inner loop of unknown (tiny)
    // length would be turned into a memset call per row.
    for ow in (0..lo).chain(hi..w) {
        for t in tap.t_lo..tap.t_hi {
            row[t * w + ow] = T::zero();
        }
    }
}

/// Writes the column block `b` of one image's channels `xg` (`[b.channels, H, W]`) into
/// `cols`.
pub(crate) fn im2col<T: Element>(g: &Conv2dGeometry, xg: &[T], cols: &mut [T], b: ColBlock) {
    let (kh, kw, hw) = (g.kernel_h, g.kernel_w, g.in_h * g.in_w);
    let wo = g.out_w();
    let pt = (b.oh1 - b.oh0) * wo;
    let flat_taps = flat_taps(g, b);
    for c in 0..b.channels {
        let plane = &xg[c * hw..][..hw];
        for ki in 0..kh {
            for kj in 0..kw {
                let r = (c * kh + ki) * kw + kj;
                let row = &mut cols[r * b.ld + b.col0..][..pt];
                if let Some(taps) = &flat_taps {
                    let tap = &taps[ki * kw + kj];
                    row[..tap.t_lo * wo].fill(T::zero());
                    row[tap.t_hi * wo..].fill(T::zero());
                    row[tap.d0..tap.d0 + tap.len].copy_from_slice(&plane[tap.s0..][..tap.len]);
                    zero_wraps(row, wo, tap);
                } else {
                    im2col_rows(g, plane, row, b, (ki, kj));
                }
            }
        }
    }
}

/// General-form im2col of one tap: one output row at a time.
fn im2col_rows<T: Element>(
    g: &Conv2dGeometry,
    plane: &[T],
    row: &mut [T],
    b: ColBlock,
    (ki, kj): (usize, usize),
) {
    let (w, sw, wo) = (g.in_w, g.stride_w, g.out_w());
    let off_h = (ki * g.dilation_h) as isize - g.pad_h as isize;
    let off_w = (kj * g.dilation_w) as isize - g.pad_w as isize;
    let (lo, hi) = valid_range(off_w, sw, w, wo);
    let start = (lo as isize * sw as isize + off_w).max(0) as usize;
    for (t, seg) in row.chunks_exact_mut(wo).enumerate() {
        let ih = ((b.oh0 + t) * g.stride_h) as isize + off_h;
        if ih < 0 || ih >= g.in_h as isize || lo == hi {
            seg.fill(T::zero());
            continue;
        }
        let src = &plane[ih as usize * w..][..w];
        seg[..lo].fill(T::zero());
        seg[hi..].fill(T::zero());
        if sw == 1 {
            seg[lo..hi].copy_from_slice(&src[start..start + (hi - lo)]);
        } else {
            for (d, &v) in seg[lo..hi].iter_mut().zip(src[start..].iter().step_by(sw)) {
                *d = v;
            }
        }
    }
}

/// The adjoint of [`im2col`]: scatter-adds column block `b` into `gxg` (`[b.channels, H,
/// W]`).
/// `cols` is scratch: the flat form zeroes its wrapped positions in place.
pub(crate) fn col2im<T: Element>(g: &Conv2dGeometry, cols: &mut [T], b: ColBlock, gxg: &mut [T]) {
    let (kh, kw, hw) = (g.kernel_h, g.kernel_w, g.in_h * g.in_w);
    let wo = g.out_w();
    let pt = (b.oh1 - b.oh0) * wo;
    let flat_taps = flat_taps(g, b);
    for c in 0..b.channels {
        let plane = &mut gxg[c * hw..][..hw];
        for ki in 0..kh {
            for kj in 0..kw {
                let r = (c * kh + ki) * kw + kj;
                let row = &mut cols[r * b.ld + b.col0..][..pt];
                if let Some(taps) = &flat_taps {
                    let tap = &taps[ki * kw + kj];
                    // Wrapped positions hold gradients of padding: drop them, then one
                    // contiguous add covers the whole band.
                    zero_wraps(row, wo, tap);
                    let src = &row[tap.d0..tap.d0 + tap.len];
                    for (d, &v) in plane[tap.s0..][..tap.len].iter_mut().zip(src) {
                        *d += v;
                    }
                } else {
                    col2im_rows(g, row, plane, b, (ki, kj));
                }
            }
        }
    }
}

/// General-form col2im of one tap: one output row at a time.
fn col2im_rows<T: Element>(
    g: &Conv2dGeometry,
    row: &[T],
    plane: &mut [T],
    b: ColBlock,
    (ki, kj): (usize, usize),
) {
    let (w, sw, wo) = (g.in_w, g.stride_w, g.out_w());
    let off_h = (ki * g.dilation_h) as isize - g.pad_h as isize;
    let off_w = (kj * g.dilation_w) as isize - g.pad_w as isize;
    let (lo, hi) = valid_range(off_w, sw, w, wo);
    let start = (lo as isize * sw as isize + off_w).max(0) as usize;
    for (t, seg) in row.chunks_exact(wo).enumerate() {
        let ih = ((b.oh0 + t) * g.stride_h) as isize + off_h;
        if ih < 0 || ih >= g.in_h as isize || lo == hi {
            continue;
        }
        let dst = &mut plane[ih as usize * w..][..w];
        if sw == 1 {
            for (d, &v) in dst[start..start + (hi - lo)].iter_mut().zip(&seg[lo..hi]) {
                *d += v;
            }
        } else {
            for (d, &v) in dst[start..].iter_mut().step_by(sw).zip(&seg[lo..hi]) {
                *d += v;
            }
        }
    }
}
