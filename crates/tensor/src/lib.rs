//! # convnet-tensor
//!
//! A strided n-dimensional tensor for the convnet deep-learning framework, usable on its own
//! as a small ndarray-like library:
//!
//! - [`Tensor<T>`] over `f32` (default) or `f64`, with shared storage and zero-copy views
//!   (reshape, permute, transpose, narrow, broadcast, squeeze/unsqueeze, flatten);
//! - elementwise ops with NumPy broadcasting, reductions over any axes, stable softmax;
//! - matmul through the `gemm` crate; convolution and pooling kernels (in [`kernels`]);
//! - seeded random tensors that give the same bits on every machine and thread count.
//!
//! ```
//! use convnet_tensor::Tensor;
//! let x = Tensor::<f32>::arange(6).reshape(&[2, 3]).unwrap();
//! let y = x.t().unwrap();               // a view: no copy
//! let z = x.matmul(&y).unwrap();        // [2, 3] × [3, 2]
//! assert_eq!(z.to_vec(), vec![5.0, 14.0, 14.0, 50.0]);
//! ```

#![warn(missing_docs)]

pub mod buffers;
pub mod element;
pub mod error;
pub mod kernels;
pub mod layout;
pub mod ops;
pub mod precision;
pub mod random;
pub mod scalar;
mod tensor;
mod view;

pub use element::{DType, Element};
pub use error::{Result, TensorError};
pub use layout::{Dims, Layout};
pub use ops::conv::Conv2dParams;
pub use ops::pool::Pool2dParams;
pub use precision::Precision;
pub use random::{ConvnetRng, mix_seed, rng_from_seed};
pub use tensor::Tensor;
