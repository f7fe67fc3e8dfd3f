//! `convnet predict` on pictures a user would have: real MNIST test digits saved as PNG and
//! JPEG files (one as RGB), classified by a checkpoint trained for two short epochs. Most
//! must come back as their true digit; a file that is not an image is an error naming it.

use std::path::Path;

use convnet_testdata::cut::read_plain;

mod common;
use common::{convnet, save_digit, text};

/// Test images `0..n` of the MNIST fixtures (`[28·28]` bytes each) and their labels.
fn digits(n: usize) -> Vec<(Vec<u8>, u8)> {
    let dir = convnet_testdata::fixtures_dir().join("mnist");
    let images = read_plain(&dir.join("t10k-images-idx3-ubyte.gz")).unwrap();
    let labels = read_plain(&dir.join("t10k-labels-idx1-ubyte.gz")).unwrap();
    (0..n)
        .map(|i| {
            (
                images[16 + i * 784..16 + (i + 1) * 784].to_vec(),
                labels[8 + i],
            )
        })
        .collect()
}

fn save(dir: &Path, i: usize, pixels: &[u8], label: u8) -> String {
    let path = save_digit(dir, &format!("{i:02}-digit{label}"), i, pixels);
    path.file_name().unwrap().to_string_lossy().into_owned()
}

#[test]
fn predict_names_the_digits_in_png_and_jpeg_files() {
    let run = tempfile::tempdir().unwrap();
    let out = run.path().to_str().unwrap();
    let o = convnet(&[
        "train",
        "--epochs",
        "2",
        "--limit-train-batches",
        "40",
        "--limit-val-batches",
        "2",
        "--progress",
        "none",
        "--out",
        out,
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let ck = run.path().join("last.safetensors");
    let pictures = tempfile::tempdir().unwrap();
    let mut names = Vec::new();
    for (i, (pixels, label)) in digits(12).into_iter().enumerate() {
        names.push((save(pictures.path(), i, &pixels, label), label));
    }
    std::fs::write(pictures.path().join("notes.txt"), "not a picture").unwrap();

    let o = convnet(&[
        "predict",
        "--checkpoint",
        ck.to_str().unwrap(),
        pictures.path().to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let t = text(&o);
    assert!(t.contains("lenet5 trained on mnist, input 1×28×28"), "{t}");
    assert!(
        !t.contains("notes.txt"),
        "a folder's non-image files are not read: {t}"
    );
    let mut right = 0;
    for (name, label) in &names {
        let line = t
            .lines()
            .find(|l| l.contains(name.as_str()))
            .unwrap_or_else(|| panic!("{name} missing from {t}"));
        let best = line.rsplit(": ").next().unwrap().split(' ').next().unwrap();
        right += usize::from(best == label.to_string());
    }
    assert!(right >= 8, "{right} of 12 right:\n{t}");

    // JSON, top 2, for one file named directly.
    let first = pictures.path().join(&names[0].0);
    let o = convnet(&[
        "predict",
        "--checkpoint",
        ck.to_str().unwrap(),
        "--json",
        "--top-k",
        "2",
        first.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let t = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(
        t.starts_with("[{\"file\": ") && t.trim_end().ends_with("]}]"),
        "{t}"
    );
    assert_eq!(t.matches("\"probability\"").count(), 2, "{t}");

    // A file that is not an image, named directly: an error naming it.
    let junk = pictures.path().join("notes.txt");
    let o = convnet(&[
        "predict",
        "--checkpoint",
        ck.to_str().unwrap(),
        junk.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("notes.txt: is not a PNG or JPEG image"),
        "{}",
        text(&o)
    );
}
