//! Data-parallel `fit` over ranks that are threads of this process (the same collectives MPI
//! provides; `crates/cli/tests/mpi.rs` runs the real thing under `mpirun`): R ranks at a global
//! batch train as one process at that batch does — with per-rank BatchNorm only approximately,
//! with synchronised BatchNorm and without BatchNorm to within f32 rounding of the reduction
//! order — and the ranks refuse to start runs that differ.
//!
//! The tolerance: each rank's gradient is a mean over its shard, scaled by its share and
//! summed, where one process sums over the whole batch at once — the same terms added in
//! another order. That is a relative difference of a few f32 ulps (~1e-7) per gradient
//! element, which the steps then carry; over 12 SGD steps the losses stay within 1e-5 relative
//! and the parameters within 1e-5 of their scale, where a wrong reduction (a missing 1/R, a
//! shard counted twice, per-rank statistics) is off by 1e-3 or more.

use std::sync::Arc;

use convnet_datasets::{DataLoader, Dataset, DatasetKind, LoaderConfig, Split};
use convnet_dist::{Communicator, SingleProcess, ThreadGroup};
use convnet_nn::layers::Sequential;
use convnet_nn::layers::shorthand::{batch_norm, conv, flatten, linear, max_pool, relu};
use convnet_nn::{CrossEntropyLoss, Model};
use convnet_optim::SgdConfig;
use convnet_train::{FitConfig, FitReport, ProgressMode, Trainer, replicas};

fn data() -> Dataset {
    Dataset::load(
        DatasetKind::Mnist,
        Split::Test,
        &convnet_testdata::test_data().dir,
    )
    .unwrap()
    .take(480)
}

fn model(with_bn: bool) -> Model<f32> {
    let mut net = Sequential::<f32>::default();
    net.push(conv(6, 5).padding(2));
    if with_bn {
        net.push(batch_norm());
    }
    net.push(relu());
    net.push(max_pool(2));
    net.push(flatten());
    net.push(linear(10));
    Model::new(net, &[1, 28, 28]).unwrap()
}

/// A trainer for `m` (plain SGD) on `comm`'s ranks, and a silent one-epoch fit config.
fn trainer_on(comm: Arc<dyn Communicator>, m: &Model<f32>) -> (Trainer, FitConfig) {
    let opt = SgdConfig::new(0.05).build::<f32>().unwrap();
    let mut t = Trainer::new(m, CrossEntropyLoss::new(), Box::new(opt), None, 3).unwrap();
    t.set_communicator(comm);
    let mut fit = FitConfig::new(1, 3);
    fit.progress = ProgressMode::Silent;
    (t, fit)
}

struct Run {
    report: FitReport,
    params: Vec<(String, Vec<f32>)>,
    val_accuracy: f64,
    val_loss: f64,
}

/// One rank's fit: 12 steps at global batch `batch`, validated on 100 images.
fn run(comm: Arc<dyn Communicator>, with_bn: bool, sync_bn: bool, batch: usize) -> Run {
    let mut m = model(with_bn);
    if sync_bn {
        m.sync_batch_norm(Some(replicas(&comm)));
    }
    let opt = SgdConfig::new(0.05).momentum(0.9).build::<f32>().unwrap();
    let mut t = Trainer::new(&m, CrossEntropyLoss::new(), Box::new(opt), None, 3).unwrap();
    t.set_communicator(comm);
    let train = DataLoader::new(data(), LoaderConfig::new(batch, 9)).unwrap();
    let val = DataLoader::new(data().take(100), LoaderConfig::evaluation(64)).unwrap();
    let mut fit = FitConfig::new(1, 3);
    fit.progress = ProgressMode::Silent;
    fit.limit_train_batches = Some(12);
    let report = t.fit(&train, Some(&val), &fit).unwrap();
    let record = *report.history.last().unwrap();
    let params = t
        .params
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_vec()))
        .collect();
    Run {
        report,
        params,
        val_accuracy: record.val_accuracy.unwrap(),
        val_loss: record.val_loss.unwrap(),
    }
}

fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * a.abs().max(b.abs()).max(1e-3)
}

/// The largest parameter difference relative to the parameter's largest magnitude.
fn params_differ(a: &Run, b: &Run) -> f64 {
    a.params
        .iter()
        .zip(&b.params)
        .map(|((na, va), (nb, vb))| {
            assert_eq!(na, nb);
            let scale = va.iter().fold(1e-3f32, |m, v| m.max(v.abs()));
            va.iter()
                .zip(vb)
                .map(|(x, y)| ((x - y).abs() / scale) as f64)
                .fold(0.0, f64::max)
        })
        .fold(0.0, f64::max)
}

fn assert_same_training(single: &Run, rank: &Run, what: &str) {
    assert_eq!(single.report.step_losses.len(), 12);
    for (i, (a, b)) in single
        .report
        .step_losses
        .iter()
        .zip(&rank.report.step_losses)
        .enumerate()
    {
        assert!(
            close(*a, *b, 1e-5),
            "{what}: step {i} loss {a} alone, {b} data-parallel"
        );
    }
    let d = params_differ(single, rank);
    assert!(
        d < 1e-5,
        "{what}: parameters differ by {d:e} of their scale"
    );
    assert!(
        close(single.val_loss, rank.val_loss, 1e-5),
        "{what}: validation loss"
    );
    assert_eq!(
        single.val_accuracy, rank.val_accuracy,
        "{what}: validation accuracy"
    );
}

#[test]
fn two_ranks_train_as_one_process_without_batch_norm() {
    let single = run(Arc::new(SingleProcess), false, false, 32);
    let ranks = ThreadGroup::run(2, |c| run(c, false, false, 32));
    for r in &ranks {
        assert_same_training(&single, r, "no BatchNorm, 2 ranks");
        assert_eq!(r.report.communication.ranks, 2);
        assert!(r.report.communication.gradient_calls >= 12);
    }
    // Every rank ends with the same parameters, to the bit.
    assert_eq!(ranks[0].params, ranks[1].params);
    assert_eq!(single.report.communication.gradient_bytes, 0);
}

#[test]
fn unequal_shards_are_weighted_by_their_size() {
    // 30 examples over 4 ranks: shards of 7, 8, 7 and 8.
    let single = run(Arc::new(SingleProcess), false, false, 30);
    let ranks = ThreadGroup::run(4, |c| run(c, false, false, 30));
    for r in &ranks {
        assert_same_training(&single, r, "no BatchNorm, 4 unequal shards");
    }
}

#[test]
fn synchronised_batch_norm_trains_as_one_process() {
    let single = run(Arc::new(SingleProcess), true, false, 32);
    let synced = ThreadGroup::run(2, |c| run(c, true, true, 32));
    for r in &synced {
        assert_same_training(&single, r, "synchronised BatchNorm, 2 ranks");
    }
    // Per-rank statistics (DDP's default) normalise each half with its own mean and variance:
    // a different, equally valid, training run — distinguishable from the synchronised one.
    let per_rank = ThreadGroup::run(2, |c| run(c, true, false, 32));
    let d = params_differ(&single, &per_rank[0]);
    assert!(
        d > 1e-4,
        "per-rank statistics should differ from one process ({d:e})"
    );
    // … but the ranks still agree with each other (running statistics averaged).
    assert_eq!(per_rank[0].params, per_rank[1].params);
}

#[test]
fn synchronised_batch_norm_refuses_unequal_shards() {
    let errors = ThreadGroup::run(2, |comm| {
        let mut m = model(true);
        m.sync_batch_norm(Some(replicas(&comm)));
        let (mut t, fit) = trainer_on(comm, &m);
        let train = DataLoader::new(data(), LoaderConfig::new(31, 9)).unwrap();
        t.fit(&train, None, &fit).unwrap_err().to_string()
    });
    for e in errors {
        assert!(
            e.contains("synchronised BatchNorm") && e.contains("31 examples"),
            "{e}"
        );
    }
}

#[test]
fn ranks_with_different_runs_refuse_to_start() {
    let errors = ThreadGroup::run(2, |comm| {
        let rank = comm.rank();
        let m = model(false);
        let (mut t, fit) = trainer_on(comm, &m);
        let batch = if rank == 1 { 16 } else { 32 };
        let train = DataLoader::new(data(), LoaderConfig::new(batch, 9)).unwrap();
        t.fit(&train, None, &fit).unwrap_err().to_string()
    });
    assert!(errors[1].contains("rank 1's run differs"), "{}", errors[1]);
    assert!(errors[1].contains("batch_size = 32") && errors[1].contains("batch_size = 16"));
    assert!(
        errors[0].contains("1 rank(s) describe their run differently"),
        "{}",
        errors[0]
    );
}

#[test]
fn only_rank_zero_writes_the_log_and_checkpoints() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    ThreadGroup::run(2, |comm| {
        let rank = comm.rank();
        let m = model(false);
        let (mut t, mut fit) = trainer_on(comm, &m);
        let train = DataLoader::new(data(), LoaderConfig::new(32, 9)).unwrap();
        fit.limit_train_batches = Some(2);
        fit.csv_log = Some(root.join(format!("log{rank}.csv")));
        let ck = root.join(format!("ck{rank}"));
        std::fs::create_dir_all(&ck).unwrap();
        fit.checkpoint_dir = Some(ck);
        t.fit(&train, None, &fit).unwrap();
    });
    assert!(root.join("log0.csv").exists() && root.join("ck0/last.safetensors").exists());
    assert!(!root.join("log1.csv").exists() && !root.join("ck1/last.safetensors").exists());
}
