//! `Tensor::matmul` against the `gemm` crate called directly, timed interleaved.
//!
//! `cargo run -p convnet-tensor --release --example matmul_speed`
//!
//! Criterion measures the two sides one after the other, so on a shared VM a burst of
//! interference can land on either and the ratio swings by ±15 %. Here every round times
//! both once, back to back on the same input buffers (each allocating its output, as
//! `matmul` must), and the best round of each is kept: interference only ever adds time,
//! so the two minima compare like with like. Informational only: nothing asserts a timing.

use std::hint::black_box;
use std::time::Instant;

use convnet_tensor::Tensor;

const ROUNDS: usize = 40;

fn direct(n: usize, a: &[f32], b: &[f32]) -> Vec<f32> {
    let mut dst = vec![0f32; n * n];
    assert!(
        a.len() >= n * n && b.len() >= n * n,
        "operands hold n×n elements"
    );
    // SAFETY: the assert above and `dst`'s length make all three buffers hold n×n row-major
    // elements (n > 0 in this example), `dst` is a fresh Vec aliasing neither operand, and its
    // dense row-major strides give every output index its own element.
    unsafe {
        gemm::gemm(
            n,
            n,
            n,
            dst.as_mut_ptr(),
            1,
            n as isize,
            false,
            a.as_ptr(),
            1,
            n as isize,
            b.as_ptr(),
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
    dst
}

fn main() {
    println!(
        "f32, {} threads, best of {ROUNDS} interleaved rounds",
        rayon::current_num_threads()
    );
    println!("| n | ours GFLOP/s | gemm direct GFLOP/s | ours / direct |");
    println!("|---:|---:|---:|---:|");
    for n in [128usize, 256, 512, 1024, 2048] {
        let a = Tensor::<f32>::normal(&[n, n], 0.0, 1.0, 1).unwrap();
        let b = Tensor::<f32>::normal(&[n, n], 0.0, 1.0, 2).unwrap();
        let (sa, sb) = (a.to_vec(), b.to_vec());
        let rounds = if n >= 2048 { ROUNDS / 2 } else { ROUNDS };
        let (mut ours, mut theirs) = (f64::INFINITY, f64::INFINITY);
        for round in 0..=rounds {
            let t = Instant::now();
            black_box(a.matmul(&b).unwrap());
            let t_ours = t.elapsed().as_secs_f64();
            let t = Instant::now();
            black_box(direct(n, &sa, &sb));
            let t_direct = t.elapsed().as_secs_f64();
            if round > 0 {
                ours = ours.min(t_ours);
                theirs = theirs.min(t_direct);
            }
        }
        let gf = 2.0 * (n as f64).powi(3) / 1e9;
        println!(
            "| {n} | {:.1} | {:.1} | {:.3} |",
            gf / ours,
            gf / theirs,
            theirs / ours
        );
    }
}
