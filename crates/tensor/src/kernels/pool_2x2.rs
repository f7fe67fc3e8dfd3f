//! Max pooling's most common geometry, 2×2 windows with stride 2 and no padding (LeNet, VGG,
//! most of the curriculum), on one plane at a time.
//!
//! Each output row reads exactly two input rows, and each window four neighbours, so the loops
//! walk row pairs in step with the output instead of clipping general window spans; no bounds
//! test or span lookup is left in the inner loop. The result is bit-for-bit the general
//! kernel's: the first maximum in row-major window order wins, and the first NaN wins and stays.

use super::geometry::Pool2dGeometry;
use crate::element::Element;

/// True when every window of `g` is a whole 2×2 block of the input at stride 2.
pub(crate) fn applies(g: &Pool2dGeometry) -> bool {
    g.kernel_h == 2
        && g.kernel_w == 2
        && g.stride_h == 2
        && g.stride_w == 2
        && g.pad_h == 0
        && g.pad_w == 0
        && 2 * g.out_h() <= g.in_h
        && 2 * g.out_w() <= g.in_w
}

/// The window's maximum as (position 0..4 in row-major order, value), with the general
/// kernel's tie and NaN rules.
#[inline(always)]
fn argmax4<T: Element>(a: T, b: T, c: T, d: T) -> (usize, T) {
    let mut best = (0, a);
    for (k, v) in [(1, b), (2, c), (3, d)] {
        if !best.1.is_nan() && (v > best.1 || v.is_nan()) {
            best = (k, v);
        }
    }
    best
}

/// The two input rows and the output row of output row `oh`, trimmed to whole windows.
#[inline(always)]
fn rows<T>(plane: &[T], in_w: usize, wo: usize, oh: usize) -> (&[T], &[T]) {
    let top = &plane[2 * oh * in_w..][..2 * wo];
    let bottom = &plane[(2 * oh + 1) * in_w..][..2 * wo];
    (top, bottom)
}

/// Forward on one plane: `yp[oh, ow]` is the maximum of its window in `xp`.
pub(crate) fn forward_plane<T: Element>(g: &Pool2dGeometry, xp: &[T], yp: &mut [T]) {
    let (wo, in_w) = (g.out_w(), g.in_w);
    if wo == 0 {
        return;
    }
    #[cfg(target_arch = "x86_64")]
    if let (Some(x), true) = (T::f32_slice(xp), super::pool_2x2_avx512::available())
        && let Some(y) = T::f32_slice_mut(yp)
    {
        for (oh, out) in y.chunks_exact_mut(wo).enumerate() {
            super::pool_2x2_avx512::forward_row(rows(x, in_w, wo, oh), out);
        }
        return;
    }
    for (oh, out) in yp.chunks_exact_mut(wo).enumerate() {
        let (top, bottom) = rows(xp, in_w, wo, oh);
        for ((t, b), o) in top
            .chunks_exact(2)
            .zip(bottom.chunks_exact(2))
            .zip(out.iter_mut())
        {
            *o = argmax4(t[0], t[1], b[0], b[1]).1;
        }
    }
}

/// Backward on one plane: each `gyp` value goes to its window's maximum in `gxp`, every other
/// element of `gxp` becomes zero (windows do not overlap, so nothing accumulates).
pub(crate) fn backward_plane<T: Element>(g: &Pool2dGeometry, xp: &[T], gyp: &[T], gxp: &mut [T]) {
    let (wo, in_w) = (g.out_w(), g.in_w);
    if 2 * g.out_h() != g.in_h || 2 * wo != g.in_w {
        // Rows or columns no window reaches (odd sizes in floor mode) get no gradient.
        gxp.fill(T::zero());
    }
    if wo == 0 {
        return;
    }
    #[cfg(target_arch = "x86_64")]
    if let (Some(x), Some(gy), true) = (
        T::f32_slice(xp),
        T::f32_slice(gyp),
        super::pool_2x2_avx512::available(),
    ) && let Some(gx) = T::f32_slice_mut(gxp)
    {
        for (oh, grads) in gy.chunks_exact(wo).enumerate() {
            let (top, bottom) = rows(x, in_w, wo, oh);
            let (gtop, gbottom) = gx[2 * oh * in_w..].split_at_mut(in_w);
            super::pool_2x2_avx512::backward_row(
                (top, bottom),
                grads,
                (&mut gtop[..2 * wo], &mut gbottom[..2 * wo]),
            );
        }
        return;
    }
    for (oh, grads) in gyp.chunks_exact(wo).enumerate() {
        let (top, bottom) = rows(xp, in_w, wo, oh);
        let (gtop, gbottom) = gxp[2 * oh * in_w..].split_at_mut(in_w);
        let (gtop, gbottom) = (&mut gtop[..2 * wo], &mut gbottom[..2 * wo]);
        for ((((t, b), gt), gb), &gv) in top
            .chunks_exact(2)
            .zip(bottom.chunks_exact(2))
            .zip(gtop.chunks_exact_mut(2))
            .zip(gbottom.chunks_exact_mut(2))
            .zip(grads)
        {
            let k = argmax4(t[0], t[1], b[0], b[1]).0;
            let z = T::zero();
            gt[0] = if k == 0 { gv } else { z };
            gt[1] = if k == 1 { gv } else { z };
            gb[0] = if k == 2 { gv } else { z };
            gb[1] = if k == 3 { gv } else { z };
        }
    }
}

/// The adjoint of the backward pass on one plane: `yp[oh, ow]` reads `vp` at the window's
/// maximum in `xp`.
pub(crate) fn select_plane<T: Element>(g: &Pool2dGeometry, xp: &[T], vp: &[T], yp: &mut [T]) {
    let (wo, in_w) = (g.out_w(), g.in_w);
    if wo == 0 {
        return;
    }
    for (oh, out) in yp.chunks_exact_mut(wo).enumerate() {
        let (top, bottom) = rows(xp, in_w, wo, oh);
        let (vtop, vbottom) = rows(vp, in_w, wo, oh);
        for ((((t, b), vt), vb), o) in top
            .chunks_exact(2)
            .zip(bottom.chunks_exact(2))
            .zip(vtop.chunks_exact(2))
            .zip(vbottom.chunks_exact(2))
            .zip(out.iter_mut())
        {
            *o = match argmax4(t[0], t[1], b[0], b[1]).0 {
                0 => vt[0],
                1 => vt[1],
                2 => vb[0],
                _ => vb[1],
            };
        }
    }
}
