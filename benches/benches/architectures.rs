//! Every zoo architecture head to head: forward and forward+backward time per image, with
//! parameters and multiply-accumulates per image, printed as one table at the end.
//!
//! - CIFAR size: every model at 3×32×32, batch 32, 10 classes (models whose smallest input
//!   is larger — both AlexNets, published GoogLeNet — are listed as such).
//! - ImageNet size (set `CONVNET_BENCH_IMAGENET=1`): the ImageNet models at 224×224 (227 for
//!   the published AlexNet), batch 1 and 8, 1000 classes. Off by default: VGG forward+backward
//!   at batch 8 takes many seconds per step on a small machine.
//!
//! Each row is timed with a plain loop (one warm-up step, then steps until about a second has
//! passed, at most 10), so a 30-second VGG step does not turn into ten criterion samples.
//! The cheap CIFAR models (< 3 GMAC per step) are also measured by criterion, in groups
//! `cifar32/<model>` with `forward` and `forward_backward`. `CONVNET_BENCH_MODELS=a,b` limits
//! the run to some models. Forward+backward is one training step without the optimizer:
//! forward, loss (with GoogLeNet's auxiliary heads), every parameter's gradient.

use std::hint::black_box;
use std::time::{Duration, Instant};

use convnet_nn::{Inference, Model, ParamStore, Tensor, TrainStep};
use convnet_zoo::{AuxClassifierLoss, MODELS, ZooConfig, ZooError, build};
use criterion::Criterion;

struct Row {
    model: &'static str,
    input: String,
    batch: usize,
    params: usize,
    macs: u64,
    /// Milliseconds per image, or why the row was not run.
    times: Result<(f64, f64), String>,
}

struct Case {
    params: ParamStore<f32>,
    inference: Inference<f32>,
    step: TrainStep<f32>,
    x: Tensor<f32>,
    y: Vec<usize>,
}

impl Case {
    fn new(model: &Model<f32>, batch: usize, classes: usize) -> Self {
        let params = model.init_params(0).expect("init");
        let inference = model.inference().expect("inference");
        let step = model
            .train_step(AuxClassifierLoss::new(), 1)
            .expect("train step");
        let mut shape = vec![batch];
        shape.extend_from_slice(model.input_shape());
        let x = Tensor::<f32>::normal(&shape, 0.0, 1.0, 2).expect("input");
        let y: Vec<usize> = (0..batch).map(|i| i % classes).collect();
        Case {
            params,
            inference,
            step,
            x,
            y,
        }
    }
    fn forward(&mut self) {
        black_box(
            self.inference
                .forward(&self.params, &self.x)
                .expect("forward"),
        );
    }
    fn forward_backward(&mut self) {
        black_box(
            self.step
                .run(&mut self.params, &self.x, &self.y)
                .expect("step"),
        );
    }
}

/// Seconds per call of `f`: one warm-up, then calls until ~1 s has passed (at most 10).
fn time(mut f: impl FnMut()) -> f64 {
    f();
    let (start, mut n) = (Instant::now(), 0u32);
    while n < 10 && (n == 0 || start.elapsed() < Duration::from_secs(1)) {
        f();
        n += 1;
    }
    start.elapsed().as_secs_f64() / f64::from(n)
}

fn selected(name: &str) -> bool {
    match std::env::var("CONVNET_BENCH_MODELS") {
        Ok(list) => list.split(',').any(|m| m.trim() == name),
        Err(_) => true,
    }
}

fn row(c: &mut Criterion, name: &'static str, cfg: ZooConfig, batch: usize) -> Row {
    let classes = cfg.classes.unwrap_or(1000);
    let input = cfg.input;
    let label = input.map(convnet_zoo::chw).unwrap_or_default();
    let model = match build::<f32>(name, &cfg) {
        Ok(m) => m,
        Err(e) => {
            let why = match e {
                ZooError::InputTooSmall { smallest, .. } => format!("needs ≥ {smallest}"),
                e => e.to_string(),
            };
            return Row {
                model: name,
                input: label,
                batch,
                params: 0,
                macs: 0,
                times: Err(why),
            };
        }
    };
    let macs = model.summary(1).map(|s| s.total_macs).unwrap_or(0);
    let params = model.num_params();
    let mut case = Case::new(&model, batch, classes);
    let fwd = time(|| case.forward());
    let fb = time(|| case.forward_backward());
    if macs * batch as u64 * 3 < 3_000_000_000 && label.ends_with("32×32") {
        let mut g = c.benchmark_group(format!("cifar32/{name}"));
        g.sample_size(10)
            .warm_up_time(Duration::from_millis(300))
            .measurement_time(Duration::from_secs(2));
        g.bench_function("forward", |b| b.iter(|| case.forward()));
        g.bench_function("forward_backward", |b| b.iter(|| case.forward_backward()));
        g.finish();
    }
    let per = |s: f64| s * 1e3 / batch as f64;
    Row {
        model: name,
        input: label,
        batch,
        params,
        macs,
        times: Ok((per(fwd), per(fb))),
    }
}

fn fmt_count(n: u64) -> String {
    match n {
        0 => "–".into(),
        n if n >= 1_000_000_000 => format!("{:.2} G", n as f64 / 1e9),
        n if n >= 1_000_000 => format!("{:.2} M", n as f64 / 1e6),
        n => format!("{:.1} K", n as f64 / 1e3),
    }
}

fn print_table(rows: &[Row]) {
    println!();
    println!(
        "| model | input | batch | params | MACs/image | forward ms/image | fwd+bwd ms/image |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|");
    for r in rows {
        let (f, b) = match &r.times {
            Ok((f, b)) => (format!("{f:.3}"), format!("{b:.3}")),
            Err(why) => (why.clone(), "–".into()),
        };
        println!(
            "| {} | {} | {} | {} | {} | {f} | {b} |",
            r.model,
            r.input,
            r.batch,
            fmt_count(r.params as u64),
            fmt_count(r.macs)
        );
    }
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    let mut rows = Vec::new();
    for m in MODELS.iter().filter(|m| selected(m.name)) {
        let cfg = ZooConfig::default().classes(10).input([3, 32, 32]);
        rows.push(row(&mut c, m.name, cfg, 32));
    }
    if std::env::var("CONVNET_BENCH_IMAGENET").is_ok_and(|v| v == "1") {
        for m in MODELS
            .iter()
            .filter(|m| selected(m.name) && m.default_input[1] >= 224)
        {
            for batch in [1, 8] {
                let cfg = ZooConfig::default().classes(1000).input(m.default_input);
                rows.push(row(&mut c, m.name, cfg, batch));
            }
        }
    }
    print_table(&rows);
    c.final_summary();
}
