//! bf16 matrix products with `f32` accumulation, on AMX tiles or AVX512-BF16.
//!
//! [`gemm`] computes `dst (+)= lhs · rhs` for `f32` views of any strides: both operands are
//! rounded to bfloat16 (round-to-nearest-even, as the hardware conversion does) while they are
//! packed, and the products are summed in `f32`. The packed form is shared by both kernels:
//!
//! * a *tile* is 16 lines of 64 bytes; a line holds 16 `u32` *pairs*, each two bf16 values
//!   adjacent along the reduction axis `k` (even `k` in the low half);
//! * the left operand `A [m, k]` is packed as tiles whose line `i` holds row `i`'s 32 values of
//!   one `k` block — the layout of AMX's first multiplicand;
//! * the right operand `B [k, n]` is packed as tiles whose line `p` holds, for 16 columns, the
//!   pair `(B[2p][j], B[2p+1][j])` — AMX's "VNNI" layout of the second multiplicand, and one
//!   `vdpbf16ps` operand per line;
//! * tiles are zero-padded to 32 rows/columns and 32 values of `k`, so the kernels never see
//!   a ragged edge; the padding contributes exact zeros.
//!
//! The output is computed in 32 × 32 units (2 × 2 tiles: AMX's 8 tile registers hold the four
//! accumulators and two tiles of each operand), written back through the destination's strides.
//! Which kernel runs is detected once per process ([`kernel`]).
//!
//! Soundness: the safe entry [`gemm`] is reached only from [`super::gemm::gemm_into_with`],
//! which has proved that every view lies inside its slice and that the destination's indices
//! address distinct elements. The kernels read packed buffers whose sizes this module computes
//! and asserts before any `unsafe` block; see the SAFETY comments.

#[cfg(target_arch = "x86_64")]
mod amx;
#[cfg(target_arch = "x86_64")]
mod avx512;
mod pack;
#[cfg(test)]
mod tests;

use std::sync::OnceLock;

use rayon::prelude::*;

use super::gemm::{MatMut, MatRef, PARALLEL_MIN_MACS};
pub(crate) use pack::{Line, Packed};

/// bf16 values along `k` in one tile line (64 bytes).
pub(crate) const TILE_K: usize = 32;
/// Lines (rows) of one tile.
pub(crate) const TILE_ROWS: usize = 16;
/// Side of the output unit one kernel call computes: 2 × 2 tiles.
pub(crate) const UNIT: usize = 32;

/// The bf16 units a product runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Bf16Kernel {
    /// Intel AMX tile multiply (`tdpbf16ps`): 16 × 16 × 32 per instruction.
    Amx,
    /// AVX512-BF16 dot products (`vdpbf16ps`): 16 lanes × 2 per instruction.
    Avx512Bf16,
}

impl Bf16Kernel {
    /// Both kernels, fastest first.
    pub const ALL: [Bf16Kernel; 2] = [Bf16Kernel::Amx, Bf16Kernel::Avx512Bf16];

    /// A short description for logs and reports.
    pub fn describe(self) -> &'static str {
        match self {
            Bf16Kernel::Amx => "AMX tiles (tdpbf16ps)",
            Bf16Kernel::Avx512Bf16 => "AVX512-BF16 (vdpbf16ps)",
        }
    }

    /// Whether this CPU and OS can run the kernel (for AMX: the OS granted this process the
    /// tile state). Detected once per process.
    pub fn supported(self) -> bool {
        support(self).is_ok()
    }
}

/// Why `kernel` cannot run here, or `Ok` when it can.
pub fn support(kernel: Bf16Kernel) -> Result<(), &'static str> {
    #[cfg(target_arch = "x86_64")]
    {
        static AMX: OnceLock<Result<(), &'static str>> = OnceLock::new();
        match kernel {
            Bf16Kernel::Amx => *AMX.get_or_init(amx::enable),
            Bf16Kernel::Avx512Bf16 => avx512::available(),
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = kernel;
        Err("not an x86-64 processor")
    }
}

/// The bf16 kernel products run on here: AMX where the CPU has it and the OS grants it, else
/// AVX512-BF16, else the reason neither runs. `CONVNET_BF16_KERNEL=amx|avx512bf16` restricts
/// the choice to one (to compare them, or to rule one out).
pub fn kernel() -> Result<Bf16Kernel, &'static str> {
    static CHOSEN: OnceLock<Result<Bf16Kernel, &'static str>> = OnceLock::new();
    *CHOSEN.get_or_init(|| {
        let wanted = std::env::var("CONVNET_BF16_KERNEL").ok();
        let candidates: &[Bf16Kernel] = match wanted.as_deref() {
            Some("amx") => &[Bf16Kernel::Amx],
            Some("avx512bf16") => &[Bf16Kernel::Avx512Bf16],
            _ => &Bf16Kernel::ALL,
        };
        let mut why = "this CPU has neither AMX-BF16 nor AVX512-BF16";
        for &k in candidates {
            match support(k) {
                Ok(()) => return Ok(k),
                Err(e) => why = e,
            }
        }
        Err(why)
    })
}

/// `x` rounded to bfloat16, round-to-nearest-even, bit-for-bit as `vcvtneps2bf16` rounds:
/// NaN stays a (quiet) NaN, values past the largest bf16 round to infinity, and subnormal
/// inputs become a signed zero (the instruction treats denormal inputs as zero).
pub fn round_to_bf16(x: f32) -> u16 {
    let bits = x.to_bits();
    if x.is_nan() {
        return ((bits >> 16) as u16) | 0x0040;
    }
    if bits & 0x7f80_0000 == 0 {
        return ((bits >> 16) & 0x8000) as u16;
    }
    // Adding 0x7fff plus the kept part's lowest bit rounds half to even; a carry into the
    // exponent is the correct rounding up (to infinity at the top). The largest non-NaN
    // pattern, 0xff80_0000, plus 0x8000 cannot overflow u32.
    let lsb = (bits >> 16) & 1;
    ((bits + 0x7fff + lsb) >> 16) as u16
}

/// The `f32` a bf16 bit pattern denotes (exact).
pub fn bf16_to_f32(h: u16) -> f32 {
    f32::from_bits(u32::from(h) << 16)
}

/// `x` rounded to the nearest bf16 and widened back: the value the bf16 kernels multiply.
pub fn round_f32_to_bf16(x: f32) -> f32 {
    bf16_to_f32(round_to_bf16(x))
}

/// `dst (+)= lhs · rhs` with bf16 operands and `f32` accumulation on `kernel`.
///
/// Callers ([`super::gemm::gemm_into_with`]) have checked the dimensions, that every view lies
/// inside its slice, that distinct destination indices address distinct elements, that `k > 0`
/// and that `kernel` is supported.
pub(crate) fn gemm(
    dst: &mut MatMut<'_, f32>,
    lhs: MatRef<'_, f32>,
    rhs: MatRef<'_, f32>,
    accumulate: bool,
    parallel: bool,
    kernel: Bf16Kernel,
) {
    let (m, n, k) = (dst.rows, dst.cols, lhs.cols);
    if m == 0 || n == 0 || k == 0 {
        return;
    }
    let a = Packed::pack(lhs, false);
    let b = Packed::pack(rhs.t(), true);
    let (units_m, units_n) = (a.units(), b.units());
    // Each task runs one unit row of A against a run of B's unit columns small enough to stay
    // in L2 (~1 MiB of packed B) while A's strip is reused across it.
    let strip_bytes = a.tiles_k * TILE_ROWS * 64 * 2;
    let run = ((1 << 20) / strip_bytes).clamp(1, units_n);
    let tasks: Vec<(usize, usize)> = (0..units_n)
        .step_by(run)
        .flat_map(|n0| (0..units_m).map(move |mu| (mu, n0)))
        .collect();
    let task = |&(mu, n0): &(usize, usize),
                store: &mut dyn FnMut(usize, usize, &[f32; UNIT * UNIT])| {
        let mut unit = UnitOut([0.0; UNIT * UNIT]);
        let mut run_units = |compute: &mut dyn FnMut(usize, &mut [f32; UNIT * UNIT])| {
            for nu in n0..(n0 + run).min(units_n) {
                compute(nu, &mut unit.0);
                store(mu, nu, &unit.0);
            }
        };
        match kernel {
            #[cfg(target_arch = "x86_64")]
            Bf16Kernel::Amx => {
                amx::with_tiles(|tiles| run_units(&mut |nu, out| tiles.unit(&a, &b, (mu, nu), out)))
            }
            #[cfg(target_arch = "x86_64")]
            Bf16Kernel::Avx512Bf16 => {
                let cpu = avx512::Bf16Cpu::detect().expect("caller checked AVX512-BF16");
                run_units(&mut |nu, out| cpu.unit(&a, &b, (mu, nu), out))
            }
            #[cfg(not(target_arch = "x86_64"))]
            _ => unreachable!("no bf16 kernel is supported off x86-64"),
        }
    };
    let (rs, cs) = (dst.rs, dst.cs);
    let span = |mu: usize, nu: usize| {
        let (i0, j0) = (mu * UNIT, nu * UNIT);
        (i0, j0, UNIT.min(m - i0), UNIT.min(n - j0))
    };
    let threads = rayon::current_num_threads();
    let macs = m.saturating_mul(n).saturating_mul(k);
    if parallel && threads > 1 && tasks.len() > 1 && macs >= PARALLEL_MIN_MACS {
        let out = DstPtr(dst.data.as_mut_ptr());
        tasks.par_iter().for_each(|t| {
            task(t, &mut |mu, nu, unit| {
                let (i0, j0, rows, cols) = span(mu, nu);
                for i in 0..rows {
                    for j in 0..cols {
                        let at = (i0 + i) * rs + (j0 + j) * cs;
                        let v = unit[i * UNIT + j];
                        // SAFETY: (i0 + i, j0 + j) is inside the m × n view, which the caller
                        // proved lies inside `dst.data` (so `at` is in bounds and computed
                        // without overflow) and addresses each element from one index only.
                        // Tasks own disjoint units (each (mu, nu) belongs to exactly one task),
                        // so no two threads touch one element, and `dst` is borrowed uniquely
                        // for the whole parallel region.
                        unsafe {
                            let p = out.get().add(at);
                            *p = if accumulate { *p + v } else { v };
                        }
                    }
                }
            })
        });
    } else {
        let data = &mut *dst.data;
        for t in &tasks {
            task(t, &mut |mu, nu, unit| {
                let (i0, j0, rows, cols) = span(mu, nu);
                for i in 0..rows {
                    for j in 0..cols {
                        let d = &mut data[(i0 + i) * rs + (j0 + j) * cs];
                        let v = unit[i * UNIT + j];
                        *d = if accumulate { *d + v } else { v };
                    }
                }
            });
        }
    }
}

/// One 32 × 32 output unit, aligned for the tile stores.
#[repr(C, align(64))]
struct UnitOut([f32; UNIT * UNIT]);

/// The destination's base pointer, shared by the tasks of a parallel product (see the SAFETY
/// argument at its one use).
#[derive(Clone, Copy)]
struct DstPtr(*mut f32);
// SAFETY: the pointer is only dereferenced at indices that one task owns exclusively.
unsafe impl Send for DstPtr {}
// SAFETY: as above; the tasks never write the same element.
unsafe impl Sync for DstPtr {}

impl DstPtr {
    fn get(self) -> *mut f32 {
        self.0
    }
}
