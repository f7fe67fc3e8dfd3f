//! Tiling plan and scratch buffers of the im2col + GEMM convolution in `conv`, plus the
//! weight-sized reductions (sum of per-worker partials, transposes) its backward passes use.
//!
//! Everything here is sizing policy: which tiles a call is cut into, how many images run
//! per worker, when to batch images or band rows, when a transpose pays for itself. The
//! constants were tuned with the `conv_speed` example on a 2-core AVX-512 machine.

use rayon::prelude::*;

use super::geometry::Conv2dGeometry;
use super::im2col::ColBlock;
use crate::buffers::ScratchBuf;
use crate::element::Element;

/// Hard cap on one worker's column buffer, so a huge image (VGG's 224×224 layers would
/// need ~115 MB per image) is always cut into row bands.
pub const SCRATCH_BYTES: usize = 8 << 20;

/// Preferred size of one tile's column buffer: it is written by im2col and immediately
/// read by the GEMM, so it should stay in L2 (2 MiB per core on the development machine).
pub const TILE_BYTES: usize = 1 << 20;

/// Minimum preferred tile width in columns: narrower GEMMs re-pack the weight panel too
/// often for too little work. Wins over [`TILE_BYTES`] for deep layers (measured with the
/// `conv_speed` example).
pub const MIN_TILE_COLS: usize = 256;

/// The backward passes transpose weight-sized buffers when the batch has at least this
/// many output positions (`N·Ho·Wo`). A transpose costs about as much as ~200 flops per
/// weight while the GEMM does `2·N·Ho·Wo` per weight, and it speeds that GEMM up by
/// ~10–50 %; below this width the transpose would cost more than it saves (measured with
/// `conv_speed`: 512 channels at 4×4, batch 32, is the case on the other side).
pub const WIDE_COLS: usize = 2048;

/// Knobs of the tiling, split out so tests can force every path with small shapes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tuning {
    /// Preferred tile width, in columns …
    pub min_cols: usize,
    /// … or, if wider, in elements of the column buffer.
    pub tile_elems: usize,
    /// Hard limit on elements of one column buffer.
    pub scratch_elems: usize,
    /// Worker count to plan for (normally the rayon pool size).
    pub threads: usize,
    /// See [`WIDE_COLS`].
    pub wide_cols: usize,
    /// Kernel family (tests force each).
    pub algorithm: super::conv::ConvAlgorithm,
    /// Precision of the GEMMs.
    pub precision: crate::precision::Precision,
}

impl Tuning {
    pub(crate) fn default_for<T>() -> Self {
        let size = std::mem::size_of::<T>();
        Tuning {
            min_cols: MIN_TILE_COLS,
            tile_elems: TILE_BYTES / size,
            scratch_elems: SCRATCH_BYTES / size,
            threads: rayon::current_num_threads(),
            wide_cols: WIDE_COLS,
            algorithm: super::conv::ConvAlgorithm::Auto,
            precision: crate::precision::Precision::F32,
        }
    }
}

/// The derived sizes and tiling decisions for one call.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Plan {
    /// Input channels per group: `C/g`.
    pub(crate) in_channels_per_group: usize,
    /// Output channels per group: `K/g`.
    pub(crate) out_channels_per_group: usize,
    /// Rows of the column matrix: `C/g · kh · kw`.
    pub(crate) ckk: usize,
    /// `kh · kw`.
    pub(crate) taps: usize,
    /// Pixels of one input channel: `H · W`.
    pub(crate) in_plane: usize,
    pub(crate) wo: usize,
    pub(crate) ho: usize,
    /// Pixels of one output channel, i.e. output positions per image: `Ho · Wo`.
    pub(crate) out_plane: usize,
    pub(crate) in_img: usize,
    pub(crate) out_img: usize,
    pub(crate) groups: usize,
    /// 1×1 kernel, stride 1, no padding: an image is its own column matrix.
    pub(crate) pointwise: bool,
    /// Images per tile (`> 1` only when whole images are small).
    pub(crate) images_per_tile: usize,
    /// Output rows per tile when `images_per_tile == 1`.
    pub(crate) rows: usize,
    /// Input channels per column block: a tile's column matrix is built and consumed in
    /// row blocks of `chan_block·kh·kw`, so each block stays cache-sized even on deep
    /// layers where the whole `[C/g·kh·kw, cols]` matrix would not.
    pub(crate) chan_block: usize,
    /// Split the batch over threads (else: parallel GEMMs).
    pub(crate) par_images: bool,
    pub(crate) images_per_chunk: usize,
    pub(crate) threads: usize,
    /// At least [`WIDE_COLS`] output positions over the batch: enough GEMM work per weight
    /// to pay for weight-sized transposes that speed the backward GEMMs up.
    pub(crate) wide: bool,
    /// Precision of the GEMMs (from the tuning).
    pub(crate) precision: crate::precision::Precision,
}

impl Plan {
    pub(crate) fn new(g: &Conv2dGeometry, t: Tuning) -> Plan {
        let (ho, wo) = (g.out_h(), g.out_w());
        let in_channels_per_group = g.in_channels_per_group();
        let ckk = in_channels_per_group * g.kernel_h * g.kernel_w;
        let out_plane = ho * wo;
        let pointwise = g.kernel_h == 1
            && g.kernel_w == 1
            && g.stride_h == 1
            && g.stride_w == 1
            && g.pad_h == 0
            && g.pad_w == 0;
        let threads = t.threads.max(1);
        let par_images = threads > 1 && g.batch >= threads;
        let images_per_chunk = if par_images {
            g.batch.div_ceil(threads)
        } else {
            g.batch.max(1)
        };
        // Preferred tile width: cache-sized column buffers, but never narrow GEMMs.
        let target = t.min_cols.max(t.tile_elems / ckk.max(1));
        let hard = t.scratch_elems.max(1);
        // A pointwise image already wide enough is used in place: no copy at all.
        let images_per_tile = if out_plane >= target || (pointwise && out_plane >= t.min_cols) {
            1
        } else {
            // Batch whole small images until the tile is `target` wide.
            target
                .div_ceil(out_plane.max(1))
                .min(images_per_chunk)
                .min(hard / (ckk * out_plane).max(1))
                .max(1)
        };
        let rows = if images_per_tile > 1 || pointwise {
            ho
        } else {
            // Bands of output rows about `target` wide, never above the hard cap.
            (target / wo.max(1))
                .min(hard / (ckk * wo).max(1))
                .clamp(1, ho.max(1))
        };
        let width = if images_per_tile > 1 {
            images_per_tile * out_plane
        } else {
            rows * wo
        };
        let taps = g.kernel_h * g.kernel_w;
        let chan_block =
            (t.tile_elems / (taps * width).max(1)).clamp(1, in_channels_per_group.max(1));
        Plan {
            in_channels_per_group,
            chan_block,
            taps,
            out_channels_per_group: g.out_channels_per_group(),
            ckk,
            in_plane: g.in_h * g.in_w,
            wo,
            ho,
            out_plane,
            in_img: g.in_channels * g.in_h * g.in_w,
            out_img: g.out_channels * out_plane,
            groups: g.groups,
            pointwise,
            images_per_tile,
            rows,
            par_images,
            images_per_chunk,
            threads,
            // Cache-resident weights transpose several times faster than the ~1.3 ns per
            // weight that streaming from memory costs, so they always pay.
            wide: g.batch * out_plane >= t.wide_cols || g.weight_len() <= t.tile_elems,
            precision: t.precision,
        }
    }

    /// Whether a tile of `images` images can use the input in place as its column matrix.
    pub(crate) fn in_place(&self, images: usize) -> bool {
        self.pointwise && images == 1
    }

    /// The channel blocks `(first channel, count)` of one group: one block covering the
    /// group when the input is used directly as the column matrix.
    pub(crate) fn chan_blocks(&self, images: usize) -> impl Iterator<Item = (usize, usize)> + '_ {
        let step = if self.in_place(images) {
            self.in_channels_per_group.max(1)
        } else {
            self.chan_block
        };
        (0..self.in_channels_per_group)
            .step_by(step)
            .map(move |c0| (c0, step.min(self.in_channels_per_group - c0)))
    }

    /// Tiles over `n_imgs` images, in order.
    pub(crate) fn tiles(&self, n_imgs: usize) -> impl Iterator<Item = Tile> + '_ {
        let (per_tile, rows, ho) = (self.images_per_tile, self.rows.max(1), self.ho);
        (0..n_imgs).step_by(per_tile).flat_map(move |n0| {
            let images = per_tile.min(n_imgs - n0);
            (0..ho).step_by(rows).map(move |oh0| Tile {
                n0,
                images,
                oh0,
                oh1: (oh0 + rows).min(ho),
            })
        })
    }
}

/// `images` images starting at `n0`, output rows `oh0..oh1` of each.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tile {
    pub(crate) n0: usize,
    pub(crate) images: usize,
    pub(crate) oh0: usize,
    pub(crate) oh1: usize,
}

impl Tile {
    /// Columns of the tile's column matrix per image: the `(oh1 - oh0) · Wo` output
    /// positions of one image's band.
    pub(crate) fn cols_per_image(&self, plan: &Plan) -> usize {
        (self.oh1 - self.oh0) * plan.wo
    }

    /// Where image `b`'s band of a `channels`-channel block sits in its column matrix.
    pub(crate) fn block(&self, plan: &Plan, b: usize, channels: usize) -> ColBlock {
        ColBlock {
            oh0: self.oh0,
            oh1: self.oh1,
            ld: self.images * self.cols_per_image(plan),
            col0: b * self.cols_per_image(plan),
            channels,
        }
    }
}

/// One worker's buffers: the column matrix and, for multi-image tiles, a `[K/g, cols]`
/// staging matrix for the output (forward) or the gathered output gradient (backward).
pub(crate) struct Scratch<T: Element> {
    pub(crate) cols: ScratchBuf<T>,
    pub(crate) aux: ScratchBuf<T>,
}

impl<T: Element> Scratch<T> {
    pub(crate) fn new(plan: &Plan) -> Self {
        let width = if plan.images_per_tile > 1 {
            plan.images_per_tile * plan.out_plane
        } else {
            plan.rows * plan.wo
        };
        let cols = if plan.pointwise && plan.images_per_tile == 1 {
            0
        } else {
            plan.chan_block * plan.taps * width
        };
        let aux = if plan.images_per_tile > 1 {
            plan.out_channels_per_group * width
        } else {
            0
        };
        Scratch {
            cols: ScratchBuf::zeroed(cols),
            aux: ScratchBuf::zeroed(aux),
        }
    }
}

/// For each of the `groups` matrices packed in `dst` (`[rows, cols]` row-major):
/// `dst_g[i][j] = Σ_p parts[p]_g[j][i]` — the transposes of the parts' `[cols, rows]`
/// matrices, summed over the parts in order. Works in 32-row blocks of `dst` so both sides
/// stay in cache, in parallel when large: on deep layers this O(weights) pass sits next to
/// a GEMM of only 2·N·Ho·Wo flops per weight, so it must not run on one core.
pub(crate) fn sum_transposed<T: Element>(
    parts: &[&[T]],
    (rows, cols): (usize, usize),
    dst: &mut [T],
) {
    const B: usize = 32;
    if rows == 0 || cols == 0 {
        return;
    }
    let mat = rows * cols;
    let parallel = dst.len() * parts.len() >= 1 << 16 && rayon::current_num_threads() > 1;
    // (group, first row, output rows): blocks never straddle groups.
    let mut tasks: Vec<(usize, usize, &mut [T])> = Vec::new();
    for (gi, group) in dst.chunks_mut(mat).enumerate() {
        for (bi, out) in group.chunks_mut(B * cols).enumerate() {
            tasks.push((gi, bi * B, out));
        }
    }
    let run = |(gi, r0, out): (usize, usize, &mut [T])| {
        let n_rows = out.len() / cols;
        let base = gi * mat + r0;
        // Contiguous writes, strided reads from ≤ 32 source lines that stay in L1 across
        // the block's rows (measured faster than the mirror order, whose strided stores
        // hit 4 KiB aliasing on deep layers).
        for c0 in (0..cols).step_by(B) {
            let c1 = (c0 + B).min(cols);
            for i in 0..n_rows {
                let row = &mut out[i * cols + c0..i * cols + c1];
                for (d, c) in row.iter_mut().zip(c0..c1) {
                    let src = base + c * rows + i;
                    let mut v = parts[0][src];
                    for part in &parts[1..] {
                        v += part[src];
                    }
                    *d = v;
                }
            }
        }
    };
    if parallel {
        tasks.into_par_iter().for_each(run);
    } else {
        tasks.into_iter().for_each(run);
    }
}

/// `dst += Σ_p parts[p]`, added in order, in parallel blocks when large.
pub(crate) fn add_parts<T: Element>(parts: &[ScratchBuf<T>], dst: &mut [T]) {
    const BLOCK: usize = 1 << 14;
    let run = |(bi, out): (usize, &mut [T])| {
        for part in parts {
            for (d, &v) in out.iter_mut().zip(&part[bi * BLOCK..]) {
                *d += v;
            }
        }
    };
    if dst.len() > BLOCK && !parts.is_empty() && rayon::current_num_threads() > 1 {
        dst.par_chunks_mut(BLOCK).enumerate().for_each(run);
    } else {
        dst.chunks_mut(BLOCK).enumerate().for_each(run);
    }
}
