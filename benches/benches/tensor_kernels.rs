//! Tensor kernels against their yardsticks, measured in one run so ratios are meaningful on a
//! noisy machine:
//! - `matmul/ours/n` vs `matmul/gemm_direct/n`: our `Tensor::matmul` against the `gemm` crate
//!   called directly on the same buffers (target: ours ≥ 95 % of direct);
//! - `elementwise/{add,relu}` vs `elementwise/copy` on 16 M floats (target: within 1.5× of a
//!   plain copy of the same bytes).

use std::hint::black_box;

use convnet_tensor::Tensor;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

fn matmul(c: &mut Criterion) {
    let mut group = c.benchmark_group("matmul");
    group.sample_size(10);
    for n in [128usize, 256, 512, 1024, 2048] {
        let a = Tensor::<f32>::normal(&[n, n], 0.0, 1.0, 1).unwrap();
        let b = Tensor::<f32>::normal(&[n, n], 0.0, 1.0, 2).unwrap();
        group.throughput(Throughput::Elements((2 * n * n * n) as u64));
        group.bench_with_input(BenchmarkId::new("ours", n), &n, |bench, _| {
            bench.iter(|| black_box(a.matmul(&b).unwrap()))
        });
        let (sa, sb) = (a.to_vec(), b.to_vec());
        group.bench_with_input(BenchmarkId::new("gemm_direct", n), &n, |bench, _| {
            bench.iter(|| {
                let mut dst = vec![0f32; n * n];
                // SAFETY: all three buffers are n×n row-major and live for the call.
                unsafe {
                    gemm::gemm(
                        n,
                        n,
                        n,
                        dst.as_mut_ptr(),
                        1,
                        n as isize,
                        false,
                        sa.as_ptr(),
                        1,
                        n as isize,
                        sb.as_ptr(),
                        1,
                        n as isize,
                        0.0,
                        1.0,
                        false,
                        false,
                        false,
                        gemm::Parallelism::Rayon(rayon::current_num_threads()),
                    );
                }
                black_box(dst)
            })
        });
    }
    group.finish();
}

fn elementwise(c: &mut Criterion) {
    const N: usize = 16 << 20;
    let mut group = c.benchmark_group("elementwise");
    group.sample_size(10);
    group.throughput(Throughput::Elements(N as u64));
    let x = Tensor::<f32>::normal(&[N], 0.0, 1.0, 1).unwrap();
    let y = Tensor::<f32>::normal(&[N], 0.0, 1.0, 2).unwrap();
    group.bench_function("copy", |b| b.iter(|| black_box(x.to_vec())));
    group.bench_function("add", |b| b.iter(|| black_box(x.add(&y).unwrap())));
    group.bench_function("relu", |b| b.iter(|| black_box(x.relu())));
    group.finish();
}

criterion_group!(benches, matmul, elementwise);
criterion_main!(benches);
