//! Convolution in all three directions on real layer shapes, with the GEMM peak measured in
//! the same run so the ratio (conv GFLOP/s ÷ sgemm GFLOP/s) is meaningful on a noisy machine:
//! - LeNet-5 at batch 64 (1→6 5×5 pad 2 on 28×28; 6→16 5×5 on 14×14);
//! - ResNet-18 for CIFAR at batch 32 (3×3 pad 1: 64→64 @32², 128→128 @16², 256→256 @8²,
//!   512→512 @4²);
//! - VGG-16's first block at batch 8 (3→64 and 64→64, 3×3 pad 1 @224²).
//!
//! Criterion reports each as elements/s where one element is one floating-point operation,
//! i.e. FLOP/s. `peak/sgemm_1024` is the yardstick.

use std::hint::black_box;

use convnet_tensor::{Conv2dParams, Tensor};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

struct Shape {
    name: &'static str,
    batch: usize,
    cin: usize,
    cout: usize,
    hw: usize,
    k: usize,
    pad: usize,
}

const SHAPES: &[Shape] = &[
    Shape {
        name: "lenet_c1_b64",
        batch: 64,
        cin: 1,
        cout: 6,
        hw: 28,
        k: 5,
        pad: 2,
    },
    Shape {
        name: "lenet_c3_b64",
        batch: 64,
        cin: 6,
        cout: 16,
        hw: 14,
        k: 5,
        pad: 0,
    },
    Shape {
        name: "resnet_64_b32",
        batch: 32,
        cin: 64,
        cout: 64,
        hw: 32,
        k: 3,
        pad: 1,
    },
    Shape {
        name: "resnet_128_b32",
        batch: 32,
        cin: 128,
        cout: 128,
        hw: 16,
        k: 3,
        pad: 1,
    },
    Shape {
        name: "resnet_256_b32",
        batch: 32,
        cin: 256,
        cout: 256,
        hw: 8,
        k: 3,
        pad: 1,
    },
    Shape {
        name: "resnet_512_b32",
        batch: 32,
        cin: 512,
        cout: 512,
        hw: 4,
        k: 3,
        pad: 1,
    },
    Shape {
        name: "vgg_3_64_b8",
        batch: 8,
        cin: 3,
        cout: 64,
        hw: 224,
        k: 3,
        pad: 1,
    },
    Shape {
        name: "vgg_64_64_b8",
        batch: 8,
        cin: 64,
        cout: 64,
        hw: 224,
        k: 3,
        pad: 1,
    },
];

fn peak(c: &mut Criterion) {
    let n = 1024;
    let a = Tensor::<f32>::normal(&[n, n], 0.0, 1.0, 1).unwrap();
    let b = Tensor::<f32>::normal(&[n, n], 0.0, 1.0, 2).unwrap();
    let mut g = c.benchmark_group("peak");
    g.sample_size(10);
    g.throughput(Throughput::Elements((2 * n * n * n) as u64));
    g.bench_function("sgemm_1024", |bench| {
        bench.iter(|| black_box(a.matmul(&b).unwrap()))
    });
    g.finish();
}

fn conv(c: &mut Criterion) {
    let mut g = c.benchmark_group("conv2d");
    g.sample_size(10);
    for s in SHAPES {
        let p = Conv2dParams::new(1, s.pad);
        let x = Tensor::<f32>::normal(&[s.batch, s.cin, s.hw, s.hw], 0.0, 1.0, 1).unwrap();
        let w = Tensor::<f32>::normal(&[s.cout, s.cin, s.k, s.k], 0.0, 0.1, 2).unwrap();
        let geom = p.geometry("bench", x.shape(), w.shape()).unwrap();
        let y = x.conv2d(&w, p).unwrap();
        g.throughput(Throughput::Elements(geom.flops()));
        g.bench_with_input(BenchmarkId::new("forward", s.name), &(), |bench, _| {
            bench.iter(|| black_box(x.conv2d(&w, p).unwrap()))
        });
        g.bench_with_input(BenchmarkId::new("input_grad", s.name), &(), |bench, _| {
            bench.iter(|| black_box(Tensor::conv2d_input_grad(&y, &w, [s.hw, s.hw], p).unwrap()))
        });
        g.bench_with_input(BenchmarkId::new("weight_grad", s.name), &(), |bench, _| {
            bench.iter(|| black_box(Tensor::conv2d_weight_grad(&x, &y, [s.k, s.k], p).unwrap()))
        });
    }
    g.finish();
}

criterion_group!(benches, peak, conv);
criterion_main!(benches);
