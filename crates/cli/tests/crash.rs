//! A training run killed with SIGKILL at any moment — mid-step, mid-validation, mid-write of
//! a checkpoint — leaves a last checkpoint that loads and resumes exactly: resumed to the same
//! step, it holds the same parameters, bit for bit, as a run that was never killed.
//!
//! The moments are drawn (seeded) across the whole run, which writes a checkpoint after every
//! step and crosses an epoch boundary with validation and a `best.safetensors`.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use convnet_train::Checkpoint;

/// Steps of the run; an epoch is 8 steps, so it crosses one boundary.
const STEPS: &str = "14";
/// Kill moments tried, the first few during start-up.
const KILLS: u64 = 40;
const EARLY_KILLS: u64 = 4;

fn convnet(out: &Path, extra: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_convnet"));
    c.args(["train", "--progress", "none", "--stop-after-steps", STEPS])
        .args(["--checkpoint-every", "1", "--out"])
        .arg(out)
        .args(extra)
        .env("CONVNET_DATA", convnet_testdata::test_data().dir)
        .env("CONVNET_OFFLINE", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    c
}

const RUN: &[&str] = &[
    "--epochs",
    "2",
    "--limit-train-batches",
    "8",
    "--limit-val-batches",
    "1",
    "--batch-size",
    "32",
    "--seed",
    "9",
];

/// The parameters and position of a checkpoint, bit for bit.
fn state(path: &Path) -> (Vec<(String, Vec<u32>)>, String) {
    let c = Checkpoint::<f32>::load(path).unwrap_or_else(|e| panic!("{e}"));
    let params = c
        .params
        .iter()
        .map(|(n, t)| (n.clone(), t.to_vec().iter().map(|v| v.to_bits()).collect()))
        .collect();
    (params, format!("{:?}", c.position))
}

fn run_to_the_end(out: &Path, extra: &[&str]) {
    let o = convnet(out, extra).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// Waits until `path` exists or `child` has exited; returns the time waited.
fn wait_for(path: &Path, child: &mut std::process::Child) -> Duration {
    let t = Instant::now();
    while !path.exists() && child.try_wait().unwrap().is_none() {
        std::thread::sleep(Duration::from_micros(200));
    }
    t.elapsed()
}

#[test]
fn a_run_killed_at_any_moment_resumes_exactly() {
    // The reference run, timed: start-up and data loading until its first checkpoint, then
    // the steps.
    let reference = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let mut child = convnet(reference.path(), RUN).spawn().unwrap();
    let to_first = wait_for(&reference.path().join("last.safetensors"), &mut child);
    assert!(child.wait().unwrap().success());
    let steps = started.elapsed().saturating_sub(to_first);
    let want = state(&reference.path().join("last.safetensors"));

    let (mut resumed, mut before_first, mut after_last) = (0, 0, 0);
    for kill in 0..KILLS {
        // Seeded jitter in [0, 1), so a failure reproduces.
        let jitter = (kill.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 40) as f64 / (1u64 << 24) as f64;
        let dir = tempfile::tempdir().unwrap();
        let last = dir.path().join("last.safetensors");
        let mut child = convnet(dir.path(), RUN).spawn().unwrap();
        if kill < EARLY_KILLS {
            // During start-up, before any checkpoint can exist.
            std::thread::sleep(to_first.mul_f64(jitter));
        } else {
            // Spread over the steps, each in its own slot: mid-step, mid-validation, and
            // mid-write of a checkpoint all get hit.
            wait_for(&last, &mut child);
            let slot = (kill - EARLY_KILLS) as f64 + jitter;
            // Over 90 % of the reference's steps: a child a little faster than the reference
            // should still be caught running.
            std::thread::sleep(steps.mul_f64(0.9 * slot / (KILLS - EARLY_KILLS) as f64));
        }
        let finished = child.try_wait().unwrap().is_some();
        if !finished {
            child.kill().unwrap(); // SIGKILL
        }
        child.wait().unwrap();
        if !last.exists() {
            // Killed before the first checkpoint: nothing to resume, and nothing half-written
            // under the checkpoint's name.
            before_first += 1;
            continue;
        }
        if finished {
            after_last += 1;
        } else {
            run_to_the_end(dir.path(), &["--resume", last.to_str().unwrap()]);
            resumed += 1;
        }
        assert_eq!(
            state(&last),
            want,
            "kill {}/{KILLS}: the resumed run differs",
            kill + 1
        );
        if dir.path().join("best.safetensors").exists() {
            Checkpoint::<f32>::load(&dir.path().join("best.safetensors")).unwrap();
        }
    }
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr().lock(),
        "crash: {KILLS} SIGKILLs over a run of {to_first:?} start-up and {steps:?} of steps: \
         {resumed} resumed exactly, \
         {before_first} before the first checkpoint, {after_last} after the run had ended"
    );
    // Timing varies from run to run; a quarter is enough to know the resumes were exercised.
    assert!(
        resumed >= KILLS / 4,
        "only {resumed} of {KILLS} kills left a run to resume"
    );
}
