//! Part 6 of the course — pooling and fully connected layers, through LeNet-5.
//!
//! ```text
//! cargo run --release --example pooling_and_fc
//! ```
//!
//! Max pooling keeps the largest value of each window: 2×2 windows with stride 2 halve a 4×4
//! map to 2×2, and the overlapping 3×3/2 pooling of AlexNet takes 55 to 27 by the same rule
//! `(W − F)/S + 1`. Then LeNet-5's sizes, layer by layer, as the model summary prints them:
//! 28×28 → conv 5×5 pad 2 → 28×28×6 → pool → 14×14×6 → conv 5×5 → 10×10×16 → pool → 5×5×16,
//! flattened to 400 for the fully connected layers 120, 84 and 10, whose parameter counts are
//! `(in + 1)·out`: 48,120, 10,164 and 850 of the model's 61,706.

use std::error::Error;
use std::io::Write;

use convnet_nn::prelude::*;
use convnet_zoo::{ZooConfig, build};

const MAP: [f32; 16] = [
    1., 1., 2., 4., //
    5., 6., 7., 8., //
    3., 2., 1., 0., //
    1., 2., 3., 4., //
];

/// What the example computed (read by its test).
#[derive(Debug)]
#[cfg_attr(not(test), allow(dead_code))]
struct Figures {
    pooled: Vec<f32>,
    /// `(input width, window, stride, output width)` of the pooling-size examples.
    pool_sizes: Vec<(usize, usize, usize, String)>,
    /// `(layer, kind, output shape, parameter formula)` of LeNet-5's summary rows.
    rows: Vec<(String, String, String, String)>,
    params: usize,
}

fn run(out: &mut dyn Write) -> Result<Figures, Box<dyn Error>> {
    let pool = Model::<f32>::new(MaxPool2d::new("pool", 2), &[1, 4, 4])?;
    let x = Tensor::from_vec(MAP.to_vec(), &[1, 1, 4, 4])?;
    let pooled = pool.inference()?.forward(&ParamStore::new(), &x)?.to_vec();
    writeln!(out, "Max pooling 2×2, stride 2, of a 4×4 map:")?;
    for row in MAP.chunks(4) {
        writeln!(out, "    {row:?}")?;
    }
    writeln!(out, "  → {:?} / {:?}", &pooled[..2], &pooled[2..])?;

    writeln!(out, "\nPooled sizes, W₂ = (W₁ − F)/S + 1:")?;
    let mut pool_sizes = Vec::new();
    for (w, f, s, note) in [
        (224, 2, 2, "VGG"),
        (55, 3, 2, "AlexNet, overlapping"),
        (13, 3, 2, "AlexNet, overlapping"),
    ] {
        let m = Model::<f32>::new(MaxPool2d::new("pool", f).stride(s), &[1, w, w])?;
        let arithmetic = m.summary(1)?.rows[0].arithmetic.clone();
        writeln!(out, "  {w}×{w}, F = {f}, S = {s} ({note}): {arithmetic}")?;
        pool_sizes.push((w, f, s, arithmetic));
    }

    let lenet = build::<f32>("lenet5", &ZooConfig::default())?;
    let summary = lenet.summary(1)?;
    writeln!(out, "\nLeNet-5, layer by layer:\n{}", summary.to_text())?;
    let rows = summary
        .rows
        .iter()
        .map(|r| {
            (
                r.name.clone(),
                r.kind.clone(),
                r.output_shape.to_string(),
                r.params_formula.clone(),
            )
        })
        .collect();
    Ok(Figures {
        pooled,
        pool_sizes,
        rows,
        params: lenet.num_params(),
    })
}

fn main() -> Result<(), Box<dyn Error>> {
    run(&mut std::io::stdout().lock())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_course_figures() {
        let f = run(&mut Vec::new()).unwrap();
        assert_eq!(f.pooled, [6., 8., 3., 4.]);
        let outs: Vec<&str> = f.pool_sizes.iter().map(|p| p.3.as_str()).collect();
        assert_eq!(
            outs,
            [
                "(224 − 2 + 2·0)/2 + 1 = 112",
                "(55 − 3 + 2·0)/2 + 1 = 27",
                "(13 − 3 + 2·0)/2 + 1 = 6"
            ]
        );
        let shape_of = |layer: &str| {
            f.rows
                .iter()
                .find(|r| r.0 == layer)
                .unwrap_or_else(|| panic!("no row {layer}: {:?}", f.rows))
                .clone()
        };
        assert_eq!(shape_of("features.0").2, "[B, 6, 28, 28]");
        assert_eq!(shape_of("features.2").2, "[B, 6, 14, 14]");
        assert_eq!(shape_of("features.3").2, "[B, 16, 10, 10]");
        assert_eq!(shape_of("features.5").2, "[B, 16, 5, 5]");
        assert_eq!(shape_of("flatten").2, "[B, 400]");
        assert_eq!(shape_of("classifier.0").3, "(400 + 1)·120 = 48,120");
        assert_eq!(shape_of("classifier.2").3, "(120 + 1)·84 = 10,164");
        assert_eq!(shape_of("classifier.4").3, "(84 + 1)·10 = 850");
        assert_eq!(shape_of("features.0").3, "(5·5·1 + 1)·6 = 156");
        assert_eq!(f.params, 61_706);
    }
}
