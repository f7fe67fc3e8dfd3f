//! `mpirun -np 2 convnet train` on the system's Open MPI (the binary built with
//! `--features mpi`, as the README's test command builds it): two ranks at a global batch train
//! LeNet-5 as one process at that batch does, step by step; a run stopped on two ranks resumes
//! on one; a rank killed mid-run, or ranks started with different options, end the whole job
//! with a non-zero exit code within seconds instead of hanging.
//!
//! Tolerance of the comparison: one process averages the loss gradient over 64 examples at
//! once; two ranks each average over 32, then MPI sums the halves. The terms are the same, added
//! in another order, so each gradient element differs by a few f32 ulps (relative ~1e-7), and
//! SGD carries that along. A ReLU or max-pool decision on the edge can then flip in one run
//! and not the other, and from that step on the curves part by a visible jump: measured on
//! full MNIST (AMD Zen 5), the losses stay within 1.3e-7 relative for 25 steps and 1.2e-6 for
//! 37, then step 38 flips one such decision and steps 39–40 differ by 1.1e-4. So the test
//! holds the first 10 steps to 1e-5 relative, where only reordering can act, the whole curve
//! to 1e-3, and the final parameters to 1e-2 of each tensor's largest magnitude (measured:
//! at most 1.7e-3). A wrong reduction is far outside these: measured the same way, a gradient
//! twice or half what it should be (a shard counted twice, a missing ½ — run as twice or half
//! the learning rate) moves the loss of step 2 by 9e-5 to 1.6e-4, of steps 4–10 by 8e-4 to
//! 1.4e-2, of every step from 14 on by more than 1e-2, and every parameter tensor after 40
//! steps by 0.25 to 4.7 of its scale.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use common::{data_dir, isolated, params_of, text};

/// `mpirun` with what it needs here: permission to run as root (CI containers), no binding
/// (ranks and threads are placed by the OS), shared memory between local ranks without the
/// single-copy mechanism containers often forbid, and slots for more ranks than it counts.
fn mpirun(np: usize) -> Command {
    let mut c = Command::new("mpirun");
    c.env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .env("OMPI_MCA_btl_vader_single_copy_mechanism", "none")
        .env("CONVNET_OFFLINE", "1")
        .env("CONVNET_DATA", data_dir())
        .env(
            "XDG_CACHE_HOME",
            std::env::temp_dir().join(format!("convnet-mpi-tests-{}", std::process::id())),
        )
        .args([
            "--oversubscribe",
            "--bind-to",
            "none",
            "--mca",
            "btl",
            "self,vader",
        ])
        .args(["-np", &np.to_string()]);
    c
}

/// Waits for `child`, killing it after `limit`; returns its status (None: it had to be killed)
/// and everything it printed.
fn wait_at_most(mut child: Child, limit: Duration) -> (Option<ExitStatus>, String) {
    let started = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("waiting for mpirun") {
            break Some(s);
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let out = child.wait_with_output().expect("reading mpirun's output");
    (status, text(&out))
}

fn spawn(mut c: Command) -> Child {
    c.stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot start mpirun ({e}): install Open MPI (Debian: openmpi-bin \
                 libopenmpi-dev), as .ci/run does"
            )
        })
}

fn run_mpi(c: Command, limit: Duration) -> String {
    let (status, out) = wait_at_most(spawn(c), limit);
    match status {
        Some(s) if s.success() => out,
        Some(s) => panic!("mpirun failed ({s}):\n{out}"),
        None => panic!("mpirun did not finish within {limit:?}:\n{out}"),
    }
}

fn lenet_args(out: &Path, steps: u64) -> Vec<String> {
    [
        "train",
        "--model",
        "lenet5",
        "--dataset",
        "mnist",
        "--batch-size",
        "64",
        "--seed",
        "3",
        "--threads",
        "1",
        "--progress",
        "none",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([
        "--stop-after-steps".into(),
        steps.to_string(),
        "--out".into(),
        out.display().to_string(),
    ])
    .collect()
}

/// The step log's losses, by step.
fn step_losses(dir: &Path) -> Vec<(u64, f64)> {
    let path = dir.join("steps.csv");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[0].parse().unwrap(), f[3].parse().unwrap())
        })
        .collect()
}

/// Steps where only the reordering of sums can act (see the module docs), and the relative
/// tolerance there and on the rest of the run.
const EARLY_STEPS: u64 = 10;
const EARLY_TOLERANCE: f64 = 1e-5;
const TOLERANCE: f64 = 1e-3;
const PARAM_TOLERANCE: f32 = 1e-2;

fn assert_close_curves(alone: &[(u64, f64)], other: &[(u64, f64)], what: &str) {
    assert_eq!(alone.len(), other.len(), "{what}: step counts");
    for ((s1, a), (s2, b)) in alone.iter().zip(other) {
        assert_eq!(s1, s2, "{what}: step numbers");
        let rel = (a - b).abs() / a.abs().max(1e-3);
        let allowed = if *s1 <= EARLY_STEPS {
            EARLY_TOLERANCE
        } else {
            TOLERANCE
        };
        assert!(
            rel < allowed,
            "{what}: step {s1}: loss {a} alone, {b} ({rel:.1e} apart, {allowed:.0e} allowed)"
        );
    }
}

fn assert_close_params(alone: &Path, other: &Path, what: &str) {
    let (a, b) = (params_of(alone), params_of(other));
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    for (name, (shape, va)) in &a {
        let (shape_b, vb) = &b[name];
        assert_eq!(shape, shape_b, "{what}: {name}");
        let (va, vb): (Vec<f32>, Vec<f32>) = (
            va.iter().map(|&x| f32::from_bits(x)).collect(),
            vb.iter().map(|&x| f32::from_bits(x)).collect(),
        );
        let scale = va.iter().fold(1e-3f32, |m, x| m.max(x.abs()));
        let worst = va
            .iter()
            .zip(&vb)
            .map(|(x, y)| (x - y).abs() / scale)
            .fold(0.0f32, f32::max);
        assert!(
            worst < PARAM_TOLERANCE,
            "{what}: {name} differs by {worst:e} of its scale"
        );
    }
}

#[test]
fn two_ranks_train_lenet5_as_one_process_and_resume_on_one() {
    let dir = tempfile::tempdir().unwrap();
    let alone = dir.path().join("alone");
    let two = dir.path().join("two");
    let switched = dir.path().join("switched");

    let o = isolated()
        .args(lenet_args(&alone, 40))
        .env("CONVNET_DATA", data_dir())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));

    let mut c = mpirun(2);
    c.arg(env!("CARGO_BIN_EXE_convnet"))
        .args(lenet_args(&two, 40));
    let out = run_mpi(c, Duration::from_secs(300));
    assert!(out.contains("data-parallel on Open MPI"), "{out}");
    assert!(out.contains("data-parallel: 2 ranks"), "{out}");
    // Only rank 0 prints the run's notes.
    assert_eq!(out.matches("lenet5 on mnist").count(), 1, "{out}");

    let curve = step_losses(&alone);
    assert_eq!(curve.len(), 40);
    assert_close_curves(&curve, &step_losses(&two), "2 ranks");
    assert_close_params(
        &alone.join("last.safetensors"),
        &two.join("last.safetensors"),
        "2 ranks after 40 steps",
    );

    // Stopped after 20 steps on two ranks, resumed on one: the same run.
    let mut c = mpirun(2);
    c.arg(env!("CARGO_BIN_EXE_convnet"))
        .args(lenet_args(&switched, 20));
    run_mpi(c, Duration::from_secs(300));
    let mut resume = lenet_args(&switched, 40);
    resume.extend([
        "--resume".into(),
        switched.join("last.safetensors").display().to_string(),
    ]);
    let o = isolated()
        .args(&resume)
        .env("CONVNET_DATA", data_dir())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert_close_curves(
        &curve,
        &step_losses(&switched),
        "2 ranks, then resumed on 1",
    );
    assert_close_params(
        &alone.join("last.safetensors"),
        &switched.join("last.safetensors"),
        "2 ranks then 1",
    );
}

/// The pid of rank `rank` of a job whose command line holds `marker`, from /proc.
fn rank_pid(marker: &str, rank: usize) -> Option<u32> {
    let want = format!("OMPI_COMM_WORLD_RANK={rank}");
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
        let pid: u32 = e.file_name().to_str()?.parse().ok()?;
        let cmdline = std::fs::read(e.path().join("cmdline")).ok()?;
        let environ = std::fs::read(e.path().join("environ")).ok()?;
        let has = |hay: &[u8], needle: &str| {
            hay.split(|&b| b == 0)
                .any(|part| String::from_utf8_lossy(part).contains(needle))
        };
        let is_convnet = cmdline
            .split(|&b| b == 0)
            .next()
            .is_some_and(|argv0| argv0.ends_with(b"convnet"));
        (is_convnet && has(&cmdline, marker) && has(&environ, &want)).then_some(pid)
    })
}

#[test]
fn a_rank_killed_mid_run_ends_the_job_within_seconds() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("killed");
    let mut c = mpirun(2);
    c.arg(env!("CARGO_BIN_EXE_convnet"))
        .args(lenet_args(&out, 1_000_000));
    let child = spawn(c);
    // Mid-run: rank 0 has logged some steps.
    let started = Instant::now();
    let marker = out.display().to_string();
    loop {
        let steps = std::fs::read_to_string(out.join("steps.csv"))
            .map(|t| t.lines().count().saturating_sub(1))
            .unwrap_or(0);
        if steps >= 5 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the job logged no steps within two minutes"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let pid = rank_pid(&marker, 1).expect("rank 1's process");
    let killed = Instant::now();
    let status = Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let (status, text) = wait_at_most(child, Duration::from_secs(60));
    let took = killed.elapsed();
    let status = status.unwrap_or_else(|| panic!("the job still ran a minute later:\n{text}"));
    assert!(!status.success(), "{text}");
    assert!(
        took < Duration::from_secs(10),
        "the job took {took:?} to end:\n{text}"
    );
}

#[test]
fn ranks_started_differently_end_the_job_with_the_difference() {
    let dir = tempfile::tempdir().unwrap();
    let out: PathBuf = dir.path().join("mismatch");
    let exe = env!("CARGO_BIN_EXE_convnet");
    let mut rank1 = lenet_args(&out, 40);
    let at = rank1.iter().position(|a| a == "--batch-size").unwrap();
    rank1[at + 1] = "32".into();
    // MPMD: rank 0 and rank 1 get different command lines.
    let mut c = mpirun(1);
    c.arg(exe)
        .args(lenet_args(&out, 40))
        .args([":", "-np", "1", exe])
        .args(&rank1);
    let started = Instant::now();
    let (status, text) = wait_at_most(spawn(c), Duration::from_secs(120));
    let status = status.unwrap_or_else(|| panic!("the job hung:\n{text}"));
    assert!(!status.success(), "{text}");
    assert!(
        text.contains("rank 1's run differs from rank 0's")
            && text.contains("batch_size = 64")
            && text.contains("batch_size = 32"),
        "{text}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn other_commands_are_refused_under_several_ranks() {
    // `convnet models` is not data-parallel: under two ranks it is refused, by every rank,
    // with a clear message rather than printed twice.
    let mut c = mpirun(2);
    c.args([env!("CARGO_BIN_EXE_convnet"), "models"]);
    let (status, text) = wait_at_most(spawn(c), Duration::from_secs(60));
    let status = status.expect("mpirun ends");
    assert!(!status.success(), "{text}");
    assert!(
        text.contains("only `convnet train` and `convnet lr-find` run data-parallel"),
        "{text}"
    );
}
