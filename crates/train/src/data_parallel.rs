//! Data parallelism in the fit loop (Horovod's pattern, PyTorch DDP's semantics): every rank
//! holds the whole model and takes its shard of each global batch; the loop averages the
//! gradients over the ranks before every update, so all ranks apply the same update and stay
//! identical.
//!
//! - At the start of `fit` the ranks compare a description of their run (model, data, batch
//!   size, seed, options) and refuse to start if they differ, then take rank 0's parameters
//!   and buffers.
//! - Each step: the loss and metric sums are reduced first (one small f64 allreduce), so every
//!   rank sees the global batch's loss and all agree on whether it is finite; then the
//!   gradients, each weighted by the rank's share of the batch, are summed in buckets
//!   ([`convnet_dist::allreduce_sum_bucketed`]) in parameter-name order. With per-rank
//!   BatchNorm statistics (DDP's default) the running statistics are averaged after the step;
//!   synchronised BatchNorm ([`replicas`], `Model::sync_batch_norm`) computes them from the
//!   global batch already.
//! - Evaluation: each rank evaluates its shard; the sums and the confusion matrix are reduced.
//! - Only rank 0 prints, logs and writes checkpoints; rank 0's callbacks decide an early stop
//!   for everyone.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Instant;

use convnet_autograd::Replicas;
use convnet_datasets::DataLoader;
use convnet_dist::{Communicator, DEFAULT_BUCKET_BYTES, SingleProcess, allreduce_sum_bucketed};
use convnet_nn::ParamStore;
use convnet_tensor::Tensor;

use crate::error::{Result, TrainError};
use crate::metrics::Running;

/// `comm` as the replicas a synchronised BatchNorm averages its statistics over (pass it to
/// `Model::sync_batch_norm` before the trainer is made).
pub fn replicas(comm: &Arc<dyn Communicator>) -> Arc<dyn Replicas> {
    Arc::new(CommReplicas(Arc::clone(comm)))
}

#[derive(Debug)]
struct CommReplicas(Arc<dyn Communicator>);

impl Replicas for CommReplicas {
    fn count(&self) -> usize {
        self.0.size()
    }
    fn mean(&self, values: &mut [f64]) -> std::result::Result<(), String> {
        self.0
            .allreduce_sum_f64(values)
            .map_err(|e| format!("rank {}: {e}", self.0.rank()))?;
        let n = self.0.size() as f64;
        values.iter_mut().for_each(|v| *v /= n);
        Ok(())
    }
}

/// Time and traffic of the collectives of a `fit` call, on this rank.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CommunicationReport {
    /// Ranks in the world.
    pub ranks: usize,
    /// Wall time spent in collectives during training steps (gradients, metrics, buffers),
    /// including the wait for slower ranks: the metrics' reduction, the first collective after
    /// each backward pass, absorbs any imbalance between the ranks.
    pub step_seconds: f64,
    /// Of that, the time of the gradients' bucketed allreduce alone (the ranks are already in
    /// step then): the communication that overlapping with backward could hide.
    pub gradient_seconds: f64,
    /// Bytes of gradients this rank contributed to allreduces.
    pub gradient_bytes: u64,
    /// Allreduce calls for gradients.
    pub gradient_calls: u64,
}

/// The communicator side of a [`Trainer`](crate::Trainer).
#[derive(Debug, Clone)]
pub(crate) struct DataParallel {
    pub comm: Arc<dyn Communicator>,
    pub bucket_bytes: usize,
    /// BatchNorm statistics are computed over the global batch (then buffers are not averaged).
    pub synchronised_batch_norm: bool,
    pub report: CommunicationReport,
}

impl Default for DataParallel {
    fn default() -> Self {
        DataParallel {
            comm: Arc::new(SingleProcess),
            bucket_bytes: DEFAULT_BUCKET_BYTES,
            synchronised_batch_norm: false,
            report: CommunicationReport::default(),
        }
    }
}

impl DataParallel {
    pub fn size(&self) -> usize {
        self.comm.size()
    }

    pub fn rank(&self) -> usize {
        self.comm.rank()
    }

    pub fn is_parallel(&self) -> bool {
        self.size() > 1
    }

    fn err(&self, e: convnet_dist::DistError) -> TrainError {
        TrainError::Distributed(format!("rank {}: {e}", self.rank()))
    }

    fn timed<R>(&mut self, f: impl FnOnce(&Self) -> Result<R>) -> Result<R> {
        let t = Instant::now();
        let r = f(self);
        self.report.step_seconds += t.elapsed().as_secs_f64();
        r
    }

    /// The start of a `fit`: checks that every rank runs the same fit (see
    /// [`check_same_run`](Self::check_same_run)) and that every shard of every batch is
    /// usable, and returns this rank's shard of `train`.
    pub fn start(&mut self, description: &str, train: &DataLoader) -> Result<DataLoader> {
        self.report = CommunicationReport {
            ranks: self.size(),
            ..CommunicationReport::default()
        };
        if !self.is_parallel() {
            return Ok(train.clone());
        }
        self.check_same_run(description)?;
        let ranks = self.size();
        let sizes: Vec<usize> = train.batch_sizes().collect();
        let problem = sizes.iter().enumerate().find_map(|(i, &len)| {
            if len < ranks {
                Some(format!(
                    "batch {} of an epoch has {len} example(s), fewer than the {ranks} ranks: \
                     some rank would have none (use a batch size of at least {ranks}, or drop \
                     the last partial batch)",
                    i + 1
                ))
            } else if self.synchronised_batch_norm && !len.is_multiple_of(ranks) {
                Some(format!(
                    "synchronised BatchNorm needs every rank's share of every batch to be \
                     equal, but batch {} of an epoch has {len} examples for {ranks} ranks (use \
                     a batch size divisible by {ranks}, and drop the last partial batch if it \
                     is not)",
                    i + 1
                ))
            } else {
                None
            }
        });
        if let Some(p) = problem {
            return Err(TrainError::Distributed(p));
        }
        Ok(train.clone().sharded(self.rank(), ranks)?)
    }

    /// Refuses to start unless every rank describes its run as rank 0 does; on a difference,
    /// every rank fails, each naming the first line where it differs from rank 0.
    pub fn check_same_run(&self, description: &str) -> Result<()> {
        if !self.is_parallel() {
            return Ok(());
        }
        let mut len = (description.len() as u64).to_le_bytes();
        self.comm
            .broadcast_bytes(&mut len, 0)
            .map_err(|e| self.err(e))?;
        let root_len = usize::try_from(u64::from_le_bytes(len)).unwrap_or(usize::MAX);
        // The root's text travels padded (or cut) to its length on every rank.
        let mut root = description.as_bytes().to_vec();
        root.resize(root_len.min(1 << 24), 0);
        self.comm
            .broadcast_bytes(&mut root, 0)
            .map_err(|e| self.err(e))?;
        let root = String::from_utf8_lossy(&root).into_owned();
        let difference = first_difference(&root, description);
        let mut differing = [f64::from(u8::from(difference.is_some()))];
        self.comm
            .allreduce_sum_f64(&mut differing)
            .map_err(|e| self.err(e))?;
        match difference {
            Some(d) => Err(TrainError::Distributed(format!(
                "rank {}'s run differs from rank 0's: {d}",
                self.rank()
            ))),
            None if differing[0] > 0.0 => Err(TrainError::Distributed(format!(
                "{} rank(s) describe their run differently from rank 0 (see their messages): \
                 every rank must be started with the same model, data, batch size and options",
                differing[0]
            ))),
            None => Ok(()),
        }
    }

    /// Every parameter and buffer becomes rank 0's.
    pub fn broadcast_params(&self, params: &mut ParamStore<f32>) -> Result<()> {
        if !self.is_parallel() {
            return Ok(());
        }
        let names: Vec<String> = params.names().map(str::to_string).collect();
        for name in names {
            let t = params.require(&name)?;
            let mut data = t.to_vec();
            let shape = t.shape().to_vec();
            self.comm
                .broadcast_f32(&mut data, 0)
                .map_err(|e| self.err(e))?;
            params.set(&name, Tensor::from_vec(data, &shape)?)?;
        }
        Ok(())
    }

    /// The global batch's loss and metric sums from this rank's.
    pub fn sum_metrics(&mut self, local: Running) -> Result<Running> {
        if !self.is_parallel() {
            return Ok(local);
        }
        self.timed(|me| {
            let mut v = [
                local.loss_sum,
                local.correct as f64,
                local.correct_top5 as f64,
                local.count as f64,
            ];
            me.comm.allreduce_sum_f64(&mut v).map_err(|e| me.err(e))?;
            Ok(Running {
                loss_sum: v[0],
                correct: v[1] as usize,
                correct_top5: v[2] as usize,
                count: v[3] as usize,
            })
        })
    }

    /// Replaces every gradient by the average over the ranks, each rank's weighted by its
    /// share of the global batch (`weight` = its examples / the batch's).
    pub fn average_gradients(
        &mut self,
        grads: &mut BTreeMap<String, Tensor<f32>>,
        weight: f64,
    ) -> Result<()> {
        if !self.is_parallel() {
            return Ok(());
        }
        let w = weight as f32;
        let mut data: Vec<(Vec<f32>, Vec<usize>)> = grads
            .values()
            .map(|t| {
                let mut v = t.to_vec();
                v.iter_mut().for_each(|x| *x *= w);
                (v, t.shape().to_vec())
            })
            .collect();
        let bucket_bytes = self.bucket_bytes;
        let stats = self.timed(|me| {
            let mut views: Vec<&mut [f32]> =
                data.iter_mut().map(|(v, _)| v.as_mut_slice()).collect();
            allreduce_sum_bucketed(me.comm.as_ref(), &mut views, bucket_bytes)
                .map_err(|e| me.err(e))
        })?;
        self.report.gradient_seconds += stats.elapsed.as_secs_f64();
        self.report.gradient_bytes += stats.bytes as u64;
        self.report.gradient_calls += stats.calls as u64;
        for (t, (v, shape)) in grads.values_mut().zip(data) {
            *t = Tensor::from_vec(v, &shape)?;
        }
        Ok(())
    }

    /// Averages the buffers (BatchNorm's running statistics) over the ranks, unless
    /// BatchNorm is synchronised (they are then the same on every rank already).
    pub fn average_buffers(&mut self, params: &mut ParamStore<f32>) -> Result<()> {
        if !self.is_parallel() || self.synchronised_batch_norm {
            return Ok(());
        }
        let names: Vec<String> = params
            .names()
            .filter(|n| params.is_buffer(n))
            .map(str::to_string)
            .collect();
        if names.is_empty() {
            return Ok(());
        }
        let mut data: Vec<(Vec<f32>, Vec<usize>)> = names
            .iter()
            .map(|n| params.require(n).map(|t| (t.to_vec(), t.shape().to_vec())))
            .collect::<std::result::Result<_, _>>()?;
        let bucket_bytes = self.bucket_bytes;
        self.timed(|me| {
            let mut views: Vec<&mut [f32]> =
                data.iter_mut().map(|(v, _)| v.as_mut_slice()).collect();
            allreduce_sum_bucketed(me.comm.as_ref(), &mut views, bucket_bytes)
                .map_err(|e| me.err(e))
        })?;
        let n = self.size() as f32;
        for (name, (mut v, shape)) in names.iter().zip(data) {
            v.iter_mut().for_each(|x| *x /= n);
            params.set(name, Tensor::from_vec(v, &shape)?)?;
        }
        Ok(())
    }

    /// An evaluation's sums and confusion matrix over all ranks' shards.
    pub fn sum_evaluation(
        &self,
        running: &mut Running,
        confusion: &mut [Vec<usize>],
    ) -> Result<()> {
        if !self.is_parallel() {
            return Ok(());
        }
        let mut v = vec![
            running.loss_sum,
            running.correct as f64,
            running.correct_top5 as f64,
            running.count as f64,
        ];
        v.extend(confusion.iter().flatten().map(|&n| n as f64));
        self.comm
            .allreduce_sum_f64(&mut v)
            .map_err(|e| self.err(e))?;
        *running = Running {
            loss_sum: v[0],
            correct: v[1] as usize,
            correct_top5: v[2] as usize,
            count: v[3] as usize,
        };
        for (c, x) in confusion.iter_mut().flatten().zip(&v[4..]) {
            *c = *x as usize;
        }
        Ok(())
    }

    /// Rank 0's decision, on every rank (whether to stop after this epoch).
    pub fn root_decides(&self, decision: bool) -> Result<bool> {
        if !self.is_parallel() {
            return Ok(decision);
        }
        let mut b = [u8::from(decision)];
        self.comm
            .broadcast_bytes(&mut b, 0)
            .map_err(|e| self.err(e))?;
        Ok(b[0] != 0)
    }

    /// The seed of this rank's step randomness (Dropout masks) from the run's: rank 0 keeps
    /// it (so one rank is one process exactly); the others draw independent masks.
    pub fn step_seed(&self, seed: u64) -> u64 {
        match self.rank() {
            0 => seed,
            r => convnet_tensor::mix_seed(seed ^ convnet_tensor::mix_seed(r as u64 + 1)),
        }
    }
}

/// The first line where `mine` differs from `root`'s, in words.
fn first_difference(root: &str, mine: &str) -> Option<String> {
    if root == mine {
        return None;
    }
    let (mut r, mut m) = (root.lines(), mine.lines());
    loop {
        match (r.next(), m.next()) {
            (Some(a), Some(b)) if a == b => continue,
            (a, b) => {
                let mut s = String::new();
                let _ = write!(
                    s,
                    "rank 0 has `{}`, this rank has `{}`",
                    a.unwrap_or("(nothing)"),
                    b.unwrap_or("(nothing)")
                );
                return Some(s);
            }
        }
    }
}
