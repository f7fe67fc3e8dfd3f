//! Intel AMX: asking the OS for the tile state, configuring the tiles, and the `tdpbf16ps`
//! kernel of one 32 × 32 output unit.
//!
//! Tile registers used by [`Tiles::unit`] (all 16 rows × 64 bytes, palette 1):
//! `tmm0..tmm3` accumulate the unit's four 16 × 16 `f32` quarters, `tmm4`/`tmm5` hold the
//! left operand's two 16-row tiles and `tmm6`/`tmm7` the right operand's two 16-column tiles
//! of one `k` block. Rust's register allocator never touches tile registers, so the state
//! lives from the `ldtilecfg` in [`with_tiles`] to its `tilerelease`, on one thread.
//!
//! Soundness: a [`Tiles`] value exists only inside [`with_tiles`], which runs only after
//! [`enable`] found AMX-BF16 in CPUID and the kernel granted this process the tile data
//! (without that grant the first tile instruction faults). [`Tiles::unit`] asserts that both
//! packed operands hold every tile the loop loads.

use std::arch::asm;

use super::{Packed, TILE_ROWS, UNIT};

/// The 64-byte operand of `ldtilecfg`.
#[repr(C, align(64))]
struct TileConfig {
    palette: u8,
    start_row: u8,
    reserved: [u8; 14],
    /// Bytes per row of each tile register.
    colsb: [u16; 16],
    /// Rows of each tile register.
    rows: [u8; 16],
}

/// Checks CPUID for AMX-TILE and AMX-BF16 and asks Linux for permission to use the tile data
/// (`arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA)`, once per process).
pub(super) fn enable() -> Result<(), &'static str> {
    // CPUID leaf 7, sub-leaf 0: EDX bit 22 is AMX-BF16, bit 24 AMX-TILE.
    // SAFETY (for toolchains where `__cpuid_count` is still unsafe): every x86-64 CPU has
    // CPUID and leaf 7 is answered (with zeros where unsupported).
    #[allow(unused_unsafe)]
    let edx = unsafe { std::arch::x86_64::__cpuid_count(7, 0) }.edx;
    if edx & (1 << 22) == 0 || edx & (1 << 24) == 0 {
        return Err("this CPU has no AMX-BF16");
    }
    request_tile_permission()
}

#[cfg(target_os = "linux")]
fn request_tile_permission() -> Result<(), &'static str> {
    const ARCH_REQ_XCOMP_PERM: libc::c_long = 0x1023;
    const XFEATURE_XTILEDATA: libc::c_long = 18;
    // SAFETY: arch_prctl with this code only changes the process's permitted xsave features;
    // it reads no memory of ours.
    let r = unsafe {
        libc::syscall(
            libc::SYS_arch_prctl,
            ARCH_REQ_XCOMP_PERM,
            XFEATURE_XTILEDATA,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err("the OS refused this process AMX tile state (arch_prctl ARCH_REQ_XCOMP_PERM)")
    }
}

#[cfg(not(target_os = "linux"))]
fn request_tile_permission() -> Result<(), &'static str> {
    Err("AMX is used only on Linux (its permission request is Linux's)")
}

/// Proof that the tiles are configured on this thread (see the module's soundness note).
pub(super) struct Tiles(());

/// Configures the tiles on this thread, runs `f`, and releases them (also if `f` panics).
/// Callers have checked [`enable`] (through `super::support`).
pub(super) fn with_tiles<R>(f: impl FnOnce(&Tiles) -> R) -> R {
    assert!(
        super::support(super::Bf16Kernel::Amx).is_ok(),
        "AMX kernel called where AMX is not enabled"
    );
    let mut config = TileConfig {
        palette: 1,
        start_row: 0,
        reserved: [0; 14],
        colsb: [0; 16],
        rows: [0; 16],
    };
    for t in 0..8 {
        config.colsb[t] = 64;
        config.rows[t] = TILE_ROWS as u8;
    }
    // SAFETY: AMX is present and permitted (asserted above); `config` is a valid 64-byte
    // palette-1 configuration (8 tiles of 16 rows × 64 bytes, the rest unused).
    unsafe {
        asm!("ldtilecfg [{}]", in(reg) &config, options(nostack, readonly));
    }
    struct Release;
    impl Drop for Release {
        fn drop(&mut self) {
            // SAFETY: the tiles were configured on this thread just above.
            unsafe { asm!("tilerelease", options(nostack, nomem)) };
        }
    }
    let _release = Release;
    f(&Tiles(()))
}

impl Tiles {
    /// Output unit `(mu, nu)` of `a · b` into `out` (row-major 32 × 32), overwriting it.
    pub(super) fn unit(
        &self,
        a: &Packed,
        b: &Packed,
        (mu, nu): (usize, usize),
        out: &mut [f32; UNIT * UNIT],
    ) {
        assert!(
            a.tiles_k == b.tiles_k
                && a.tiles_k > 0
                && 2 * mu + 1 < a.tiles_i
                && 2 * nu + 1 < b.tiles_i,
            "bf16 kernel: unit ({mu}, {nu}) outside the packed operands"
        );
        let (a0, a1) = (a.strip(2 * mu), a.strip(2 * mu + 1));
        let (b0, b1) = (b.strip(2 * nu), b.strip(2 * nu + 1));
        // SAFETY: the tiles are configured (`self`). Each strip is `tiles_k` tiles of 16
        // contiguous 64-byte lines (`Packed::strip`, bounds-checked slices), and the loop
        // loads `tiles_k` tiles from each, advancing 1024 bytes per tile: every load lies
        // inside its strip. `tiles_k > 0`, so the count never wraps. `out` is 32 × 32 f32
        // (4 KiB): the four 16 × 16 stores at byte offsets 0, 64, 2048 and 2112 with a row
        // stride of 128 bytes end exactly at its end.
        unsafe {
            asm!(
                "tilezero tmm0",
                "tilezero tmm1",
                "tilezero tmm2",
                "tilezero tmm3",
                "2:",
                "tileloadd tmm4, [{a0} + {line}*1]",
                "tileloadd tmm5, [{a1} + {line}*1]",
                "tileloadd tmm6, [{b0} + {line}*1]",
                "tileloadd tmm7, [{b1} + {line}*1]",
                "tdpbf16ps tmm0, tmm4, tmm6",
                "tdpbf16ps tmm1, tmm4, tmm7",
                "tdpbf16ps tmm2, tmm5, tmm6",
                "tdpbf16ps tmm3, tmm5, tmm7",
                "add {a0}, 1024",
                "add {a1}, 1024",
                "add {b0}, 1024",
                "add {b1}, 1024",
                "dec {n}",
                "jnz 2b",
                "tilestored [{c} + {row}*1], tmm0",
                "add {c}, 64",
                "tilestored [{c} + {row}*1], tmm1",
                "add {c}, 1984",
                "tilestored [{c} + {row}*1], tmm2",
                "add {c}, 64",
                "tilestored [{c} + {row}*1], tmm3",
                a0 = inout(reg) a0.as_ptr() => _,
                a1 = inout(reg) a1.as_ptr() => _,
                b0 = inout(reg) b0.as_ptr() => _,
                b1 = inout(reg) b1.as_ptr() => _,
                n = inout(reg) a.tiles_k => _,
                c = inout(reg) out.as_mut_ptr() => _,
                line = in(reg) 64usize,
                row = in(reg) 4 * UNIT,
                options(nostack),
            );
        }
    }
}
