//! Throughput of the convolution kernels against the machine's GEMM peak.
//!
//! `cargo run -p convnet-tensor --release --example conv_speed [name-filter]`
//!
//! Prints GFLOP/s of forward, input-gradient and weight-gradient passes for the ResNet-CIFAR,
//! VGG and LeNet layer shapes, each also as a fraction of a square n=1024 f32 GEMM on the
//! whole rayon pool — once with the default algorithm (direct kernels where they apply) and
//! once forced to im2col + GEMM. Informational only: nothing here asserts a timing.
//!
//! Timing is interleaved — every round times the reference GEMM and the six passes once
//! each — and the best round of each is kept. On a shared VM interference only ever adds
//! time and comes in bursts, so interleaved minima compare like with like. Percentages are
//! of the best GEMM round of the whole run, printed as a Markdown table at the end.

use std::time::Instant;

use convnet_tensor::kernels::Conv2dGeometry;
use convnet_tensor::kernels::conv::{
    ConvAlgorithm, conv2d_forward_with, conv2d_input_grad_with, conv2d_weight_grad_with,
};
use convnet_tensor::kernels::gemm::{MatMut, MatRef, gemm_into};

const ROUNDS: usize = 40;

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

fn geometry(
    batch: usize,
    c: usize,
    k: usize,
    hw: usize,
    kernel: usize,
    pad: usize,
) -> Conv2dGeometry {
    Conv2dGeometry {
        batch,
        in_channels: c,
        in_h: hw,
        in_w: hw,
        out_channels: k,
        kernel_h: kernel,
        kernel_w: kernel,
        stride_h: 1,
        stride_w: 1,
        pad_h: pad,
        pad_w: pad,
        dilation_h: 1,
        dilation_w: 1,
        groups: 1,
    }
}

/// Best seconds per call of the peak GEMM and of each algorithm's three passes.
struct Timings {
    peak: f64,
    passes: Vec<f64>,
}

fn bench(g: Conv2dGeometry, peak: &mut Peak) -> Timings {
    let x = data(g.input_len(), 3);
    let w = data(g.weight_len(), 4);
    let gy = data(g.output_len(), 5);
    let (mut y, mut gx, mut gw) = (Vec::new(), Vec::new(), Vec::new());
    for _ in ALGORITHMS {
        y.push(vec![0.0f32; g.output_len()]);
        gx.push(vec![0.0f32; g.input_len()]);
        gw.push(vec![0.0f32; g.weight_len()]);
    }
    let mut passes: Vec<Box<dyn FnMut() + '_>> = vec![Box::new(|| peak.run())];
    for (((algo, y), gx), gw) in ALGORITHMS.into_iter().zip(&mut y).zip(&mut gx).zip(&mut gw) {
        let (x, w, gy, g) = (&x, &w, &gy, &g);
        passes.push(Box::new(move || {
            conv2d_forward_with(algo, g, x, w, y).unwrap()
        }));
        passes.push(Box::new(move || {
            conv2d_input_grad_with(algo, g, gy, w, gx).unwrap()
        }));
        passes.push(Box::new(move || {
            conv2d_weight_grad_with(algo, g, x, gy, gw).unwrap()
        }));
    }
    let mut best = vec![f64::INFINITY; passes.len()];
    for round in 0..=ROUNDS {
        for (b, f) in best.iter_mut().zip(passes.iter_mut()) {
            let t = secs(f.as_mut());
            if round > 0 {
                *b = b.min(t); // round 0 is warm-up
            }
        }
    }
    Timings {
        peak: best[0],
        passes: best[1..].to_vec(),
    }
}

/// Auto (direct kernels where they apply) and the im2col + GEMM path, timed in the same
/// rounds.
const ALGORITHMS: [ConvAlgorithm; 2] = [ConvAlgorithm::Auto, ConvAlgorithm::Im2colGemm];

fn main() {
    let threads = rayon::current_num_threads();
    let only = std::env::args().nth(1).unwrap_or_default();
    let mut peak = Peak::new(1024);
    let shapes = [
        ("ResNet 64→64 3×3, 32², b32", geometry(32, 64, 64, 32, 3, 1)),
        (
            "ResNet 128→128 3×3, 16², b32",
            geometry(32, 128, 128, 16, 3, 1),
        ),
        (
            "ResNet 256→256 3×3, 8², b32",
            geometry(32, 256, 256, 8, 3, 1),
        ),
        (
            "ResNet 512→512 3×3, 4², b32",
            geometry(32, 512, 512, 4, 3, 1),
        ),
        ("ResNet 64→64 3×3, 32², b1", geometry(1, 64, 64, 32, 3, 1)),
        ("LeNet 1→6 5×5 p2, 28², b64", geometry(64, 1, 6, 28, 5, 2)),
        ("LeNet 6→16 5×5, 14², b64", geometry(64, 6, 16, 14, 5, 0)),
        ("1×1 256→64, 16², b32", geometry(32, 256, 64, 16, 1, 0)),
        ("VGG 3→64 3×3, 224², b8", geometry(8, 3, 64, 224, 3, 1)),
        ("VGG 64→64 3×3, 224², b8", geometry(8, 64, 64, 224, 3, 1)),
    ];
    let mut rows = Vec::new();
    for (name, g) in shapes {
        if name.contains(&only) {
            eprintln!("timing {name} …");
            rows.push((name, g, bench(g, &mut peak)));
        }
    }
    // The denominator is the best GEMM round of the whole run: a machine constant that
    // the per-shape minima only approach, so every percentage is conservative.
    let best_peak = rows.iter().map(|r| r.2.peak).fold(f64::INFINITY, f64::min);
    let peak_gf = peak.gflop() / best_peak;
    println!(
        "f32 GFLOP/s (% of the run's best sgemm n=1024 round, {peak_gf:.1} GFLOP/s on {threads} threads)"
    );
    println!();
    println!("| layer | algorithm | forward | input grad | weight grad |");
    println!("|---|---|---:|---:|---:|");
    for (name, g, t) in &rows {
        let gf = g.flops() as f64 / 1e9;
        for (algo, times) in ALGORITHMS.iter().zip(t.passes.chunks(3)) {
            let cell = |secs: f64| {
                let v = gf / secs;
                format!("{v:.1} ({:.0} %)", 100.0 * v / peak_gf)
            };
            let algo = match algo {
                ConvAlgorithm::Auto => "auto",
                _ => "im2col",
            };
            println!(
                "| {name} | {algo} | {} | {} | {} |",
                cell(times[0]),
                cell(times[1]),
                cell(times[2])
            );
        }
    }
}
