//! The arithmetic precision a computation runs its matrix products in.
//!
//! Tensors, parameters and optimizer state keep their element type (`f32` master weights).
//! [`Precision::Bf16`] asks the convolution and matmul kernels of an `f32` computation to round
//! their operands to bfloat16 (round-to-nearest-even) while packing them and to accumulate the
//! products in `f32`, on the processor's bf16 units (AMX tiles, else AVX512-BF16 dot products).
//! Everything else — elementwise ops, reductions such as BatchNorm's statistics, softmax and the
//! loss — stays in `f32`. `f64` computations ignore the setting: they exist for checking, and
//! rounding them would defeat that.
//!
//! ```
//! use convnet_tensor::Precision;
//! let p: Precision = "bf16".parse().unwrap();
//! assert_eq!(p, Precision::Bf16);
//! // What actually runs on this machine: a bf16 kernel, or f32 with the reason.
//! println!("{}", p.effective().describe());
//! ```

use std::fmt;
use std::str::FromStr;

use crate::kernels::bf16::{self, Bf16Kernel};

/// Precision of the matrix products (convolution and matmul) of an `f32` computation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Precision {
    /// `f32` operands and accumulation (the default).
    #[default]
    F32,
    /// bf16 operands, `f32` accumulation, where the CPU has bf16 units; `f32` elsewhere.
    Bf16,
}

impl Precision {
    /// The lower-case name used on the command line and in checkpoints: `f32` or `bf16`.
    pub fn name(self) -> &'static str {
        match self {
            Precision::F32 => "f32",
            Precision::Bf16 => "bf16",
        }
    }

    /// What this setting runs on this machine: the bf16 kernel it found, or `f32` with the
    /// reason (detected once per process).
    pub fn effective(self) -> Effective {
        match self {
            Precision::F32 => Effective::F32,
            Precision::Bf16 => match bf16::kernel() {
                Ok(k) => Effective::Bf16(k),
                Err(why) => Effective::Unsupported(why),
            },
        }
    }

    /// The bf16 kernel the products of an `f32` computation at this precision run on, if any.
    pub(crate) fn bf16_kernel(self) -> Option<Bf16Kernel> {
        match self {
            Precision::F32 => None,
            Precision::Bf16 => bf16::kernel().ok(),
        }
    }
}

impl fmt::Display for Precision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Precision {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "f32" | "fp32" | "float32" => Ok(Precision::F32),
            "bf16" | "bfloat16" => Ok(Precision::Bf16),
            other => Err(format!(
                "unknown precision `{other}` (expected f32 or bf16)"
            )),
        }
    }
}

/// What a [`Precision`] runs on this machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effective {
    /// Plain `f32` products, as asked.
    F32,
    /// bf16 products on this kernel.
    Bf16(Bf16Kernel),
    /// bf16 was asked for but this CPU or OS has no bf16 units; the products run in `f32`.
    Unsupported(&'static str),
}

impl Effective {
    /// One line for users: `bf16 on AMX tiles`, or why it fell back to `f32`.
    pub fn describe(self) -> String {
        match self {
            Effective::F32 => "f32".to_string(),
            Effective::Bf16(k) => format!("bf16 on {}", k.describe()),
            Effective::Unsupported(why) => {
                format!("bf16 is not available here ({why}); running in f32")
            }
        }
    }
}
