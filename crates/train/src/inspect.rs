//! What a network does, in numbers: per-layer statistics of activations and of the loss
//! gradient flowing back through them.
//!
//! These are the figures used to diagnose training: dead ReLUs show as a zero fraction near
//! 100 %, saturating sigmoids or exploding activations as a growing spread from layer to
//! layer, vanishing or exploding gradients as a gradient spread that shrinks or grows by
//! orders of magnitude towards the input.

use std::fmt::Write as _;

use convnet_nn::LayerTrace;
use convnet_tensor::{Element, Tensor};

/// Summary statistics of one tensor.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TensorStats {
    /// Elements, finite or not.
    pub count: usize,
    /// Mean of the finite elements (0 when there are none).
    pub mean: f64,
    /// Population standard deviation of the finite elements.
    pub std: f64,
    /// Smallest finite element (0 when there are none).
    pub min: f64,
    /// Largest finite element (0 when there are none).
    pub max: f64,
    /// Fraction of elements exactly zero (dead ReLU units produce exact zeros).
    pub zero_fraction: f64,
    /// Fraction of elements that are NaN or infinite.
    pub non_finite_fraction: f64,
}

impl TensorStats {
    /// Statistics over every element of `t` (non-finite values are counted, not averaged).
    pub fn of<T: Element>(t: &Tensor<T>) -> Self {
        let (mut n, mut sum, mut sum_sq) = (0usize, 0.0f64, 0.0f64);
        let (mut min, mut max) = (f64::INFINITY, f64::NEG_INFINITY);
        let (mut zeros, mut bad) = (0usize, 0usize);
        for v in t.to_vec() {
            let v = v.as_f64();
            if !v.is_finite() {
                bad += 1;
                continue;
            }
            n += 1;
            sum += v;
            sum_sq += v * v;
            min = min.min(v);
            max = max.max(v);
            zeros += usize::from(v == 0.0);
        }
        let count = n + bad;
        let frac = |k: usize| {
            if count == 0 {
                0.0
            } else {
                k as f64 / count as f64
            }
        };
        let mean = if n == 0 { 0.0 } else { sum / n as f64 };
        let var = if n == 0 {
            0.0
        } else {
            (sum_sq / n as f64 - mean * mean).max(0.0)
        };
        TensorStats {
            count,
            mean,
            std: var.sqrt(),
            min: if n == 0 { 0.0 } else { min },
            max: if n == 0 { 0.0 } else { max },
            zero_fraction: frac(zeros),
            non_finite_fraction: frac(bad),
        }
    }
}

/// One layer's output statistics and, from a training step, those of the loss gradient
/// with respect to that output.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerStats {
    /// The layer's path, e.g. `features.0`.
    pub name: String,
    /// The layer's kind, e.g. `Conv2d`.
    pub kind: &'static str,
    /// Shape of the layer's output for the traced batch.
    pub shape: Vec<usize>,
    /// Statistics of the layer's output.
    pub activation: TensorStats,
    /// Statistics of the loss gradient with respect to the output (training steps only).
    pub gradient: Option<TensorStats>,
}

/// Statistics of every traced layer, in network order.
pub fn layer_stats<T: Element>(traces: &[LayerTrace<T>]) -> Vec<LayerStats> {
    traces
        .iter()
        .map(|t| LayerStats {
            name: t.name.clone(),
            kind: t.kind,
            shape: t.activation.shape().to_vec(),
            activation: TensorStats::of(&t.activation),
            gradient: t.gradient.as_ref().map(TensorStats::of),
        })
        .collect()
}

/// A text table of [`layer_stats`]: activation mean, spread, range and zero fraction, and
/// the gradient's spread and largest magnitude.
pub fn format_layer_stats(rows: &[LayerStats]) -> String {
    let mut out = String::new();
    let shape = |s: &[usize]| {
        s.iter()
            .map(|d| d.to_string())
            .collect::<Vec<_>>()
            .join("×")
    };
    let name_w = rows.iter().map(|r| r.name.len()).max().unwrap_or(5).max(5);
    let _ = writeln!(
        out,
        "{:<name_w$}  {:<10} {:<16} {:>10} {:>10} {:>10} {:>10} {:>7}  {:>10} {:>10}",
        "layer",
        "kind",
        "output",
        "act mean",
        "act std",
        "act min",
        "act max",
        "zeros",
        "grad std",
        "grad |max|"
    );
    for r in rows {
        let a = &r.activation;
        let (gs, gm) = match &r.gradient {
            Some(g) => (
                format!("{:.3e}", g.std),
                format!("{:.3e}", g.min.abs().max(g.max.abs())),
            ),
            None => ("–".into(), "–".into()),
        };
        let _ = writeln!(
            out,
            "{:<name_w$}  {:<10} {:<16} {:>10.4} {:>10.4} {:>10.4} {:>10.4} {:>6.1}%  {:>10} {:>10}",
            r.name,
            r.kind,
            shape(&r.shape),
            a.mean,
            a.std,
            a.min,
            a.max,
            100.0 * a.zero_fraction,
            gs,
            gm
        );
        if a.non_finite_fraction > 0.0 {
            let _ = writeln!(
                out,
                "  ^ {:.1}% of this layer's outputs are NaN or infinite",
                100.0 * a.non_finite_fraction
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_of_a_known_tensor() {
        let t = Tensor::<f64>::from_vec(vec![0.0, 0.0, 1.0, 3.0, f64::NAN], &[5]).unwrap();
        let s = TensorStats::of(&t);
        assert_eq!(s.count, 5);
        assert!((s.mean - 1.0).abs() < 1e-12);
        // Population std of [0, 0, 1, 3]: sqrt((1 + 1 + 0 + 4) / 4).
        assert!((s.std - 1.5f64.sqrt()).abs() < 1e-12);
        assert_eq!((s.min, s.max), (0.0, 3.0));
        assert!((s.zero_fraction - 0.4).abs() < 1e-12);
        assert!((s.non_finite_fraction - 0.2).abs() < 1e-12);
    }

    #[test]
    fn table_names_layers_and_flags_non_finite_outputs() {
        let act = Tensor::<f32>::from_vec(vec![0.0, 2.0, f32::INFINITY, 4.0], &[1, 4]).unwrap();
        let grad = Tensor::<f32>::from_vec(vec![-0.5, 0.25, 0.0, 0.1], &[1, 4]).unwrap();
        let rows = layer_stats(&[LayerTrace {
            name: "features.0".into(),
            kind: "Conv2d",
            activation: act,
            gradient: Some(grad),
        }]);
        let text = format_layer_stats(&rows);
        assert!(
            text.contains("features.0") && text.contains("1×4"),
            "{text}"
        );
        assert!(text.contains("5.000e-1"), "gradient |max| shown: {text}");
        assert!(
            text.contains("25.0% of this layer's outputs are NaN"),
            "{text}"
        );
    }
}
