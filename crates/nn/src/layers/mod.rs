//! The layers, one file per concern.

mod activation;
mod container;
mod conv;
mod dropout;
mod flatten;
mod linear;
mod lrn;
mod maxout;
mod norm;
mod pool;
mod residual;
pub mod shorthand;

pub use activation::{Activation, ActivationFn, gelu};
pub use container::{Concat, Sequential};
pub use conv::{Conv2d, Padding};
pub use dropout::Dropout;
pub use flatten::{Flatten, Identity};
pub use linear::Linear;
pub use lrn::LocalResponseNorm;
pub use maxout::Maxout;
pub use norm::BatchNorm;
pub use pool::{AvgPool2d, GlobalAvgPool2d, MaxPool2d};
pub use residual::Residual;
