//! The course's first model: a line through the origin, `y = x·p`, fitted to four points by
//! gradient descent on the cost `C(p) = Σ |t − y|²`. One parameter, so the cost is a parabola
//! one can draw, and the whole of gradient descent is visible: the gradient is computed by the
//! library's symbolic autograd (a graph node, like every gradient here), not by hand.
//!
//! The data lie near `t = 2x`; the best slope is `p* = Σxt / Σx² = 59.7 / 30 = 1.99`. The cost's
//! curvature is `C″ = 2Σx² = 60`, so a step `p ← p − η C′(p)` multiplies the distance to `p*`
//! by `1 − 60η`: it converges for `0 < η < 2/60 ≈ 0.033`, fastest at `η = 1/60`, and diverges
//! beyond — the learning-rate example shows all three.

use convnet_autograd::{Feeds, Graph, NodeId, ParamStore, Shape, grad};
use convnet_nn::Result;
use convnet_tensor::Tensor;

/// Inputs x.
pub const X: [f64; 4] = [1.0, 2.0, 3.0, 4.0];
/// Targets t.
pub const T: [f64; 4] = [2.1, 3.9, 6.2, 7.8];

/// The best slope in closed form, `Σxt / Σx²`.
pub fn best_slope() -> f64 {
    let xt: f64 = X.iter().zip(T).map(|(x, t)| x * t).sum();
    let xx: f64 = X.iter().map(|x| x * x).sum();
    xt / xx
}

/// One gradient-descent iterate: the slope and the cost there.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Iterate {
    /// The slope p.
    pub p: f64,
    /// C(p).
    pub cost: f64,
}

/// The cost and its gradient as one symbolic graph.
#[derive(Debug)]
pub struct LineFit {
    graph: Graph<f64>,
    cost: NodeId,
    gradient: NodeId,
    feeds: Feeds<f64>,
}

impl LineFit {
    /// Builds `C(p) = Σ (t − x·p)²` and `dC/dp` (by autograd) over the data [`X`], [`T`].
    pub fn new() -> Result<Self> {
        let mut g = Graph::new();
        let x = g.input("x", Shape::fixed(&[X.len()]))?;
        let t = g.input("t", Shape::fixed(&[T.len()]))?;
        let p = g.param("p", &[1])?;
        let y = g.mul(x, p)?;
        let residual = g.sub(t, y)?;
        let squared = g.square(residual)?;
        let cost = g.sum_all(squared)?;
        let gradient = grad(&mut g, cost, &[p])?[0];
        let feeds = Feeds::new()
            .with("x", Tensor::from_vec(X.to_vec(), &[X.len()])?)
            .with("t", Tensor::from_vec(T.to_vec(), &[T.len()])?);
        Ok(LineFit {
            graph: g,
            cost,
            gradient,
            feeds,
        })
    }

    /// `(C(p), C′(p))`.
    pub fn evaluate(&self, p: f64) -> Result<(f64, f64)> {
        let mut params = ParamStore::new();
        params.insert("p", Tensor::from_vec(vec![p], &[1])?)?;
        let out = self
            .graph
            .run(&[self.cost, self.gradient], &self.feeds, &params)?;
        Ok((out[0].item()?, out[1].item()?))
    }

    /// `steps` steps of `p ← p − η C′(p)` from `p0`: the iterates, `p0` first. A run that
    /// overflows stops at the first non-finite cost.
    pub fn descend(&self, p0: f64, lr: f64, steps: usize) -> Result<Vec<Iterate>> {
        let mut p = p0;
        let mut path = Vec::with_capacity(steps + 1);
        for _ in 0..=steps {
            let (cost, slope) = self.evaluate(p)?;
            path.push(Iterate { p, cost });
            if !cost.is_finite() {
                break;
            }
            p -= lr * slope;
        }
        Ok(path)
    }
}
