//! Winograd F(4×4, 3×3) convolution: f32, 3×3 kernels, stride 1, one group.
//!
//! A direct or im2col convolution spends 9 multiply-adds per output and input channel.
//! Winograd's minimal filtering algorithm computes a 4×4 block of outputs from a 6×6 input
//! patch with 36, a quarter of the 144 a direct 4×4 block needs, by moving both operands
//! into a transformed domain (`transform.rs`) where the convolution is an elementwise
//! product. Summed over input channels, that product is 36 independent matrix products
//! `M[ξ] = U[ξ] · V[ξ]` — `[K, C] × [C, tiles]` for each position ξ of the 6×6 tile —
//! which run on the `gemm` crate at its full speed. The transforms cost memory passes, so
//! the call is cut into chunks of tiles whose transformed inputs and products stay in cache:
//!
//! 1. **filters** (once per call): `U[k][ξ][c] = (G g_kc Gᵀ)[ξ]`, split over the pool by
//!    output channel;
//! 2. **input** (per chunk): `V[c][ξ][t] = (Bᵀ d_ct B)[ξ]` for the chunk's tiles `t`;
//! 3. **products**: for each ξ, `M[k][ξ][·] = U[·][ξ][·] · V[·][ξ][·]` (strided views);
//! 4. **output**: `y = Aᵀ M[k][·][t] A`, clipped at the right and bottom edges.
//!
//! The input gradient of a stride-1 3×3 convolution is itself one: the output gradient
//! convolved with the filters flipped and their channel axes swapped, padded by `2 − p`.
//! So one driver serves both passes; only the filter transform reads the weights flipped.
//!
//! Like the direct kernels the batch is split over the pool by image when there are at
//! least as many images as threads; smaller batches (inference on one image) split each
//! chunk's input transform by channel and its products and output transform by output
//! channel instead.
//!
//! Accuracy: the transforms scale values by up to 8 and 1/24 and sum them, so results
//! carry a few more rounding errors than a direct sum — relative errors of ~1e-6 of the
//! output's scale, measured in the tests against an f64 reference.

#[cfg(test)]
mod tests;
mod transform;

use rayon::prelude::*;

use super::direct::Pass;
use super::gemm::{MatMut, MatRef, gemm_into};
use super::geometry::Conv2dGeometry;
use crate::buffers::ScratchBuf;
use transform::{ALPHA, LANES, OUT, POSITIONS, filter_tile, input_tile, output_tile};

/// Bytes of transformed input per chunk: with the chunk's products (as large, for `K = C`)
/// they stay in the 1–2 MiB L2 of one core between the transforms and the GEMMs.
const CHUNK_BYTES: usize = 1 << 20;

/// Fewest tiles per chunk: narrower GEMMs spend more time packing `U` than multiplying.
const MIN_CHUNK_TILES: usize = 32;

/// Output channels per task when one chunk's products are split over the pool.
const K_BLOCK: usize = 16;

/// Runs `body` compiled for AVX-512 when the CPU has it (the transforms' fixed 16-lane
/// loops then become one register each), else for the baseline target.
macro_rules! best {
    ($f:ident($($arg:expr),*)) => {{
        #[cfg(target_arch = "x86_64")]
        {
            if std::is_x86_feature_detected!("avx512f") {
                // SAFETY: the CPU has AVX-512F, the only feature the copy is compiled for.
                unsafe { simd::$f($($arg),*) }
            } else {
                $f($($arg),*)
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            $f($($arg),*)
        }
    }};
}

mod filter_grad;
pub(crate) use filter_grad::weight_grad_chunked;

/// `gw = ∂L/∂w` (overwriting `gw`) if Winograd applies to `g`, else `false`.
pub(crate) fn weight_grad(g: &Conv2dGeometry, x: &[f32], gy: &[f32], gw: &mut [f32]) -> bool {
    weight_grad_chunked(g, x, gy, gw, None)
}

/// Why Winograd cannot run `pass` of `g`, or `None` if it can.
pub(crate) fn unavailable_reason(pass: Pass, g: &Conv2dGeometry) -> Option<String> {
    if (g.kernel_h, g.kernel_w) != (3, 3) {
        return Some(format!(
            "a {}×{} kernel (needs 3×3)",
            g.kernel_h, g.kernel_w
        ));
    }
    if (g.stride_h, g.stride_w) != (1, 1) || (g.dilation_h, g.dilation_w) != (1, 1) {
        return Some(format!(
            "stride {}×{}, dilation {}×{} (needs 1×1 and 1×1)",
            g.stride_h, g.stride_w, g.dilation_h, g.dilation_w
        ));
    }
    if g.groups != 1 {
        return Some(format!("{} groups (needs 1)", g.groups));
    }
    if pass == Pass::InputGrad && (g.pad_h > 2 || g.pad_w > 2) {
        return Some(format!(
            "padding {}×{} (the input gradient needs p ≤ 2)",
            g.pad_h, g.pad_w
        ));
    }
    None
}

/// Whether [`ConvAlgorithm::Auto`](super::conv::ConvAlgorithm::Auto) runs `pass` of `g`
/// with Winograd. Measured with the `conv_speed` example (AMD Zen 5, 2 threads, batch 32):
/// * forward and input gradient — on ResNet's 32², 16² and 8² layers 1.5–1.9× the best
///   other kernel (670/890/1000 effective GFLOP/s against 450/480/490). On 4×4 maps (one
///   tile per image) the 36 GEMMs are `[K, C] × [C, images]`, too narrow for transformed
///   filters 4× the size of the weights, and it runs at 0.4× im2col; at batch 1 a 16² map
///   is 16 tiles, too thin to split over the pool (ResNet-18's batch-1 inference ran 40 %
///   slower with them), hence at least [`MIN_TILES`] tiles over the batch;
/// * weight gradient — 1.1× the direct kernel at 32² and 1.55× im2col at 16², but at 8²
///   the `36·K·C` sums each worker accumulates (9 MiB for 256 channels) outweigh its few
///   tiles and it runs at 0.9×; at batch 1 (64 tiles) at 0.7×. So: maps of 16² and up, at
///   least [`MIN_GRAD_TILES`] tiles over the batch.
///
/// Every pass needs enough channels on both sides for the GEMMs to run at full speed.
pub(crate) fn preferred(pass: Pass, g: &Conv2dGeometry) -> bool {
    let tiles = g.batch * g.out_h().div_ceil(OUT) * g.out_w().div_ceil(OUT);
    let (side, min_tiles) = match pass {
        Pass::WeightGrad => (16, MIN_GRAD_TILES),
        Pass::Forward | Pass::InputGrad => (8, MIN_TILES),
    };
    unavailable_reason(pass, g).is_none()
        && g.in_channels >= 32
        && g.out_channels >= 32
        && g.out_h() >= side
        && g.out_w() >= side
        && tiles >= min_tiles
}

/// Fewest tiles over the batch for a weight gradient in [`preferred`].
const MIN_GRAD_TILES: usize = 256;

/// Fewest tiles over the batch for [`preferred`].
const MIN_TILES: usize = 64;

/// The convolution Winograd computes: `y = conv(x, w)` with `cin → cout` channels,
/// `h × w` inputs padded by `pad`, and `ho × wo` outputs.
#[derive(Debug, Clone, Copy)]
struct Shape {
    cin: usize,
    cout: usize,
    h: usize,
    w: usize,
    pad_h: usize,
    pad_w: usize,
    ho: usize,
    wo: usize,
    /// Tile rows and columns per image.
    th: usize,
    tw: usize,
}

impl Shape {
    fn new(
        cin: usize,
        cout: usize,
        (h, w): (usize, usize),
        (pad_h, pad_w): (usize, usize),
    ) -> Self {
        let (ho, wo) = (
            (h + 2 * pad_h).saturating_sub(2),
            (w + 2 * pad_w).saturating_sub(2),
        );
        Shape {
            cin,
            cout,
            h,
            w,
            pad_h,
            pad_w,
            ho,
            wo,
            th: ho.div_ceil(OUT),
            tw: wo.div_ceil(OUT),
        }
    }

    /// The convolution `g` itself (its forward pass and weight gradient).
    fn forward_of(g: &Conv2dGeometry) -> Self {
        let s = Shape::new(
            g.in_channels,
            g.out_channels,
            (g.in_h, g.in_w),
            (g.pad_h, g.pad_w),
        );
        debug_assert_eq!((s.ho, s.wo), (g.out_h(), g.out_w()));
        s
    }

    fn tiles_per_image(&self) -> usize {
        self.th * self.tw
    }

    fn in_img(&self) -> usize {
        self.cin * self.h * self.w
    }

    fn out_img(&self) -> usize {
        self.cout * self.ho * self.wo
    }

    /// Tiles per chunk: transformed inputs of about [`CHUNK_BYTES`], a multiple of
    /// [`LANES`], at least [`MIN_CHUNK_TILES`].
    fn chunk_tiles(&self) -> usize {
        let per_tile = POSITIONS * self.cin.max(self.cout) * std::mem::size_of::<f32>();
        (CHUNK_BYTES / per_tile.max(1))
            .max(MIN_CHUNK_TILES)
            .next_multiple_of(LANES)
    }
}

/// `y = conv(x, w)` (overwriting `y`) if Winograd applies to `g`, else `false`.
pub(crate) fn forward(g: &Conv2dGeometry, x: &[f32], w: &[f32], y: &mut [f32]) -> bool {
    forward_chunked(g, x, w, y, None)
}

/// [`forward`] with `chunk_tiles` tiles per chunk instead of the cache-sized default (tests
/// use it to cut small shapes into many chunks).
pub(crate) fn forward_chunked(
    g: &Conv2dGeometry,
    x: &[f32],
    w: &[f32],
    y: &mut [f32],
    chunk_tiles: Option<usize>,
) -> bool {
    if unavailable_reason(Pass::Forward, g).is_some() || !lengths_fit(g, x, w, y) {
        return false;
    }
    let s = Shape::forward_of(g);
    let cin = s.cin;
    let u = transform_filters(&s, |k, c, r, q| w[((k * cin + c) * 3 + r) * 3 + q]);
    run(&s, g.batch, (x, &u, y), chunk_tiles);
    true
}

/// `gx = convᵀ(gy, w)` (overwriting `gx`) if Winograd applies to `g`, else `false`: the
/// forward convolution of `gy` with `w` flipped and its channel axes swapped.
pub(crate) fn input_grad(g: &Conv2dGeometry, gy: &[f32], w: &[f32], gx: &mut [f32]) -> bool {
    input_grad_chunked(g, gy, w, gx, None)
}

/// [`input_grad`] with `chunk_tiles` tiles per chunk (see [`forward_chunked`]).
pub(crate) fn input_grad_chunked(
    g: &Conv2dGeometry,
    gy: &[f32],
    w: &[f32],
    gx: &mut [f32],
    chunk_tiles: Option<usize>,
) -> bool {
    if unavailable_reason(Pass::InputGrad, g).is_some() || !lengths_fit(g, gx, w, gy) {
        return false;
    }
    let s = Shape::new(
        g.out_channels,
        g.in_channels,
        (g.out_h(), g.out_w()),
        (2 - g.pad_h, 2 - g.pad_w),
    );
    debug_assert_eq!((s.ho, s.wo), (g.in_h, g.in_w));
    // Output channel k of this convolution is input channel k of `g`, and vice versa.
    let c_of_g = g.in_channels;
    let u = transform_filters(&s, |k, c, r, q| {
        w[((c * c_of_g + k) * 3 + 2 - r) * 3 + 2 - q]
    });
    run(&s, g.batch, (gy, &u, gx), chunk_tiles);
    true
}

/// Whether the slices have the lengths of `g`'s input, weights and output, and the call
/// has work to do.
fn lengths_fit(g: &Conv2dGeometry, x: &[f32], w: &[f32], y: &[f32]) -> bool {
    g.validate().is_ok()
        && x.len() == g.input_len()
        && w.len() == g.weight_len()
        && y.len() == g.output_len()
        && !y.is_empty()
        && g.in_channels > 0
}

/// `U[k][ξ][c]`: every filter `(k, c)` transformed, read through `tap(k, c, row, col)`.
fn transform_filters(
    s: &Shape,
    tap: impl Fn(usize, usize, usize, usize) -> f32 + Sync,
) -> ScratchBuf<f32> {
    let mut u = ScratchBuf::zeroed(s.cout * POSITIONS * s.cin);
    u.par_chunks_mut(POSITIONS * s.cin)
        .enumerate()
        .for_each(|(k, uk)| best!(filters_of(s, k, &tap, uk)));
    u
}

/// AVX-512 copies of the stage functions: the same code, compiled with the feature on.
#[cfg(target_arch = "x86_64")]
mod simd {
    pub(super) use super::filter_grad::simd_grad::{filters_back, output_grad_chunk};
    use super::*;

    #[target_feature(enable = "avx512f")]
    pub(super) fn filters_of(
        s: &Shape,
        k: usize,
        tap: &(impl Fn(usize, usize, usize, usize) -> f32 + Sync),
        uk: &mut [f32],
    ) {
        super::filters_of(s, k, tap, uk)
    }

    #[target_feature(enable = "avx512f")]
    pub(super) fn input_chunk(s: &Shape, x: &[f32], chunk: Chunk, c: usize, vc: &mut [f32]) {
        super::input_chunk(s, x, chunk, c, vc)
    }

    #[target_feature(enable = "avx512f")]
    pub(super) fn output_chunk(s: &Shape, chunk: Chunk, mk: &[f32], yk: &mut YPlanes<'_>) {
        super::output_chunk(s, chunk, mk, yk)
    }
}

/// The transformed filters of output channel `k`, `[ξ][c]`, into `uk`.
#[inline(always)]
fn filters_of(
    s: &Shape,
    k: usize,
    tap: &(impl Fn(usize, usize, usize, usize) -> f32 + Sync),
    uk: &mut [f32],
) {
    for c0 in (0..s.cin).step_by(LANES) {
        let n = LANES.min(s.cin - c0);
        let mut g = [[[0.0; LANES]; 3]; 3];
        for (r, row) in g.iter_mut().enumerate() {
            for (q, lanes) in row.iter_mut().enumerate() {
                for (l, v) in lanes[..n].iter_mut().enumerate() {
                    *v = tap(k, c0 + l, r, q);
                }
            }
        }
        let t = filter_tile(&g);
        for (xi, lanes) in t.iter().flatten().enumerate() {
            uk[xi * s.cin + c0..][..n].copy_from_slice(&lanes[..n]);
        }
    }
}

/// A run of consecutive tiles, numbered across the images of the slice it is applied to
/// (tile `t` is image `t / tiles_per_image`), and the padded width of its rows in `V`, `M`.
#[derive(Debug, Clone, Copy)]
struct Chunk {
    first: usize,
    len: usize,
    ld: usize,
}

impl Chunk {
    fn new(first: usize, len: usize) -> Self {
        Chunk {
            first,
            len,
            ld: len.next_multiple_of(LANES),
        }
    }
}

/// `(image, top row, left column)` of tile `t`'s output block.
#[inline(always)]
fn tile_origin(s: &Shape, t: usize) -> (usize, usize, usize) {
    let per = s.tiles_per_image();
    let (b, i) = (t / per, t % per);
    (b, (i / s.tw) * OUT, (i % s.tw) * OUT)
}

/// `V[ξ][t]` of input channel `c` for the chunk's tiles into `vc` (`POSITIONS · ld`).
#[inline(always)]
fn input_chunk(s: &Shape, x: &[f32], chunk: Chunk, c: usize, vc: &mut [f32]) {
    let plane = s.h * s.w;
    for g0 in (0..chunk.ld).step_by(LANES) {
        let mut d = [[[0.0; LANES]; ALPHA]; ALPHA];
        for l in 0..LANES.min(chunk.len.saturating_sub(g0)) {
            let (b, oy, ox) = tile_origin(s, chunk.first + g0 + l);
            let xc = &x[(b * s.cin + c) * plane..][..plane];
            // Input rows/columns oy − pad .. oy − pad + 6, zero outside the image.
            for (r, row) in d.iter_mut().enumerate() {
                let Some(iy) = (oy + r).checked_sub(s.pad_h).filter(|&iy| iy < s.h) else {
                    continue;
                };
                let xr = &xc[iy * s.w..][..s.w];
                let left = ox as isize - s.pad_w as isize;
                if left >= 0 && left as usize + ALPHA <= s.w {
                    for (q, v) in xr[left as usize..][..ALPHA].iter().enumerate() {
                        row[q][l] = *v;
                    }
                } else {
                    for (q, lanes) in row.iter_mut().enumerate() {
                        let ix = left + q as isize;
                        if ix >= 0 && (ix as usize) < s.w {
                            lanes[l] = xr[ix as usize];
                        }
                    }
                }
            }
        }
        let v = input_tile(&d);
        for (xi, lanes) in v.iter().flatten().enumerate() {
            vc[xi * chunk.ld + g0..][..LANES].copy_from_slice(lanes);
        }
    }
}

/// Where an output transform writes: plane `k0` of `y`'s first image, and the same plane of
/// each following image `image_stride` further on.
struct YPlanes<'a> {
    y: &'a mut [f32],
    k0: usize,
    image_stride: usize,
}

/// The output transform of one output channel: `mk` is its `M[ξ][t]`, written to plane
/// `yk.k0` of every image the chunk's tiles lie in.
#[inline(always)]
fn output_chunk(s: &Shape, chunk: Chunk, mk: &[f32], yk: &mut YPlanes<'_>) {
    let plane = s.ho * s.wo;
    for g0 in (0..chunk.len).step_by(LANES) {
        let mut m = [[[0.0; LANES]; ALPHA]; ALPHA];
        for (xi, lanes) in m.iter_mut().flatten().enumerate() {
            lanes.copy_from_slice(&mk[xi * chunk.ld + g0..][..LANES]);
        }
        let out = output_tile(&m);
        for l in 0..LANES.min(chunk.len - g0) {
            let (b, oy, ox) = tile_origin(s, chunk.first + g0 + l);
            let yp = &mut yk.y[b * yk.image_stride + yk.k0 * plane..][..plane];
            for (r, row) in out.iter().enumerate().take(s.ho - oy) {
                let yr = &mut yp[(oy + r) * s.wo..][..s.wo];
                for (q, lanes) in row.iter().enumerate().take(s.wo - ox) {
                    yr[ox + q] = lanes[l];
                }
            }
        }
    }
}

/// Per-worker buffers: transformed inputs `V[c][ξ][t]` and products `M[k][ξ][t]` (for the
/// weight gradient, transformed output gradients `E[k][ξ][t]` in `m`).
struct Scratch {
    v: ScratchBuf<f32>,
    m: ScratchBuf<f32>,
}

impl Scratch {
    fn new(s: &Shape, tiles: usize) -> Self {
        let ld = tiles.next_multiple_of(LANES);
        Scratch {
            v: ScratchBuf::zeroed(s.cin * POSITIONS * ld),
            m: ScratchBuf::zeroed(s.cout * POSITIONS * ld),
        }
    }
}

/// The 36 products of output channels `k0..k0 + mk.len() / (36·ld)`:
/// `M[k][ξ][·] = U[k][ξ][·] · V[·][ξ][·]`.
fn products(s: &Shape, chunk: Chunk, u: &[f32], k0: usize, v: &[f32], mk: &mut [f32]) {
    let rows = mk.len() / (POSITIONS * chunk.ld);
    for xi in 0..POSITIONS {
        let lhs = MatRef {
            data: &u[(k0 * POSITIONS + xi) * s.cin..],
            rows,
            cols: s.cin,
            rs: POSITIONS * s.cin,
            cs: 1,
        };
        let rhs = MatRef {
            data: &v[xi * chunk.ld..],
            rows: s.cin,
            cols: chunk.len,
            rs: POSITIONS * chunk.ld,
            cs: 1,
        };
        let mut dst = MatMut {
            data: &mut mk[xi * chunk.ld..],
            rows,
            cols: chunk.len,
            rs: POSITIONS * chunk.ld,
            cs: 1,
        };
        gemm_into(&mut dst, lhs, rhs, false, false);
    }
}

/// One chunk on this thread: input transform, products, output transform.
fn chunk_serial(s: &Shape, x: &[f32], u: &[f32], y: &mut [f32], chunk: Chunk, sc: &mut Scratch) {
    let row = POSITIONS * chunk.ld;
    let (v, m) = (&mut sc.v[..s.cin * row], &mut sc.m[..s.cout * row]);
    for (c, vc) in v.chunks_exact_mut(row).enumerate() {
        best!(input_chunk(s, x, chunk, c, vc));
    }
    products(s, chunk, u, 0, v, m);
    for (k, mk) in m.chunks_exact(row).enumerate() {
        let mut yk = YPlanes {
            y: &mut *y,
            k0: k,
            image_stride: s.out_img(),
        };
        best!(output_chunk(s, chunk, mk, &mut yk));
    }
}

/// One chunk of one image, each stage split over the pool: the input transform by input
/// channel, the products and output transform by blocks of output channels.
fn chunk_parallel(s: &Shape, x: &[f32], u: &[f32], y: &mut [f32], chunk: Chunk, sc: &mut Scratch) {
    let row = POSITIONS * chunk.ld;
    let (v, m) = (&mut sc.v[..s.cin * row], &mut sc.m[..s.cout * row]);
    v.par_chunks_mut(row)
        .enumerate()
        .for_each(|(c, vc)| best!(input_chunk(s, x, chunk, c, vc)));
    let v = &*v;
    let plane = s.ho * s.wo;
    m.par_chunks_mut(K_BLOCK * row)
        .zip(y.par_chunks_mut(K_BLOCK * plane))
        .enumerate()
        .for_each(|(blk, (mb, yb))| {
            let k0 = blk * K_BLOCK;
            products(s, chunk, u, k0, v, mb);
            for (j, mk) in mb.chunks_exact(row).enumerate() {
                let mut yk = YPlanes {
                    y: &mut *yb,
                    k0: j,
                    image_stride: 0,
                };
                best!(output_chunk(s, chunk, mk, &mut yk));
            }
        });
}

/// The whole convolution of `batch` images: `x` → `y` with transformed filters `u`.
fn run(s: &Shape, batch: usize, (x, u, y): (&[f32], &[f32], &mut [f32]), tiles: Option<usize>) {
    let per_image = s.tiles_per_image();
    let tiles = tiles.map_or_else(|| s.chunk_tiles(), |t| t.next_multiple_of(LANES).max(LANES));
    let threads = rayon::current_num_threads();
    if threads > 1 && batch < threads {
        // Few images: every stage of every chunk is split over the pool.
        let mut sc = Scratch::new(s, tiles.min(per_image));
        for (xb, yb) in x
            .chunks_exact(s.in_img())
            .zip(y.chunks_exact_mut(s.out_img()))
        {
            for first in (0..per_image).step_by(tiles) {
                let chunk = Chunk::new(first, tiles.min(per_image - first));
                chunk_parallel(s, xb, u, yb, chunk, &mut sc);
            }
        }
        return;
    }
    // One contiguous range of images per worker; chunks may span images.
    let per_worker = batch.div_ceil(threads.max(1));
    x.par_chunks(per_worker * s.in_img())
        .zip(y.par_chunks_mut(per_worker * s.out_img()))
        .for_each(|(xw, yw)| {
            let total = (xw.len() / s.in_img()) * per_image;
            let mut sc = Scratch::new(s, tiles.min(total));
            for first in (0..total).step_by(tiles) {
                let chunk = Chunk::new(first, tiles.min(total - first));
                chunk_serial(s, xw, u, yw, chunk, &mut sc);
            }
        });
}
