//! The `convnet` binary end to end: the listings, the errors a user can hit (and their exit
//! codes), a short real training run on MNIST that must beat chance, and resume.

use std::path::Path;

mod common;
use common::{convnet, isolated, text};

#[test]
fn models_and_datasets_are_listed() {
    let o = convnet(&["models"]);
    assert!(o.status.success());
    let t = text(&o);
    for name in [
        "lenet5",
        "alexnet",
        "vgg16",
        "googlenet",
        "resnet18",
        "resnet20",
    ] {
        assert!(t.contains(name), "{t}");
    }
    assert!(t.contains("138,357,544"), "{t}");
    let o = convnet(&["datasets"]);
    assert!(o.status.success());
    let train = convnet_testdata::test_data()
        .facts("mnist", convnet_testdata::Part::Train)
        .len;
    assert!(
        text(&o).contains(&format!("{train} images")),
        "{}",
        text(&o)
    );
}

#[test]
fn summary_prints_the_shape_arithmetic() {
    let o = convnet(&["summary", "--model", "lenet5"]);
    assert!(o.status.success(), "{}", text(&o));
    let t = text(&o);
    assert!(t.contains("(28 − 5 + 2·2)/1 + 1 = 28"), "{t}");
    assert!(t.contains("61,706"), "{t}");
    let o = convnet(&[
        "summary",
        "--model",
        "resnet18",
        "--input",
        "3x224x224",
        "--markdown",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("11,689,512"), "{}", text(&o));
}

/// The summary ends with the planned peak memory of a training step, which grows with the
/// batch.
#[test]
fn summary_shows_the_planned_peak_of_a_training_step() {
    let peak = |batch: &str| {
        let o = convnet(&["summary", "--model", "lenet5", "--batch", batch]);
        assert!(o.status.success(), "{}", text(&o));
        let t = text(&o);
        let want = format!("Planned peak of a training step at batch {batch}: ");
        let line = t
            .lines()
            .find(|l| l.starts_with(&want))
            .unwrap_or_else(|| panic!("{t}"))
            .to_string();
        line[want.len()..].split(" of ").next().unwrap().to_string()
    };
    let (one, many) = (peak("1"), peak("128"));
    assert!(one.ends_with("KiB"), "{one}");
    assert!(many.ends_with("MiB"), "{many}");
}

#[test]
fn usage_errors_exit_2_and_say_what_is_valid() {
    let o = convnet(&["train", "--model", "lenet6"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o).contains("unknown model `lenet6`; valid names: lenet5"),
        "{}",
        text(&o)
    );
    let o = convnet(&["train", "--dataset", "imagenet"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o).contains(
            "unknown dataset 'imagenet'; valid datasets: mnist, fashion-mnist, cifar10, digits, \
             or a folder of class sub-folders"
        ),
        "{}",
        text(&o)
    );
    let o = convnet(&["summary", "--input", "3by32"]);
    assert_eq!(o.status.code(), Some(2));
    let o = convnet(&["summary", "--model", "vgg16", "--input", "3x16x16"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o).contains("the smallest that works is 3×32×32"),
        "{}",
        text(&o)
    );
}

/// Numbers a user can type that would overflow a size or exhaust the machine are usage
/// errors naming the option, never an arithmetic panic or a hang.
#[test]
fn numbers_past_any_sane_size_are_usage_errors() {
    for (args, says) in [
        (
            &["summary", "--input", "3x99999999999x99999999999"][..],
            "--input 3x99999999999x99999999999: each of C, H and W must be between 1 and 65536",
        ),
        (
            &[
                "summary",
                "--model",
                "lenet5",
                "--batch",
                "18446744073709551615",
            ][..],
            "--batch 18446744073709551615: summary at batch 18446744073709551615",
        ),
        (
            &["train", "--threads", "100000", "--epochs", "1"][..],
            "--threads 100000: must be between 1 and 1024",
        ),
    ] {
        let o = convnet(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", text(&o));
        assert!(text(&o).contains(says), "{args:?}: {}", text(&o));
        assert!(!text(&o).contains("panicked"), "{args:?}: {}", text(&o));
    }
}

/// A learning rate that blows training up is reported with where the first NaN or infinity
/// appeared (the layer, the op, its inputs' shapes and ranges), found by re-running the step
/// in check mode; `--check-numerics` finds it during the step itself.
#[test]
fn a_diverging_run_says_where_it_broke() {
    let dir = tempfile::tempdir().unwrap();
    let run = |extra: &[&str]| {
        let mut args = vec![
            "train",
            "--optimizer",
            "sgd",
            "--lr",
            "1e10",
            "--epochs",
            "1",
            "--limit-train-batches",
            "10",
            "--limit-val-batches",
            "1",
            "--progress",
            "none",
            "--out",
            dir.path().to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        convnet(&args)
    };
    let o = run(&[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let t = text(&o);
    assert!(
        t.contains("loss became NaN at step")
            && t.contains("the first non-finite value:")
            && t.contains("produced")
            && t.contains("from inputs `"),
        "{t}"
    );
    let o = run(&["--check-numerics"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let t = text(&o);
    assert!(
        t.contains("check numerics at step") && t.contains("from inputs `"),
        "{t}"
    );
}

#[test]
fn missing_data_exits_66_and_says_how_to_get_it() {
    let o = isolated()
        .args(["train", "--dataset", "mnist", "--data-dir", "/nonexistent"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(66));
    assert!(text(&o).contains("convnet download mnist"), "{}", text(&o));
}

#[test]
fn a_corrupt_checkpoint_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let ck = dir.path().join("ck.safetensors");
    std::fs::write(&ck, b"\x08\x00\x00\x00\x00\x00\x00\x00{}      ").unwrap();
    let o = convnet(&["eval", "--checkpoint", ck.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("ck.safetensors"), "{}", text(&o));
    let o = convnet(&["eval", "--checkpoint", "/nonexistent.safetensors"]);
    assert_eq!(o.status.code(), Some(66));
}

/// Two short epochs of real MNIST through the CLI (at most 40 batches each: 80 steps on the
/// full data, 58 on the 3,600 training images of the fixtures) must lift validation accuracy
/// well above chance (10 %); then the run is interrupted, resumed, and evaluated.
#[test]
fn short_training_beats_chance_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    let o = convnet(&[
        "train",
        "--epochs",
        "2",
        "--limit-train-batches",
        "40",
        "--limit-val-batches",
        "4",
        "--progress",
        "none",
        "--out",
        out,
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let t = text(&o);
    let line = t
        .lines()
        .rfind(|l| l.starts_with("epoch"))
        .unwrap_or_else(|| panic!("{t}"));
    let acc: f64 = line
        .split("val loss")
        .nth(1)
        .and_then(|s| s.split("acc").nth(1))
        .and_then(|s| s.trim().split('%').next())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or_else(|| panic!("no validation accuracy in {line}"));
    assert!(
        acc > 50.0,
        "validation accuracy {acc}% after two short epochs"
    );
    assert!(Path::new(out).join("log.csv").is_file());

    let o = convnet(&[
        "train",
        "--epochs",
        "1",
        "--limit-train-batches",
        "20",
        "--limit-val-batches",
        "2",
        "--progress",
        "none",
        "--out",
        out,
        "--stop-after-steps",
        "10",
        "--checkpoint-every",
        "5",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("stopped after step 10"), "{}", text(&o));
    let last = Path::new(out).join("last.safetensors");
    let o = convnet(&[
        "train",
        "--epochs",
        "1",
        "--limit-train-batches",
        "20",
        "--limit-val-batches",
        "2",
        "--progress",
        "none",
        "--out",
        out,
        "--resume",
        last.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("resumed from"), "{}", text(&o));
    assert!(text(&o).contains("trained 20 steps"), "{}", text(&o));
    let o = convnet(&[
        "eval",
        "--checkpoint",
        last.to_str().unwrap(),
        "--limit-batches",
        "4",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("lenet5 on mnist test: loss"),
        "{}",
        text(&o)
    );

    // Inspecting the trained checkpoint: statistics for every layer, and the pictures,
    // including the loss curves from the run's log.csv.
    let pics = dir.path().join("pictures");
    let o = convnet(&[
        "inspect",
        "--checkpoint",
        last.to_str().unwrap(),
        "--batch-size",
        "16",
        "--image",
        "3",
        "--out",
        pics.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let t = text(&o);
    assert!(
        t.contains("lenet5 (trained) on the first 16 mnist test images"),
        "{t}"
    );
    for layer in ["features.0", "features.3", "classifier.0", "grad std"] {
        assert!(t.contains(layer), "{layer} missing from {t}");
    }
    for file in [
        "input.png",
        "filters-features.0.weight.png",
        "maps-00-features.0.png",
        "curves.png",
    ] {
        let bytes = std::fs::read(pics.join(file)).unwrap_or_else(|e| panic!("{file}: {e}\n{t}"));
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "{file} is a PNG");
    }
}

/// The test accuracy `convnet train` printed.
fn test_accuracy(t: &str) -> f64 {
    t.lines()
        .find_map(|l| l.strip_prefix("test: loss "))
        .and_then(|l| l.split("accuracy").nth(1))
        .and_then(|s| s.trim().split('%').next())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or_else(|| panic!("{t}"))
}

/// `--dataset digits` needs no files and no network: the embedded digits, LeNet-5's recipe
/// for them, at least 95 % on their 360 held-out images; the checkpoint evaluates with no
/// data either.
#[test]
fn the_built_in_digits_need_no_data_and_reach_95_percent() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    let started = std::time::Instant::now();
    let o = isolated()
        .args(["train", "--dataset", "digits", "--data-dir", "/nonexistent"])
        .args(["--progress", "none", "--out", out])
        .env_remove("CONVNET_DATA")
        .output()
        .unwrap();
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    let acc = test_accuracy(&t);
    eprintln!("digits: {acc}% in {:.1}s", started.elapsed().as_secs_f64());
    assert!(acc >= 95.0, "test accuracy {acc}% on the digits:\n{t}");
    let best = dir.path().join("best.safetensors");
    let o = isolated()
        .args(["eval", "--checkpoint", best.to_str().unwrap()])
        .args(["--data-dir", "/nonexistent"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("lenet5 on digits test"), "{}", text(&o));
}

/// The default command on a machine with no data: one line says MNIST is missing and how to
/// get it, and LeNet-5 trains on the built-in digits (resized to its 28×28 input) instead.
#[test]
fn with_no_data_the_default_command_trains_on_the_built_in_digits() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    let o = isolated()
        .args(["train", "--data-dir", "/nonexistent", "--progress", "none"])
        .args(["--epochs", "3", "--out", out])
        .env_remove("CONVNET_DATA")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let t = text(&o);
    assert!(
        t.contains(
            "mnist is not in /nonexistent or the cache, and downloading is off; training on \
             the built-in digits instead (`convnet download mnist` fetches MNIST)"
        ),
        "{t}"
    );
    assert_eq!(t.matches("error").count(), 0, "{t}");
    let acc = test_accuracy(&t);
    assert!(
        acc > 60.0,
        "test accuracy {acc}% on the digits after 3 epochs (chance: 10 %)"
    );

    // Downloading allowed but no server answers: the same one-line fallback, naming why.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mirror = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let o = isolated()
        .args(["train", "--data-dir", "/nonexistent", "--epochs", "1"])
        .args(["--progress", "none", "--out", out])
        .env_remove("CONVNET_DATA")
        .env_remove("CONVNET_OFFLINE")
        .env("CONVNET_MIRROR", &mirror)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let t = text(&o);
    let line = t
        .lines()
        .find(|l| l.starts_with("mnist could not be downloaded (download of http://127.0.0.1"))
        .unwrap_or_else(|| panic!("{t}"));
    assert!(
        line.ends_with(
            "training on the built-in digits instead (`convnet download mnist` fetches MNIST)"
        ),
        "{line}"
    );
}

/// `--resume` alone continues the recorded run (its seed, batch size and limits are adopted);
/// an option given that differs from the record is a usage error naming it.
#[test]
fn resume_adopts_the_recorded_run_and_refuses_a_conflicting_option() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    let o = convnet(&[
        "train",
        "--epochs",
        "1",
        "--limit-train-batches",
        "6",
        "--limit-val-batches",
        "1",
        "--batch-size",
        "32",
        "--seed",
        "4",
        "--progress",
        "none",
        "--out",
        out,
        "--stop-after-steps",
        "3",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let last = dir.path().join("last.safetensors");
    let last = last.to_str().unwrap();
    for (extra, says) in [
        (
            &["--seed", "5"][..],
            "--seed 5 conflicts with the run being resumed, which has --seed 4",
        ),
        (
            &["--train-subset", "100"][..],
            "--train-subset 100 conflicts with the run being resumed, which ran without --train-subset",
        ),
        (
            &["--lr", "0.1"][..],
            "--lr 0.1 conflicts with the run being resumed, which has --lr 0.05",
        ),
    ] {
        let mut args = vec![
            "train",
            "--resume",
            last,
            "--progress",
            "none",
            "--out",
            out,
        ];
        args.extend_from_slice(extra);
        let o = convnet(&args);
        assert_eq!(o.status.code(), Some(2), "{extra:?}: {}", text(&o));
        assert!(text(&o).contains(says), "{extra:?}: {}", text(&o));
    }
    // Agreeing options are fine, and everything left out comes from the record.
    let o = convnet(&[
        "train",
        "--resume",
        last,
        "--seed",
        "4",
        "--progress",
        "none",
        "--out",
        out,
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let t = text(&o);
    assert!(t.contains("1 epochs, batch 32"), "{t}");
    assert!(
        t.contains("resumed from") && t.contains("trained 6 steps"),
        "{t}"
    );
}

#[test]
fn inspect_works_on_a_fresh_model_and_checks_its_arguments() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    let o = convnet(&[
        "inspect",
        "--dataset",
        "fashion-mnist",
        "--batch-size",
        "8",
        "--out",
        out,
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let t = text(&o);
    assert!(
        t.contains("lenet5 (freshly initialised) on the first 8 fashion-mnist test images"),
        "{t}"
    );
    // No checkpoint, so no log and no curves.
    assert!(!dir.path().join("curves.png").exists(), "{t}");
    assert!(
        dir.path().join("filters-features.0.weight.png").is_file(),
        "{t}"
    );
    let o = convnet(&["inspect", "--batch-size", "4", "--image", "4", "--out", out]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("--image 4 is outside the batch of 4"),
        "{}",
        text(&o)
    );
}

/// A model whose smallest input is larger than a data set's images trains on them resized:
/// `--image-size` picks the size, and a size the model cannot take is a usage error saying
/// the smallest it can.
#[test]
fn image_size_resizes_small_images_for_larger_models_and_refuses_too_small_ones() {
    let o = convnet(&[
        "train",
        "--model",
        "googlenet",
        "--dataset",
        "digits",
        "--image-size",
        "40",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("--image-size 40: googlenet needs at least 79×79"),
        "{}",
        text(&o)
    );
    let dir = tempfile::tempdir().unwrap();
    let o = convnet(&[
        "train",
        "--model",
        "resnet18",
        "--dataset",
        "digits",
        "--image-size",
        "40",
        "--epochs",
        "1",
        "--limit-train-batches",
        "2",
        "--limit-val-batches",
        "1",
        "--progress",
        "none",
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(t.contains("10 classes, input 1×40×40"), "{t}");
    let ck = dir.path().join("last.safetensors");
    let e = convnet(&[
        "eval",
        "--checkpoint",
        ck.to_str().unwrap(),
        "--limit-batches",
        "1",
    ]);
    assert!(e.status.success(), "{}", text(&e));
    assert!(text(&e).contains("resnet18 on digits test"), "{}", text(&e));
}

/// `summary --kernels` says which kernel runs every convolution pass; the first layer's input
/// gradient, which training never computes, is a dash.
#[test]
fn summary_names_the_kernel_of_every_convolution_pass() {
    let o = convnet(&[
        "summary",
        "--model",
        "resnet20",
        "--batch",
        "32",
        "--kernels",
    ]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    let table = t
        .split("Convolution kernels at batch 32")
        .nth(1)
        .unwrap_or_else(|| panic!("{t}"));
    let conv1 = table.lines().find(|l| l.starts_with("conv1 ")).unwrap();
    assert!(conv1.contains('—'), "{conv1}");
    let rows = table
        .lines()
        .filter(|l| l.starts_with("conv1 ") || l.starts_with("layer"))
        .count();
    assert_eq!(
        rows,
        1 + 1 + 18,
        "header, conv1 and 18 block convolutions:\n{table}"
    );
    assert!(
        table.contains("im2col") && table.contains("ch/block"),
        "{table}"
    );
}
