//! # convnet-dist
//!
//! Data parallelism as Horovod and PyTorch's DDP do it: every rank holds the whole model,
//! trains on its own shard of each global batch, and the gradients are averaged with an
//! allreduce before every update. This crate is the communication half: a small
//! [`Communicator`] interface (rank, world size, allreduce-sum, broadcast, barrier, abort) and
//! its engines:
//!
//! - [`SingleProcess`]: world size 1, every collective a no-op — a program started without
//!   `mpirun` behaves exactly as one that knows nothing of ranks;
//! - `Mpi` (feature `mpi`): the system's MPI (Open MPI) through rsmpi, for
//!   `mpirun -np N convnet train …` on one host or many;
//! - [`ThreadGroup`]: N ranks as threads of one process, for tests and examples that need
//!   several ranks without a launcher.
//!
//! [`init`] picks the engine from how the process was started. [`allreduce_sum_bucketed`]
//! reduces a list of buffers (a model's gradients) in fixed-size buckets in a fixed order.
//! The training loop (`convnet-train`) decides *what* is reduced; nothing here knows of
//! models.
//!
//! ```
//! use convnet_dist::{Communicator, ThreadGroup};
//!
//! // Two ranks in one process: each contributes its rank + 1; both see the sum.
//! let sums = ThreadGroup::run(2, |comm| {
//!     let mut v = [comm.rank() as f32 + 1.0];
//!     comm.allreduce_sum_f32(&mut v).unwrap();
//!     v[0]
//! });
//! assert_eq!(sums, vec![3.0, 3.0]);
//! ```

#![warn(missing_docs)]

mod bucket;
mod error;
mod launch;
#[cfg(feature = "mpi")]
mod mpi_engine;
mod single;
mod threads;

pub use bucket::{BucketStats, DEFAULT_BUCKET_BYTES, allreduce_sum_bucketed};
pub use error::{DistError, Result};
pub use launch::{LaunchInfo, abort_on_panic, init, launch_info, mpi_compiled};
#[cfg(feature = "mpi")]
pub use mpi_engine::Mpi;
pub use single::SingleProcess;
pub use threads::ThreadGroup;

use std::fmt;

/// The collectives data-parallel training needs, over a fixed group of ranks.
///
/// Every rank must call the same collectives in the same order with buffers of the same
/// length; the results are the same on every rank. An engine that detects a mismatch returns
/// [`DistError::Mismatch`]; MPI, which cannot always detect one, may hang or abort instead —
/// which is why the training loop compares a fingerprint of its run on all ranks before the
/// first collective of substance.
pub trait Communicator: Send + Sync + fmt::Debug {
    /// This process's rank, `0..size()`.
    fn rank(&self) -> usize;
    /// Number of ranks.
    fn size(&self) -> usize;
    /// The engine in words (`"single process"`, `"Open MPI v4.1.4, 2 ranks"`, …).
    fn describe(&self) -> String;
    /// Replaces `buf` on every rank by the element-wise sum of all ranks' `buf`.
    fn allreduce_sum_f32(&self, buf: &mut [f32]) -> Result<()>;
    /// As [`allreduce_sum_f32`](Self::allreduce_sum_f32), in f64 (metrics, counts).
    fn allreduce_sum_f64(&self, buf: &mut [f64]) -> Result<()>;
    /// Replaces `buf` on every rank by `root`'s.
    fn broadcast_f32(&self, buf: &mut [f32], root: usize) -> Result<()>;
    /// Replaces `buf` on every rank by `root`'s bytes.
    fn broadcast_bytes(&self, buf: &mut [u8], root: usize) -> Result<()>;
    /// Returns once every rank has called it.
    fn barrier(&self) -> Result<()>;
    /// Ends the whole job (every rank) with exit code `code`. Used on an error or panic of
    /// one rank, so that the others, which may be waiting in a collective for it, do not hang.
    fn abort(&self, code: i32) -> !;
    /// Ends this rank's part in the world after a successful run (MPI: `MPI_Finalize`, which
    /// every rank must reach). Later collectives fail. The default does nothing.
    fn finish(&self) {}

    /// Whether this is rank 0, the rank that prints, logs and writes checkpoints.
    fn is_root(&self) -> bool {
        self.rank() == 0
    }
}

/// Checks that a collective's root names a rank.
fn check_root(root: usize, size: usize) -> Result<()> {
    if root >= size {
        return Err(DistError::Invalid(format!(
            "broadcast root {root} is not a rank of this {size}-rank world"
        )));
    }
    Ok(())
}
