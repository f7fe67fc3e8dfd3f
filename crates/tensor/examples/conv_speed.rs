//! Throughput of the convolution kernels against the machine's GEMM peak.
//!
//! `cargo run -p convnet-tensor --release --example conv_speed [name-filter]`
//!
//! Prints GFLOP/s of forward, input-gradient and weight-gradient passes for the ResNet-CIFAR,
//! VGG and LeNet layer shapes, each also as a fraction of a square n=1024 f32 GEMM on the
//! whole rayon pool — once with the default algorithm (what a model runs) and once with each
//! kernel family forced (Winograd, direct, im2col + GEMM; "—" where a family cannot run the
//! pass). GFLOP/s count a direct convolution's `2·N·K·C·kh·kw·Ho·Wo` for every family, so
//! Winograd's figure is the effective rate. Informational only: nothing here asserts a timing.
//!
//! Timing is interleaved — every round times the reference GEMM and the six passes of a
//! shape once each, 20 rounds per shape, the whole list swept twice — and the best round
//! of each is kept. On a shared VM interference only ever adds time and comes in bursts,
//! so interleaved minima compare like with like. The Markdown table at the end gives two
//! ratios per pass: to the GEMM timed in the same rounds, and to the run's best GEMM round.

use std::time::Instant;

use convnet_tensor::kernels::Conv2dGeometry;
use convnet_tensor::kernels::conv::{
    ConvAlgorithm, conv2d_forward_with, conv2d_input_grad_with, conv2d_weight_grad_with,
};
use convnet_tensor::kernels::gemm::{MatMut, MatRef, gemm_into};

const ROUNDS: usize = 20;
const SWEEPS: usize = 2;

fn secs(f: &mut dyn FnMut()) -> f64 {
    let t = Instant::now();
    f();
    t.elapsed().as_secs_f64()
}

fn data(len: usize, seed: usize) -> Vec<f32> {
    (0..len)
        .map(|i| (((i * 2654435761 + seed) % 1000) as f32) / 1000.0 - 0.5)
        .collect()
}

/// A square f32 GEMM of side `n` on the whole pool, and its flop count.
struct Peak {
    n: usize,
    a: Vec<f32>,
    b: Vec<f32>,
    c: Vec<f32>,
}

impl Peak {
    fn new(n: usize) -> Self {
        Peak {
            n,
            a: data(n * n, 1),
            b: data(n * n, 2),
            c: vec![0.0; n * n],
        }
    }

    fn run(&mut self) {
        let n = self.n;
        gemm_into(
            &mut MatMut::row_major(&mut self.c, n, n),
            MatRef::row_major(&self.a, n, n),
            MatRef::row_major(&self.b, n, n),
            false,
            true,
        );
    }

    fn gflop(&self) -> f64 {
        2.0 * (self.n as f64).powi(3) / 1e9
    }
}

/// One layer shape with its inputs and one set of outputs per algorithm.
struct Case {
    name: &'static str,
    g: Conv2dGeometry,
    x: Vec<f32>,
    w: Vec<f32>,
    gy: Vec<f32>,
    y: Vec<Vec<f32>>,
    gx: Vec<Vec<f32>>,
    gw: Vec<Vec<f32>>,
    /// Best seconds: the peak GEMM, then forward, input grad, weight grad per algorithm.
    best: Vec<f64>,
}

impl Case {
    fn new(name: &'static str, g: Conv2dGeometry) -> Self {
        let n = ALGORITHMS.len();
        Case {
            name,
            g,
            x: data(g.input_len(), 3),
            w: data(g.weight_len(), 4),
            gy: data(g.output_len(), 5),
            y: vec![vec![0.0; g.output_len()]; n],
            gx: vec![vec![0.0; g.input_len()]; n],
            gw: vec![vec![0.0; g.weight_len()]; n],
            best: vec![f64::INFINITY; 1 + 3 * n],
        }
    }

    /// Times the peak GEMM and every pass once, keeping each one's best.
    fn round(&mut self, peak: &mut Peak, keep: bool) {
        // The GEMM runs twice and the second is timed: its 12 MB of operands start cold
        // after a pass of a large layer, which would bias the peak low for exactly those.
        peak.run();
        let mut times = vec![secs(&mut || peak.run())];
        let g = &self.g;
        for (i, algo) in ALGORITHMS.into_iter().enumerate() {
            let (x, w, gy) = (&self.x, &self.w, &self.gy);
            let (y, gx, gw) = (&mut self.y[i], &mut self.gx[i], &mut self.gw[i]);
            // A family that cannot run a pass (an error) is timed as infinitely slow and
            // printed as "—".
            let mut ok = true;
            let mut timed = |f: &mut dyn FnMut() -> bool| {
                let t = secs(&mut || ok = f());
                if ok { t } else { f64::INFINITY }
            };
            times.push(timed(&mut || conv2d_forward_with(algo, g, x, w, y).is_ok()));
            times.push(timed(&mut || {
                conv2d_input_grad_with(algo, g, gy, w, gx).is_ok()
            }));
            times.push(timed(&mut || {
                conv2d_weight_grad_with(algo, g, x, gy, gw).is_ok()
            }));
        }
        if keep {
            for (b, t) in self.best.iter_mut().zip(times) {
                *b = b.min(t);
            }
        }
    }
}

/// Auto (what a model runs), then each family forced, timed in the same rounds; a family
/// that cannot run a pass shows "—".
const ALGORITHMS: [ConvAlgorithm; 4] = [
    ConvAlgorithm::Auto,
    ConvAlgorithm::Winograd,
    ConvAlgorithm::Direct,
    ConvAlgorithm::Im2colGemm,
];

fn main() {
    let threads = rayon::current_num_threads();
    let only = std::env::args().nth(1).unwrap_or_default();
    let mut peak = Peak::new(1024);
    let shapes = [
        (
            "ResNet 64→64 3×3, 32², b32",
            Conv2dGeometry::square(32, 64, 32, 64, 3, 1),
        ),
        (
            "ResNet 128→128 3×3, 16², b32",
            Conv2dGeometry::square(32, 128, 16, 128, 3, 1),
        ),
        (
            "ResNet 256→256 3×3, 8², b32",
            Conv2dGeometry::square(32, 256, 8, 256, 3, 1),
        ),
        (
            "ResNet 512→512 3×3, 4², b32",
            Conv2dGeometry::square(32, 512, 4, 512, 3, 1),
        ),
        (
            "ResNet 64→64 3×3, 32², b1",
            Conv2dGeometry::square(1, 64, 32, 64, 3, 1),
        ),
        (
            "LeNet 1→6 5×5 p2, 28², b64",
            Conv2dGeometry::square(64, 1, 28, 6, 5, 2),
        ),
        (
            "LeNet 6→16 5×5, 14², b64",
            Conv2dGeometry::square(64, 6, 14, 16, 5, 0),
        ),
        (
            "1×1 256→64, 16², b32",
            Conv2dGeometry::square(32, 256, 16, 64, 1, 0),
        ),
        (
            "ResNet shortcut 1×1/2 64→128, 32², b32",
            Conv2dGeometry {
                stride_h: 2,
                stride_w: 2,
                ..Conv2dGeometry::square(32, 64, 32, 128, 1, 0)
            },
        ),
        (
            "ResNet 3×3/2 64→128, 32², b32",
            Conv2dGeometry {
                stride_h: 2,
                stride_w: 2,
                ..Conv2dGeometry::square(32, 64, 32, 128, 3, 1)
            },
        ),
        (
            "VGG 3→64 3×3, 224², b8",
            Conv2dGeometry::square(8, 3, 224, 64, 3, 1),
        ),
        (
            "VGG 64→64 3×3, 224², b8",
            Conv2dGeometry::square(8, 64, 224, 64, 3, 1),
        ),
    ];
    let mut cases: Vec<Case> = shapes
        .into_iter()
        .filter(|(name, _)| name.contains(&only))
        .map(|(name, g)| Case::new(name, g))
        .collect();
    // Rounds of one shape run back to back (its data stays in cache, as in a training
    // loop's steady state), and the whole list is swept twice, so a burst of interference
    // lasting seconds must hit the same shape in both sweeps to move its figure.
    for sweep in 1..=SWEEPS {
        for case in &mut cases {
            eprintln!("sweep {sweep}/{SWEEPS}: {}", case.name);
            for round in 0..=ROUNDS {
                case.round(&mut peak, round > 0); // round 0 is warm-up
            }
        }
    }
    // Two yardsticks: the GEMM timed in the same rounds as the shape (it saw the same
    // machine, so the ratio is robust to slow spells), and the best GEMM round of the whole
    // run (a machine constant, so that ratio is conservative: a slow spell lowers it).
    let best_peak = cases
        .iter()
        .map(|c| c.best[0])
        .fold(f64::INFINITY, f64::min);
    let run_gf = peak.gflop() / best_peak;
    let fma = fma_peak::measure();
    match fma {
        Some((gf, isa)) => println!(
            "FMA peak ({isa} FMA loop on {threads} threads): {gf:.1} GFLOP/s; the best sgemm \
             round reaches {:.0} % of it.",
            100.0 * run_gf / gf
        ),
        None => println!("FMA peak: this CPU has no AVX2/AVX-512 FMA; not measured."),
    }
    let fma_gf = fma.map_or(f64::NAN, |(gf, _)| gf);
    println!("f32, {threads} threads. Each cell: GFLOP/s (% of the sgemm n=1024 peak timed in the");
    println!("same rounds / % of the run's best sgemm round, {run_gf:.1} GFLOP/s / % of the FMA");
    println!("peak, {fma_gf:.1} GFLOP/s).");
    println!();
    println!("| layer | algorithm | same-round peak | forward | input grad | weight grad |");
    println!("|---|---|---:|---:|---:|---:|");
    for case in &cases {
        let gf = case.g.flops() as f64 / 1e9;
        let own_gf = peak.gflop() / case.best[0];
        for (algo, times) in ALGORITHMS.iter().zip(case.best[1..].chunks(3)) {
            let cell = |secs: f64| {
                if secs.is_infinite() {
                    return "—".to_string();
                }
                let v = gf / secs;
                format!(
                    "{v:.1} ({:.0} / {:.0} / {:.0} %)",
                    100.0 * v / own_gf,
                    100.0 * v / run_gf,
                    100.0 * v / fma_gf
                )
            };
            let algo = match algo {
                ConvAlgorithm::Auto => "auto",
                ConvAlgorithm::Winograd => "winograd",
                ConvAlgorithm::Direct => "direct",
                ConvAlgorithm::Im2colGemm => "im2col",
            };
            println!(
                "| {} | {algo} | {own_gf:.1} | {} | {} | {} |",
                case.name,
                cell(times[0]),
                cell(times[1]),
                cell(times[2])
            );
        }
    }
}

/// The machine's f32 FMA peak: every rayon thread runs a loop of independent vector FMAs
/// (enough accumulators to cover the FMA latency on two pipes), the widest the CPU has.
mod fma_peak {
    use std::time::Instant;

    /// Accumulators per thread: latency 4 × 2 pipes needs 8; 12 leaves a margin.
    const ACCUMULATORS: usize = 12;
    const ITERATIONS: usize = 20_000_000;

    /// `(GFLOP/s over all threads, instruction set)`, best of three runs, or `None` on a CPU
    /// without FMA.
    pub fn measure() -> Option<(f64, &'static str)> {
        #[cfg(target_arch = "x86_64")]
        {
            let (lanes, isa, run): (usize, &str, fn(usize) -> f32) =
                if std::is_x86_feature_detected!("avx512f") {
                    (16, "AVX-512", |n| {
                        // SAFETY: AVX-512F was detected just above.
                        unsafe { loop_avx512(n) }
                    })
                } else if std::is_x86_feature_detected!("fma") {
                    (8, "AVX2", |n| {
                        // SAFETY: FMA (and so AVX) was detected just above.
                        unsafe { loop_avx2(n) }
                    })
                } else {
                    return None;
                };
            let threads = rayon::current_num_threads();
            let flops = (2 * lanes * ACCUMULATORS * ITERATIONS * threads) as f64;
            let best = (0..3)
                .map(|_| {
                    let t = Instant::now();
                    let sink: f32 = rayon::broadcast(|_| run(ITERATIONS)).iter().sum();
                    std::hint::black_box(sink);
                    t.elapsed().as_secs_f64()
                })
                .fold(f64::INFINITY, f64::min);
            Some((flops / best / 1e9, isa))
        }
        #[cfg(not(target_arch = "x86_64"))]
        None
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    fn loop_avx512(n: usize) -> f32 {
        use std::arch::x86_64::*;
        let (a, b) = (_mm512_set1_ps(0.999_999), _mm512_set1_ps(1e-7));
        let mut acc = [_mm512_set1_ps(1.0); ACCUMULATORS];
        for _ in 0..n {
            for v in &mut acc {
                *v = _mm512_fmadd_ps(*v, a, b);
            }
        }
        acc.iter().map(|&v| _mm512_reduce_add_ps(v)).sum()
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    fn loop_avx2(n: usize) -> f32 {
        use std::arch::x86_64::*;
        let (a, b) = (_mm256_set1_ps(0.999_999), _mm256_set1_ps(1e-7));
        let mut acc = [_mm256_set1_ps(1.0); ACCUMULATORS];
        for _ in 0..n {
            for v in &mut acc {
                *v = _mm256_fmadd_ps(*v, a, b);
            }
        }
        let mut lanes = [0.0f32; 8];
        acc.iter()
            .map(|&v| {
                // SAFETY: `lanes` holds 8 f32s, the width of one unaligned 256-bit store.
                unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), v) };
                lanes.iter().sum::<f32>()
            })
            .sum()
    }
}
