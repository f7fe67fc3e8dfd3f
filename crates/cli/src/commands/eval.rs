//! `convnet eval`: a checkpoint's loss, accuracy, top-5 and confusion matrix on a test split
//! (or, for a model trained on an image folder, its validation images or another folder).

use convnet_nn::CrossEntropyLoss;

use crate::Failure;
use crate::args::EvalArgs;
use crate::commands::data::DataSource;
use crate::commands::restore::restore;

pub fn run(args: EvalArgs) -> Result<(), Failure> {
    let restored = restore(Some(&args.checkpoint), args.model, args.dataset, 0)?;
    let set = restored.evaluation_set(&args.data)?;
    let loader = restored.evaluation_loader(set, args.batch_size)?;
    let mut evaluator = restored
        .model
        .evaluator(CrossEntropyLoss::new())
        .map_err(Failure::run)?;
    evaluator.set_precision(args.precision.announced());
    let names = &restored.pre.classes;
    let r = convnet_train::evaluate(
        &evaluator,
        &restored.params,
        &loader,
        args.limit_batches,
        names.len(),
    )
    .map_err(Failure::run)?;
    let what = match &restored.source {
        DataSource::Builtin(kind) => format!("{kind} test"),
        DataSource::Folder(path) => path.display().to_string(),
    };
    println!(
        "{} on {what}: loss {:.4}  accuracy {:.2}%  top-5 {:.2}%  ({} images, {:.1}s)",
        restored.model_name,
        r.loss,
        100.0 * r.accuracy,
        100.0 * r.top5,
        r.count,
        r.seconds
    );
    println!("confusion matrix (rows: true class, columns: predicted):");
    print!("{:>12}", "");
    for j in 0..names.len() {
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
