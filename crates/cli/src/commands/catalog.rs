//! `convnet models`, `convnet datasets`, `convnet download`.

use convnet_datasets::{Dataset, DatasetKind, Split};

use crate::Failure;
use crate::args::{DataDirArg, DownloadArgs};
use crate::commands::{data_dir, dataset_kind};

pub fn models() -> Result<(), Failure> {
    println!(
        "{:<20} {:>12}  {:<11}  description",
        "model", "parameters", "input"
    );
    for m in convnet_zoo::MODELS {
        let params = convnet_zoo::build::<f32>(m.name, &convnet_zoo::ZooConfig::default())
            .map(|model| convnet_nn::summary::fmt_count(model.num_params() as u64))
            .unwrap_or_else(|_| "?".into());
        println!(
            "{:<20} {:>12}  {:<11}  {}",
            m.name,
            params,
            convnet_zoo::chw(m.default_input),
            m.description
        );
    }
    Ok(())
}

pub fn datasets(arg: DataDirArg) -> Result<(), Failure> {
    let dir = data_dir(&arg);
    println!("data directory: {}", dir.display());
    for kind in DatasetKind::ALL {
        let [c, h, w] = kind.image_shape();
        let status = |split| match Dataset::load(kind, split, &dir) {
            Ok(d) => format!("{} images", d.len()),
            Err(convnet_datasets::DatasetError::Missing { .. }) => "missing".to_string(),
            Err(e) => format!("unreadable: {e}"),
        };
        println!(
            "{:<14} {c}×{h}×{w}, {} classes  train: {:<16} test: {}",
            kind.name(),
            kind.class_names().len(),
            status(Split::Train),
            status(Split::Test)
        );
    }
    Ok(())
}

pub fn download(args: DownloadArgs) -> Result<(), Failure> {
    let kind = dataset_kind(&args.dataset)?;
    let dir = data_dir(&args.data);
    let mut bar = crate::commands::DownloadBar::default();
    let placed = convnet_datasets::download_with_progress(
        kind,
        &dir,
        args.base_url.as_deref(),
        &mut |name, done, total| bar.update(name, done, total),
    )
    .map_err(Failure::run)?;
    drop(bar);
    for p in placed {
        println!("verified {}", p.display());
    }
    Ok(())
}
