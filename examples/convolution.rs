//! Part 5 of the course — convolution by hand.
//!
//! ```text
//! cargo run --release --example convolution
//! ```
//!
//! The slide's 5×5 binary image convolved with its 3×3 kernel `[[1,0,1],[0,1,0],[1,0,1]]`
//! gives the 3×3 convolved feature `[[4,3,4],[2,4,3],[2,3,4]]` — 4 in the first cell, the
//! sum of the image's top-left 3×3 patch where the kernel has ones. Then the output-size rule
//! `(N − F + 2P)/S + 1` on a 7×7 input and a 3×3 filter: stride 1 gives 5, stride 2 gives 3,
//! stride 3 gives (7 − 3)/3 + 1 = 2.33, which does not fit (strict geometry refuses it; the
//! default floor rule gives 2), and padding 1 at stride 1 keeps 7. Last, parameter counts
//! `(F·F·D + 1)·K`: eight 5×5 filters on a 28×28×1 image have 208, five 5×5 filters on a
//! 32×32×3 image 380.

use std::error::Error;
use std::io::Write;

use convnet_nn::prelude::*;

const IMAGE: [f32; 25] = [
    1., 1., 1., 0., 0., //
    0., 1., 1., 1., 0., //
    0., 0., 1., 1., 1., //
    0., 0., 1., 1., 0., //
    0., 1., 1., 0., 0., //
];
const KERNEL: [f32; 9] = [1., 0., 1., 0., 1., 0., 1., 0., 1.];

/// What the example computed (read by its test).
#[derive(Debug)]
#[cfg_attr(not(test), allow(dead_code))]
struct Figures {
    feature: Vec<f32>,
    /// 7×7 input, 3×3 filter: (stride, padding, output size or the strict-mode error).
    sizes: Vec<(usize, usize, std::result::Result<String, String>)>,
    /// The floor rule's arithmetic for stride 3.
    floor_rule: String,
    /// `(formula, count)` for the two parameter-count examples.
    counts: Vec<(String, usize)>,
}

fn grid(out: &mut dyn Write, values: &[f32], n: usize) -> std::io::Result<()> {
    for row in values.chunks(n) {
        let cells: Vec<String> = row.iter().map(|v| format!("{v:2}")).collect();
        writeln!(out, "    {}", cells.join(" "))?;
    }
    Ok(())
}

fn one_conv(input: &[usize], conv: Conv2d, strict: bool) -> Result<Model<f32>, NnError> {
    Model::builder(conv, input).strict_geometry(strict).build()
}

fn run(out: &mut dyn Write) -> Result<Figures, Box<dyn Error>> {
    // The convolved feature, computed by a Conv2d layer whose one filter is the kernel.
    let model = one_conv(&[1, 5, 5], Conv2d::new("conv", 1, 1, 3).bias(false), true)?;
    let mut params = ParamStore::new();
    params.insert(
        "conv.weight",
        Tensor::from_vec(KERNEL.to_vec(), &[1, 1, 3, 3])?,
    )?;
    let image = Tensor::from_vec(IMAGE.to_vec(), &[1, 1, 5, 5])?;
    let feature = model.inference()?.forward(&params, &image)?.to_vec();
    writeln!(out, "Image (5×5):")?;
    grid(out, &IMAGE, 5)?;
    writeln!(out, "Kernel (3×3):")?;
    grid(out, &KERNEL, 3)?;
    writeln!(
        out,
        "Convolved feature (3×3), each cell the sum of the patch times the kernel:"
    )?;
    grid(out, &feature, 3)?;
    // The first cell spelled out: the top-left 3×3 patch times the kernel, summed.
    let terms: Vec<String> = (0..9)
        .map(|k| format!("{}·{}", IMAGE[(k / 3) * 5 + k % 3], KERNEL[k]))
        .collect();
    writeln!(out, "  first cell: {} = {}", terms.join(" + "), feature[0])?;

    // The output-size rule.
    writeln!(out, "\nOutput size (N − F + 2P)/S + 1 for N = 7, F = 3:")?;
    let mut sizes = Vec::new();
    for (stride, pad) in [(1, 0), (2, 0), (3, 0), (1, 1)] {
        let conv = Conv2d::new("conv", 1, 1, 3).stride(stride).padding(pad);
        let row = match one_conv(&[1, 7, 7], conv, true) {
            Ok(m) => {
                let arithmetic = m.summary(1)?.rows[0].arithmetic.clone();
                writeln!(out, "  S = {stride}, P = {pad}: {arithmetic}")?;
                Ok(arithmetic)
            }
            Err(e) => {
                writeln!(out, "  S = {stride}, P = {pad}: {e}")?;
                Err(e.to_string())
            }
        };
        sizes.push((stride, pad, row));
    }
    let floor = one_conv(&[1, 7, 7], Conv2d::new("conv", 1, 1, 3).stride(3), false)?;
    let floor_rule = floor.summary(1)?.rows[0].arithmetic.clone();
    writeln!(
        out,
        "  without strict geometry, the floor rule: {floor_rule}"
    )?;

    // Parameter counts.
    writeln!(out, "\nParameters (F·F·D + 1)·K:")?;
    let mut counts = Vec::new();
    for (input, conv, what) in [
        (
            [1, 28, 28],
            Conv2d::new("conv", 1, 8, 5),
            "eight 5×5 filters on 28×28×1",
        ),
        (
            [3, 32, 32],
            Conv2d::new("conv", 3, 5, 5).padding(2),
            "five 5×5 filters on 32×32×3",
        ),
    ] {
        let m = one_conv(&input, conv, true)?;
        let row = m.summary(1)?.rows[0].clone();
        writeln!(
            out,
            "  {what}: {}  (output {})",
            row.params_formula, row.output_shape
        )?;
        counts.push((row.params_formula, m.num_params()));
    }
    Ok(Figures {
        feature,
        sizes,
        floor_rule,
        counts,
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
        assert_eq!(f.feature, [4., 3., 4., 2., 4., 3., 2., 3., 4.]);
        assert_eq!(f.sizes[0].2.as_deref(), Ok("(7 − 3 + 2·0)/1 + 1 = 5"));
        assert_eq!(f.sizes[1].2.as_deref(), Ok("(7 − 3 + 2·0)/2 + 1 = 3"));
        let refused = f.sizes[2].2.as_ref().unwrap_err();
        assert!(
            refused.contains("2.33") && refused.contains("conv"),
            "{refused}"
        );
        assert_eq!(f.sizes[3].2.as_deref(), Ok("(7 − 3 + 2·1)/1 + 1 = 7"));
        assert_eq!(f.floor_rule, "⌊(7 − 3 + 2·0)/3⌋ + 1 = 2");
        assert_eq!(f.counts[0], ("(5·5·1 + 1)·8 = 208".to_string(), 208));
        assert_eq!(f.counts[1], ("(5·5·3 + 1)·5 = 380".to_string(), 380));
    }
}
