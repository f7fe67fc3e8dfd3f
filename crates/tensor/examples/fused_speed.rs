//! BatchNorm's forward tail `relu((x − m)·s·γ + β)` on a ResNet-18 layer-1 activation
//! (32×64×32×32), run as five unfused passes and as one fused program, interleaved.
//!
//! `cargo run --release -p convnet-tensor --example fused_speed`

use std::time::Instant;

use convnet_tensor::Tensor;
use convnet_tensor::ops::fused::{FusedProgram, Instr, Pointwise};
use convnet_tensor::scalar::{Binary, Unary};

fn main() {
    let shape = [32, 64, 32, 32];
    let c = shape[1];
    let per_channel = |seed| {
        Tensor::<f32>::normal(&[1, c, 1, 1], 0.0, 1.0, seed)
            .unwrap()
            .broadcast_to(&shape)
            .unwrap()
    };
    let (m, s, g, b) = (
        per_channel(1),
        per_channel(2),
        per_channel(3),
        per_channel(4),
    );
    let x = Tensor::<f32>::normal(&shape, 0.0, 1.0, 5).unwrap();
    let bin = |op, a: usize, b: usize| Instr {
        op: Pointwise::Binary(op),
        args: vec![a, b],
    };
    let chain = |outputs: Vec<usize>| {
        FusedProgram::new(
            5,
            vec![
                bin(Binary::Sub, 0, 1),
                bin(Binary::Mul, 5, 2),
                bin(Binary::Mul, 6, 3),
                bin(Binary::Add, 7, 4),
                Instr {
                    op: Pointwise::Unary(Unary::Relu),
                    args: vec![8],
                },
            ],
            outputs,
        )
        .unwrap()
    };
    let one_out = chain(vec![9]);
    let four_out = chain(vec![5, 6, 8, 9]);
    let bytes = (x.numel() * 4) as f64;
    let rounds = 20;
    let (mut t_unfused, mut t_one, mut t_four) = (f64::MAX, f64::MAX, f64::MAX);
    for _ in 0..rounds {
        let t = Instant::now();
        let y = x
            .sub(&m)
            .unwrap()
            .mul(&s)
            .unwrap()
            .mul(&g)
            .unwrap()
            .add(&b)
            .unwrap()
            .relu();
        t_unfused = t_unfused.min(t.elapsed().as_secs_f64());
        std::hint::black_box(y);
        let t = Instant::now();
        std::hint::black_box(one_out.run(&[&x, &m, &s, &g, &b], &shape).unwrap());
        t_one = t_one.min(t.elapsed().as_secs_f64());
        let t = Instant::now();
        std::hint::black_box(four_out.run(&[&x, &m, &s, &g, &b], &shape).unwrap());
        t_four = t_four.min(t.elapsed().as_secs_f64());
    }
    let report = |what: &str, secs: f64, passes: f64| {
        println!(
            "{what:<34} {:7.2} ms  {:5.1} GB/s over {passes} tensor passes",
            secs * 1e3,
            passes * bytes / secs / 1e9
        )
    };
    println!(
        "best of {rounds} rounds, {} threads",
        rayon::current_num_threads()
    );
    report("unfused (5 ops, 10 passes)", t_unfused, 10.0);
    report("fused, 1 output (2 passes)", t_one, 2.0);
    report("fused, 4 outputs (5 passes)", t_four, 5.0);
}
