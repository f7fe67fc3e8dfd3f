//! The bf16 kernels against an f64 reference on bf16-rounded inputs, on every kernel this CPU
//! runs (each test prints which ran, and why any did not).

use super::*;
use crate::kernels::gemm::{MatMut, MatRef, gemm_into_bf16};
use crate::random::rng_from_seed;
use rand::Rng;

/// Kernels this machine runs, printed so a test log says what was exercised.
fn kernels_here(test: &str) -> Vec<Bf16Kernel> {
    let mut here = Vec::new();
    for k in Bf16Kernel::ALL {
        match support(k) {
            Ok(()) => here.push(k),
            Err(why) => eprintln!("{test}: {} NOT exercised: {why}", k.describe()),
        }
    }
    eprintln!(
        "{test}: exercised {:?}",
        here.iter().map(|k| k.describe()).collect::<Vec<_>>()
    );
    here
}

#[test]
fn rounding_is_to_nearest_even_with_the_hardware_edge_cases() {
    let r = |x: f32| round_to_bf16(x);
    assert_eq!(r(1.0), 0x3f80);
    // 1 + 2^-8 is halfway between 1 and 1 + 2^-7: ties go to the even mantissa (1.0).
    assert_eq!(r(f32::from_bits(0x3f80_8000)), 0x3f80);
    // 1 + 3·2^-8 is halfway between 1 + 2^-7 (odd) and 1 + 2^-6: rounds up to even.
    assert_eq!(r(f32::from_bits(0x3f81_8000)), 0x3f82);
    assert_eq!(r(f32::from_bits(0x3f80_8001)), 0x3f81); // just above halfway
    assert_eq!(r(-2.5), 0xc020);
    assert_eq!(r(f32::MAX), 0x7f80); // past the largest bf16: infinity
    assert_eq!(r(f32::INFINITY), 0x7f80);
    assert_eq!(r(f32::NEG_INFINITY), 0xff80);
    assert!(bf16_to_f32(r(f32::NAN)).is_nan());
    assert!(bf16_to_f32(r(f32::from_bits(0x7f80_0001))).is_nan()); // NaN kept a NaN
    assert_eq!(r(f32::from_bits(0x0000_0001)), 0x0000); // subnormal: zero
    assert_eq!(r(-f32::from_bits(0x007f_ffff)), 0x8000); // signed zero
    assert_eq!(r(f32::MIN_POSITIVE), 0x0080); // smallest normal is exact
}

#[cfg(target_arch = "x86_64")]
#[test]
fn scalar_rounding_matches_the_vector_conversion_bit_for_bit() {
    let Some(cpu) = avx512::Bf16Cpu::detect() else {
        eprintln!("no AVX512-BF16: the vector conversion is NOT exercised (scalar only)");
        return;
    };
    let mut rng = rng_from_seed(7);
    let mut specials: Vec<u32> = vec![
        0,
        0x8000_0000,
        1,
        0x007f_ffff,
        0x0080_0000,
        0x3f80_8000,
        0x3f81_8000,
        0x7f7f_ffff,
        0x7f80_0000,
        0x7f80_0001,
        0x7fc0_0000,
        0xff80_0000,
        0xffff_ffff,
        0x3380_0000,
    ];
    specials.extend((0..32 * 4000).map(|_| rng.random::<u32>()));
    for chunk in specials.chunks_exact(32) {
        let xs: Vec<f32> = chunk.iter().map(|&b| f32::from_bits(b)).collect();
        let pairs = cpu.pairs_of_run(&xs);
        let evens: Vec<f32> = xs.iter().step_by(2).copied().collect();
        let odds: Vec<f32> = xs.iter().skip(1).step_by(2).copied().collect();
        let columns = cpu.pairs_of_columns(&evens, &odds);
        for p in 0..16 {
            let want = pair(xs[2 * p], xs[2 * p + 1]);
            for (got, how) in [(pairs[p], "run"), (columns[p], "columns")] {
                let (g, w) = (got.to_le_bytes(), want.to_le_bytes());
                // NaN payloads may differ; NaN-ness may not.
                let nan = |h: u16| bf16_to_f32(h).is_nan();
                for half in 0..2 {
                    let gh = u16::from_le_bytes([g[2 * half], g[2 * half + 1]]);
                    let wh = u16::from_le_bytes([w[2 * half], w[2 * half + 1]]);
                    assert!(
                        gh == wh || (nan(gh) && nan(wh)),
                        "{how}: {:#010x} → vector {gh:#06x}, scalar {wh:#06x}",
                        chunk[2 * p + half]
                    );
                }
            }
        }
    }
}

fn pair(lo: f32, hi: f32) -> u32 {
    u32::from(round_to_bf16(lo)) | (u32::from(round_to_bf16(hi)) << 16)
}

/// A strided `rows × cols` view's backing data: `layout` 0 row-major, 1 column-major,
/// 2 row-major with padded rows, 3 column-major with padded columns.
fn strided(
    rows: usize,
    cols: usize,
    layout: usize,
    rng: &mut impl Rng,
) -> (Vec<f32>, usize, usize) {
    let (rs, cs) = match layout {
        0 => (cols, 1),
        1 => (1, rows),
        2 => (cols + 3, 1),
        _ => (1, rows + 5),
    };
    let len = if rows == 0 || cols == 0 {
        0
    } else {
        (rows - 1) * rs + (cols - 1) * cs + 1
    };
    let data = (0..len).map(|_| rng.random_range(-2.0f32..2.0)).collect();
    (data, rs, cs)
}

/// f64 product of bf16-rounded operands, and Σ|a||b| per element (for the tolerance).
fn reference(a: MatRef<'_, f32>, b: MatRef<'_, f32>) -> (Vec<f64>, Vec<f64>) {
    let (m, n, k) = (a.rows, b.cols, a.cols);
    let q = |x: f32| f64::from(round_f32_to_bf16(x));
    let mut c = vec![0.0; m * n];
    let mut mag = vec![0.0; m * n];
    for i in 0..m {
        for j in 0..n {
            for p in 0..k {
                let (x, y) = (
                    q(a.data[i * a.rs + p * a.cs]),
                    q(b.data[p * b.rs + j * b.cs]),
                );
                c[i * n + j] += x * y;
                mag[i * n + j] += (x * y).abs();
            }
        }
    }
    (c, mag)
}

fn check_kernel(kernel: Bf16Kernel, (m, n, k): (usize, usize, usize), seed: u64) {
    let mut rng = rng_from_seed(seed);
    for (la, lb) in [(0, 0), (1, 0), (0, 1), (2, 3), (3, 2), (1, 1)] {
        let (ad, ars, acs) = strided(m, k, la, &mut rng);
        let (bd, brs, bcs) = strided(k, n, lb, &mut rng);
        let a = MatRef {
            data: &ad,
            rows: m,
            cols: k,
            rs: ars,
            cs: acs,
        };
        let b = MatRef {
            data: &bd,
            rows: k,
            cols: n,
            rs: brs,
            cs: bcs,
        };
        let (want, mag) = reference(a, b);
        for (accumulate, parallel) in [(false, false), (true, true), (false, true)] {
            let start: Vec<f32> = (0..m * n).map(|i| (i % 7) as f32 - 3.0).collect();
            let mut c = start.clone();
            gemm_into_bf16(
                &mut MatMut::row_major(&mut c, m, n),
                a,
                b,
                accumulate,
                parallel,
                kernel,
            )
            .unwrap();
            for i in 0..m * n {
                let base = if accumulate { f64::from(start[i]) } else { 0.0 };
                let err = (f64::from(c[i]) - base - want[i]).abs();
                // f32 accumulation over k products: a few ulps of the magnitude sum.
                let tol =
                    (k as f64 + 4.0) * f64::from(f32::EPSILON) * (mag[i] + base.abs()) + 1e-30;
                assert!(
                    err <= tol,
                    "{kernel:?} {m}×{n}×{k} layouts ({la}, {lb}) acc {accumulate} par {parallel}: \
                     element {i} = {} want {} (err {err:e} > {tol:e})",
                    c[i],
                    base + want[i]
                );
            }
        }
    }
}

#[test]
fn every_kernel_here_matches_the_reference_on_ragged_and_strided_shapes() {
    let kernels = kernels_here("bf16 gemm");
    let shapes = [
        (1, 1, 1),
        (16, 16, 32),
        (32, 32, 32),
        (17, 33, 31),
        (31, 15, 65),
        (64, 48, 100),
        (3, 200, 27),
        (70, 65, 67),
        (40, 96, 600),
    ];
    for k in kernels {
        for (s, &shape) in shapes.iter().enumerate() {
            check_kernel(k, shape, s as u64);
        }
    }
}

#[test]
fn a_parallel_product_large_enough_to_split_matches_the_serial_one() {
    for kernel in kernels_here("bf16 parallel") {
        let (m, n, k) = (96, 160, 96);
        let mut rng = rng_from_seed(3);
        let a: Vec<f32> = (0..m * k).map(|_| rng.random_range(-1.0..1.0)).collect();
        let b: Vec<f32> = (0..k * n).map(|_| rng.random_range(-1.0..1.0)).collect();
        let run = |parallel: bool| {
            let mut c = vec![0.0f32; m * n];
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(3)
                .build()
                .unwrap();
            pool.install(|| {
                gemm_into_bf16(
                    &mut MatMut::row_major(&mut c, m, n),
                    MatRef::row_major(&a, m, k),
                    MatRef::row_major(&b, k, n),
                    false,
                    parallel,
                    kernel,
                )
                .unwrap()
            });
            c
        };
        // Each unit is computed by one task in the same order either way: bitwise equal.
        assert_eq!(run(true), run(false), "{kernel:?}");
    }
}

#[test]
fn packing_lays_out_the_documented_tiles() {
    // A 17 × 40 matrix: X(i, k) = i·100 + k (compared after rounding to bf16).
    let (rows, cols) = (17, 40);
    let data: Vec<f32> = (0..rows * cols)
        .map(|v| ((v / cols) * 100 + v % cols) as f32)
        .collect();
    for by_pairs in [false, true] {
        for layout in [0, 1] {
            let (d, rs, cs) = if layout == 0 {
                (data.clone(), cols, 1)
            } else {
                let t: Vec<f32> = (0..rows * cols)
                    .map(|v| data[(v % rows) * cols + v / rows])
                    .collect();
                (t, 1, rows)
            };
            let x = MatRef {
                data: &d,
                rows,
                cols,
                rs,
                cs,
            };
            let p = Packed::pack(x, by_pairs);
            assert_eq!((p.tiles_i, p.tiles_k), (2, 2));
            let value = |i: usize, k: usize| {
                if i < rows && k < cols {
                    round_f32_to_bf16((i * 100 + k) as f32)
                } else {
                    0.0
                }
            };
            for ti in 0..2 {
                for tk in 0..2 {
                    let tile = &p.lines[(ti * 2 + tk) * 16..][..16];
                    for (a, line) in tile.iter().enumerate() {
                        for (b, &w) in line.0.iter().enumerate() {
                            let (i, q) = if by_pairs { (b, a) } else { (a, b) };
                            let (i, k) = (ti * 16 + i, tk * 32 + 2 * q);
                            assert_eq!(
                                (bf16_to_f32(w as u16), bf16_to_f32((w >> 16) as u16)),
                                (value(i, k), value(i, k + 1)),
                                "by_pairs {by_pairs} layout {layout} tile ({ti}, {tk}) line {a} word {b}"
                            );
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn bf16_precision_falls_back_to_full_precision_for_f64() {
    use crate::kernels::gemm::gemm_into_with;
    use crate::precision::Precision;
    let (m, n, k) = (5, 4, 3);
    let a: Vec<f64> = (0..m * k).map(|v| v as f64 / 3.0).collect();
    let b: Vec<f64> = (0..k * n).map(|v| v as f64 / 7.0).collect();
    let mut full = vec![0.0; m * n];
    let mut asked = vec![0.0; m * n];
    let (ar, br) = (MatRef::row_major(&a, m, k), MatRef::row_major(&b, k, n));
    gemm_into_with(
        &mut MatMut::row_major(&mut full, m, n),
        ar,
        br,
        false,
        false,
        Precision::F32,
    );
    gemm_into_with(
        &mut MatMut::row_major(&mut asked, m, n),
        ar,
        br,
        false,
        false,
        Precision::Bf16,
    );
    assert_eq!(full, asked);
}

/// The three convolution passes at bf16 against the f64 reference on bf16-rounded operands,
/// on the machine's default bf16 kernel (or, without one, equal to the f32 passes).
#[test]
fn convolutions_at_bf16_match_the_reference_on_rounded_operands() {
    use crate::kernels::Conv2dGeometry;
    use crate::kernels::conv::{
        ConvOptions, conv2d_forward_opts, conv2d_input_grad_opts, conv2d_weight_grad_opts,
    };
    use crate::kernels::conv_reference::{
        conv2d_forward_reference, conv2d_input_grad_reference, conv2d_weight_grad_reference,
    };
    use crate::precision::{Effective, Precision};
    let effective = Precision::Bf16.effective();
    eprintln!("bf16 conv: {}", effective.describe());
    let bf16 = ConvOptions::at(Precision::Bf16);
    // Every GEMM of these passes is large enough for the bf16 path
    // (`bf16_pays` with either kernel: at least 128 rows and columns on AVX512-BF16), and too
    // thin in channels for Winograd to take a pass instead.
    let geometries = [
        Conv2dGeometry::square(1, 16, 16, 128, 3, 1),
        Conv2dGeometry {
            stride_h: 2,
            stride_w: 2,
            ..Conv2dGeometry::square(1, 32, 32, 128, 3, 1)
        },
        Conv2dGeometry::square(1, 8, 20, 128, 5, 2),
        Conv2dGeometry::square(2, 128, 16, 128, 1, 0),
    ];
    let mut rng = rng_from_seed(11);
    for g in geometries {
        let mut random =
            |n: usize| -> Vec<f32> { (0..n).map(|_| rng.random_range(-1.0..1.0)).collect() };
        let (x, w, gy) = (
            random(g.input_len()),
            random(g.weight_len()),
            random(g.output_len()),
        );
        let wide = |v: &[f32]| -> Vec<f64> {
            v.iter()
                .map(|&a| {
                    if matches!(effective, Effective::Bf16(_)) {
                        f64::from(round_f32_to_bf16(a))
                    } else {
                        f64::from(a)
                    }
                })
                .collect()
        };
        let (xd, wd, gyd) = (wide(&x), wide(&w), wide(&gy));
        let close = |got: &[f32], want: &[f64], what: &str| {
            let scale = want.iter().fold(1.0f64, |m, v| m.max(v.abs()));
            for (i, (&a, &b)) in got.iter().zip(want).enumerate() {
                // ~k products of magnitude ≤ 1 summed in f32: a few 1e-6 of the scale.
                assert!(
                    (f64::from(a) - b).abs() <= 2e-5 * scale,
                    "{what} {:?}→{:?}: element {i} = {a}, want {b}",
                    g.input_shape(),
                    g.weight_shape()
                );
            }
        };
        let mut y = vec![0.0f32; g.output_len()];
        let mut yd = vec![0.0f64; g.output_len()];
        conv2d_forward_opts(bf16, &g, &x, &w, &mut y).unwrap();
        conv2d_forward_reference(&g, &xd, &wd, &mut yd).unwrap();
        close(&y, &yd, "forward");
        let mut gx = vec![0.0f32; g.input_len()];
        let mut gxd = vec![0.0f64; g.input_len()];
        conv2d_input_grad_opts(bf16, &g, &gy, &w, &mut gx).unwrap();
        conv2d_input_grad_reference(&g, &gyd, &wd, &mut gxd).unwrap();
        close(&gx, &gxd, "input grad");
        let mut gw = vec![0.0f32; g.weight_len()];
        let mut gwd = vec![0.0f64; g.weight_len()];
        conv2d_weight_grad_opts(bf16, &g, &x, &gy, &mut gw).unwrap();
        conv2d_weight_grad_reference(&g, &xd, &gyd, &mut gwd).unwrap();
        close(&gw, &gwd, "weight grad");
    }
}
