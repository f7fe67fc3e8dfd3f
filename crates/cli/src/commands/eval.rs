//! `convnet eval`: a checkpoint's loss, accuracy, top-5 and confusion matrix on a test split.

use convnet_datasets::{DataLoader, LoaderConfig, Split};
use convnet_nn::CrossEntropyLoss;

use crate::Failure;
use crate::args::EvalArgs;
use crate::commands::restore::{Restored, restore};
use crate::commands::{dataset_failure, find_data, load_split};

pub fn run(args: EvalArgs) -> Result<(), Failure> {
    let Restored {
        model_name,
        dataset: kind,
        input,
        model,
        params,
    } = restore(Some(&args.checkpoint), args.model, args.dataset, 0)?;
    let dir = find_data(&args.data, kind).map_err(dataset_failure)?;
    let test = load_split(kind, Split::Test, &dir, input).map_err(dataset_failure)?;
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
