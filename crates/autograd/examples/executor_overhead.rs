//! Executor overhead and memory figures (run with `--release`):
//!
//! (a) a chain of 1,000 tiny ops: time per op;
//! (b) a LeNet-5 forward+backward step at batch 64: step time vs the sum of per-node kernel
//!     times measured by the executor's profiler (overhead = step − Σ kernels);
//! (c) the plan's peak memory for a ResNet-18 (CIFAR) training step at batch 32 vs the sum of
//!     all intermediate buffers (BatchNorm written as a mean/var composition).
//!
//! `cargo run --release -p convnet-autograd --example executor_overhead`

use std::time::{Duration, Instant};

use convnet_autograd::{
    Conv2dParams, Dim, Feeds, Graph, NodeId, ParamStore, Plan, Pool2dParams, Result, RunOptions,
    Shape, grad,
};
use convnet_tensor::Tensor;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn chain_of_tiny_ops() -> Result<()> {
    let mut g = Graph::<f32>::new();
    let x = g.input("x", [4])?;
    let mut v = x;
    for i in 0..1000 {
        v = if i % 2 == 0 { g.tanh(v)? } else { g.add(v, x)? };
    }
    let plan = Plan::compile(&g, &[v], None)?;
    let feeds = Feeds::new().with(x, Tensor::<f32>::ones(&[4]));
    let p = ParamStore::new();
    let mut times = Vec::new();
    for _ in 0..50 {
        let t = Instant::now();
        plan.run(&feeds, &p)?;
        times.push(t.elapsed());
    }
    let m = median(times);
    println!(
        "(a) chain of 1000 tiny ops: {:?} per run, {:.0} ns per op",
        m,
        m.as_nanos() as f64 / 1000.0
    );
    Ok(())
}

/// Cross-entropy loss of `logits` against `labels`.
fn cross_entropy(g: &mut Graph<f32>, logits: NodeId, labels: NodeId) -> Result<NodeId> {
    g.scope("loss", |g| {
        let lp = g.log_softmax(logits, 1)?;
        let picked = g.take_along_axis(lp, labels, 1)?;
        let m = g.mean(picked, &[], false)?;
        g.neg(m)
    })
}

fn param(
    g: &mut Graph<f32>,
    p: &mut ParamStore<f32>,
    name: &str,
    shape: &[usize],
) -> Result<NodeId> {
    let fan_in: usize = shape[1..].iter().product::<usize>().max(1);
    let bound = (1.0 / fan_in as f64).sqrt();
    let seed = p.len() as u64 + 1;
    p.insert(
        name,
        Tensor::uniform(shape, -bound, bound, seed).map_err(|e| {
            convnet_autograd::AutogradError::Tensor {
                op: "init",
                node: name.into(),
                source: e,
            }
        })?,
    )?;
    g.param(name, shape)
}

fn lenet_step() -> Result<()> {
    let mut g = Graph::<f32>::new();
    let mut p = ParamStore::new();
    let x = g.input("x", Shape::with_batch(&[1, 28, 28]))?;
    let labels = g.input("labels", Shape::from([Dim::Batch]))?;
    let pool = Pool2dParams::new(2, 2, 0);
    let c1w = param(&mut g, &mut p, "c1.weight", &[6, 1, 5, 5])?;
    let c1b = param(&mut g, &mut p, "c1.bias", &[6, 1, 1])?;
    let c2w = param(&mut g, &mut p, "c2.weight", &[16, 6, 5, 5])?;
    let c2b = param(&mut g, &mut p, "c2.bias", &[16, 1, 1])?;
    let f1w = param(&mut g, &mut p, "f1.weight", &[120, 400])?;
    let f1b = param(&mut g, &mut p, "f1.bias", &[120])?;
    let f2w = param(&mut g, &mut p, "f2.weight", &[84, 120])?;
    let f2b = param(&mut g, &mut p, "f2.bias", &[84])?;
    let f3w = param(&mut g, &mut p, "f3.weight", &[10, 84])?;
    let f3b = param(&mut g, &mut p, "f3.bias", &[10])?;
    let h = g.conv2d(x, c1w, Conv2dParams::new(1, 2))?;
    let h = g.add(h, c1b)?;
    let h = g.relu(h)?;
    let h = g.max_pool2d(h, pool)?;
    let h = g.conv2d(h, c2w, Conv2dParams::default())?;
    let h = g.add(h, c2b)?;
    let h = g.relu(h)?;
    let h = g.max_pool2d(h, pool)?;
    let h = g.flatten(h, 1)?;
    let h = g.linear(h, f1w, Some(f1b))?;
    let h = g.relu(h)?;
    let h = g.linear(h, f2w, Some(f2b))?;
    let h = g.relu(h)?;
    let logits = g.linear(h, f3w, Some(f3b))?;
    let loss = cross_entropy(&mut g, logits, labels)?;
    let params: Vec<NodeId> = g.params().into_iter().map(|(id, _)| id).collect();
    let grads = grad(&mut g, loss, &params)?;
    let mut outs = vec![loss];
    outs.extend(grads);
    let plan = Plan::compile(&g, &outs, Some(64))?;
    let xs = Tensor::<f32>::uniform(&[64, 1, 28, 28], 0.0, 1.0, 7).map_err(|e| {
        convnet_autograd::AutogradError::Tensor {
            op: "init",
            node: "x".into(),
            source: e,
        }
    })?;
    let ls = Tensor::<f32>::from_fn(&[64], |i| (i % 10) as f32);
    let feeds = Feeds::new().with(x, xs).with(labels, ls);
    let opts = RunOptions {
        profile: true,
        check_finite: false,
        ..RunOptions::default()
    };
    let (mut totals, mut kernels, mut plain) = (Vec::new(), Vec::new(), Vec::new());
    let mut last_profile = Vec::new();
    for _ in 0..7 {
        let out = plan.run_with(&feeds, &p, opts)?;
        totals.push(out.total);
        kernels.push(out.node_time());
        last_profile = out.timings;
        let t = Instant::now();
        plan.run(&feeds, &p)?;
        plain.push(t.elapsed());
    }
    let (total, kernel, unprofiled) = (median(totals), median(kernels), median(plain));
    let overhead = total.saturating_sub(kernel);
    println!(
        "(b) LeNet-5 fwd+bwd, batch 64: {} nodes, step {:?} (unprofiled {:?}), Σ kernels {:?}, overhead {:?} = {:.2} % of the step",
        plan.len(),
        total,
        unprofiled,
        kernel,
        overhead,
        100.0 * overhead.as_secs_f64() / total.as_secs_f64()
    );
    // The per-node profile: the slowest nodes, with the kernel each convolution pass chose.
    last_profile.sort_by_key(|t| std::cmp::Reverse(t.time));
    println!("    slowest nodes of the last profiled step:");
    for t in last_profile.iter().take(6) {
        let kernel = t.kernel.as_deref().unwrap_or("-");
        println!(
            "    {:>10.1?}  {:<20} {:<40} {kernel}",
            t.time, t.op, t.name
        );
    }
    Ok(())
}

/// BatchNorm (training mode) as a composition: (x − mean) / sqrt(var + ε) · γ + β.
fn batch_norm(
    g: &mut Graph<f32>,
    p: &mut ParamStore<f32>,
    x: NodeId,
    c: usize,
    name: &str,
) -> Result<NodeId> {
    let gamma = param(g, p, &format!("{name}.weight"), &[c, 1, 1])?;
    let beta = param(g, p, &format!("{name}.bias"), &[c, 1, 1])?;
    g.scope(name, |g| {
        let m = g.mean(x, &[0, 2, 3], true)?;
        let d = g.sub(x, m)?;
        let d2 = g.square(d)?;
        let v = g.mean(d2, &[0, 2, 3], true)?;
        let v = g.add_scalar(v, 1e-5)?;
        let r = g.rsqrt(v)?;
        let n = g.mul(d, r)?;
        let n = g.mul(n, gamma)?;
        g.add(n, beta)
    })
}

#[allow(clippy::too_many_arguments)] // a layer's hyper-parameters, spelled out
fn conv_bn(
    g: &mut Graph<f32>,
    p: &mut ParamStore<f32>,
    x: NodeId,
    cin: usize,
    cout: usize,
    k: usize,
    stride: usize,
    name: &str,
) -> Result<NodeId> {
    let w = param(g, p, &format!("{name}.conv.weight"), &[cout, cin, k, k])?;
    let c = g.scope(name, |g| g.conv2d(x, w, Conv2dParams::new(stride, k / 2)))?;
    batch_norm(g, p, c, cout, &format!("{name}.bn"))
}

fn resnet18_memory() -> Result<()> {
    let mut g = Graph::<f32>::new();
    let mut p = ParamStore::new();
    let x = g.input("x", Shape::with_batch(&[3, 32, 32]))?;
    let labels = g.input("labels", Shape::from([Dim::Batch]))?;
    let h = conv_bn(&mut g, &mut p, x, 3, 64, 3, 1, "stem")?;
    let mut h = g.relu(h)?;
    let mut cin = 64;
    for (stage, &c) in [64usize, 128, 256, 512].iter().enumerate() {
        for block in 0..2 {
            let stride = if stage > 0 && block == 0 { 2 } else { 1 };
            let name = format!("layer{}.{block}", stage + 1);
            let a = conv_bn(&mut g, &mut p, h, cin, c, 3, stride, &format!("{name}.1"))?;
            let a = g.relu(a)?;
            let b = conv_bn(&mut g, &mut p, a, c, c, 3, 1, &format!("{name}.2"))?;
            let short = if stride != 1 || cin != c {
                conv_bn(
                    &mut g,
                    &mut p,
                    h,
                    cin,
                    c,
                    1,
                    stride,
                    &format!("{name}.down"),
                )?
            } else {
                h
            };
            let s = g.add(b, short)?;
            h = g.relu(s)?;
            cin = c;
        }
    }
    let pooled = g.global_avg_pool2d(h)?;
    let fw = param(&mut g, &mut p, "fc.weight", &[10, 512])?;
    let fb = param(&mut g, &mut p, "fc.bias", &[10])?;
    let logits = g.linear(pooled, fw, Some(fb))?;
    let loss = cross_entropy(&mut g, logits, labels)?;
    let params: Vec<NodeId> = g.params().into_iter().map(|(id, _)| id).collect();
    let grads = grad(&mut g, loss, &params)?;
    let mut outs = vec![loss];
    outs.extend(grads);
    let plan = Plan::compile(&g, &outs, Some(32))?;
    let mib = |b: usize| b as f64 / (1 << 20) as f64;
    println!(
        "(c) ResNet-18 (CIFAR) training step, batch 32: {} nodes, {} in place; peak {:.1} MiB, arena (size-keyed free list) {:.1} MiB, sum of intermediates {:.1} MiB -> peak = {:.1} % of the sum (arena {:.1} %); params {:.1} MiB",
        plan.len(),
        plan.in_place_steps(),
        mib(plan.peak_bytes()),
        mib(plan.arena_bytes()),
        mib(plan.intermediate_bytes()),
        100.0 * plan.peak_bytes() as f64 / plan.intermediate_bytes() as f64,
        100.0 * plan.arena_bytes() as f64 / plan.intermediate_bytes() as f64,
        mib(p.num_trainable() * 4),
    );
    Ok(())
}

fn main() -> Result<()> {
    chain_of_tiny_ops()?;
    lenet_step()?;
    resnet18_memory()?;
    Ok(())
}
