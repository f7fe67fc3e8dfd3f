//! Reducing many buffers (a model's gradients) in buckets: small tensors are packed together
//! so that each allreduce moves a few MiB — few enough calls that per-call latency does not
//! dominate, each small enough that a reduction's scratch stays modest — and every rank packs
//! them in the same, given order.

use std::time::{Duration, Instant};

use crate::{Communicator, Result};

/// The bucket size [`allreduce_sum_bucketed`] is usually given: 4 MiB (a million f32), in
/// the range Horovod's fusion buffer and DDP's `bucket_cap_mb` use.
pub const DEFAULT_BUCKET_BYTES: usize = 4 << 20;

/// What a bucketed reduction did.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct BucketStats {
    /// Allreduce calls made.
    pub calls: usize,
    /// Bytes each rank contributed (the buffers' total size).
    pub bytes: usize,
    /// Time spent in the collectives and in packing.
    pub elapsed: Duration,
}

impl BucketStats {
    /// Adds another reduction's figures to these.
    pub fn add(&mut self, other: BucketStats) {
        self.calls += other.calls;
        self.bytes += other.bytes;
        self.elapsed += other.elapsed;
    }
}

/// Replaces every buffer by its sum over all ranks. The buffers are taken in the given order
/// and packed into buckets of at most `bucket_bytes` (a buffer larger than that is reduced on
/// its own, in place); every rank must pass buffers of the same lengths in the same order.
/// With one rank it returns at once.
pub fn allreduce_sum_bucketed(
    comm: &dyn Communicator,
    buffers: &mut [&mut [f32]],
    bucket_bytes: usize,
) -> Result<BucketStats> {
    let started = Instant::now();
    let mut stats = BucketStats {
        bytes: buffers.iter().map(|b| std::mem::size_of_val(&**b)).sum(),
        ..BucketStats::default()
    };
    if comm.size() == 1 {
        return Ok(stats);
    }
    let per_bucket = (bucket_bytes / std::mem::size_of::<f32>()).max(1);
    let mut bucket: Vec<f32> = Vec::with_capacity(per_bucket);
    // Indices of the buffers packed into `bucket`, in order.
    let mut members: Vec<usize> = Vec::new();
    let flush = |bucket: &mut Vec<f32>,
                 members: &mut Vec<usize>,
                 buffers: &mut [&mut [f32]],
                 stats: &mut BucketStats|
     -> Result<()> {
        if members.is_empty() {
            return Ok(());
        }
        comm.allreduce_sum_f32(bucket)?;
        stats.calls += 1;
        let mut at = 0;
        for &i in members.iter() {
            let n = buffers[i].len();
            buffers[i].copy_from_slice(&bucket[at..at + n]);
            at += n;
        }
        bucket.clear();
        members.clear();
        Ok(())
    };
    for i in 0..buffers.len() {
        let n = buffers[i].len();
        if n == 0 {
            continue;
        }
        if n >= per_bucket {
            comm.allreduce_sum_f32(buffers[i])?;
            stats.calls += 1;
            continue;
        }
        if bucket.len() + n > per_bucket {
            flush(&mut bucket, &mut members, buffers, &mut stats)?;
        }
        bucket.extend_from_slice(buffers[i]);
        members.push(i);
    }
    flush(&mut bucket, &mut members, buffers, &mut stats)?;
    stats.elapsed = started.elapsed();
    Ok(stats)
}
