//! Throughput of the convolution kernels against the machine's GEMM peak.
//!
//! `cargo run -p convnet-tensor --release --example conv_speed [name-filter]`
//!
//! Prints GFLOP/s of forward, input-gradient and weight-gradient passes for the ResNet-CIFAR,
//! VGG and LeNet layer shapes, each also as a fraction of a square n=1024 f32 GEMM on the
//! whole rayon pool — once with the default algorithm (direct kernels where they apply) and
//! once forced to im2col + GEMM. Informational only: nothing here asserts a timing.
//!
//! Timing is interleaved — every round times the reference GEMM and the three passes once
//! each — and the best round of each is kept. On a shared VM interference only ever adds
//! time and comes in bursts, so interleaved minima compare like with like.

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

fn bench(name: &str, g: Conv2dGeometry, peak: &mut Peak) {
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
    drop(passes);
    let peak_gf = peak.gflop() / best[0];
    let gf = g.flops() as f64 / 1e9;
    println!("{name} (peak {peak_gf:.1})");
    for (algo, times) in ALGORITHMS.iter().zip(best[1..].chunks(3)) {
        let [fwd, dx, dw] = [gf / times[0], gf / times[1], gf / times[2]];
        println!(
            "  {:<12} fwd {fwd:6.1} ({:3.0}%)  dx {dx:6.1} ({:3.0}%)  dw {dw:6.1} ({:3.0}%)",
            format!("{algo:?}"),
            100.0 * fwd / peak_gf,
            100.0 * dx / peak_gf,
            100.0 * dw / peak_gf
        );
    }
}

/// Auto (direct kernels where they apply) and the im2col + GEMM path, timed in the same
/// rounds.
const ALGORITHMS: [ConvAlgorithm; 2] = [ConvAlgorithm::Auto, ConvAlgorithm::Im2colGemm];

fn main() {
    let threads = rayon::current_num_threads();
    println!("f32 GFLOP/s; 'peak' = sgemm n=1024 on {threads} threads, timed interleaved");
    let only = std::env::args().nth(1).unwrap_or_default();
    let mut peak = Peak::new(1024);
    let shapes = [
        ("resnet 64->64 32x32 b32", geometry(32, 64, 64, 32, 3, 1)),
        (
            "resnet 128->128 16x16 b32",
            geometry(32, 128, 128, 16, 3, 1),
        ),
        ("resnet 256->256 8x8 b32", geometry(32, 256, 256, 8, 3, 1)),
        ("resnet 512->512 4x4 b32", geometry(32, 512, 512, 4, 3, 1)),
        ("resnet 64->64 32x32 b1", geometry(1, 64, 64, 32, 3, 1)),
        ("lenet 1->6 5x5 p2 28x28 b64", geometry(64, 1, 6, 28, 5, 2)),
        ("lenet 6->16 5x5 14x14 b64", geometry(64, 6, 16, 14, 5, 0)),
        ("1x1 256->64 16x16 b32", geometry(32, 256, 64, 16, 1, 0)),
        ("vgg 3->64 224x224 b8", geometry(8, 3, 64, 224, 3, 1)),
        ("vgg 64->64 224x224 b8", geometry(8, 64, 64, 224, 3, 1)),
    ];
    for (name, g) in shapes {
        if name.contains(&only) {
            bench(name, g, &mut peak);
        }
    }
}
