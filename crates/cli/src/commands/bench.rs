//! `convnet bench`: how fast a zoo model trains and infers on this machine.
//!
//! The data is random (seeded), so nothing needs downloading and architectures compare on
//! equal terms. A training step is what `convnet train` runs: forward, loss, every gradient and
//! an SGD update (lr 0.01). Every figure is the median over repeated runs after two warm-up
//! runs, which compile the plans and fill the allocator.

use std::time::{Duration, Instant};

use convnet_nn::autograd::{
    BinaryOp, CmpOp, ConvOp, FUSED_OP, IndexOp, MatMulOp, MoveOp, NodeTiming, Op, PoolOp, ReduceOp,
    RunOptions, SelectOp, SoftmaxOp, UnaryOp,
};
use convnet_nn::summary::fmt_bytes;
use convnet_nn::{Graph, Model, NodeId, Tensor, TrainStep};
use convnet_optim::{Optimizer, Sgd, SgdConfig};

use crate::Failure;
use crate::args::BenchArgs;
use crate::commands::summary::parse_input;
use crate::commands::train::{build_model, rayon_threads};

pub fn run(args: BenchArgs) -> Result<(), Failure> {
    if let Some(t) = args.threads {
        rayon_threads(t)?;
    }
    if args.batch_size == 0 {
        return Err(Failure::usage("--batch-size must be at least 1"));
    }
    if !(args.seconds > 0.0 && args.seconds <= 3600.0) {
        return Err(Failure::usage(format!(
            "--seconds {}: must be more than 0 and at most 3600",
            args.seconds
        )));
    }
    let input = args.input.as_deref().map(parse_input).transpose()?;
    let model = build_model(&args.model, args.classes, input)?;
    let batch = args.batch_size;
    let budget = Duration::from_secs_f64(args.seconds);
    let shape = model.input_shape().to_vec();
    let classes = model.num_classes().unwrap_or(1).max(1);
    println!(
        "{}: {} parameters, input {}, {classes} classes, {} threads",
        args.model,
        group(model.num_params()),
        shape
            .iter()
            .map(|d| d.to_string())
            .collect::<Vec<_>>()
            .join("×"),
        rayon::current_num_threads()
    );

    let precision = args.precision.announced();
    let mut trainer = Trainer::new(&model, batch, classes)?;
    trainer.step.set_precision(precision);
    trainer.step.set_run_options(RunOptions {
        unfused: args.no_fusion,
        ..trainer.step.run_options()
    });
    let peak = trainer.step.peak_bytes(batch).map_err(Failure::run)?;
    // Two steps compile the plans first, so the allocation count is of steady-state steps.
    trainer.step(false)?;
    trainer.step(false)?;
    let mut steps = 0u64;
    let before = crate::alloc_count::totals();
    let step_time = median_of(budget, || {
        steps += 1;
        trainer.step(false).map(|_| ())
    })?;
    let after = crate::alloc_count::totals();
    println!(
        "train: {:.1} img/s (batch {batch}, median step {:.2} ms, SGD lr 0.01)",
        batch as f64 / step_time.as_secs_f64(),
        ms(step_time)
    );

    let mut inference = model.inference().map_err(Failure::run)?;
    inference.set_run_options(RunOptions {
        precision,
        unfused: args.no_fusion,
        ..RunOptions::default()
    });
    let params = model.init_params(0).map_err(Failure::run)?;
    let infer_at = |b: usize| -> Result<Duration, Failure> {
        let x = random_batch(&shape, b, 2)?;
        median_of(budget / 2, || {
            inference
                .forward(&params, &x)
                .map(|_| ())
                .map_err(Failure::run)
        })
    };
    let one = infer_at(1)?;
    let many = if batch > 1 {
        Some(infer_at(batch)?)
    } else {
        None
    };
    match many {
        Some(t) => println!(
            "infer: {:.3} ms at batch 1, {:.2} ms at batch {batch} ({:.1} img/s)",
            ms(one),
            ms(t),
            batch as f64 / t.as_secs_f64()
        ),
        None => println!("infer: {:.3} ms at batch 1", ms(one)),
    }
    println!(
        "planned peak of a training step at batch {batch}: {} of activations and gradients",
        fmt_bytes(peak as u64)
    );
    let steps = steps.max(1);
    println!(
        "allocated per training step: {} allocations, {}",
        group(((after.0 - before.0) / steps) as usize),
        fmt_bytes((after.1 - before.1) / steps)
    );
    if args.profile {
        trainer.profile(budget)?;
    }
    Ok(())
}

/// A model's training step with its parameters, optimizer and one random batch.
struct Trainer {
    step: TrainStep<f32>,
    params: convnet_nn::ParamStore<f32>,
    sgd: Sgd<f32>,
    x: Tensor<f32>,
    labels: Vec<usize>,
}

impl Trainer {
    fn new(model: &Model<f32>, batch: usize, classes: usize) -> Result<Self, Failure> {
        Ok(Trainer {
            step: model
                .train_step(convnet_zoo::AuxClassifierLoss::new(), 0)
                .map_err(Failure::run)?,
            params: model.init_params(0).map_err(Failure::run)?,
            sgd: Sgd::new(SgdConfig::new(0.01)).map_err(Failure::run)?,
            x: random_batch(model.input_shape(), batch, 1)?,
            labels: (0..batch).map(|i| i % classes).collect(),
        })
    }

    /// One training step; with `profile`, the per-node times, the plan's run time and the
    /// optimizer's time.
    fn step(&mut self, profile: bool) -> Result<(Vec<NodeTiming>, Duration, Duration), Failure> {
        self.step.set_run_options(RunOptions {
            profile,
            ..self.step.run_options()
        });
        let out = self
            .step
            .run(&mut self.params, &self.x, &self.labels)
            .map_err(Failure::run)?;
        let t = Instant::now();
        self.sgd
            .step(&mut self.params, &out.grads)
            .map_err(Failure::run)?;
        Ok((out.timings, out.run_time, t.elapsed()))
    }

    /// Profiles steps for `budget` and prints where a step's time goes.
    fn profile(&mut self, budget: Duration) -> Result<(), Failure> {
        let graph = &self.step.graph().graph;
        let kinds: Vec<&'static str> = graph.node_ids().map(|id| op_kind(graph, id)).collect();
        let mut shares: Vec<(&'static str, Duration)> = Vec::new();
        let mut slowest: Vec<NodeTiming> = Vec::new();
        let (mut total, mut steps) = (Duration::ZERO, 0u32);
        let start = Instant::now();
        while steps < 3 || start.elapsed() < budget {
            let (timings, run_time, optimizer) = self.step(true)?;
            let mut node_sum = Duration::ZERO;
            for t in &timings {
                node_sum += t.time;
                let kind = if t.op == FUSED_OP {
                    "elementwise (fused)"
                } else {
                    kinds.get(t.node.index()).unwrap_or(&"other")
                };
                add_share(&mut shares, kind, t.time);
            }
            add_share(
                &mut shares,
                "executor overhead",
                run_time.saturating_sub(node_sum),
            );
            add_share(&mut shares, "optimizer (SGD update)", optimizer);
            total += run_time + optimizer;
            slowest = timings;
            steps += 1;
        }
        self.step.set_run_options(RunOptions {
            profile: false,
            ..self.step.run_options()
        });
        shares.sort_by_key(|(_, d)| std::cmp::Reverse(*d));
        println!(
            "profile of {steps} training steps ({:.2} ms per step as profiled):",
            ms(total / steps)
        );
        for (kind, d) in &shares {
            println!(
                "  {kind:<26} {:>9.2} ms  {:>5.1} %",
                ms(*d / steps),
                100.0 * d.as_secs_f64() / total.as_secs_f64()
            );
        }
        slowest.sort_by_key(|t| std::cmp::Reverse(t.time));
        // The slowest nodes, then the slowest fused groups not already among them.
        let top = 8.min(slowest.len());
        let shown = slowest[..top]
            .iter()
            .chain(slowest[top..].iter().filter(|t| t.op == FUSED_OP).take(5));
        println!("slowest nodes of the last step:");
        for t in shown {
            println!(
                "  {:>9.3} ms  {:<20} {:<44} {}",
                ms(t.time),
                t.op,
                t.name,
                t.kernel.as_deref().unwrap_or("")
            );
        }
        Ok(())
    }
}

fn add_share(shares: &mut Vec<(&'static str, Duration)>, kind: &'static str, d: Duration) {
    match shares.iter_mut().find(|(k, _)| *k == kind) {
        Some((_, total)) => *total += d,
        None => shares.push((kind, d)),
    }
}

/// The kind of work a node does, from its op's type.
fn op_kind(graph: &Graph<f32>, id: NodeId) -> &'static str {
    let Ok(node) = graph.node(id) else {
        return "other";
    };
    let op = &node.op;
    if op.is_leaf() {
        return match op {
            Op::Fill(_) => "fill (zeros, seeds)",
            _ => "inputs and parameters",
        };
    }
    if op.rule_as::<ConvOp>().is_some() {
        "convolution"
    } else if op.rule_as::<MatMulOp>().is_some() {
        "matmul"
    } else if op.rule_as::<PoolOp>().is_some() {
        "pooling"
    } else if op.rule_as::<UnaryOp>().is_some()
        || op.rule_as::<BinaryOp>().is_some()
        || op.rule_as::<CmpOp>().is_some()
        || op.rule_as::<SelectOp>().is_some()
    {
        "elementwise"
    } else if op.rule_as::<ReduceOp>().is_some() || op.rule_as::<SoftmaxOp>().is_some() {
        "reduction and softmax"
    } else if op.rule_as::<MoveOp>().is_some() {
        "movement (copies, views)"
    } else if op.rule_as::<IndexOp>().is_some() {
        "gather and scatter"
    } else {
        "other"
    }
}

/// The median time of `f` over repeated runs for about `budget`, after two warm-up runs (at
/// least three timed runs).
fn median_of(
    budget: Duration,
    mut f: impl FnMut() -> Result<(), Failure>,
) -> Result<Duration, Failure> {
    f()?;
    f()?;
    let mut times = Vec::new();
    let start = Instant::now();
    while times.len() < 3 || start.elapsed() < budget {
        let t = Instant::now();
        f()?;
        times.push(t.elapsed());
    }
    times.sort();
    Ok(times[times.len() / 2])
}

fn random_batch(shape: &[usize], batch: usize, seed: u64) -> Result<Tensor<f32>, Failure> {
    let mut dims = vec![batch];
    dims.extend_from_slice(shape);
    Tensor::normal(&dims, 0.0, 1.0, seed).map_err(Failure::run)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// `11173962` → `11,173,962`.
fn group(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
