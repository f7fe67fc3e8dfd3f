//! `convnet report RUN_DIR`: a finished run's dashboard as one HTML file.
//!
//! The curves come from the run's `log.csv` (one point per epoch: the per-step losses are not
//! logged), the cards and pictures from its checkpoint run on the first images of the data
//! set's evaluation split, exactly as the live dashboard computes them.

use std::path::Path;
use std::sync::Arc;

use convnet_dashboard::{
    DashState, Hub, LrFindChart, Progress, RunInfo, SampleBatch, StepPoint, ValPoint, inspect_into,
    layer_cards,
};
use convnet_datasets::write_atomically;
use convnet_train::{LrRangeTest, read_csv_log};
use convnet_zoo::AuxClassifierLoss;

use crate::Failure;
use crate::args::ReportArgs;
use crate::commands::restore::{Restored, restore};

/// The range test `convnet lr-find` left in `dir`, if any (a file that does not read is
/// reported and left out).
pub fn read_lr_find(dir: &Path) -> Option<LrFindChart> {
    let path = dir.join("lr_find.csv");
    let text = std::fs::read_to_string(&path).ok()?;
    match LrRangeTest::from_csv(&text, &path) {
        Ok(t) => Some(LrFindChart::from(&t)),
        Err(e) => {
            eprintln!("dashboard: {e}; the learning-rate chart is left out");
            None
        }
    }
}

pub fn run(args: ReportArgs) -> Result<(), Failure> {
    let dir = &args.run_dir;
    let checkpoint = ["last.safetensors", "best.safetensors"]
        .iter()
        .map(|f| dir.join(f))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            Failure::no_input(format!(
                "{} holds no checkpoint (last.safetensors or best.safetensors): is it a run \
                 directory written by `convnet train`?",
                dir.display()
            ))
        })?;
    let log_path = dir.join("log.csv");
    let history = if log_path.is_file() {
        read_csv_log(&log_path).map_err(Failure::run)?
    } else {
        Vec::new()
    };
    let restored = restore(Some(&checkpoint), None, None, 0)?;
    let set = restored.evaluation_set(&args.data);
    let loader = match set {
        Ok(set) => Some(restored.evaluation_loader(set, 256)?),
        Err(e) => {
            eprintln!("report: no pictures of the data ({})", e.message);
            None
        }
    };
    let Restored {
        model_name,
        source,
        pre,
        model,
        params,
        ..
    } = restored;
    let last_epoch = history.last().map_or(0, |r| r.epoch);
    let state = DashState {
        run: RunInfo {
            model: model_name.clone(),
            dataset: source.record(),
            input: model.input_shape().to_vec(),
            params: model.num_params() as u64,
            classes: pre.classes.clone(),
            batch_size: 0,
        },
        progress: Progress {
            epoch: last_epoch,
            epochs: last_epoch,
            step: last_epoch,
            finished: true,
            images_per_second: history.last().map_or(0.0, |r| r.images_per_second),
            elapsed_seconds: history.iter().map(|r| r.seconds).sum(),
            ..Progress::default()
        },
        // One point per epoch: the x axis of the report's curves is the epoch.
        train: history
            .iter()
            .map(|r| StepPoint {
                step: r.epoch,
                loss: r.train_loss,
                smoothed: r.train_loss,
                accuracy: r.train_accuracy,
                lr: r.learning_rate,
            })
            .collect(),
        val: history
            .iter()
            .filter_map(|r| {
                Some(ValPoint {
                    epoch: r.epoch,
                    step: r.epoch,
                    loss: r.val_loss?,
                    accuracy: r.val_accuracy?,
                })
            })
            .collect(),
        layers: layer_cards(&model).map_err(Failure::run)?,
        lr_find: read_lr_find(dir),
        race: convnet_dashboard::race_charts(),
        ..DashState::default()
    };
    let hub = Arc::new(Hub::new(state));
    if let Some(loader) = loader {
        let batch = loader
            .epoch(0)
            .next()
            .ok_or_else(|| Failure::run("the evaluation split is empty"))?
            .map_err(Failure::run)?;
        let take =
            |k: usize| SampleBatch::first(&batch.images, &batch.labels, k).map_err(Failure::run);
        inspect_into(
            &hub,
            &model,
            AuxClassifierLoss::new(),
            &params,
            take(8)?,
            Some(take(usize::MAX)?),
        )
        .map_err(Failure::run)?;
        // The confusion matrix of the whole evaluation split (at most 40 batches of 256).
        let evaluator = model
            .evaluator(convnet_nn::CrossEntropyLoss::new())
            .map_err(Failure::run)?;
        let eval =
            convnet_train::evaluate(&evaluator, &params, &loader, Some(40), pre.classes.len())
                .map_err(Failure::run)?;
        hub.with_state(|s| s.confusion = Some(eval.confusion));
    }
    let html = convnet_dashboard::report::render(&hub);
    let out = args.out.unwrap_or_else(|| dir.join("report.html"));
    write_atomically(&out, html.as_bytes())
        .map_err(|e| Failure::run(format!("{}: {e}", out.display())))?;
    println!(
        "report: {} ({} epochs, {} layers){}",
        out.display(),
        last_epoch,
        hub.with_state(|s| s.layers.len()),
        if Path::new(&out).is_file() {
            ""
        } else {
            " — not written"
        }
    );
    Ok(())
}
