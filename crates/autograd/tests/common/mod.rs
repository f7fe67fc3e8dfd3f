//! Shared helpers for the gradient-check tests: input domains and a one-call checker.
#![allow(dead_code)]

use convnet_autograd::{
    Feeds, GradCheckConfig, Graph, NodeId, ParamStore, Result, check_gradients,
};
use convnet_tensor::Tensor;

/// Where an op's inputs are drawn from (avoiding kinks and poles for finite differences).
#[derive(Debug, Clone, Copy)]
pub enum Domain {
    /// Uniform in [lo, hi].
    Range(f64, f64),
    /// |x| in [0.2, 2] with random sign (away from the kink at 0).
    AwayFromZero,
    /// Distinct values at least 0.05 apart (for max/min and max-pooling).
    Distinct,
}

pub fn sample(shape: &[usize], d: Domain, seed: u64) -> Tensor<f64> {
    let u = Tensor::<f64>::uniform(shape, 0.0, 1.0, seed)
        .unwrap()
        .to_vec();
    let n = u.len();
    let v: Vec<f64> = match d {
        Domain::Range(lo, hi) => u.iter().map(|x| lo + (hi - lo) * x).collect(),
        Domain::AwayFromZero => u
            .iter()
            .map(|x| {
                if *x < 0.5 {
                    -0.2 - 3.6 * x
                } else {
                    0.2 + 3.6 * (x - 0.5)
                }
            })
            .collect(),
        Domain::Distinct => {
            let mut idx: Vec<usize> = (0..n).collect();
            idx.sort_by(|&a, &b| u[a].total_cmp(&u[b]));
            let mut v = vec![0.0; n];
            for (rank, &i) in idx.iter().enumerate() {
                v[i] = (rank as f64 - n as f64 / 2.0) * 0.1;
            }
            v
        }
    };
    Tensor::from_vec(v, shape).unwrap()
}

/// Feeds a value as a non-contiguous view (transposed storage) when `strided` and rank ≥ 2.
pub fn maybe_strided(t: Tensor<f64>, strided: bool) -> Tensor<f64> {
    let r = t.rank();
    if !strided || r < 2 {
        return t;
    }
    let view = t
        .transpose(r - 2, r - 1)
        .unwrap()
        .contiguous()
        .transpose(r - 2, r - 1)
        .unwrap();
    assert!(!view.is_contiguous() || t.shape()[r - 1] == 1 || t.shape()[r - 2] == 1);
    view
}

/// Builds `op` over fresh inputs of the given shapes/domains and checks first (and optionally
/// second) order gradients w.r.t. every input.
pub fn check_op(
    name: &str,
    inputs: &[(Vec<usize>, Domain)],
    build: impl Fn(&mut Graph<f64>, &[NodeId]) -> Result<NodeId>,
    tol: f64,
    second_order: bool,
    strided: bool,
    seed: u64,
) {
    let mut g = Graph::<f64>::new();
    let mut feeds = Feeds::new();
    let mut xs = Vec::new();
    for (i, (shape, d)) in inputs.iter().enumerate() {
        let x = g.input(&format!("x{i}"), shape.as_slice()).unwrap();
        feeds.insert(
            x,
            maybe_strided(sample(shape, *d, seed + i as u64), strided),
        );
        xs.push(x);
    }
    let y = build(&mut g, &xs).unwrap_or_else(|e| panic!("{name}: building failed: {e}"));
    let cfg = GradCheckConfig {
        rtol: tol,
        atol: tol * 1e-2,
        second_order,
        seed,
        ..GradCheckConfig::default()
    };
    let report = check_gradients(&g, y, &xs, &feeds, &ParamStore::new(), &cfg)
        .unwrap_or_else(|e| panic!("{name}: check failed to run: {e}"));
    assert!(
        report.passed(),
        "{name} ({inputs:?}, strided {strided}): {}",
        report.worst
    );
}
