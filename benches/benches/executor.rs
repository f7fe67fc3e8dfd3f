//! The autograd executor's own cost: a chain of 1,000 tiny ops (time per op is pure executor
//! overhead), and a whole LeNet-5 training step (forward, loss, every gradient as one plan) at
//! batch 64. The split of that step into kernel time and overhead, and the plan's peak memory
//! for a ResNet-18 step, are printed by
//! `cargo run --release -p convnet-autograd --example executor_overhead`.

use std::hint::black_box;

use convnet_autograd::{Feeds, Graph, ParamStore, Plan};
use convnet_nn::{CrossEntropyLoss, Tensor};
use convnet_zoo::ZooConfig;
use criterion::{Criterion, criterion_group, criterion_main};

fn chain(c: &mut Criterion) {
    let mut g = Graph::<f32>::new();
    let x = g.input("x", [4]).unwrap();
    let mut v = x;
    for i in 0..1000 {
        v = if i % 2 == 0 {
            g.tanh(v).unwrap()
        } else {
            g.add(v, x).unwrap()
        };
    }
    let plan = Plan::compile(&g, &[v], None).unwrap();
    let feeds = Feeds::new().with(x, Tensor::<f32>::ones(&[4]));
    let params = ParamStore::new();
    c.bench_function("executor/chain_1000_tiny_ops", |b| {
        b.iter(|| black_box(plan.run(&feeds, &params).unwrap()))
    });
}

fn lenet_step(c: &mut Criterion) {
    let model = convnet_zoo::build::<f32>("lenet5", &ZooConfig::default()).unwrap();
    let mut params = model.init_params(0).unwrap();
    let mut step = model.train_step(CrossEntropyLoss::new(), 0).unwrap();
    let x = Tensor::<f32>::normal(&[64, 1, 28, 28], 0.0, 1.0, 1).unwrap();
    let y: Vec<usize> = (0..64).map(|i| i % 10).collect();
    let mut g = c.benchmark_group("executor");
    g.sample_size(20);
    g.bench_function("lenet5_train_step_b64", |b| {
        b.iter(|| black_box(step.run(&mut params, &x, &y).unwrap().loss))
    });
    g.finish();
}

criterion_group!(benches, chain, lenet_step);
criterion_main!(benches);
