//! Batches for training: seeded shuffling per epoch, batching with or without the last partial
//! batch, normalisation, augmentation (see [`crate::transform`]: crops, flips, colour jitter),
//! and the next batches prepared on a background thread.
//!
//! Determinism: the order of epoch `e` depends only on `(seed, e)` and the augmentation of
//! batch `b` only on `(seed, e, b)`, so the same seed gives the same batches whether or not
//! prefetching is on, and a run resumed at `(e, b)` sees exactly the batches it would have seen.

use convnet_tensor::{Tensor, mix_seed as mix, rng_from_seed};
use rand::seq::SliceRandom;

use crate::dataset::Dataset;
use crate::error::{DatasetError, Result};
use crate::prefetch::Prefetch;
use crate::transform::{Augment, Pipeline};

/// How a [`DataLoader`] draws batches.
#[derive(Debug, Clone, PartialEq)]
pub struct LoaderConfig {
    /// Examples per batch (at least 1).
    pub batch_size: usize,
    /// Draw each epoch in a seeded random order (else in the data set's order).
    pub shuffle: bool,
    /// Drop the last batch when it is smaller than `batch_size`.
    pub drop_last: bool,
    /// Seed of the shuffling and the augmentation.
    pub seed: u64,
    /// Subtract the data set's per-channel mean and divide by its std (else just scale to [0, 1]).
    pub normalize: bool,
    /// Random augmentation of every image (the default: none).
    pub augment: Augment,
    /// Height and width of the batches' images, when smaller than the stored images: the
    /// centre crop (or, with [`Augment::resized_crop`], a random-resized crop of any size).
    /// `None`: the stored size.
    pub output_size: Option<[usize; 2]>,
    /// Prepare batches on a background thread.
    pub prefetch: bool,
}

impl LoaderConfig {
    /// Shuffled, normalised batches of `batch_size`, no augmentation, prefetching on.
    pub fn new(batch_size: usize, seed: u64) -> Self {
        LoaderConfig {
            batch_size,
            shuffle: true,
            drop_last: false,
            seed,
            normalize: true,
            augment: Augment::default(),
            output_size: None,
            prefetch: true,
        }
    }

    /// In order, no augmentation: for evaluation.
    pub fn evaluation(batch_size: usize) -> Self {
        LoaderConfig {
            shuffle: false,
            ..LoaderConfig::new(batch_size, 0)
        }
    }
}

/// One batch: images `[B, C, H, W]` as f32 and their labels.
#[derive(Debug, Clone)]
pub struct Batch {
    /// The images, `[B, C, H, W]`, normalised as the loader is configured.
    pub images: Tensor<f32>,
    /// The label of each image, in batch order.
    pub labels: Vec<usize>,
    /// Position of this batch within its epoch.
    pub index: usize,
    /// Examples in the whole batch across all shards (equal to `labels.len()` unless the
    /// loader is [sharded](DataLoader::sharded)).
    pub global_len: usize,
}

/// Draws batches from a data set.
#[derive(Debug, Clone)]
pub struct DataLoader {
    dataset: Dataset,
    config: LoaderConfig,
    shard: Shard,
}

/// Which part of every batch a loader yields: data-parallel rank `rank` of `ranks` takes the
/// `rank`-th of `ranks` near-equal consecutive slices of each global batch, so the ranks
/// together see exactly the examples, in the same batches, that one unsharded loader yields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// This shard, `0..ranks`.
    pub rank: usize,
    /// Number of shards.
    pub ranks: usize,
}

impl Shard {
    /// The whole batch.
    pub const WHOLE: Shard = Shard { rank: 0, ranks: 1 };

    /// The positions `lo..hi` of this shard within a batch of `len` examples: slice `rank` of
    /// `len` split into `ranks` parts whose sizes differ by at most one.
    pub fn range(&self, len: usize) -> std::ops::Range<usize> {
        // In u128, so that len·(rank + 1) cannot overflow whatever the batch size.
        let cut = |r: usize| (len as u128 * r as u128 / self.ranks as u128) as usize;
        cut(self.rank)..cut(self.rank + 1)
    }
}

impl DataLoader {
    /// A loader over `dataset`; refuses a zero batch size, an empty data set, invalid
    /// augmentation, and an output size that the images cannot give.
    pub fn new(dataset: Dataset, config: LoaderConfig) -> Result<Self> {
        if config.batch_size == 0 {
            return Err(DatasetError::Invalid(
                "data loader: batch size must be at least 1".into(),
            ));
        }
        if dataset.is_empty() {
            return Err(DatasetError::Invalid(format!(
                "data loader: the {} data set is empty",
                dataset.name()
            )));
        }
        config.augment.validate()?;
        let [_, h, w] = dataset.image_shape;
        if let Some([oh, ow]) = config.output_size {
            let fits = oh <= h && ow <= w;
            if oh == 0 || ow == 0 || oh > 1 << 14 || ow > 1 << 14 {
                return Err(DatasetError::Invalid(format!(
                    "data loader: output size {oh}×{ow} is not usable"
                )));
            }
            if !fits && config.augment.resized_crop.is_none() {
                return Err(DatasetError::Invalid(format!(
                    "data loader: cannot centre-crop {oh}×{ow} from the {} images of {h}×{w}",
                    dataset.name()
                )));
            }
        }
        Ok(DataLoader {
            dataset,
            config,
            shard: Shard::WHOLE,
        })
    }

    /// This loader yielding only shard `rank` of `ranks` of every batch (see [`Shard`]); the
    /// order, the batches and each example's augmentation are those of the unsharded loader.
    pub fn sharded(mut self, rank: usize, ranks: usize) -> Result<Self> {
        if ranks == 0 || rank >= ranks || ranks > 1 << 20 {
            return Err(DatasetError::Invalid(format!(
                "data loader: shard {rank} of {ranks} does not exist"
            )));
        }
        self.shard = Shard { rank, ranks };
        Ok(self)
    }

    /// The part of each batch this loader yields.
    pub fn shard(&self) -> Shard {
        self.shard
    }

    /// The size of every batch of an epoch, across all shards, in order (the last is smaller
    /// unless the data set divides evenly or `drop_last` is set).
    pub fn batch_sizes(&self) -> impl Iterator<Item = usize> + '_ {
        let (n, b) = (self.dataset.len(), self.config.batch_size);
        (0..self.batches_per_epoch()).map(move |i| b.min(n - i * b))
    }

    /// The data set batches are drawn from.
    pub fn dataset(&self) -> &Dataset {
        &self.dataset
    }

    /// How batches are drawn.
    pub fn config(&self) -> &LoaderConfig {
        &self.config
    }

    /// `[c, h, w]` of the images in its batches.
    pub fn output_shape(&self) -> [usize; 3] {
        let [c, h, w] = self.dataset.image_shape;
        let [oh, ow] = self.config.output_size.unwrap_or([h, w]);
        [c, oh, ow]
    }

    /// Batches in every epoch: the last partial one counts unless `drop_last` is set.
    pub fn batches_per_epoch(&self) -> usize {
        let (n, b) = (self.dataset.len(), self.config.batch_size);
        if self.config.drop_last {
            n / b
        } else {
            n.div_ceil(b)
        }
    }

    /// The example order of an epoch.
    fn order(&self, epoch: u64) -> Vec<u32> {
        let mut order: Vec<u32> = (0..self.dataset.len() as u32).collect();
        if self.config.shuffle {
            order.shuffle(&mut rng_from_seed(mix(self.config.seed ^ mix(epoch))));
        }
        order
    }

    /// The batches of `epoch`, from the first.
    pub fn epoch(&self, epoch: u64) -> EpochIter {
        self.epoch_from(epoch, 0)
    }

    /// The batches of `epoch` starting at batch `start` (for resuming mid-epoch).
    pub fn epoch_from(&self, epoch: u64, start: usize) -> EpochIter {
        let order = self.order(epoch);
        let count = self.batches_per_epoch();
        let job = BatchJob {
            dataset: self.dataset.clone(),
            config: self.config.clone(),
            order,
            epoch,
            shard: self.shard,
        };
        if !self.config.prefetch {
            return EpochIter {
                inner: Inner::Inline {
                    job,
                    next: start,
                    count,
                },
                epoch,
            };
        }
        // Two batches in flight: enough to hide preparation behind a training step without
        // holding much memory.
        let dataset = self.dataset.clone();
        let config = self.config.clone();
        match Prefetch::spawn("convnet-loader", start..count, 2, move |b| job.make(b)) {
            Ok(p) => EpochIter {
                inner: Inner::Prefetch(p),
                epoch,
            },
            // Could not spawn a thread: fall back to preparing batches inline.
            Err(_) => {
                let job = BatchJob {
                    order: self.order(epoch),
                    dataset,
                    config,
                    epoch,
                    shard: self.shard,
                };
                EpochIter {
                    inner: Inner::Inline {
                        job,
                        next: start,
                        count,
                    },
                    epoch,
                }
            }
        }
    }
}

/// Everything needed to build any batch of one epoch.
struct BatchJob {
    dataset: Dataset,
    config: LoaderConfig,
    order: Vec<u32>,
    epoch: u64,
    shard: Shard,
}

impl BatchJob {
    fn make(&self, b: usize) -> Batch {
        let bs = self.config.batch_size;
        let start = b * bs;
        let global = &self.order[start..(start + bs).min(self.order.len())];
        let mine = self.shard.range(global.len());
        let first = start + mine.start;
        let ids = &global[mine];
        let [c, h, w] = self.dataset.image_shape;
        let [oh, ow] = self.config.output_size.unwrap_or([h, w]);
        let (zeros, ones) = (vec![0.0f32; c], vec![1.0f32; c]);
        let (mean, std) = if self.config.normalize {
            self.dataset.normalization()
        } else {
            (&zeros[..], &ones[..])
        };
        let pipeline = Pipeline {
            source: [c, h, w],
            output: [oh, ow],
            mean,
            std,
            augment: self.config.augment,
        };
        let per = c * oh * ow;
        let mut data = vec![0f32; ids.len() * per];
        let mut labels = Vec::with_capacity(ids.len());
        let epoch_seed = mix(self.config.seed ^ mix(self.epoch));
        for (k, &id) in ids.iter().enumerate() {
            // Each example's augmentation is drawn from its own position in the epoch, so a
            // shard renders exactly what the unsharded batch holds at those positions.
            let mut rng = rng_from_seed(mix(epoch_seed ^ mix((first + k) as u64)));
            labels.push(self.dataset.label(id as usize));
            pipeline.render(
                self.dataset.image(id as usize),
                &mut rng,
                &mut data[k * per..(k + 1) * per],
            );
        }
        let images = Tensor::from_vec(data, &[ids.len(), c, oh, ow])
            .expect("batch buffer matches its shape");
        Batch {
            images,
            labels,
            index: b,
            global_len: global.len(),
        }
    }
}

enum Inner {
    Inline {
        job: BatchJob,
        next: usize,
        count: usize,
    },
    Prefetch(Prefetch<Batch>),
}

/// Iterator over the batches of one epoch. A batch that could not be prepared (its
/// background thread panicked) is an error, after which the iterator ends.
pub struct EpochIter {
    inner: Inner,
    epoch: u64,
}

impl std::fmt::Debug for EpochIter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EpochIter")
    }
}

impl Iterator for EpochIter {
    type Item = Result<Batch>;

    fn next(&mut self) -> Option<Result<Batch>> {
        match &mut self.inner {
            Inner::Inline { job, next, count } => {
                if *next >= *count {
                    return None;
                }
                *next += 1;
                Some(Ok(job.make(*next - 1)))
            }
            Inner::Prefetch(p) => Some(p.next()?.map_err(|(batch, detail)| DatasetError::Loader {
                epoch: self.epoch,
                batch,
                detail,
            })),
        }
    }
}
