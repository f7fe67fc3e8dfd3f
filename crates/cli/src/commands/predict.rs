//! `convnet predict`: what a trained model sees in your pictures. Each PNG or JPEG is decoded
//! (grayscale, RGB or RGBA), converted to the model's channels, resized and cropped as the
//! checkpoint's evaluation did, and normalised with its statistics; the top-k classes print
//! with their probabilities and names (or as JSON).

use std::path::{Path, PathBuf};

use convnet_nn::Tensor;

use crate::Failure;
use crate::args::PredictArgs;
use crate::commands::restore::{Restored, restore};

/// File extensions read from a folder (files named on the command line are always tried).
const IMAGE_EXTENSIONS: [&str; 3] = ["png", "jpg", "jpeg"];

/// One picture's top classes: `(class index, probability)`, most likely first.
struct Prediction {
    path: PathBuf,
    top: Vec<(usize, f64)>,
}

pub fn run(args: PredictArgs) -> Result<(), Failure> {
    let Restored {
        model_name,
        source,
        pre,
        model,
        params,
        ..
    } = restore(Some(&args.checkpoint), None, None, 0)?;
    let files = image_files(&args.images)?;
    let [c, h, w] = pre.input;
    let mut pixels = Vec::with_capacity(files.len() * c * h * w);
    for f in &files {
        let img = convnet_datasets::folder::open(f)
            .map_err(|why| Failure::run(format!("{}: {why}", f.display())))?;
        pixels.extend(pre.picture(&img));
    }
    let batch = Tensor::from_vec(pixels, &[files.len(), c, h, w]).map_err(Failure::run)?;
    let precision = args.precision.announced();
    let logits = model
        .inference()
        .and_then(|mut inf| {
            inf.set_precision(precision);
            inf.forward(&params, &batch)
        })
        .map_err(Failure::run)?;
    let classes = logits.shape()[1];
    let k = args.top_k.clamp(1, classes);
    let values = logits.to_f64_vec();
    let predictions: Vec<Prediction> = files
        .iter()
        .zip(values.chunks_exact(classes))
        .map(|(path, row)| Prediction {
            path: path.clone(),
            top: top_k(&softmax(row), k),
        })
        .collect();
    let names = &pre.classes;
    if args.json {
        println!("{}", to_json(&predictions, names));
    } else {
        println!(
            "{model_name} trained on {}, input {}:",
            source.short_name(),
            convnet_zoo::chw(pre.input)
        );
        for p in &predictions {
            let top: Vec<String> = p
                .top
                .iter()
                .map(|&(c, prob)| format!("{} {:.1}%", names[c], 100.0 * prob))
                .collect();
            println!("{}: {}", p.path.display(), top.join(", "));
        }
    }
    Ok(())
}

/// The files named, with every PNG/JPEG directly inside a named folder (sorted).
fn image_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, Failure> {
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut inside: Vec<PathBuf> = std::fs::read_dir(p)
                .map_err(|e| Failure::run(format!("{}: {e}", p.display())))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.is_file() && has_image_extension(f))
                .collect();
            inside.sort();
            if inside.is_empty() {
                return Err(Failure::no_input(format!(
                    "{}: no .png, .jpg or .jpeg files in this folder",
                    p.display()
                )));
            }
            files.extend(inside);
        } else if p.is_file() {
            files.push(p.clone());
        } else {
            return Err(Failure::no_input(format!("{} not found", p.display())));
        }
    }
    if files.is_empty() {
        return Err(Failure::usage("name at least one image or folder"));
    }
    Ok(files)
}

fn has_image_extension(p: &Path) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

fn softmax(logits: &[f64]) -> Vec<f64> {
    let max = logits.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let exp: Vec<f64> = logits.iter().map(|&v| (v - max).exp()).collect();
    let sum: f64 = exp.iter().sum();
    exp.iter().map(|e| e / sum).collect()
}

fn top_k(probs: &[f64], k: usize) -> Vec<(usize, f64)> {
    let mut v: Vec<(usize, f64)> = probs.iter().copied().enumerate().collect();
    v.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    v.truncate(k);
    v
}

/// `[{"file": …, "predictions": [{"class": 7, "name": "7", "probability": 0.98}, …]}, …]`
fn to_json(predictions: &[Prediction], names: &[String]) -> String {
    let quote = |s: &str| {
        let mut q = String::from('"');
        for ch in s.chars() {
            match ch {
                '"' => q.push_str("\\\""),
                '\\' => q.push_str("\\\\"),
                c if (c as u32) < 0x20 => q.push_str(&format!("\\u{:04x}", c as u32)),
                c => q.push(c),
            }
        }
        q.push('"');
        q
    };
    let items: Vec<String> = predictions
        .iter()
        .map(|p| {
            let top: Vec<String> = p
                .top
                .iter()
                .map(|&(c, prob)| {
                    format!(
                        "{{\"class\": {c}, \"name\": {}, \"probability\": {prob:.6}}}",
                        quote(&names[c])
                    )
                })
                .collect();
            format!(
                "{{\"file\": {}, \"predictions\": [{}]}}",
                quote(&p.path.display().to_string()),
                top.join(", ")
            )
        })
        .collect();
    format!("[{}]", items.join(",\n "))
}
