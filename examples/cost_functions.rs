//! Part 1 of the course — cost functions.
//!
//! ```text
//! cargo run --release --example cost_functions [OUTPUT_DIR]
//! ```
//!
//! Scores the same predictions with every cost the course names — mean squared error, mean
//! absolute error, mean bias error, the multiclass hinge (SVM) loss and softmax cross-entropy —
//! using the library's losses, then fits `y = x·p` by gradient descent on `Σ|t − y|²` and
//! draws the cost curve over p with the descent's iterates on it (`cost_curve.png`).
//!
//! The scores are the CS231n example: three images (cat, car, frog) scored over three classes.
//! Its hinge losses are 2.9, 0 and 12.9 (mean 5.27), and the cat image's cross-entropy is 2.04.

use std::error::Error;
use std::io::Write;
use std::path::Path;

use convnet_examples::chart::{PALETTE, Series, line_chart};
use convnet_examples::line_fit::{LineFit, T, X, best_slope};
use convnet_nn::Result;
use convnet_nn::prelude::*;

/// Class scores `[3 images, 3 classes]` (rows: cat, car, frog images; columns: cat, car, frog).
const SCORES: [f64; 9] = [3.2, 5.1, -1.7, 1.3, 4.9, 2.0, 2.2, 2.5, -3.1];
/// The true class of each image.
const LABELS: [usize; 3] = [0, 1, 2];

/// What the example computed (read by its test).
#[derive(Debug)]
#[cfg_attr(not(test), allow(dead_code))]
struct Figures {
    /// Costs by name, on the three images.
    costs: Vec<(&'static str, f64)>,
    /// Per-image hinge and cross-entropy losses.
    hinge_each: Vec<f64>,
    cross_entropy_each: Vec<f64>,
    /// Gradient descent on the line fit: the final slope and the closed-form best.
    fitted: f64,
    best: f64,
    /// C(p) sampled on [0, 4].
    curve: Vec<(f64, f64)>,
}

/// A loss evaluated on the network-free model "output = input".
fn score(
    loss: impl Loss<f64> + 'static,
    input: &Tensor<f64>,
    targets: Targets<'_, f64>,
) -> Result<f64> {
    let classes = input.shape()[1];
    let model = Model::<f64>::new(Identity::new("scores"), &[classes])?;
    let (value, _) = model
        .evaluator(loss)?
        .evaluate(&ParamStore::new(), input, targets)?;
    Ok(value)
}

fn run(out: &mut dyn Write, dir: &Path) -> std::result::Result<Figures, Box<dyn Error>> {
    let scores = Tensor::from_vec(SCORES.to_vec(), &[3, 3])?;
    // The regression costs compare probabilities with one-hot targets.
    let probs = scores.softmax(1)?;
    let mut onehot = vec![0.0; 9];
    for (i, &c) in LABELS.iter().enumerate() {
        onehot[3 * i + c] = 1.0;
    }
    let onehot = Tensor::from_vec(onehot, &[3, 3])?;

    writeln!(
        out,
        "Scores (rows: images of a cat, a car, a frog; columns: class scores)"
    )?;
    for (i, name) in ["cat", "car", "frog"].iter().enumerate() {
        let row = &SCORES[3 * i..3 * i + 3];
        let p = &probs.to_vec()[3 * i..3 * i + 3];
        writeln!(
            out,
            "  {name:5} scores {row:5.1?}  softmax {:.3?}",
            p.to_vec()
        )?;
    }

    let costs = vec![
        (
            "mean squared error (softmax vs one-hot)",
            score(MseLoss, &probs, (&onehot).into())?,
        ),
        (
            "mean absolute error (softmax vs one-hot)",
            score(MaeLoss, &probs, (&onehot).into())?,
        ),
        (
            "mean bias error (one-hot − softmax)",
            score(MeanBiasError, &probs, (&onehot).into())?,
        ),
        (
            "multiclass hinge, margin 1",
            score(HingeLoss, &scores, (&LABELS).into())?,
        ),
        (
            "softmax cross-entropy",
            score(CrossEntropyLoss::new(), &scores, (&LABELS).into())?,
        ),
    ];
    writeln!(
        out,
        "\nCosts of these predictions, averaged over the three images:"
    )?;
    for (name, value) in &costs {
        writeln!(out, "  {name:42} {value:8.4}")?;
    }
    let mut hinge_each = Vec::new();
    let mut cross_entropy_each = Vec::new();
    for (i, &class) in LABELS.iter().enumerate() {
        let row = scores.narrow(0, i, 1)?.contiguous();
        let label = [class];
        hinge_each.push(score(HingeLoss, &row, (&label).into())?);
        cross_entropy_each.push(score(CrossEntropyLoss::new(), &row, (&label).into())?);
    }
    writeln!(
        out,
        "  per image: hinge {:.1?}, cross-entropy {:.2?}",
        hinge_each, cross_entropy_each
    )?;
    writeln!(
        out,
        "  (the mean bias error is 0 up to rounding: softmax rows and one-hot rows both sum \
         to 1, so over- and under-prediction cancel — a diagnostic, not a loss to minimise)"
    )?;

    // Fitting y = x·p.
    let fit = LineFit::new()?;
    let path = fit.descend(0.0, 0.01, 25)?;
    writeln!(
        out,
        "\nFitting y = x·p to x = {X:?}, t = {T:?} by gradient descent on C(p) = Σ|t − x·p|², \
         η = 0.01, from p = 0:"
    )?;
    for (k, it) in path.iter().enumerate().filter(|(k, _)| k % 5 == 0) {
        writeln!(out, "  step {k:2}: p = {:.6}  C(p) = {:.6}", it.p, it.cost)?;
    }
    let fitted = path.last().map_or(f64::NAN, |it| it.p);
    let best = best_slope();
    writeln!(out, "  closed form p* = Σxt/Σx² = {best:.6}")?;

    let curve: Vec<(f64, f64)> = (0..=80)
        .map(|i| {
            let p = i as f64 * 0.05;
            fit.evaluate(p).map(|(c, _)| (p, c))
        })
        .collect::<Result<_>>()?;
    writeln!(out, "\nThe cost over p (each # is 5 units of cost):")?;
    for &(p, c) in curve.iter().step_by(8) {
        let bar = "#".repeat((c / 5.0).round() as usize);
        writeln!(out, "  p = {p:3.1}  C = {c:7.3}  {bar}")?;
    }
    let picture = line_chart(
        "COST C(P) AND GRADIENT DESCENT, ETA = 0.01",
        &[
            Series {
                label: "C(P)".into(),
                colour: PALETTE[1],
                points: curve.clone(),
            },
            Series {
                label: "ITERATES".into(),
                colour: PALETTE[0],
                points: path.iter().map(|it| (it.p, it.cost)).collect(),
            },
        ],
        false,
    );
    let file = dir.join("cost_curve.png");
    picture.save_png(&file)?;
    writeln!(out, "\nwrote {}", file.display())?;
    Ok(Figures {
        costs,
        hinge_each,
        cross_entropy_each,
        fitted,
        best,
        curve,
    })
}

fn main() -> std::result::Result<(), Box<dyn Error>> {
    let dir = convnet_examples::out_dir("cost_functions")?;
    run(&mut std::io::stdout().lock(), &dir)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_course_figures() {
        let dir = tempfile::tempdir().unwrap();
        let mut text = Vec::new();
        let f = run(&mut text, dir.path()).unwrap();
        let text = String::from_utf8(text).unwrap();

        // CS231n's hinge losses 2.9, 0, 12.9 and their mean 5.27; the cat's cross-entropy 2.04.
        let round = |v: f64, d: i32| (v * 10f64.powi(d)).round() / 10f64.powi(d);
        assert_eq!(
            f.hinge_each
                .iter()
                .map(|&v| round(v, 1))
                .collect::<Vec<_>>(),
            [2.9, 0.0, 12.9]
        );
        assert_eq!(round(f.costs[3].1, 2), 5.27);
        assert_eq!(round(f.cross_entropy_each[0], 2), 2.04);
        let mean_ce = f.cross_entropy_each.iter().sum::<f64>() / 3.0;
        assert!((f.costs[4].1 - mean_ce).abs() < 1e-12);
        // Mean bias error cancels; MSE and MAE are positive.
        assert!(f.costs[2].1.abs() < 1e-12, "{}", f.costs[2].1);
        assert!(f.costs[0].1 > 0.0 && f.costs[1].1 > f.costs[0].1);

        // Gradient descent reaches the closed-form slope, the parabola's lowest point.
        assert!((f.best - 1.99).abs() < 1e-12);
        assert!((f.fitted - f.best).abs() < 1e-6, "{}", f.fitted);
        let lowest = f.curve.iter().min_by(|a, b| a.1.total_cmp(&b.1)).unwrap();
        assert_eq!(lowest.0, 2.0);
        assert!(
            text.contains("closed form p* = Σxt/Σx² = 1.990000"),
            "{text}"
        );
        assert!(dir.path().join("cost_curve.png").exists());
    }
}
