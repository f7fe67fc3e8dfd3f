//! Gradient checking by central finite differences in f64, for our ops and users' models.
//!
//! First order: the analytic gradient of `L = Σ r·y` (a random projection `r` when `y` is not
//! a scalar) is compared with `(L(v + εe) − L(v − εe)) / 2ε`, element by element for small
//! tensors and along random directions `e` for large ones (as JAX's `check_vjp` does). Second
//! order: the Hessian-vector product `H·u`, built by differentiating `Σ ∇L·u` (gradient of a
//! gradient graph), is compared with `(∇L(v + εu) − ∇L(v − εu)) / 2ε`. Only inputs and
//! parameters can be perturbed; index inputs such as labels are simply fed.

use convnet_tensor::Tensor;

use crate::error::{AutogradError, Result};
use crate::feeds::{FeedKey, Feeds, Value};
use crate::grad::grad;
use crate::graph::{Graph, NodeId};
use crate::op::Op;
use crate::params::ParamStore;
use crate::plan::Plan;

/// Step size, tolerances and sampling for [`check_gradients`].
#[derive(Debug, Clone, PartialEq)]
pub struct GradCheckConfig {
    /// Finite-difference step.
    pub eps: f64,
    /// A value passes when `|numeric − analytic| ≤ atol + rtol·max(|numeric|, |analytic|)`.
    pub rtol: f64,
    /// Absolute tolerance: the allowance for values near zero (see `rtol`).
    pub atol: f64,
    /// Tensors with at most this many elements are checked element by element.
    pub max_elementwise: usize,
    /// Random directions per larger tensor.
    pub directions: usize,
    /// Also check Hessian-vector products.
    pub second_order: bool,
    /// Seed for projections and directions.
    pub seed: u64,
}

impl Default for GradCheckConfig {
    fn default() -> Self {
        GradCheckConfig {
            eps: 1e-6,
            rtol: 1e-5,
            atol: 1e-8,
            max_elementwise: 64,
            directions: 4,
            second_order: false,
            seed: 0x5eed,
        }
    }
}

/// The outcome of a check: the worst discrepancy and where it was.
#[derive(Debug, Clone, Default)]
pub struct GradCheckReport {
    /// Number of scalar comparisons made.
    pub checks: usize,
    /// Largest `|numeric − analytic|`.
    pub max_abs_error: f64,
    /// Largest `|numeric − analytic| / max(|numeric|, |analytic|)`.
    pub max_rel_error: f64,
    /// Largest error relative to its tolerance (≤ 1 passes).
    pub worst_ratio: f64,
    /// Where the worst ratio occurred, with both values.
    pub worst: String,
}

impl GradCheckReport {
    /// True when every comparison was within tolerance (`worst_ratio ≤ 1`).
    pub fn passed(&self) -> bool {
        self.worst_ratio <= 1.0
    }

    /// `Ok` when every comparison was within tolerance, else an error describing the worst.
    pub fn ensure(&self) -> Result<()> {
        if self.passed() {
            Ok(())
        } else {
            Err(AutogradError::GradCheck {
                detail: format!("{} ({} comparisons)", self.worst, self.checks),
            })
        }
    }

    fn record(
        &mut self,
        cfg: &GradCheckConfig,
        numeric: f64,
        analytic: f64,
        at: impl FnOnce() -> String,
    ) {
        self.checks += 1;
        let err = (numeric - analytic).abs();
        let scale = numeric.abs().max(analytic.abs());
        let ratio = if err.is_nan() {
            f64::INFINITY
        } else {
            err / (cfg.atol + cfg.rtol * scale)
        };
        self.max_abs_error = self.max_abs_error.max(err);
        if scale > 0.0 {
            self.max_rel_error = self.max_rel_error.max(err / scale);
        }
        if ratio > self.worst_ratio || self.checks == 1 {
            self.worst_ratio = ratio;
            self.worst = format!(
                "{}: numeric {numeric:.9e}, analytic {analytic:.9e}, error {err:.3e}",
                at()
            );
        }
    }
}

/// Where a perturbed value lives.
enum Slot {
    Feed(NodeId),
    Param(String),
}

struct Setup<'a> {
    feeds: &'a Feeds<f64>,
    params: &'a ParamStore<f64>,
    slots: Vec<Slot>,
    names: Vec<String>,
    /// The values as the caller gave them: perturbed copies are laid out in memory the same
    /// way, so a strided feed is evaluated strided (the point of checking strided inputs).
    given: Vec<Tensor<f64>>,
}

impl Setup<'_> {
    /// Feeds and parameters with the perturbed values substituted.
    fn with(
        &self,
        values: &[Tensor<f64>],
        extra: &[(NodeId, Tensor<f64>)],
    ) -> Result<(Feeds<f64>, ParamStore<f64>)> {
        let mut feeds = self.feeds.clone();
        let mut params = self.params.clone();
        for (i, (slot, v)) in self.slots.iter().zip(values).enumerate() {
            match slot {
                Slot::Feed(id) => {
                    feeds.values.remove(&FeedKey::Name(self.names[i].clone()));
                    // A layout that addresses an element twice (a broadcast feed) cannot hold
                    // a perturbation of one element; such a feed is evaluated contiguous.
                    let laid = v.laid_out_like(&self.given[i]).unwrap_or_else(|| v.clone());
                    feeds.insert(*id, laid);
                }
                Slot::Param(key) => params.set(key, v.clone())?,
            }
        }
        for (id, t) in extra {
            feeds.insert(*id, t.clone());
        }
        Ok((feeds, params))
    }
}

fn dot(a: &Tensor<f64>, b: &Tensor<f64>) -> f64 {
    a.data()
        .iter()
        .zip(b.data().iter())
        .map(|(x, y)| x * y)
        .sum()
}

fn perturbed(v: &Tensor<f64>, dir: &Tensor<f64>, s: f64) -> Result<Tensor<f64>> {
    let data = v
        .data()
        .iter()
        .zip(dir.data().iter())
        .map(|(a, d)| a + s * d)
        .collect();
    Tensor::from_vec(data, v.shape()).map_err(|e| AutogradError::Tensor {
        op: "gradcheck",
        node: String::new(),
        source: e,
    })
}

fn unit(shape: &[usize], j: usize) -> Tensor<f64> {
    Tensor::from_fn(shape, |i| if i == j { 1.0 } else { 0.0 })
}

fn normal(shape: &[usize], seed: u64) -> Result<Tensor<f64>> {
    Tensor::normal(shape, 0.0, 1.0, seed).map_err(|e| AutogradError::Tensor {
        op: "gradcheck",
        node: String::new(),
        source: e,
    })
}

/// Checks the gradients of `y` w.r.t. `wrt` (input placeholders or parameters) at the values
/// in `feeds` and `params`. The graph is cloned; `graph` is not modified.
pub fn check_gradients(
    graph: &Graph<f64>,
    y: NodeId,
    wrt: &[NodeId],
    feeds: &Feeds<f64>,
    params: &ParamStore<f64>,
    cfg: &GradCheckConfig,
) -> Result<GradCheckReport> {
    let mut g = graph.clone();
    let batch = g.infer_batch(feeds);
    let resolve = |g: &Graph<f64>, n: NodeId| -> Result<Vec<usize>> {
        let s = g.shape(n)?;
        s.to_fixed()
            .or_else(|| batch.map(|b| s.resolve(b)))
            .ok_or_else(|| AutogradError::BatchSize {
                detail: format!(
                    "`{}` has shape {s}; feed an input with the batch axis",
                    g.node_unchecked(n).name
                ),
            })
    };
    // Perturbable values.
    let mut setup = Setup {
        feeds,
        params,
        slots: Vec::new(),
        names: Vec::new(),
        given: Vec::new(),
    };
    let mut base = Vec::new();
    for &x in wrt {
        let node = g.node(x)?;
        let (slot, value) = match &node.op {
            Op::Input => {
                let v = feeds
                    .values
                    .get(&FeedKey::Node(x))
                    .or_else(|| feeds.values.get(&FeedKey::Name(node.name.clone())))
                    .ok_or_else(|| AutogradError::MissingFeed {
                        node: node.name.clone(),
                    })?;
                let Value::Tensor(t) = v else {
                    return Err(AutogradError::Grad {
                        node: node.name.clone(),
                        detail: "indices are not differentiable; check_gradients perturbs \
                                 tensor inputs and parameters"
                            .into(),
                    });
                };
                (Slot::Feed(x), t.clone())
            }
            Op::Param(key) => (Slot::Param(key.clone()), params.require(key)?.clone()),
            _ => {
                return Err(AutogradError::Grad {
                    node: node.name.clone(),
                    detail: "check_gradients perturbs input placeholders and parameters only"
                        .into(),
                });
            }
        };
        setup.names.push(node.name.clone());
        setup.slots.push(slot);
        base.push(value.contiguous());
        setup.given.push(value);
    }
    // Scalar loss L = Σ r·y.
    let mut extra = Vec::new();
    let loss = if g.shape(y)?.is_scalar_like() {
        g.sum_all(y)?
    } else {
        let shape = g.shape(y)?.clone();
        let r = g.input("__gradcheck/projection", shape)?;
        extra.push((r, normal(&resolve(&g, y)?, cfg.seed)?));
        let ry = g.mul(y, r)?;
        g.sum_all(ry)?
    };
    let grads = grad(&mut g, loss, wrt)?;
    let plan_l = Plan::compile(&g, &[loss], batch)?;
    let plan_g = Plan::compile(&g, &grads, batch)?;
    let eval_l = |vals: &[Tensor<f64>], extra: &[(NodeId, Tensor<f64>)]| -> Result<f64> {
        let (f, p) = setup.with(vals, extra)?;
        let out = plan_l.run(&f, &p)?;
        Ok(out[0].data()[0])
    };
    let eval_g =
        |vals: &[Tensor<f64>], extra: &[(NodeId, Tensor<f64>)]| -> Result<Vec<Tensor<f64>>> {
            let (f, p) = setup.with(vals, extra)?;
            plan_g.run(&f, &p)
        };

    let mut report = GradCheckReport::default();
    let analytic = eval_g(&base, &extra)?;
    let h = cfg.eps;
    for (i, v) in base.iter().enumerate() {
        let name = &setup.names[i];
        let n = v.numel();
        let elementwise = n <= cfg.max_elementwise;
        let count = if elementwise { n } else { cfg.directions };
        for k in 0..count {
            let dir = if elementwise {
                unit(v.shape(), k)
            } else {
                normal(v.shape(), cfg.seed ^ (0x9e37 + (i * 1000 + k) as u64))?
            };
            let mut plus = base.clone();
            plus[i] = perturbed(v, &dir, h)?;
            let mut minus = base.clone();
            minus[i] = perturbed(v, &dir, -h)?;
            let numeric = (eval_l(&plus, &extra)? - eval_l(&minus, &extra)?) / (2.0 * h);
            let ana = if elementwise {
                analytic[i].data()[k]
            } else {
                dot(&analytic[i], &dir)
            };
            report.record(cfg, numeric, ana, || {
                if elementwise {
                    format!("d/d{name}[{k}]")
                } else {
                    format!("d/d{name} along random direction {k}")
                }
            });
        }
    }

    if cfg.second_order {
        // Hv = ∇(Σᵢ ∇ᵢL · uᵢ), compared with a central difference of ∇L along u.
        let mut dirs = Vec::new();
        let mut terms = Vec::new();
        for (i, &gi) in grads.iter().enumerate() {
            let shape = g.shape(wrt[i])?.clone();
            let u = g.input(&format!("__gradcheck/direction{i}"), shape)?;
            dirs.push((u, normal(base[i].shape(), cfg.seed ^ (0x51 + i as u64))?));
            let t = g.mul(gi, u)?;
            terms.push(g.sum_all(t)?);
        }
        let s = g.add_n(&terms)?.ok_or_else(|| AutogradError::Grad {
            node: g.node_unchecked(y).name.clone(),
            detail: "no variables to differentiate".into(),
        })?;
        let hv = grad(&mut g, s, wrt)?;
        let plan_h = Plan::compile(&g, &hv, batch)?;
        let mut ex = extra.clone();
        ex.extend(dirs.iter().cloned());
        let (f, p) = setup.with(&base, &ex)?;
        let hv_val = plan_h.run(&f, &p)?;
        let plus: Vec<Tensor<f64>> = base
            .iter()
            .zip(&dirs)
            .map(|(v, (_, u))| perturbed(v, u, h))
            .collect::<Result<_>>()?;
        let minus: Vec<Tensor<f64>> = base
            .iter()
            .zip(&dirs)
            .map(|(v, (_, u))| perturbed(v, u, -h))
            .collect::<Result<_>>()?;
        let (gp, gm) = (eval_g(&plus, &extra)?, eval_g(&minus, &extra)?);
        for i in 0..base.len() {
            let name = &setup.names[i];
            let (a, b, an) = (gp[i].data(), gm[i].data(), hv_val[i].data());
            for j in 0..a.len() {
                let numeric = (a[j] - b[j]) / (2.0 * h);
                report.record(cfg, numeric, an[j], || format!("(H·u) for {name}[{j}]"));
            }
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A strided feed must be evaluated strided: the perturbed copies the checker feeds keep
    /// the caller's strides (they used to be contiguous copies, so the `strided` dimension of
    /// the gradient-check table tested nothing).
    #[test]
    fn perturbed_feeds_keep_the_given_strides() {
        let mut g = Graph::<f64>::new();
        let x = g.input("x", &[2usize, 3][..]).unwrap();
        let strided = Tensor::<f64>::arange(6)
            .reshape(&[3, 2])
            .unwrap()
            .t()
            .unwrap();
        assert!(!strided.is_contiguous());
        let mut feeds = Feeds::new();
        feeds.insert(x, strided.clone());
        let params = ParamStore::new();
        let setup = Setup {
            feeds: &feeds,
            params: &params,
            slots: vec![Slot::Feed(x)],
            names: vec!["x".into()],
            given: vec![strided.clone()],
        };
        let bumped = perturbed(&strided.contiguous(), &unit(&[2, 3], 4), 0.5).unwrap();
        let (fed, _) = setup.with(std::slice::from_ref(&bumped), &[]).unwrap();
        let Value::Tensor(fed) = &fed.values[&FeedKey::Node(x)] else {
            panic!("the perturbed feed is a tensor");
        };
        assert_eq!(fed.strides(), strided.strides());
        assert_eq!(fed.to_vec(), bumped.to_vec());
        assert_eq!(fed.to_vec(), vec![0.0, 2.0, 4.0, 1.0, 3.5, 5.0]);
    }
}
