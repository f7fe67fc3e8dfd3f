//! The options that fix a training run's course, recorded in every checkpoint it writes
//! (`info.run.<option>`). `--resume` adopts them, so `convnet train --resume FILE` alone
//! continues exactly; an option given explicitly that differs from the record is a usage error
//! naming it, since the resumed run would silently stop being the same run.
//!
//! Options that do not change the numbers (`--out`, `--progress`, `--checkpoint-every`,
//! `--stop-after-steps`, `--data-dir`) are not recorded. `--threads` can change the last bits
//! of parallel sums, so it is recorded and a different count earns a note, not a refusal.

use std::collections::BTreeMap;
use std::fmt::Display;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use clap::ValueEnum;

use crate::Failure;
use crate::args::TrainArgs;
use crate::recipes::Recipe;

const PREFIX: &str = "run.";
/// What an optional option that was not given is recorded as.
const ABSENT: &str = "none";

/// The checkpoint entries describing a run: `(key, value)` for `FitConfig::info`.
pub fn record(
    model: &str,
    dataset: &str,
    seed: u64,
    recipe: &Recipe,
    args: &TrainArgs,
) -> Vec<(String, String)> {
    let optional = |v: Option<usize>| v.map_or(ABSENT.to_string(), |n| n.to_string());
    [
        ("model", model.to_string()),
        ("dataset", dataset.to_string()),
        ("seed", seed.to_string()),
        ("epochs", recipe.epochs.to_string()),
        ("batch-size", recipe.batch_size.to_string()),
        ("optimizer", recipe.optimizer.to_string()),
        ("lr", recipe.lr.to_string()),
        ("weight-decay", recipe.weight_decay.to_string()),
        ("schedule", recipe.schedule.to_string()),
        ("augment", recipe.augment.to_string()),
        ("train-subset", optional(args.train_subset)),
        ("limit-train-batches", optional(args.limit_train_batches)),
        ("limit-val-batches", optional(args.limit_val_batches)),
        ("early-stopping", optional(args.early_stopping)),
        ("image-size", optional(args.image_size)),
        ("val-dir", path(args.val_dir.as_deref())),
        ("pretrained", path(args.pretrained.as_deref())),
        ("mean", text(args.mean.as_deref())),
        ("std", text(args.std.as_deref())),
        (
            "freeze",
            if args.freeze.is_empty() {
                ABSENT.to_string()
            } else {
                args.freeze.join(",")
            },
        ),
        ("threads", rayon::current_num_threads().to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (format!("{PREFIX}{k}"), v))
    .collect()
}

/// A path as recorded: absolute when it exists, so that a resumed run finds the same folder.
fn path(p: Option<&Path>) -> String {
    p.map_or(ABSENT.to_string(), |p| {
        p.canonicalize()
            .unwrap_or_else(|_| p.to_path_buf())
            .display()
            .to_string()
    })
}

fn text(s: Option<&str>) -> String {
    s.map_or(ABSENT.to_string(), str::to_string)
}

fn parse_enum<E: ValueEnum>(s: &str) -> Option<E> {
    E::from_str(s, true).ok()
}

/// Fills every option of `args` the user left out from the checkpoint's record `info`, and
/// refuses any they gave that differs from it. Checkpoints from before options were recorded
/// still carry `model` and `dataset`, which are adopted the same way.
pub fn adopt(args: &mut TrainArgs, info: &BTreeMap<String, String>) -> Result<(), Failure> {
    let rec = |k: &str| info.get(&format!("{PREFIX}{k}")).map(String::as_str);
    let legacy = |k: &str| rec(k).or_else(|| info.get(k).map(String::as_str));
    same("model", &mut args.model, legacy("model"), |s| {
        Some(s.to_string())
    })?;
    // A folder is recorded by its absolute path; compare like with like.
    if let Some(d) = &mut args.dataset
        && let Ok(abs) = Path::new(d.as_str()).canonicalize()
        && abs.is_dir()
    {
        *d = abs.display().to_string();
    }
    same("dataset", &mut args.dataset, legacy("dataset"), |s| {
        Some(s.to_string())
    })?;
    same("seed", &mut args.seed, rec("seed"), |s| s.parse().ok())?;
    same("epochs", &mut args.epochs, rec("epochs"), |s| {
        s.parse().ok()
    })?;
    same("batch-size", &mut args.batch_size, rec("batch-size"), |s| {
        s.parse().ok()
    })?;
    same(
        "optimizer",
        &mut args.optimizer,
        rec("optimizer"),
        parse_enum,
    )?;
    same("lr", &mut args.lr, rec("lr"), |s| s.parse().ok())?;
    same(
        "weight-decay",
        &mut args.weight_decay,
        rec("weight-decay"),
        |s| s.parse().ok(),
    )?;
    same("schedule", &mut args.schedule, rec("schedule"), parse_enum)?;
    same("augment", &mut args.augment, rec("augment"), |s| {
        s.parse().ok()
    })?;
    for (flag, field) in [
        ("train-subset", &mut args.train_subset),
        ("limit-train-batches", &mut args.limit_train_batches),
        ("limit-val-batches", &mut args.limit_val_batches),
        ("early-stopping", &mut args.early_stopping),
        ("image-size", &mut args.image_size),
    ] {
        optional(flag, field, rec(flag))?;
    }
    optional("mean", &mut args.mean, rec("mean"))?;
    optional("std", &mut args.std, rec("std"))?;
    for (flag, field) in [
        ("val-dir", &mut args.val_dir),
        ("pretrained", &mut args.pretrained),
    ] {
        let mut given = field.as_deref().map(|p| path(Some(p)));
        optional(flag, &mut given, rec(flag))?;
        *field = given.filter(|g| g != ABSENT).map(PathBuf::from);
    }
    match rec("freeze") {
        None => {}
        Some(ABSENT) if args.freeze.is_empty() => {}
        Some(r) if args.freeze.is_empty() => {
            args.freeze = r.split(',').map(str::to_string).collect();
        }
        Some(r) if args.freeze.join(",") == r => {}
        Some(r) => {
            let had = (r != ABSENT).then_some(r);
            return Err(conflict("freeze", &args.freeze.join(" "), had));
        }
    }
    if let (Some(then), Some(now)) = (
        rec("threads").and_then(|s| s.parse::<usize>().ok()),
        args.threads,
    ) && then != now
    {
        eprintln!(
            "note: the run was trained on {then} threads and resumes on {now}; parallel sums \
             may then differ in their last bits"
        );
    }
    Ok(())
}

/// One recorded option: adopted when not given, refused when given and different.
fn same<T: PartialEq + Display>(
    flag: &str,
    given: &mut Option<T>,
    recorded: Option<&str>,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<(), Failure> {
    let Some(text) = recorded else {
        return Ok(());
    };
    let value = parse(text).ok_or_else(|| {
        Failure::run(format!(
            "the checkpoint records --{flag} as `{text}`, which is not a valid value"
        ))
    })?;
    match given {
        Some(g) if *g != value => Err(conflict(flag, &g.to_string(), Some(text))),
        Some(_) => Ok(()),
        None => {
            *given = Some(value);
            Ok(())
        }
    }
}

/// An option whose absence is recorded as `none`.
fn optional<T: FromStr + PartialEq + Display>(
    flag: &str,
    given: &mut Option<T>,
    recorded: Option<&str>,
) -> Result<(), Failure> {
    match (recorded, given.as_ref()) {
        (None, _) => Ok(()),
        (Some(ABSENT), None) => Ok(()),
        (Some(ABSENT), Some(g)) => Err(conflict(flag, &g.to_string(), None)),
        (Some(text), _) => same(flag, given, Some(text), |s| s.parse().ok()),
    }
}

fn conflict(flag: &str, given: &str, recorded: Option<&str>) -> Failure {
    let had = match recorded {
        Some(v) => format!("has --{flag} {v}"),
        None => format!("ran without --{flag}"),
    };
    Failure::usage(format!(
        "--{flag} {given} conflicts with the run being resumed, which {had}: a resumed run \
         continues its recorded configuration exactly. Leave the option out, or start a new \
         run without --resume"
    ))
}
