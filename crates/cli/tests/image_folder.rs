//! Your own images through the `convnet` binary: a folder of class sub-folders (PNG and JPEG,
//! grayscale and RGB, made from real MNIST digits, with a corrupt file and a text file among
//! them) is trained on, scored, and asked about held-out pictures; then a model pretrained on
//! MNIST is fine-tuned on it with its convolutions frozen.

use std::path::{Path, PathBuf};
use std::process::Output;

use convnet_testdata::cut::read_plain;

mod common;
use common::{convnet, params_of, save_digit, text};

/// The three classes of the folder and the MNIST digit each is made of.
const CLASSES: [(&str, u8); 3] = [("one", 1), ("seven", 7), ("zero", 0)];
const TRAIN_PER_CLASS: usize = 30;
const HELD_OUT_PER_CLASS: usize = 6;

/// MNIST training images (`[28·28]` bytes) of `digit` from the fixtures, in file order.
fn images_of(digit: u8, n: usize) -> Vec<Vec<u8>> {
    let dir = convnet_testdata::fixtures_dir().join("mnist");
    let images = read_plain(&dir.join("train-images-idx3-ubyte.gz")).unwrap();
    let labels = read_plain(&dir.join("train-labels-idx1-ubyte.gz")).unwrap();
    (0..labels.len() - 8)
        .filter(|&i| labels[8 + i] == digit)
        .take(n)
        .map(|i| images[16 + i * 784..16 + (i + 1) * 784].to_vec())
        .collect()
}

fn save(dir: &Path, i: usize, pixels: &[u8]) -> PathBuf {
    save_digit(dir, &format!("{i:03}"), i, pixels)
}

/// The training folder (with two files that are not images) and held-out pictures with
/// their class names.
fn make_folder(root: &Path) -> (PathBuf, Vec<(PathBuf, &'static str)>) {
    let train = root.join("pictures");
    let held = root.join("held-out");
    std::fs::create_dir_all(&held).unwrap();
    let mut held_out = Vec::new();
    for (name, digit) in CLASSES {
        let dir = train.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        let all = images_of(digit, TRAIN_PER_CLASS + HELD_OUT_PER_CLASS);
        for (i, px) in all[..TRAIN_PER_CLASS].iter().enumerate() {
            save(&dir, i, px);
        }
        for (i, px) in all[TRAIN_PER_CLASS..].iter().enumerate() {
            let path = save(&held, i, px);
            let renamed = held.join(format!(
                "{name}-{}",
                path.file_name().unwrap().to_string_lossy()
            ));
            std::fs::rename(&path, &renamed).unwrap();
            held_out.push((renamed, name));
        }
    }
    // A JPEG cut off after its header, and a note someone left in a class folder.
    std::fs::write(
        train.join("seven").join("broken.jpg"),
        [0xFF, 0xD8, 0xFF, 0xE0, 0, 16, b'J', b'F', b'I', b'F', 0, 1],
    )
    .unwrap();
    std::fs::write(train.join("zero").join("notes.txt"), "shot on a phone\n").unwrap();
    (train, held_out)
}

fn train_on(folder: &Path, out: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "train",
        "--dataset",
        folder.to_str().unwrap(),
        "--progress",
        "none",
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    convnet(&args)
}

/// The last epoch's validation accuracy printed by `convnet train`.
fn last_val_accuracy(stdout: &str) -> f64 {
    let line = stdout
        .lines()
        .rfind(|l| l.starts_with("epoch"))
        .expect("an epoch line");
    let after = line.split("val loss").nth(1).unwrap();
    let acc = after.split("acc").nth(1).unwrap();
    acc.trim()
        .split('%')
        .next()
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn a_folder_of_pictures_trains_scores_and_predicts() {
    let root = tempfile::tempdir().unwrap();
    let (folder, held_out) = make_folder(root.path());
    let out = root.path().join("run");
    let o = train_on(&folder, &out, &[]);
    let all = text(&o);
    assert!(o.status.success(), "{all}");
    // The two files that are not images are named, then counted.
    assert!(
        all.contains("broken.jpg") && all.contains("notes.txt"),
        "{all}"
    );
    assert!(all.contains("skipped 2 of 92 files"), "{all}");
    assert!(
        all.contains("images/s"),
        "decode throughput is reported: {all}"
    );
    assert!(all.contains("3 classes"), "{all}");
    let stdout = String::from_utf8_lossy(&o.stdout);
    let acc = last_val_accuracy(&stdout);
    eprintln!("folder run: validation accuracy {acc}%");
    assert!(
        acc > 75.0,
        "validation accuracy {acc}% (chance 33%):\n{all}"
    );

    // eval on the same folder reproduces the held-out split; a 3×3 confusion matrix.
    let ck = out.join("last.safetensors");
    let e = convnet(&["eval", "--checkpoint", ck.to_str().unwrap()]);
    let eval = text(&e);
    assert!(e.status.success(), "{eval}");
    assert!(
        eval.contains("(18 images"),
        "the 18 held-out images: {eval}"
    );
    assert!(
        eval.contains("seven"),
        "class names from the checkpoint: {eval}"
    );

    // predict on pictures it never saw: names from the folder, most of them right.
    let mut args = vec![
        "predict",
        "--checkpoint",
        ck.to_str().unwrap(),
        "--top-k",
        "1",
    ];
    let paths: Vec<String> = held_out
        .iter()
        .map(|(p, _)| p.display().to_string())
        .collect();
    args.extend(paths.iter().map(String::as_str));
    let p = convnet(&args);
    let predicted = text(&p);
    assert!(p.status.success(), "{predicted}");
    let right = held_out
        .iter()
        .filter(|(path, name)| {
            predicted.lines().any(|l| {
                l.starts_with(&path.display().to_string())
                    && l.split(": ")
                        .nth(1)
                        .is_some_and(|top| top.starts_with(name))
            })
        })
        .count();
    eprintln!(
        "predict: {right} of {} held-out pictures right",
        held_out.len()
    );
    assert!(
        right * 4 >= held_out.len() * 3,
        "{right} of {} held-out pictures right:\n{predicted}",
        held_out.len()
    );
}

#[test]
fn strict_images_refuses_and_an_empty_class_is_named() {
    let root = tempfile::tempdir().unwrap();
    let (folder, _) = make_folder(root.path());
    let o = train_on(&folder, &root.path().join("strict"), &["--strict-images"]);
    let all = text(&o);
    assert!(!o.status.success(), "{all}");
    assert!(
        all.contains("broken.jpg") && all.contains("strict"),
        "{all}"
    );

    std::fs::create_dir(folder.join("empty")).unwrap();
    let o = train_on(&folder, &root.path().join("empty-run"), &[]);
    let all = text(&o);
    assert!(!o.status.success(), "{all}");
    assert!(all.contains("'empty' is empty"), "{all}");

    let o = convnet(&["train", "--dataset", "./no/such/folder"]);
    assert_eq!(o.status.code(), Some(66), "{}", text(&o));
}

#[test]
fn fine_tuning_keeps_frozen_layers_bit_identical_and_trains_a_new_head() {
    let root = tempfile::tempdir().unwrap();
    let (folder, _) = make_folder(root.path());
    // Pretrain on (the fixtures of) MNIST: ten classes.
    let pre = root.path().join("pretrained");
    let o = convnet(&[
        "train",
        "--epochs",
        "1",
        "--limit-train-batches",
        "30",
        "--limit-val-batches",
        "1",
        "--progress",
        "none",
        "--out",
        pre.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let pretrained = pre.join("last.safetensors");
    let tuned = root.path().join("tuned");
    let o = train_on(
        &folder,
        &tuned,
        &[
            "--pretrained",
            pretrained.to_str().unwrap(),
            "--freeze",
            "features",
            "--epochs",
            "15",
            "--lr",
            "0.02",
        ],
    );
    let all = text(&o);
    assert!(o.status.success(), "{all}");
    assert!(
        all.contains("replaced the classifier head `classifier.4` (10 → 3 classes)"),
        "{all}"
    );
    let before = params_of(&pretrained);
    let after = params_of(&tuned.join("last.safetensors"));
    for (name, value) in &after {
        if name.starts_with("features.") {
            assert_eq!(value, &before[name], "{name} is frozen and must not change");
        }
    }
    assert!(after.keys().any(|k| k.starts_with("features.")));
    assert_ne!(
        after["classifier.0.weight"], before["classifier.0.weight"],
        "layers not frozen train"
    );
    assert_eq!(after["classifier.4.weight"].0, [3, 84], "the new head");
    let acc = last_val_accuracy(&String::from_utf8_lossy(&o.stdout));
    eprintln!("fine-tuned: validation accuracy {acc}%");
    assert!(acc > 75.0, "fine-tuned validation accuracy {acc}%:\n{all}");
}

#[test]
fn a_folder_run_stopped_and_resumed_ends_bit_identical_to_one_that_never_stopped() {
    let root = tempfile::tempdir().unwrap();
    let (folder, _) = make_folder(root.path());
    let whole = root.path().join("whole");
    let o = train_on(&folder, &whole, &["--epochs", "4", "--image-size", "24"]);
    assert!(o.status.success(), "{}", text(&o));
    let parts = root.path().join("parts");
    let o = train_on(
        &folder,
        &parts,
        &[
            "--epochs",
            "4",
            "--image-size",
            "24",
            "--stop-after-steps",
            "7",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let last = parts.join("last.safetensors");
    // --resume alone: the folder, the image size and the recipe come from the record.
    let o = convnet(&[
        "train",
        "--resume",
        last.to_str().unwrap(),
        "--progress",
        "none",
        "--out",
        parts.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        params_of(&whole.join("last.safetensors")),
        params_of(&last),
        "resumed run differs"
    );
    // A different image size is a different run.
    let o = convnet(&[
        "train",
        "--resume",
        last.to_str().unwrap(),
        "--image-size",
        "28",
        "--out",
        parts.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("--image-size 28 conflicts"),
        "{}",
        text(&o)
    );
}
