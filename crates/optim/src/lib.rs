//! # convnet-optim
//!
//! First-order optimizers that update named parameters in place, gradient clipping, and
//! learning-rate schedules for the convnet framework.
//!
//! - [`Optimizer`]: [`Sgd`] (momentum, Nesterov, dampening, weight decay), [`Adagrad`],
//!   [`RmsProp`] (centred, momentum), [`Adadelta`], [`Adam`] (AMSGrad; AdamW via
//!   [`AdamConfig::adamw`]). Each module's top comment cites the published update rule.
//! - State ([`OptimizerState`]) is tensors plus metadata, restored bit-exactly from a
//!   checkpoint.
//! - [`ParamGroups`]: a learning-rate scale per parameter-path prefix (fine-tuning's slow
//!   backbone and fast head), one schedule moving every group together.
//! - [`clip_grad_norm`] / [`clip_grad_value`] over a [`Gradients`] map.
//! - [`schedule`]: closed-form schedules (step, multi-step, exponential, cosine, SGDR,
//!   warm-up, sequences) and reduce-on-plateau.
//! - [`race`]: optimizers racing on 2-D test surfaces (the saddle and Rosenbrock pictures).
//!
//! ```
//! use convnet_autograd::ParamStore;
//! use convnet_optim::{AdamConfig, Gradients, Optimizer};
//! use convnet_tensor::Tensor;
//!
//! let mut params = ParamStore::<f64>::new();
//! params.insert("w", Tensor::from_vec(vec![1.0, -2.0], &[2]).unwrap()).unwrap();
//! let mut adam = AdamConfig::new(0.1).build::<f64>().unwrap();
//! for _ in 0..200 {
//!     // f(w) = ½‖w‖², so ∇f = w.
//!     let grads = Gradients::from([("w".to_string(), params.get("w").unwrap().clone())]);
//!     adam.step(&mut params, &grads).unwrap();
//! }
//! assert!(params.get("w").unwrap().to_vec().iter().all(|v| v.abs() < 0.05));
//! ```

#![warn(missing_docs)]

mod adadelta;
mod adagrad;
mod adam;
mod clip;
mod error;
mod groups;
mod optimizer;
pub mod race;
mod rmsprop;
pub mod schedule;
mod sgd;

pub use adadelta::{Adadelta, AdadeltaConfig};
pub use adagrad::{Adagrad, AdagradConfig};
pub use adam::{Adam, AdamConfig};
pub use clip::{clip_grad_norm, clip_grad_value, global_norm};
pub use error::{OptimError, Result};
pub use groups::{OptimizerConfig, ParamGroups, ParamGroupsBuilder};
pub use optimizer::{Gradients, Optimizer, OptimizerState};
pub use rmsprop::{RmsProp, RmsPropConfig};
pub use sgd::{Sgd, SgdConfig};
