//! `convnet lr-find` and `convnet report` on the embedded digits: the range test's file and
//! summary, and a finished run's page with everything inline.

mod common;

use common::{convnet, text};

#[test]
fn lr_find_then_train_then_a_self_contained_report() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    let o = convnet(&[
        "lr-find",
        "--dataset",
        "digits",
        "--steps",
        "60",
        "--out",
        out,
    ]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    for region in [
        "too small:  below",
        "good:",
        "too large:  above",
        "suggested --lr",
    ] {
        assert!(t.contains(region), "{region}: {t}");
    }
    let csv = std::fs::read_to_string(dir.path().join("lr_find.csv")).unwrap();
    assert!(csv.starts_with("lr,loss,smoothed\n"));
    let lines = csv.lines().count() - 1;
    assert!((10..=60).contains(&lines), "{lines}");
    // The range test leaves no checkpoint: it is no training run.
    assert!(!dir.path().join("last.safetensors").exists());

    let o = convnet(&[
        "train",
        "--dataset",
        "digits",
        "--epochs",
        "2",
        "--out",
        out,
        "--progress",
        "none",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let o = convnet(&["report", out]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(t.contains("report.html (2 epochs, 12 layers)"), "{t}");
    let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    assert!(html.contains("window.CONVNET_STATIC = {"));
    assert!(
        html.contains("data:image/png;base64,"),
        "pictures are inline"
    );
    assert!(!html.contains("\"/img/"), "a picture left as a link");
    assert!(!html.contains("src=\"app.js\""), "the script is inline");
    assert!(html.contains("\"name\":\"features.0\"") && html.contains("(5·5·1 + 1)·6 = 156"));
    assert!(
        html.contains("\"lr_find\":{\"points\":[["),
        "the range test is charted"
    );
    assert!(html.contains("\"confusion\":[["), "the confusion matrix");

    let o = convnet(&["report", dir.path().join("nothing").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(66), "{}", text(&o));
    assert!(text(&o).contains("holds no checkpoint"), "{}", text(&o));
}
