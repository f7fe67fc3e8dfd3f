//! # convnet-nn
//!
//! Layers, losses, initialisers and model summaries on top of convnet's autograd graph. One
//! dependency for a model author: autograd and tensor are re-exported.
//!
//! - [`Module`]: a layer or tree of layers that appends its computation to a graph through a
//!   build context [`Ctx`], declares its parameters by stable path-like names
//!   (`features.0.weight`, torchvision's state-dict keys) and describes itself for summaries.
//! - Layers ([`layers`]): [`Linear`], [`Conv2d`] (stride, padding incl. "same"/"valid",
//!   dilation, groups), [`MaxPool2d`], [`AvgPool2d`], [`GlobalAvgPool2d`], [`Flatten`],
//!   [`BatchNorm`] (1-D/2-D, running statistics), [`Dropout`], [`LocalResponseNorm`],
//!   [`Maxout`], [`Concat`], [`Residual`], [`Sequential`], [`Activation`] (ReLU, Leaky ReLU,
//!   ELU, GELU, sigmoid, tanh, softmax, log-softmax).
//! - Losses ([`loss`]): MSE, MAE, mean bias error, multiclass hinge, cross-entropy from logits
//!   (label smoothing), NLL, BCE with logits. Classification labels are fed as class indices
//!   (`&[usize]`, see [`Targets`]), which reach the gather kernel as they are.
//! - [`Model`]: one definition, two graphs — [`TrainStep`] (train mode: loss, gradients,
//!   BatchNorm statistics updates, seeded Dropout masks) and [`Inference`] (eval mode) — so the
//!   wrong mode cannot be used by accident.
//! - [`Summary`]: per-layer output shapes with their arithmetic, parameter formulas, MACs and
//!   activation memory, from the symbolic graph alone.
//!
//! ```
//! use convnet_nn::prelude::*;
//!
//! let mut net = Sequential::new("");
//! net.push(Conv2d::new(net.next_name(), 1, 6, 5).padding(2));
//! net.push(Activation::relu(net.next_name()));
//! net.push(MaxPool2d::new(net.next_name(), 2));
//! net.push(Flatten::new(net.next_name()));
//! net.push(Linear::new(net.next_name(), 6 * 14 * 14, 10));
//! let model = Model::<f32>::new(net, &[1, 28, 28]).unwrap();
//! assert_eq!(model.output_shape().to_string(), "[B, 10]");
//! assert_eq!(model.num_params(), 156 + 11_770);
//!
//! let mut params = model.init_params(0).unwrap();
//! let mut step = model.train_step(CrossEntropyLoss::new(), 0).unwrap();
//! let x = Tensor::<f32>::normal(&[4, 1, 28, 28], 0.0, 1.0, 1).unwrap();
//! let out = step.run(&mut params, &x, &[0, 1, 2, 3]).unwrap();
//! assert!(out.loss > 0.0 && out.grads.contains_key("0.weight"));
//! ```
//!
//! The same network with unnamed layers: the container names its children by position when
//! the model is built (`0`, `1`, … as PyTorch's `nn.Sequential` numbers them, so the keys are
//! those above), and input sizes left open ([`InferredSize`]) are taken from the graph.
//! [`layers::shorthand`] has Keras-style constructors for this style (`conv(6, 5)`, `relu()`).
//!
//! ```
//! use convnet_nn::prelude::*;
//!
//! let net = Sequential::default()
//!     .with(Conv2d::to(6, 5).padding(2))
//!     .with(Activation::relu(""))
//!     .with(MaxPool2d::new("", 2))
//!     .with(Flatten::new(""))
//!     .with(Linear::to(10));
//! let model = Model::<f32>::new(net, &[1, 28, 28]).unwrap();
//! assert_eq!(model.num_params(), 156 + 11_770);
//! assert_eq!(model.param_specs()[2].name, "4.weight");
//! assert_eq!(model.param_specs()[2].shape, [10, 6 * 14 * 14]);
//! ```

#![warn(missing_docs)]

pub mod error;
pub mod init;
pub mod layers;
pub mod loss;
pub mod model;
pub mod module;
pub mod runners;
pub mod summary;

pub use convnet_autograd as autograd;
pub use convnet_tensor as tensor;

pub use convnet_autograd::{
    Feeds, GradCheckConfig, GradCheckReport, Graph, GraphOptions, NodeId, ParamStore, Shape,
    check_gradients,
};
pub use convnet_tensor::{ConvnetRng, Element, Tensor, rng_from_seed};

pub use error::{NnError, Result};
pub use init::Init;
pub use layers::{
    Activation, ActivationFn, AvgPool2d, BatchNorm, Concat, Conv2d, Dropout, Flatten,
    GlobalAvgPool2d, Identity, Linear, LocalResponseNorm, MaxPool2d, Maxout, Padding, Residual,
    Sequential,
};
pub use loss::{
    BceWithLogitsLoss, CrossEntropyLoss, HingeLoss, Loss, MaeLoss, MeanBiasError, MseLoss, NllLoss,
    TargetKind, Targets, labels,
};
pub use model::{INPUT, Model, ModelBuilder, ModelGraph, PassKernels, TARGETS};
pub use module::{
    Ctx, InferredSize, LayerInfo, LayerRecord, Mode, Module, ParamSpec, RandomInput, StateUpdate,
};
pub use runners::{Inference, LayerTrace, StepOutput, TrainStep};
pub use summary::{Summary, SummaryRow};

/// Everything a model definition usually needs.
pub mod prelude {
    pub use crate::layers::*;
    pub use crate::loss::{
        BceWithLogitsLoss, CrossEntropyLoss, HingeLoss, Loss, MaeLoss, MeanBiasError, MseLoss,
        NllLoss, Targets, labels,
    };
    pub use crate::{
        Element, Inference, Init, Mode, Model, Module, NnError, ParamStore, Shape, Tensor,
        TrainStep,
    };
}
