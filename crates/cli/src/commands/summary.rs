//! `convnet summary`: the layer table of a zoo model, from its symbolic graph.

use crate::Failure;
use crate::args::SummaryArgs;

/// Largest channel count, height or width `--input` accepts: far beyond any real image, and
/// small enough that per-layer sizes times any batch stay far from overflow.
pub const MAX_INPUT_DIM: usize = 1 << 16;

/// Parses `CxHxW` (also accepts `×`); each dimension in 1..=65536.
pub fn parse_input(s: &str) -> Result<[usize; 3], Failure> {
    let parts: Vec<&str> = s.split(['x', '×', 'X']).collect();
    let nums: Option<Vec<usize>> = parts.iter().map(|p| p.trim().parse().ok()).collect();
    match nums.as_deref() {
        Some(&[c, h, w]) if [c, h, w].iter().all(|&d| (1..=MAX_INPUT_DIM).contains(&d)) => {
            Ok([c, h, w])
        }
        Some(&[_, _, _]) => Err(Failure::usage(format!(
            "--input {s}: each of C, H and W must be between 1 and {MAX_INPUT_DIM}"
        ))),
        _ => Err(Failure::usage(format!(
            "--input {s}: expected CxHxW, e.g. 3x224x224"
        ))),
    }
}

pub fn run(args: SummaryArgs) -> Result<(), Failure> {
    let input = args.input.as_deref().map(parse_input).transpose()?;
    let model = crate::commands::train::build_model(&args.model, args.classes, input)?;
    let summary = model
        .summary(args.batch.max(1))
        .map_err(|e| Failure::usage(format!("--batch {}: {e}", args.batch)))?;
    if args.markdown {
        print!("{}", summary.to_markdown());
    } else {
        print!("{}", summary.to_text());
    }
    let batch = args.batch.max(1);
    let peak = model
        .train_step(convnet_zoo::AuxClassifierLoss::new(), 0)
        .and_then(|mut step| step.peak_bytes(batch))
        .map_err(Failure::run)?;
    println!(
        "Planned peak of a training step at batch {batch}: {} of activations and gradients \
         (parameters, optimizer state and kernel scratch come on top)",
        convnet_nn::summary::fmt_bytes(peak as u64)
    );
    if args.kernels {
        print_kernels(&model, batch)?;
    }
    Ok(())
}

/// One line per convolution: the kernel of each pass (see `ConvKernel`).
fn print_kernels(model: &convnet_nn::Model<f32>, batch: usize) -> Result<(), Failure> {
    let rows = model.conv_kernels(batch).map_err(Failure::run)?;
    println!(
        "Convolution kernels at batch {batch} on {} threads (input gradient: — where training \
         does not compute it):",
        rayon::current_num_threads()
    );
    let name_w = rows.iter().map(|(n, _)| n.len()).max().unwrap_or(5).max(5);
    println!(
        "{:<name_w$}  {:<34} {:<34} weight gradient",
        "layer", "forward", "input gradient"
    );
    for (name, kernels) in rows {
        let [f, i, w] = kernels.map(|k| k.map_or("—".to_string(), |k| k.to_string()));
        println!("{name:<name_w$}  {f:<34} {i:<34} {w}");
    }
    Ok(())
}
