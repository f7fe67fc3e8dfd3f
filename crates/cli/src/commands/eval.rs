//! `convnet eval`: a checkpoint's loss, accuracy, top-5 and confusion matrix on a test split.

use convnet_datasets::{DataLoader, Dataset, LoaderConfig, Split};
use convnet_nn::CrossEntropyLoss;
use convnet_train::Checkpoint;

use crate::Failure;
use crate::args::EvalArgs;
use crate::commands::train::build_model;
use crate::commands::{data_dir, dataset_failure, dataset_kind};

pub fn run(args: EvalArgs) -> Result<(), Failure> {
    if !args.checkpoint.is_file() {
        return Err(Failure::no_input(format!(
            "checkpoint {} not found",
            args.checkpoint.display()
        )));
    }
    let ck = Checkpoint::<f32>::load(&args.checkpoint).map_err(Failure::run)?;
    let recorded = |k: &str| ck.info.get(k).cloned();
    let model_name = args
        .model
        .clone()
        .or_else(|| recorded("model"))
        .ok_or_else(|| {
            Failure::usage("the checkpoint does not record its model; pass --model".to_string())
        })?;
    let dataset = args
        .dataset
        .clone()
        .or_else(|| recorded("dataset"))
        .ok_or_else(|| {
            Failure::usage(
                "the checkpoint does not record its data set; pass --dataset".to_string(),
            )
        })?;
    let kind = dataset_kind(&dataset)?;
    let model = build_model(&model_name, Some(10), Some(kind.image_shape()))?;
    let mut params = model.init_params(0).map_err(Failure::run)?;
    ck.restore_params(&mut params, &args.checkpoint)
        .map_err(Failure::run)?;
    let test = Dataset::load(kind, Split::Test, &data_dir(&args.data)).map_err(dataset_failure)?;
    let loader = DataLoader::new(test, LoaderConfig::evaluation(args.batch_size.max(1)))
        .map_err(Failure::run)?;
    let evaluator = model
        .evaluator(CrossEntropyLoss::new())
        .map_err(Failure::run)?;
    let r = convnet_train::evaluate(&evaluator, &params, &loader, args.limit_batches, 10)
        .map_err(Failure::run)?;
    println!(
        "{model_name} on {kind} test: loss {:.4}  accuracy {:.2}%  top-5 {:.2}%  ({} images, {:.1}s)",
        r.loss,
        100.0 * r.accuracy,
        100.0 * r.top5,
        r.count,
        r.seconds
    );
    let names = kind.class_names();
    println!("confusion matrix (rows: true class, columns: predicted):");
    print!("{:>12}", "");
    for j in 0..10 {
        print!("{j:>6}");
    }
    println!();
    for (i, row) in r.confusion.iter().enumerate() {
        print!("{:>12}", names[i].chars().take(11).collect::<String>());
        for n in row {
            print!("{n:>6}");
        }
        println!();
    }
    Ok(())
}
