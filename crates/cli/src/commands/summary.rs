//! `convnet summary`: the layer table of a zoo model, from its symbolic graph.

use crate::Failure;
use crate::args::SummaryArgs;

/// Parses `CxHxW` (also accepts `×`).
pub fn parse_input(s: &str) -> Result<[usize; 3], Failure> {
    let parts: Vec<&str> = s.split(['x', '×', 'X']).collect();
    let nums: Option<Vec<usize>> = parts.iter().map(|p| p.trim().parse().ok()).collect();
    match nums.as_deref() {
        Some(&[c, h, w]) if c > 0 && h > 0 && w > 0 => Ok([c, h, w]),
        _ => Err(Failure::usage(format!(
            "--input {s}: expected CxHxW, e.g. 3x224x224"
        ))),
    }
}

pub fn run(args: SummaryArgs) -> Result<(), Failure> {
    let input = args.input.as_deref().map(parse_input).transpose()?;
    let model = crate::commands::train::build_model(&args.model, args.classes, input)?;
    let summary = model.summary(args.batch.max(1)).map_err(Failure::run)?;
    if args.markdown {
        print!("{}", summary.to_markdown());
    } else {
        print!("{}", summary.to_text());
    }
    Ok(())
}
