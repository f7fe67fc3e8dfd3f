//! Evaluation and prediction with an inference runner: loss, accuracy, top-5 and the
//! confusion matrix over a loader — on one rank, or each rank's shard reduced over the ranks.

use std::time::Instant;

use convnet_datasets::DataLoader;
use convnet_nn::{Inference, ParamStore};
use convnet_tensor::Tensor;

use crate::data_parallel::DataParallel;
use crate::error::Result;
use crate::fit::EvalReport;
use crate::metrics::{Running, confusion_matrix};

/// Evaluates `evaluator` (built with [`Model::evaluator`](convnet_nn::Model::evaluator)) on a loader.
pub fn evaluate(
    evaluator: &Inference<f32>,
    params: &ParamStore<f32>,
    loader: &DataLoader,
    limit_batches: Option<usize>,
    classes: usize,
) -> Result<EvalReport> {
    evaluate_on(
        evaluator,
        params,
        loader,
        limit_batches,
        classes,
        &DataParallel::default(),
    )
}

/// [`evaluate`] on this rank's shard, the sums reduced over the ranks.
pub(crate) fn evaluate_on(
    evaluator: &Inference<f32>,
    params: &ParamStore<f32>,
    loader: &DataLoader,
    limit_batches: Option<usize>,
    classes: usize,
    parallel: &DataParallel,
) -> Result<EvalReport> {
    let started = Instant::now();
    let mut running = Running::default();
    let mut confusion = vec![vec![0; classes]; classes];
    let limit = limit_batches.unwrap_or(usize::MAX);
    for batch in loader.epoch(0).take(limit) {
        let batch = batch?;
        if batch.labels.is_empty() {
            // A shard of a batch smaller than the number of ranks.
            continue;
        }
        let (loss, logits) = evaluator.evaluate(params, &batch.images, &batch.labels)?;
        running.add(loss, &logits, &batch.labels);
        for (t, row) in confusion_matrix(&logits, &batch.labels, classes)
            .iter()
            .enumerate()
        {
            for (p, n) in row.iter().enumerate() {
                confusion[t][p] += n;
            }
        }
    }
    parallel.sum_evaluation(&mut running, &mut confusion)?;
    Ok(EvalReport {
        loss: running.loss(),
        accuracy: running.accuracy(),
        top5: running.top5(),
        count: running.count,
        confusion,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Predicted class of every image in `images` `[B, C, H, W]`.
pub fn predict(
    inference: &Inference<f32>,
    params: &ParamStore<f32>,
    images: &Tensor<f32>,
) -> Result<Vec<usize>> {
    let logits = inference.forward(params, images)?;
    Ok(logits.argmax(1)?)
}
