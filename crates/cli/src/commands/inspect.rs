//! `convnet inspect`: what a network does on one batch of test images.
//!
//! Runs one training-mode step (forward, loss, backward; dropout active, batch-norm on
//! batch statistics; no weights change) and prints every layer's activation and gradient
//! statistics. Then draws the input image, the first convolution's filters, the feature
//! maps of that image at each 4-D layer, and, when the checkpoint's directory holds the run's `log.csv`, the loss
//! and accuracy curves.

use std::path::{Path, PathBuf};

use convnet_nn::CrossEntropyLoss;
use convnet_train::{
    feature_maps, filter_grid, format_layer_stats, layer_stats, read_csv_log, training_curves,
};

use crate::Failure;
use crate::args::InspectArgs;
use crate::commands::data::DataSource;
use crate::commands::restore::{Restored, restore};

/// Feature-map pictures written at most (ResNets have dozens of 4-D layers).
const MAX_MAP_PICTURES: usize = 16;

pub fn run(args: InspectArgs) -> Result<(), Failure> {
    let restored = restore(
        args.checkpoint.as_deref(),
        args.model,
        args.dataset,
        args.seed,
    )?;
    let set = restored.evaluation_set(&args.data)?;
    let loader = restored.evaluation_loader(set, args.batch_size)?;
    let Restored {
        model_name,
        source,
        model,
        mut params,
        pre,
        ..
    } = restored;
    let what = match &source {
        DataSource::Builtin(kind) => format!("{kind} test"),
        DataSource::Folder(_) => format!("{} validation", source.short_name()),
    };
    let dataset = source.short_name();
    let batch = loader
        .epoch(0)
        .next()
        .ok_or_else(|| Failure::run(format!("the {dataset} test split is empty")))?
        .map_err(Failure::run)?;
    let n = batch.labels.len();
    if args.image >= n {
        return Err(Failure::usage(format!(
            "--image {} is outside the batch of {n} images",
            args.image
        )));
    }
    let mut step = model
        .train_step(CrossEntropyLoss::new(), args.seed)
        .map_err(Failure::run)?;
    let out = step
        .run_inspect(&mut params, &batch.images, &batch.labels)
        .map_err(Failure::run)?;
    let logits = out.output.to_vec();
    let classes = logits.len() / n;
    let correct = logits
        .chunks_exact(classes.max(1))
        .zip(&batch.labels)
        .filter(|(row, label)| argmax(row) == **label)
        .count();
    let weights = if args.checkpoint.is_some() {
        "trained"
    } else {
        "freshly initialised"
    };
    println!(
        "{model_name} ({weights}) on the first {n} {what} images: loss {:.4}, accuracy {:.1}%",
        out.loss,
        100.0 * correct as f64 / n as f64
    );
    println!();
    print!("{}", format_layer_stats(&layer_stats(&out.layers)));

    let dir = args.out.unwrap_or_else(|| match &args.checkpoint {
        Some(ck) => ck.parent().map(Path::to_path_buf).unwrap_or_default(),
        None => PathBuf::from(format!("runs/inspect-{model_name}-{dataset}")),
    });
    std::fs::create_dir_all(&dir).map_err(|e| Failure::run(format!("{}: {e}", dir.display())))?;
    let mut written = Vec::new();
    let mut save = |name: String, image: convnet_train::Image, what: String| {
        let path = dir.join(name);
        image.save(&path).map_err(Failure::run)?;
        written.push(format!("{}  {what}", path.display()));
        Ok::<(), Failure>(())
    };
    let input = feature_maps(&batch.images, args.image).map_err(Failure::run)?;
    let label = batch.labels[args.image];
    let what = format!(
        "input image {} (label {label}, {})",
        args.image,
        pre.classes.get(label).map_or("?", String::as_str)
    );
    save("input.png".into(), input, what)?;
    if let Some((name, w)) = params
        .iter()
        .find(|(name, t)| name.ends_with("weight") && t.shape().len() == 4)
    {
        let what = format!(
            "filters of {name} {:?} (grey 0, white +, black −)",
            w.shape()
        );
        save(
            format!("filters-{}.png", file_part(name)),
            filter_grid(w).map_err(Failure::run)?,
            what,
        )?;
    }
    let maps = out
        .layers
        .iter()
        .filter(|t| t.activation.shape().len() == 4);
    for (i, trace) in maps.take(MAX_MAP_PICTURES).enumerate() {
        let image = feature_maps(&trace.activation, args.image).map_err(Failure::run)?;
        let what = format!(
            "{} {} {:?}, image {} (label {})",
            trace.kind,
            trace.name,
            trace.activation.shape(),
            args.image,
            batch.labels[args.image]
        );
        save(
            format!("maps-{i:02}-{}.png", file_part(&trace.name)),
            image,
            what,
        )?;
    }
    if let Some(log) = args
        .checkpoint
        .as_deref()
        .and_then(Path::parent)
        .map(|d| d.join("log.csv"))
        .filter(|p| p.is_file())
    {
        let history = read_csv_log(&log).map_err(Failure::run)?;
        let image = training_curves(&history).map_err(Failure::run)?;
        let what = format!(
            "{} epochs: loss (left), accuracy (right); training blue, validation orange",
            history.len()
        );
        save("curves.png".into(), image, what)?;
    }
    println!();
    println!("pictures:");
    for line in &written {
        println!("  {line}");
    }
    Ok(())
}

fn argmax(row: &[f32]) -> usize {
    row.iter()
        .enumerate()
        .fold((0, f32::NEG_INFINITY), |(bi, bv), (i, &v)| {
            if v > bv { (i, v) } else { (bi, bv) }
        })
        .0
}

/// A layer name as a file-name part: anything but letters, digits, `.`, `-`, `_` becomes `_`.
fn file_part(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}
