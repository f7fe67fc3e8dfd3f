//! AVX512-BF16: the vector conversions the packing uses, and the `vdpbf16ps` kernel.
//!
//! Soundness: a [`Bf16Cpu`] token exists only after run-time detection found `avx512f` and
//! `avx512bf16`; every function taking one checks its slice lengths before the `unsafe`
//! loads, which are all unaligned 64- or 32-byte loads from slices at least that long.

use std::arch::x86_64::{
    __m256bh, __m256i, __m512, __m512bh, __m512i, _mm512_cvtepu16_epi32, _mm512_cvtne2ps_pbh,
    _mm512_cvtneps_pbh, _mm512_dpbf16_ps, _mm512_loadu_ps, _mm512_loadu_si512, _mm512_or_si512,
    _mm512_set1_epi32, _mm512_setzero_ps, _mm512_slli_epi32, _mm512_storeu_ps, _mm512_storeu_si512,
};

use super::{Line, Packed, TILE_ROWS, UNIT};

/// Proof that this CPU has AVX-512F and AVX512-BF16.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bf16Cpu(());

/// Why the AVX512-BF16 kernel cannot run, if it cannot.
pub(super) fn available() -> Result<(), &'static str> {
    Bf16Cpu::detect()
        .map(|_| ())
        .ok_or("this CPU has no AVX512-BF16")
}

impl Bf16Cpu {
    pub(crate) fn detect() -> Option<Bf16Cpu> {
        (std::is_x86_feature_detected!("avx512f") && std::is_x86_feature_detected!("avx512bf16"))
            .then_some(Bf16Cpu(()))
    }

    /// 32 consecutive values as 16 pairs.
    pub(crate) fn pairs_of_run(self, run: &[f32]) -> [u32; 16] {
        assert!(run.len() >= 32, "bf16 pack: run of {} values", run.len());
        // SAFETY: the token proves avx512f + avx512bf16; `run` holds at least 32 values.
        unsafe { pairs_of_run(run) }
    }

    /// Pairs `(even[j], odd[j])` for 16 columns `j`.
    pub(crate) fn pairs_of_columns(self, even: &[f32], odd: &[f32]) -> [u32; 16] {
        assert!(
            even.len() >= 16 && odd.len() >= 16,
            "bf16 pack: columns of {} and {} values",
            even.len(),
            odd.len()
        );
        // SAFETY: the token proves the features; both slices hold at least 16 values.
        unsafe { pairs_of_columns(even, odd) }
    }

    /// Output unit `(mu, nu)` of `a · b` into `out` (row-major 32 × 32), overwriting it.
    pub(crate) fn unit(
        self,
        a: &Packed,
        b: &Packed,
        (mu, nu): (usize, usize),
        out: &mut [f32; UNIT * UNIT],
    ) {
        assert!(
            a.tiles_k == b.tiles_k && 2 * mu + 1 < a.tiles_i && 2 * nu + 1 < b.tiles_i,
            "bf16 kernel: unit ({mu}, {nu}) outside the packed operands"
        );
        let strips = [a.strip(2 * mu), a.strip(2 * mu + 1)];
        let cols = [b.strip(2 * nu), b.strip(2 * nu + 1)];
        for (half, strip) in strips.iter().enumerate() {
            for rows in 0..2 {
                let out = &mut out[(half * 16 + rows * 8) * UNIT..][..8 * UNIT];
                // SAFETY: the token proves the features; `strip` and both `cols` hold
                // `tiles_k` tiles of 16 lines each (`Packed::strip`), which is every line the
                // kernel reads, and `out` holds the 8 × 32 values it writes.
                unsafe { eight_rows(strip, cols, rows * 8, out) }
            }
        }
    }
}

#[target_feature(enable = "avx512f,avx512bf16,avx512bw")]
unsafe fn pairs_of_run(run: &[f32]) -> [u32; 16] {
    let mut out = Line::default();
    // SAFETY (caller): 32 values readable at `run`; `out` is 64 bytes.
    unsafe {
        let lo = _mm512_loadu_ps(run.as_ptr());
        let hi = _mm512_loadu_ps(run.as_ptr().add(16));
        // Lower 16 results from the second operand: values 0..16 come first, in order.
        let packed: __m512bh = _mm512_cvtne2ps_pbh(hi, lo);
        _mm512_storeu_si512(
            out.0.as_mut_ptr().cast(),
            std::mem::transmute::<__m512bh, __m512i>(packed),
        );
    }
    out.0
}

#[target_feature(enable = "avx512f,avx512bf16,avx512bw")]
unsafe fn pairs_of_columns(even: &[f32], odd: &[f32]) -> [u32; 16] {
    let mut out = Line::default();
    // SAFETY (caller): 16 values readable in each slice; `out` is 64 bytes.
    unsafe {
        let widen =
            |v: __m256bh| _mm512_cvtepu16_epi32(std::mem::transmute::<__m256bh, __m256i>(v));
        let lo = widen(_mm512_cvtneps_pbh(_mm512_loadu_ps(even.as_ptr())));
        let hi = widen(_mm512_cvtneps_pbh(_mm512_loadu_ps(odd.as_ptr())));
        let pairs = _mm512_or_si512(lo, _mm512_slli_epi32::<16>(hi));
        _mm512_storeu_si512(out.0.as_mut_ptr().cast(), pairs);
    }
    out.0
}

/// Rows `r0..r0 + 8` of the 16-row tile strip `a` times the two 16-column strips `b`, summed
/// over every tile of `k`, into `out` (8 rows of 32).
#[target_feature(enable = "avx512f,avx512bf16")]
unsafe fn eight_rows(a: &[Line], b: [&[Line]; 2], r0: usize, out: &mut [f32]) {
    let mut acc: [[__m512; 2]; 8] = [[_mm512_setzero_ps(); 2]; 8];
    let tiles = a.len() / TILE_ROWS;
    for t in 0..tiles {
        let at = &a[t * TILE_ROWS..][..TILE_ROWS];
        let (b0, b1) = (
            &b[0][t * TILE_ROWS..][..TILE_ROWS],
            &b[1][t * TILE_ROWS..][..TILE_ROWS],
        );
        for p in 0..TILE_ROWS {
            // SAFETY: each line is 64 bytes, the size of one unaligned zmm load.
            let (v0, v1) = unsafe {
                (
                    std::mem::transmute::<__m512i, __m512bh>(_mm512_loadu_si512(
                        b0[p].0.as_ptr().cast(),
                    )),
                    std::mem::transmute::<__m512i, __m512bh>(_mm512_loadu_si512(
                        b1[p].0.as_ptr().cast(),
                    )),
                )
            };
            for (i, row) in acc.iter_mut().enumerate() {
                // Row r0 + i's pair p, broadcast: the same two values meet every column's pair.
                let x = _mm512_set1_epi32(at[r0 + i].0[p] as i32);
                // SAFETY: a bit-cast between two 64-byte vector types.
                let x = unsafe { std::mem::transmute::<__m512i, __m512bh>(x) };
                row[0] = _mm512_dpbf16_ps(row[0], x, v0);
                row[1] = _mm512_dpbf16_ps(row[1], x, v1);
            }
        }
    }
    assert!(
        out.len() >= 8 * UNIT,
        "bf16 kernel: output of {}",
        out.len()
    );
    for (i, row) in acc.iter().enumerate() {
        // SAFETY: out holds 8 rows of 32 values (checked above).
        unsafe {
            _mm512_storeu_ps(out.as_mut_ptr().add(i * UNIT), row[0]);
            _mm512_storeu_ps(out.as_mut_ptr().add(i * UNIT + 16), row[1]);
        }
    }
}
