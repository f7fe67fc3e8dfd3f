//! Throughput of the bf16 GEMM kernels (AMX, AVX512-BF16) beside the f32 `gemm` crate.
//!
//! `cargo run -p convnet-tensor --release --example bf16_gemm_speed`
//!
//! For convolution-like shapes (`[K, C·9] · [C·9, N·H·W]` of the CIFAR ResNet stages) and a
//! square one, prints GFLOP/s of the f32 product and of each bf16 kernel this CPU runs, on one
//! thread and on the whole pool. Rounds are interleaved and the best of each kept (noise on a
//! shared machine only ever adds time). Informational only: nothing here asserts a timing.

use std::time::Instant;

use convnet_tensor::kernels::bf16::{Bf16Kernel, support};
use convnet_tensor::kernels::gemm::{MatMut, MatRef, gemm_into, gemm_into_bf16};

const ROUNDS: usize = 15;

fn data(len: usize, seed: usize) -> Vec<f32> {
    (0..len)
        .map(|i| (((i * 2654435761 + seed) % 1000) as f32) / 1000.0 - 0.5)
        .collect()
}

fn main() {
    let kernels: Vec<Bf16Kernel> = Bf16Kernel::ALL
        .into_iter()
        .filter(|&k| match support(k) {
            Ok(()) => true,
            Err(why) => {
                println!("{}: not run ({why})", k.describe());
                false
            }
        })
        .collect();
    let shapes = [
        ("stage1 fwd 64×576×4096", 64, 4096, 576),
        ("stage2 fwd 128×1152×1024", 128, 1024, 1152),
        ("stage3 fwd 256×2304×256", 256, 256, 2304),
        ("stage4 fwd 512×4608×64", 512, 64, 4608),
        ("wgrad 64×4096×576", 64, 576, 4096),
        ("square 1024", 1024, 1024, 1024),
    ];
    let mut header = "| shape | threads | f32 GFLOP/s |".to_string();
    for k in &kernels {
        header += &format!(" {} | × f32 |", k.describe());
    }
    println!("{header}");
    for (name, m, n, k) in shapes {
        let (a, b) = (data(m * k, 1), data(k * n, 2));
        let mut c = vec![0.0f32; m * n];
        let flop = 2.0 * (m * n * k) as f64;
        for parallel in [false, true] {
            let mut best = vec![f64::INFINITY; 1 + kernels.len()];
            for _ in 0..ROUNDS {
                for (slot, best) in best.iter_mut().enumerate() {
                    let t = Instant::now();
                    let mut dst = MatMut::row_major(&mut c, m, n);
                    let (l, r) = (MatRef::row_major(&a, m, k), MatRef::row_major(&b, k, n));
                    if slot == 0 {
                        gemm_into(&mut dst, l, r, false, parallel);
                    } else {
                        gemm_into_bf16(&mut dst, l, r, false, parallel, kernels[slot - 1]).unwrap();
                    }
                    *best = best.min(t.elapsed().as_secs_f64());
                }
            }
            let threads = if parallel {
                rayon::current_num_threads()
            } else {
                1
            };
            let f32_rate = flop / best[0] / 1e9;
            let mut row = format!("| {name} | {threads} | {f32_rate:.0} |");
            for &t in &best[1..] {
                let rate = flop / t / 1e9;
                row += &format!(" {rate:.0} | {:.2} |", rate / f32_rate);
            }
            println!("{row}");
        }
    }
}
