//! Part 3 of the course — learning rates.
//!
//! ```text
//! cargo run --release --example learning_rates [OUTPUT_DIR]
//! ```
//!
//! The line fit of the cost-function example (`y = x·p`, `C(p) = Σ|t − x·p|²`) descended from
//! p = 0 with three learning rates: too small (η = 0.0005: after 30 steps it is still far from
//! the minimum), good (η = 0.01: there in a few steps) and too large (η = 0.035: every step
//! overshoots by more than it corrects, and the cost grows without bound). The cost's curvature
//! 2Σx² = 60 says why: each step multiplies the distance to the minimum by 1 − 60η — 0.97,
//! 0.4 and −1.1. Draws the cost per step for the three (`learning_rates.png`, log scale).

use std::error::Error;
use std::io::Write;
use std::path::Path;

use convnet_examples::chart::{PALETTE, Series, line_chart};
use convnet_examples::line_fit::{Iterate, LineFit, best_slope};

const STEPS: usize = 30;
const RATES: [(&str, f64); 3] = [("too small", 0.0005), ("good", 0.01), ("too large", 0.035)];

fn run(out: &mut dyn Write, dir: &Path) -> Result<Vec<Vec<Iterate>>, Box<dyn Error>> {
    let fit = LineFit::new()?;
    let best = best_slope();
    let mut runs = Vec::new();
    writeln!(
        out,
        "Gradient descent on C(p) = Σ|t − x·p|² from p = 0, {STEPS} steps (p* = {best:.2}):"
    )?;
    for (name, lr) in RATES {
        let path = fit.descend(0.0, lr, STEPS)?;
        let factor = 1.0 - 60.0 * lr;
        writeln!(
            out,
            "\n  η = {lr} ({name}): each step multiplies p − p* by 1 − 60η = {factor:+.2}"
        )?;
        for (k, it) in path
            .iter()
            .enumerate()
            .filter(|(k, _)| [0, 1, 2, 5, 10, 20, 30].contains(k))
        {
            writeln!(
                out,
                "    step {k:2}: p = {:+12.4}  C(p) = {:12.4}",
                it.p, it.cost
            )?;
        }
        runs.push(path);
    }
    let series: Vec<Series> = RATES
        .iter()
        .zip(&runs)
        .enumerate()
        .map(|(k, ((name, lr), path))| Series {
            label: format!("ETA {lr} {}", name.to_uppercase()),
            colour: PALETTE[k],
            points: path
                .iter()
                .enumerate()
                .map(|(i, it)| (i as f64, it.cost))
                .collect(),
        })
        .collect();
    let file = dir.join("learning_rates.png");
    line_chart("COST PER STEP, LOG SCALE", &series, true).save_png(&file)?;
    writeln!(out, "\nwrote {}", file.display())?;
    Ok(runs)
}

fn main() -> Result<(), Box<dyn Error>> {
    let dir = convnet_examples::out_dir("learning_rates")?;
    run(&mut std::io::stdout().lock(), &dir)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn too_small_good_and_too_large() {
        let dir = tempfile::tempdir().unwrap();
        let runs = run(&mut Vec::new(), dir.path()).unwrap();
        let best = best_slope();
        let last = |r: &Vec<Iterate>| *r.last().unwrap();
        // Too small: still creeping — p ≈ p*(1 − 0.97³⁰) ≈ 1.2, far from 1.99.
        let small = last(&runs[0]);
        assert!(
            (small.p - best * (1.0 - 0.97f64.powi(30))).abs() < 1e-9,
            "{small:?}"
        );
        assert!(best - small.p > 0.5);
        // Good: at the minimum.
        assert!((last(&runs[1]).p - best).abs() < 1e-9);
        // Too large: the cost grows every step and ends far above where it started.
        let large = &runs[2];
        assert!(large.windows(2).skip(1).all(|w| w[1].cost > w[0].cost));
        assert!(last(large).cost > 10.0 * large[0].cost);
        // Each step multiplies the distance to p* by 1 − 60η.
        for (run, (_, lr)) in runs.iter().zip(RATES) {
            let ratio = (run[2].p - best) / (run[1].p - best);
            assert!((ratio - (1.0 - 60.0 * lr)).abs() < 1e-9, "{lr}: {ratio}");
        }
        assert!(dir.path().join("learning_rates.png").exists());
    }
}
