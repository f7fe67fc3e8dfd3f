//! Keras-style constructors for unnamed layers, so a model reads as a list of layers:
//!
//! ```
//! use convnet_nn::layers::shorthand::*;
//! use convnet_nn::{Model, Sequential};
//!
//! let lenet = Sequential::default()
//!     .with(conv(6, 5).padding(2)).with(relu()).with(max_pool(2))
//!     .with(conv(16, 5)).with(relu()).with(max_pool(2))
//!     .with(flatten()).with(linear(120)).with(relu())
//!     .with(linear(84)).with(relu()).with(linear(10));
//! let model = Model::<f32>::new(lenet, &[1, 28, 28]).unwrap();
//! assert_eq!(model.num_params(), 61_706);
//! // Children are numbered as in PyTorch: the first `linear` is child 7.
//! assert_eq!(model.param_specs()[4].name, "7.weight");
//! assert_eq!(model.param_specs()[4].shape, [120, 16 * 5 * 5]);
//! ```
//!
//! Each returns the layer itself, so its builder methods still apply (`conv(6, 5).stride(2)`,
//! `max_pool(3).stride(2)`). Names come from the container when the model is built
//! (`0`, `1`, … in a root `Sequential`, as PyTorch's `nn.Sequential` numbers them), and the
//! input sizes of `conv`, `linear` and `batch_norm` from the graph. Give a name with the
//! layer's own constructor where a checkpoint's keys require one.

use super::{
    Activation, AvgPool2d, BatchNorm, Conv2d, Dropout, Flatten, GlobalAvgPool2d, Linear, MaxPool2d,
    Sequential,
};
use convnet_tensor::Element;

/// `kernel`×`kernel` convolution to `out_channels` filters, input channels from the graph.
pub fn conv(out_channels: usize, kernel: usize) -> Conv2d {
    Conv2d::to(out_channels, kernel)
}

/// Fully connected layer to `out_features`, input size from the graph.
pub fn linear(out_features: usize) -> Linear {
    Linear::to(out_features)
}

/// 2-D batch normalisation, channels from the graph.
pub fn batch_norm() -> BatchNorm {
    BatchNorm::infer_2d()
}

/// 1-D batch normalisation (`[N, C]` or `[N, C, L]`), channels from the graph.
pub fn batch_norm_1d() -> BatchNorm {
    BatchNorm::infer_1d()
}

/// `max(0, x)`.
pub fn relu() -> Activation {
    Activation::relu("")
}

/// `x` for x > 0, `αx` elsewhere.
pub fn leaky_relu(alpha: f64) -> Activation {
    Activation::leaky_relu("", alpha)
}

/// `1 / (1 + e⁻ˣ)`.
pub fn sigmoid() -> Activation {
    Activation::sigmoid("")
}

/// `tanh x`.
pub fn tanh() -> Activation {
    Activation::tanh("")
}

/// Softmax over axis 1 (the classes).
pub fn softmax() -> Activation {
    Activation::softmax("")
}

/// `kernel`×`kernel` max pooling with stride `kernel` (change it with `.stride(s)`).
pub fn max_pool(kernel: usize) -> MaxPool2d {
    MaxPool2d::new("", kernel)
}

/// `kernel`×`kernel` average pooling with stride `kernel`.
pub fn avg_pool(kernel: usize) -> AvgPool2d {
    AvgPool2d::new("", kernel)
}

/// The mean over H and W: `[N, C, H, W] → [N, C]`.
pub fn global_avg_pool() -> GlobalAvgPool2d {
    GlobalAvgPool2d::new("")
}

/// `[N, …] → [N, product of the rest]`.
pub fn flatten() -> Flatten {
    Flatten::new("")
}

/// Inverted dropout with drop probability `p`.
pub fn dropout(p: f64) -> Dropout {
    Dropout::new("", p)
}

/// An unnamed `Sequential` (a block inside another container, or a model's root).
pub fn sequential<T: Element>() -> Sequential<T> {
    Sequential::default()
}
