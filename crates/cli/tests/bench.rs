//! `convnet bench`: the figures a user compares architectures with, and the profile.

mod common;

use common::{convnet, text};

/// The report has its three lines with positive figures, and the profile's shares add up to
/// about the whole step and name the work by kind.
#[test]
fn bench_reports_training_speed_inference_time_memory_and_a_profile() {
    let o = convnet(&[
        "bench",
        "--model",
        "lenet5",
        "--batch-size",
        "8",
        "--seconds",
        "0.05",
        "--profile",
    ]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(
        t.starts_with("lenet5: 61,706 parameters, input 1×28×28, 10 classes"),
        "{t}"
    );
    let number_after = |prefix: &str| -> f64 {
        let line = t
            .lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("{t}"));
        line[prefix.len()..]
            .split_whitespace()
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{line}"))
    };
    assert!(number_after("train: ") > 0.0, "{t}");
    assert!(number_after("infer: ") > 0.0, "{t}");
    assert!(t.contains("ms at batch 8"), "{t}");
    assert!(
        t.contains("planned peak of a training step at batch 8"),
        "{t}"
    );
    // Today every step allocates its activations afresh; the count is what buffer reuse
    // will drive down.
    let allocations = t
        .lines()
        .find_map(|l| l.strip_prefix("allocated per training step: "))
        .unwrap_or_else(|| panic!("{t}"));
    let n: u64 = allocations
        .split_whitespace()
        .next()
        .unwrap()
        .replace(',', "")
        .parse()
        .unwrap_or_else(|_| panic!("{allocations}"));
    assert!(n > 0 && allocations.contains("B"), "{allocations}");
    let shares: Vec<f64> = t
        .lines()
        .filter(|l| l.starts_with("  ") && l.trim_end().ends_with('%'))
        .map(|l| {
            let l = l.trim_end().trim_end_matches('%').trim_end();
            l.rsplit(' ').next().unwrap().parse().unwrap()
        })
        .collect();
    let total: f64 = shares.iter().sum();
    assert!((total - 100.0).abs() < 1.0, "shares add to {total}:\n{t}");
    for kind in [
        "convolution",
        "pooling",
        "matmul",
        "elementwise",
        "executor overhead",
    ] {
        assert!(t.contains(&format!("  {kind}")), "{kind}:\n{t}");
    }
    assert!(t.contains("slowest nodes of the last step"), "{t}");
}

#[test]
fn bench_refuses_bad_arguments_with_a_usage_error() {
    for args in [
        &["bench", "--model", "nope"][..],
        &["bench", "--batch-size", "0"],
        &["bench", "--seconds", "0"],
        &["bench", "--input", "3x0x4"],
    ] {
        let o = convnet(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", text(&o));
    }
}
