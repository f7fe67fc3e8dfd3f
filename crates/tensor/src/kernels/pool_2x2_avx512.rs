//! 2×2/2 max pooling of one output row in AVX-512, for f32, forward and gradient: 16 windows
//! per step.
//!
//! The portable loop decides each window's maximum with a branch per comparison, which the
//! compiler cannot vectorise; here the four corners of 16 windows are de-interleaved from the
//! two input rows into four registers, the maximum's position is found with the portable
//! rule's sequence of masked selects (so ties and NaNs land on the same element), and the
//! gradient is interleaved back into both rows. A row of fewer than 16 windows (LeNet's 14)
//! is one masked step.

use std::arch::x86_64::{
    __m512, __m512i, _CMP_GT_OQ, _CMP_ORD_Q, _CMP_UNORD_Q, _mm512_cmp_ps_mask,
    _mm512_cmpeq_epi32_mask, _mm512_mask_mov_epi32, _mm512_mask_mov_ps, _mm512_mask_storeu_ps,
    _mm512_maskz_loadu_ps, _mm512_maskz_mov_ps, _mm512_permutex2var_ps, _mm512_set1_epi32,
    _mm512_setr_epi32, _mm512_setzero_ps, _mm512_setzero_si512,
};

/// Whether this CPU can run [`backward_row`].
pub(crate) fn available() -> bool {
    std::is_x86_feature_detected!("avx512f")
}

/// One output row's gradient: `top`/`bottom` are the two input rows of its windows and
/// `gtop`/`gbottom` the matching rows of the input gradient (each `2·grads.len()` long);
/// every element of both gradient rows is written.
///
/// # Panics
/// If [`available`] is false or the lengths disagree (checked before any `unsafe`).
pub(crate) fn backward_row(
    (top, bottom): (&[f32], &[f32]),
    grads: &[f32],
    (gtop, gbottom): (&mut [f32], &mut [f32]),
) {
    let n = 2 * grads.len();
    assert!(available(), "backward_row needs avx512f");
    assert!(
        top.len() == n && bottom.len() == n && gtop.len() == n && gbottom.len() == n,
        "2×2 pooling row: {} windows, rows of {}, {}, {}, {}",
        grads.len(),
        top.len(),
        bottom.len(),
        gtop.len(),
        gbottom.len()
    );
    // SAFETY: avx512f is present (asserted). Every access is a masked load or store whose
    // mask covers only indices below the lengths asserted equal above: a step at window w0
    // touches windows w0..w0 + m (m ≤ 16, w0 + m ≤ grads.len()) and row elements
    // 2·w0..2·(w0 + m) ≤ n; masked-off lanes are neither read nor written (AVX-512 masked
    // memory operations suppress faults on them), and the pointer to the upper 16 elements
    // is formed only when some of them are in bounds (2m > 16).
    unsafe { backward_row_avx512(top, bottom, grads, gtop, gbottom) }
}

/// Lane j of the even (odd) selection is element 2j (2j + 1) of two concatenated registers.
#[target_feature(enable = "avx512f")]
fn deinterleave() -> (__m512i, __m512i) {
    (
        _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30),
        _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31),
    )
}

/// One step's windows: the first `m` (≤ 16) windows from window `w0`, their masks, and the
/// first row element they cover.
#[derive(Clone, Copy)]
struct Step {
    w0: usize,
    at: usize,
    win: u16,
    lo: u16,
    hi: u16,
}

/// The steps covering `windows` windows, 16 at a time.
fn steps(windows: usize) -> impl Iterator<Item = Step> {
    (0..windows).step_by(16).map(move |w0| {
        let m = (windows - w0).min(16);
        Step {
            w0,
            at: 2 * w0,
            win: low_bits(m),
            lo: low_bits((2 * m).min(16)),
            hi: low_bits((2 * m).saturating_sub(16)),
        }
    })
}

/// The even and odd elements of a row's 2m elements from `s.at`.
///
/// # Safety
/// avx512f is present, and `row` holds at least `s.at + 2m` elements for the step's `m`.
#[target_feature(enable = "avx512f")]
unsafe fn pairs(row: &[f32], s: Step) -> (__m512, __m512) {
    let (even, odd) = deinterleave();
    // SAFETY: the masks cover elements s.at..s.at + 2m, in bounds by the caller's promise;
    // the upper 16 exist only when more than 8 windows remain, and no pointer past them is
    // formed otherwise.
    unsafe {
        let a = _mm512_maskz_loadu_ps(s.lo, row.as_ptr().add(s.at));
        let b = if s.hi == 0 {
            _mm512_setzero_ps()
        } else {
            _mm512_maskz_loadu_ps(s.hi, row.as_ptr().add(s.at + 16))
        };
        (
            _mm512_permutex2var_ps(a, even, b),
            _mm512_permutex2var_ps(a, odd, b),
        )
    }
}

#[target_feature(enable = "avx512f")]
unsafe fn backward_row_avx512(
    top: &[f32],
    bottom: &[f32],
    grads: &[f32],
    gtop: &mut [f32],
    gbottom: &mut [f32],
) {
    // Interleaving two registers x, y: x0 y0 x1 y1 … (low half), x8 y8 … (high half).
    let lo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    let hi = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    for s in steps(grads.len()) {
        // SAFETY (block): the masks cover windows s.w0..s.w0 + m and elements
        // s.at..s.at + 2m, all in bounds (see `backward_row`).
        unsafe {
            let (a, b) = pairs(top, s);
            let (c, d) = pairs(bottom, s);
            let g = _mm512_maskz_loadu_ps(s.win, grads.as_ptr().add(s.w0));
            let k = argmax4(a, b, c, d).1;
            let pick =
                |i: i32| _mm512_maskz_mov_ps(_mm512_cmpeq_epi32_mask(k, _mm512_set1_epi32(i)), g);
            let store2 = |row: &mut [f32], x: __m512, y: __m512| {
                let p = row.as_mut_ptr().add(s.at);
                _mm512_mask_storeu_ps(p, s.lo, _mm512_permutex2var_ps(x, lo, y));
                if s.hi != 0 {
                    _mm512_mask_storeu_ps(p.add(16), s.hi, _mm512_permutex2var_ps(x, hi, y));
                }
            };
            store2(gtop, pick(0), pick(1));
            store2(gbottom, pick(2), pick(3));
        }
    }
}

/// One output row of the forward pass: `out[w]` is the maximum of window `w` of the two input
/// rows `top`, `bottom` (each `2·out.len()` long), by the portable rule (the first NaN wins).
///
/// # Panics
/// If [`available`] is false or the lengths disagree (checked before any `unsafe`).
pub(crate) fn forward_row((top, bottom): (&[f32], &[f32]), out: &mut [f32]) {
    let n = 2 * out.len();
    assert!(available(), "forward_row needs avx512f");
    assert!(
        top.len() == n && bottom.len() == n,
        "2×2 pooling row: {} windows, rows of {}, {}",
        out.len(),
        top.len(),
        bottom.len()
    );
    // SAFETY: avx512f is present (asserted); each step's masks cover windows below
    // out.len() and row elements below n, the lengths asserted above.
    unsafe { forward_row_avx512(top, bottom, out) }
}

#[target_feature(enable = "avx512f")]
unsafe fn forward_row_avx512(top: &[f32], bottom: &[f32], out: &mut [f32]) {
    for s in steps(out.len()) {
        // SAFETY (block): in bounds as `forward_row` checked.
        unsafe {
            let (a, b) = pairs(top, s);
            let (c, d) = pairs(bottom, s);
            let best = argmax4(a, b, c, d).0;
            _mm512_mask_storeu_ps(out.as_mut_ptr().add(s.w0), s.win, best);
        }
    }
}

/// Each lane's window maximum and its position (0–3), by the portable `argmax4`'s rule: the
/// best so far is replaced when it is not NaN and the candidate is greater or NaN.
#[target_feature(enable = "avx512f")]
fn argmax4(a: __m512, b: __m512, c: __m512, d: __m512) -> (__m512, __m512i) {
    let (mut best, mut k) = (a, _mm512_setzero_si512());
    for (i, v) in [(1, b), (2, c), (3, d)] {
        let ordered = _mm512_cmp_ps_mask::<_CMP_ORD_Q>(best, best);
        let greater = _mm512_cmp_ps_mask::<_CMP_GT_OQ>(v, best);
        let nan = _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(v, v);
        let take = ordered & (greater | nan);
        best = _mm512_mask_mov_ps(best, take, v);
        k = _mm512_mask_mov_epi32(k, take, _mm512_set1_epi32(i));
    }
    (best, k)
}

/// A mask of the lowest `n` (≤ 16) lanes.
fn low_bits(n: usize) -> u16 {
    if n >= 16 { u16::MAX } else { (1u16 << n) - 1 }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rule in plain Rust: the first maximum in window order, the first NaN winning.
    fn reference(t: &[f32], b: &[f32], g: &[f32]) -> (Vec<f32>, Vec<f32>) {
        let (mut gt, mut gb) = (vec![0.0; t.len()], vec![0.0; b.len()]);
        for (w, &gv) in g.iter().enumerate() {
            let corners = [t[2 * w], t[2 * w + 1], b[2 * w], b[2 * w + 1]];
            let mut k = 0;
            for i in 1..4 {
                if !corners[k].is_nan() && (corners[i] > corners[k] || corners[i].is_nan()) {
                    k = i;
                }
            }
            let slot = match k {
                0 => &mut gt[2 * w],
                1 => &mut gt[2 * w + 1],
                2 => &mut gb[2 * w],
                _ => &mut gb[2 * w + 1],
            };
            *slot = gv;
        }
        (gt, gb)
    }

    #[test]
    fn every_width_matches_the_rule_with_ties_and_nans_and_writes_only_its_rows() {
        assert!(
            available(),
            "the CI machines have AVX-512; this kernel must be tested on it"
        );
        let mut state = 12345u32;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state
        };
        for windows in 0..=40 {
            let n = 2 * windows;
            // Values from {−1, 0, 1} (ties everywhere) with an occasional NaN.
            let mut value = || match next() % 16 {
                0 => f32::NAN,
                r => (r % 3) as f32 - 1.0,
            };
            let t: Vec<f32> = (0..n).map(|_| value()).collect();
            let b: Vec<f32> = (0..n).map(|_| value()).collect();
            let g: Vec<f32> = (0..windows).map(|w| w as f32 + 0.5).collect();
            // Guard elements after each row must survive.
            let (mut gt, mut gb) = (vec![7.0; n + 20], vec![7.0; n + 20]);
            backward_row((&t, &b), &g, (&mut gt[..n], &mut gb[..n]));
            let (want_t, want_b) = reference(&t, &b, &g);
            assert_eq!(gt[..n], want_t[..], "{windows} windows, top");
            assert_eq!(gb[..n], want_b[..], "{windows} windows, bottom");
            assert!(gt[n..].iter().chain(&gb[n..]).all(|&v| v == 7.0));
            // Forward: the value at the same position, NaN bits included.
            let mut y = vec![7.0f32; windows + 5];
            forward_row((&t, &b), &mut y[..windows]);
            for w in 0..windows {
                let picked = [&want_t, &want_b]
                    .iter()
                    .zip([&t, &b])
                    .flat_map(|(gw, xw)| (0..2).map(move |i| (gw[2 * w + i], xw[2 * w + i])))
                    .find(|&(gv, _)| gv == w as f32 + 0.5)
                    .map(|(_, x)| x)
                    .unwrap();
                assert_eq!(
                    y[w].to_bits(),
                    picked.to_bits(),
                    "{windows} windows, max {w}"
                );
            }
            assert!(y[windows..].iter().all(|&v| v == 7.0));
        }
    }

    #[test]
    #[should_panic(expected = "2×2 pooling row")]
    fn mismatched_rows_are_refused_before_any_access() {
        let mut out = vec![0.0f32; 4];
        let mut short = vec![0.0f32; 3];
        backward_row((&[0.0; 4], &[0.0; 4]), &[1.0, 2.0], (&mut out, &mut short));
    }
}
