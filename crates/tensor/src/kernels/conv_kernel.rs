//! Which kernel runs each pass of a convolution: one value, chosen in one place
//! ([`choose_kernel`]), that the pass drivers match on and a user can print
//! (`convnet summary --kernels`).

use std::fmt;

use super::bf16::Bf16Kernel;
use super::conv::ConvAlgorithm;
use super::conv_plan::{Plan, Tuning};
use super::direct::{self, Pass};
use super::geometry::Conv2dGeometry;
use super::winograd;
use crate::element::{DType, Element};
use crate::error::{Result, TensorError};

/// The kernel of one convolution pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConvKernel {
    /// The AVX-512 direct ("implicit GEMM") kernels: no column matrix at all.
    Direct,
    /// Winograd F(4×4, 3×3): transformed tiles, 36 GEMMs, a quarter of the multiplications.
    Winograd,
    /// A 1×1, stride-1, unpadded convolution on maps wide enough: each image already is its
    /// column matrix, so the pass is GEMMs on the data in place.
    Pointwise,
    /// im2col (or col2im) + GEMM over tiles of `images` whole images (small maps) or bands of
    /// `rows` output rows of one image (large maps), the column matrix built `channels` input
    /// channels at a time so each block stays in cache.
    Im2col {
        /// Whole images per tile; `> 1` only when one image's output is too small to fill
        /// a tile on its own.
        images: usize,
        /// Output rows per tile: every row of the image when `images > 1`, else a band
        /// sized so the tile's column matrix fits the scratch budget.
        rows: usize,
        /// Input channels (of one group) per column block: the column matrix is built and
        /// consumed `channels · kh · kw` rows at a time.
        channels: usize,
    },
}

impl fmt::Display for ConvKernel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConvKernel::Direct => f.write_str("direct"),
            ConvKernel::Winograd => f.write_str("winograd F(4×4, 3×3)"),
            ConvKernel::Pointwise => f.write_str("pointwise GEMM"),
            ConvKernel::Im2col {
                images,
                rows,
                channels,
            } if *images > 1 => write!(f, "im2col {images} img/tile, {channels} ch/block"),
            ConvKernel::Im2col { rows, channels, .. } => {
                write!(f, "im2col {rows} rows/tile, {channels} ch/block")
            }
        }
    }
}

/// The kernel `algorithm` runs for `pass` of `g` on `T` data on this machine (its CPU
/// features and rayon pool); an error when [`ConvAlgorithm::Direct`] is demanded but the
/// direct kernels cannot run `g`, saying why.
pub fn choose_kernel<T: Element>(
    pass: Pass,
    g: &Conv2dGeometry,
    algorithm: ConvAlgorithm,
) -> Result<ConvKernel> {
    let tuning = Tuning {
        algorithm,
        ..Tuning::default_for::<T>()
    };
    choose(pass, g, T::DTYPE, &tuning, &Plan::new(g, tuning))
}

/// The choice, given the call's tuning and tiling plan.
pub(crate) fn choose(
    pass: Pass,
    g: &Conv2dGeometry,
    dtype: DType,
    tuning: &Tuning,
    plan: &Plan,
) -> Result<ConvKernel> {
    // bf16 products run through im2col and the bf16 GEMM where the product is large enough
    // — except on AVX512-BF16 alone, whose `vdpbf16ps` at best doubles the f32 FMA rate while
    // Winograd does a quarter of the products in f32: where Winograd applies it ran ResNet-18
    // training at 121 img/s against 107 for the bf16 GEMM (Zen 5, 2 threads, batch 32).
    let bf16_kernel = tuning.precision.bf16_kernel();
    let bf16_wanted = dtype == DType::F32
        && bf16_kernel.is_some()
        && g.out_channels / g.groups.max(1) >= 16
        && plan.ckk >= 32
        && !(bf16_kernel == Some(Bf16Kernel::Avx512Bf16) && winograd::preferred(pass, g));
    match tuning.algorithm {
        ConvAlgorithm::Winograd => {
            let why_not = if dtype == DType::F32 {
                winograd::unavailable_reason(pass, g)
            } else {
                Some("f64 data (Winograd runs f32)".to_string())
            };
            return match why_not {
                None => Ok(ConvKernel::Winograd),
                Some(why) => Err(cannot_run(pass, g, "Winograd", &why)),
            };
        }
        ConvAlgorithm::Auto
            if dtype == DType::F32 && !bf16_wanted && winograd::preferred(pass, g) =>
        {
            return Ok(ConvKernel::Winograd);
        }
        _ => {}
    }
    let wanted = match tuning.algorithm {
        ConvAlgorithm::Im2colGemm | ConvAlgorithm::Winograd => false,
        // The direct kernels are f32: bf16 products run through im2col and the bf16 GEMM.
        ConvAlgorithm::Auto => direct::preferred(pass, g) && !bf16_wanted,
        ConvAlgorithm::Direct => true,
    };
    if wanted {
        let why_not = if dtype == DType::F32 {
            direct::unavailable_reason(g, pass == Pass::InputGrad)
        } else {
            Some("f64 data (the direct kernels are f32)".to_string())
        };
        match why_not {
            None => return Ok(ConvKernel::Direct),
            Some(why) if tuning.algorithm == ConvAlgorithm::Direct => {
                return Err(cannot_run_direct(pass, g, &why));
            }
            Some(_) => {}
        }
    }
    Ok(if plan.in_place(plan.images_per_tile) {
        ConvKernel::Pointwise
    } else {
        ConvKernel::Im2col {
            images: plan.images_per_tile,
            rows: plan.rows,
            channels: plan.chan_block,
        }
    })
}

/// The error for a demanded direct kernel that cannot run.
pub(crate) fn cannot_run_direct(pass: Pass, g: &Conv2dGeometry, why: &str) -> TensorError {
    cannot_run(pass, g, "direct", why)
}

/// The error for a demanded kernel family (`"direct"`, `"Winograd"`) that cannot run.
pub(crate) fn cannot_run(pass: Pass, g: &Conv2dGeometry, family: &str, why: &str) -> TensorError {
    let op = match pass {
        Pass::Forward => "conv2d",
        Pass::InputGrad => "conv2d_input_grad",
        Pass::WeightGrad => "conv2d_weight_grad",
    };
    TensorError::invalid(
        op,
        format!(
            "input {:?}, weight {:?}: the {family} algorithm cannot run this convolution: {why}",
            g.input_shape(),
            g.weight_shape()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `hw × hw`, 8-image convolution with `kernel / 2` padding and the given stride.
    fn geometry(c: usize, k: usize, hw: usize, kernel: usize, stride: usize) -> Conv2dGeometry {
        Conv2dGeometry {
            stride_h: stride,
            stride_w: stride,
            ..Conv2dGeometry::square(8, c, hw, k, kernel, kernel / 2)
        }
    }

    #[test]
    fn the_choice_follows_the_rules_and_forcing_is_honoured() {
        let g = geometry(64, 64, 32, 3, 2);
        // Stride 2: never direct; forcing it is an error that says why.
        let auto = choose_kernel::<f32>(Pass::Forward, &g, ConvAlgorithm::Auto).unwrap();
        assert!(matches!(auto, ConvKernel::Im2col { .. }), "{auto}");
        let e = choose_kernel::<f32>(Pass::Forward, &g, ConvAlgorithm::Direct).unwrap_err();
        assert!(e.to_string().contains("stride 2×2"), "{e}");
        // f64 never runs the direct kernels.
        let s1 = geometry(64, 64, 32, 3, 1);
        let e = choose_kernel::<f64>(Pass::Forward, &s1, ConvAlgorithm::Direct).unwrap_err();
        assert!(e.to_string().contains("f64"), "{e}");
        // A 1×1 convolution on a wide map is GEMMs in place, whatever the CPU.
        let pw = Conv2dGeometry::square(8, 64, 32, 64, 1, 0);
        for pass in [Pass::Forward, Pass::InputGrad, Pass::WeightGrad] {
            let k = choose_kernel::<f32>(pass, &pw, ConvAlgorithm::Auto).unwrap();
            assert_eq!(k, ConvKernel::Pointwise, "{pass:?}");
        }
        // A 32×32 3×3 layer with 64 channels runs Winograd in all three passes, on any CPU.
        for pass in [Pass::Forward, Pass::InputGrad, Pass::WeightGrad] {
            let k = choose_kernel::<f32>(pass, &s1, ConvAlgorithm::Auto).unwrap();
            assert_eq!(k, ConvKernel::Winograd, "{pass:?}");
        }
        // With 8 input channels (too few for Winograd) its weight gradient is direct where
        // AVX-512 is, else im2col.
        let thin = geometry(8, 64, 32, 3, 1);
        let k = choose_kernel::<f32>(Pass::WeightGrad, &thin, ConvAlgorithm::Auto).unwrap();
        if direct::available(&thin) {
            assert_eq!(k, ConvKernel::Direct);
        } else {
            assert!(matches!(k, ConvKernel::Im2col { .. }), "{k}");
        }
        // Forced im2col always is; 16×16 weight gradients and 3-channel inputs stay im2col.
        let k = choose_kernel::<f32>(Pass::Forward, &s1, ConvAlgorithm::Im2colGemm).unwrap();
        assert!(matches!(k, ConvKernel::Im2col { .. }));
        for g in [geometry(128, 128, 16, 3, 1), geometry(3, 64, 32, 3, 1)] {
            let k = choose_kernel::<f32>(Pass::WeightGrad, &g, ConvAlgorithm::Auto).unwrap();
            assert!(matches!(k, ConvKernel::Im2col { .. }), "{g:?}: {k}");
        }
        // With AVX-512, a 32×32 3×3 forward pass with 16 output channels is direct.
        let narrow = geometry(64, 16, 32, 3, 1);
        if direct::available(&narrow) {
            let k = choose_kernel::<f32>(Pass::Forward, &narrow, ConvAlgorithm::Auto).unwrap();
            assert_eq!(k, ConvKernel::Direct);
        }
    }
}
