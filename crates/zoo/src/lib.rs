//! # convnet-zoo
//!
//! The classic convolutional architectures, one file per family, each built from `nn` layers
//! and pinned by tests to its published parameter counts and output shapes:
//!
//! | family | names | file |
//! |---|---|---|
//! | LeNet-5 (LeCun et al. 1998) | `lenet5`, `lenet5-paper` | [`lenet`] |
//! | AlexNet (Krizhevsky et al. 2012) | `alexnet`, `alexnet-torchvision` | [`alexnet`] |
//! | VGG (Simonyan & Zisserman 2014) | `vgg11` … `vgg19`, `vgg11-bn` … `vgg19-bn` | [`vgg`] |
//! | GoogLeNet (Szegedy et al. 2014) | `googlenet`, `googlenet-bn` | [`googlenet`] |
//! | ResNet (He et al. 2015) | `resnet18` … `resnet152`, `resnet18-cifar`, `resnet20` … `resnet110` | [`resnet`] |
//!
//! Building is symbolic and cheap: [`build`] returns a [`Model`] whose parameter count and
//! shapes are known without allocating a single weight (`Model::init_params` allocates).
//! Parameter names are torchvision's state-dict keys where torchvision has the model, so
//! [`weights::load_safetensors`] reads torchvision weights saved as safetensors directly.
//!
//! ```
//! use convnet_zoo::{ZooConfig, build};
//!
//! let lenet = build::<f32>("lenet5", &ZooConfig::default()).unwrap();
//! assert_eq!(lenet.num_params(), 61_706);
//! let model = build::<f32>("resnet18", &ZooConfig::default()).unwrap();
//! assert_eq!(model.num_params(), 11_689_512);
//! assert_eq!(model.output_shape().to_string(), "[B, 1000]");
//! let small = build::<f32>("vgg11", &ZooConfig::default().input([3, 16, 16]));
//! assert!(small.unwrap_err().to_string().contains("smallest that works is 3×32×32"));
//! ```

#![warn(missing_docs)]

pub mod alexnet;
pub mod error;
pub mod googlenet;
pub mod layers;
pub mod lenet;
pub mod loss;
pub mod resnet;
pub mod transfer;
pub mod vgg;
pub mod weights;

use convnet_nn::{Element, Model, Module};

pub use error::{Result, ZooError};
pub use googlenet::{AUX1_LOGITS, AUX2_LOGITS};
pub use loss::AuxClassifierLoss;
pub use transfer::{TransferReport, load_pretrained, load_pretrained_file};
pub use weights::{WeightsReport, load_safetensors, load_safetensors_file, save_safetensors};

/// The architecture families.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    /// LeNet-5 ([`lenet`]).
    LeNet,
    /// AlexNet ([`alexnet`]).
    AlexNet,
    /// VGG, with or without BatchNorm ([`vgg`]).
    Vgg,
    /// GoogLeNet / Inception v1 ([`googlenet`]).
    GoogLeNet,
    /// ResNet, ImageNet and CIFAR forms ([`resnet`]).
    ResNet,
}

/// Options every zoo model takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZooConfig {
    /// Number of classes; `None` uses the model's default (10 for LeNet and CIFAR ResNets,
    /// 1000 otherwise).
    pub classes: Option<usize>,
    /// Per-sample input `[channels, height, width]`; `None` uses the model's default.
    pub input: Option<[usize; 3]>,
    /// Divides every channel count and hidden fully-connected width (1 = as published);
    /// reduced-width models for tests and quick experiments.
    pub width_divisor: usize,
    /// The BatchNorm variant where a family has one (VGG, GoogLeNet); ResNets always have it,
    /// LeNet and AlexNet reject it.
    pub batch_norm: bool,
    /// GoogLeNet's two auxiliary classifiers in the training graph (default on).
    pub aux_classifiers: bool,
}

impl Default for ZooConfig {
    fn default() -> Self {
        ZooConfig {
            classes: None,
            input: None,
            width_divisor: 1,
            batch_norm: false,
            aux_classifiers: true,
        }
    }
}

impl ZooConfig {
    /// Sets [`classes`](Self::classes) to `n`.
    pub fn classes(mut self, n: usize) -> Self {
        self.classes = Some(n);
        self
    }
    /// Sets [`input`](Self::input) to `chw` (`[channels, height, width]`).
    pub fn input(mut self, chw: [usize; 3]) -> Self {
        self.input = Some(chw);
        self
    }
    /// Sets [`width_divisor`](Self::width_divisor) to `d`.
    pub fn width_divisor(mut self, d: usize) -> Self {
        self.width_divisor = d;
        self
    }
    /// Sets [`batch_norm`](Self::batch_norm).
    pub fn batch_norm(mut self, on: bool) -> Self {
        self.batch_norm = on;
        self
    }
    /// Sets [`aux_classifiers`](Self::aux_classifiers).
    pub fn aux_classifiers(mut self, on: bool) -> Self {
        self.aux_classifiers = on;
        self
    }
}

/// A registry entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelInfo {
    /// The registry name [`build`] takes, e.g. `resnet18`.
    pub name: &'static str,
    /// The architecture family the model belongs to.
    pub family: Family,
    /// One line for `convnet models`.
    pub description: &'static str,
    /// Per-sample input `[channels, height, width]` when [`ZooConfig::input`] is `None`.
    pub default_input: [usize; 3],
    /// Number of classes when [`ZooConfig::classes`] is `None`.
    pub default_classes: usize,
    /// Whether the weights follow torchvision's state-dict layout.
    pub torchvision_keys: bool,
}

/// The options resolved for one build (what the family builders take).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Spec {
    pub name: &'static str,
    pub classes: usize,
    pub input: [usize; 3],
    pub div: usize,
    pub bn: bool,
    pub aux: bool,
}

type Builder<T> = fn(&Spec) -> Result<Box<dyn Module<T>>>;

const fn entry(
    name: &'static str,
    family: Family,
    description: &'static str,
    default_input: [usize; 3],
    default_classes: usize,
    torchvision_keys: bool,
) -> ModelInfo {
    ModelInfo {
        name,
        family,
        description,
        default_input,
        default_classes,
        torchvision_keys,
    }
}

const IMAGENET: [usize; 3] = [3, 224, 224];
const CIFAR: [usize; 3] = [3, 32, 32];

/// Every model, in the order `convnet models` lists them.
pub const MODELS: &[ModelInfo] = &[
    entry(
        "lenet5",
        Family::LeNet,
        "LeNet-5, common form: conv 6@5×5 pad 2 → pool → conv 16@5×5 → pool → 120 → 84 → classes, ReLU (61,706 params)",
        [1, 28, 28],
        10,
        false,
    ),
    entry(
        "lenet5-paper",
        Family::LeNet,
        "LeNet-5 as in LeCun et al. 1998 on 32×32: scaled tanh, trainable subsampling, C3 connection table, RBF output (60,000 trainable)",
        [1, 32, 32],
        10,
        false,
    ),
    entry(
        "alexnet",
        Family::AlexNet,
        "AlexNet as published: two towers, 96-256-384-384-256, LRN, overlapping 3×3/2 pooling, dropout; 227×227 (60,965,224 params)",
        [3, 227, 227],
        1000,
        false,
    ),
    entry(
        "alexnet-torchvision",
        Family::AlexNet,
        "torchvision's single-tower AlexNet: 64-192-384-256-256, adaptive 6×6 pool (61,100,840 params)",
        IMAGENET,
        1000,
        true,
    ),
    entry(
        "vgg11",
        Family::Vgg,
        "VGG configuration A, 11 weight layers (132,863,336 params)",
        IMAGENET,
        1000,
        true,
    ),
    entry(
        "vgg13",
        Family::Vgg,
        "VGG configuration B, 13 weight layers (133,047,848 params)",
        IMAGENET,
        1000,
        true,
    ),
    entry(
        "vgg16",
        Family::Vgg,
        "VGG configuration D, 16 weight layers (138,357,544 params)",
        IMAGENET,
        1000,
        true,
    ),
    entry(
        "vgg19",
        Family::Vgg,
        "VGG configuration E, 19 weight layers (143,667,240 params)",
        IMAGENET,
        1000,
        true,
    ),
    entry(
        "vgg11-bn",
        Family::Vgg,
        "VGG-11 with BatchNorm after every convolution (torchvision vgg11_bn)",
        IMAGENET,
        1000,
        true,
    ),
    entry(
        "vgg13-bn",
        Family::Vgg,
        "VGG-13 with BatchNorm (torchvision vgg13_bn)",
        IMAGENET,
        1000,
        true,
    ),
    entry(
        "vgg16-bn",
        Family::Vgg,
        "VGG-16 with BatchNorm (torchvision vgg16_bn)",
        IMAGENET,
        1000,
        true,
    ),
    entry(
        "vgg19-bn",
        Family::Vgg,
        "VGG-19 with BatchNorm (torchvision vgg19_bn)",
        IMAGENET,
        1000,
        true,
    ),
    entry(
        "googlenet",
        Family::GoogLeNet,
        "GoogLeNet / Inception v1 as published: 5×5 branches, LRN, two auxiliary classifiers in training",
        IMAGENET,
        1000,
        false,
    ),
    entry(
        "googlenet-bn",
        Family::GoogLeNet,
        "torchvision's GoogLeNet: BatchNorm after every convolution, no LRN (3×3 in the '5×5' branch, as torchvision)",
        IMAGENET,
        1000,
        true,
    ),
    entry(
        "resnet18",
        Family::ResNet,
        "ResNet-18: BasicBlock [2, 2, 2, 2] (11,689,512 params)",
        IMAGENET,
        1000,
        true,
    ),
    entry(
        "resnet34",
        Family::ResNet,
        "ResNet-34: BasicBlock [3, 4, 6, 3] (21,797,672 params)",
        IMAGENET,
        1000,
        true,
    ),
    entry(
        "resnet50",
        Family::ResNet,
        "ResNet-50: Bottleneck [3, 4, 6, 3] (25,557,032 params)",
        IMAGENET,
        1000,
        true,
    ),
    entry(
        "resnet101",
        Family::ResNet,
        "ResNet-101: Bottleneck [3, 4, 23, 3] (44,549,160 params)",
        IMAGENET,
        1000,
        true,
    ),
    entry(
        "resnet152",
        Family::ResNet,
        "ResNet-152: Bottleneck [3, 8, 36, 3] (60,192,808 params)",
        IMAGENET,
        1000,
        true,
    ),
    entry(
        "resnet18-cifar",
        Family::ResNet,
        "ResNet-18 for 32×32 images: 3×3/1 stem, no max pool, stages 64-128-256-512 with projection shortcuts (11,173,962 params)",
        CIFAR,
        10,
        false,
    ),
    entry(
        "resnet20",
        Family::ResNet,
        "CIFAR ResNet-20 (He et al. §4.2): 3×3 stem, 16-32-64, option-A shortcuts (269,722 params; Table 6: 0.27M)",
        CIFAR,
        10,
        false,
    ),
    entry(
        "resnet32",
        Family::ResNet,
        "CIFAR ResNet-32 (464,154; 0.46M)",
        CIFAR,
        10,
        false,
    ),
    entry(
        "resnet44",
        Family::ResNet,
        "CIFAR ResNet-44 (658,586; 0.66M)",
        CIFAR,
        10,
        false,
    ),
    entry(
        "resnet56",
        Family::ResNet,
        "CIFAR ResNet-56 (853,018; 0.85M)",
        CIFAR,
        10,
        false,
    ),
    entry(
        "resnet110",
        Family::ResNet,
        "CIFAR ResNet-110 (1,727,962; 1.7M)",
        CIFAR,
        10,
        false,
    ),
];

/// Every model name, for `convnet models` and error messages.
pub fn names() -> Vec<&'static str> {
    MODELS.iter().map(|m| m.name).collect()
}

/// The registry entry for a name (case-insensitive; `_` and `-` are interchangeable, so
/// torchvision's `vgg16_bn` works).
pub fn info(name: &str) -> Result<&'static ModelInfo> {
    let norm = name.trim().to_ascii_lowercase().replace('_', "-");
    MODELS
        .iter()
        .find(|m| m.name == norm)
        .ok_or_else(|| ZooError::UnknownModel {
            name: name.to_string(),
            valid: names().join(", "),
        })
}

fn builder<T: Element>(info: &ModelInfo) -> Builder<T> {
    match info.family {
        Family::LeNet => lenet::build,
        Family::AlexNet => alexnet::build,
        Family::Vgg => vgg::build,
        Family::GoogLeNet => googlenet::build,
        Family::ResNet => resnet::build,
    }
}

fn resolve(info: &'static ModelInfo, cfg: &ZooConfig) -> Result<Spec> {
    let classes = cfg.classes.unwrap_or(info.default_classes);
    let input = cfg.input.unwrap_or(info.default_input);
    let bad = |d: String| Err(ZooError::config(info.name, d));
    if classes == 0 {
        return bad("the number of classes must be positive".into());
    }
    if cfg.width_divisor == 0 {
        return bad("the width divisor must be at least 1".into());
    }
    if input.contains(&0) {
        return bad(format!("input {} has a zero dimension", chw(input)));
    }
    let bn_variant = info.name.ends_with("-bn");
    let bn = bn_variant || cfg.batch_norm;
    if bn && matches!(info.family, Family::LeNet | Family::AlexNet) {
        return bad("has no BatchNorm variant".into());
    }
    Ok(Spec {
        name: info.name,
        classes,
        input,
        div: cfg.width_divisor,
        bn,
        aux: cfg.aux_classifiers,
    })
}

/// `3×224×224`.
pub fn chw(input: [usize; 3]) -> String {
    format!("{}×{}×{}", input[0], input[1], input[2])
}

fn try_build<T: Element>(b: Builder<T>, spec: &Spec) -> Result<Model<T>> {
    let root = b(spec)?;
    Ok(Model::builder(root, &spec.input).build()?)
}

/// The smallest square side at which the model builds with `spec`'s channels and options,
/// by bisection over cheap symbolic builds (every layer's output size grows with its input
/// size, so the search is exact). `None` when no side up to 8192 works.
fn smallest_side<T: Element>(b: Builder<T>, spec: &Spec, start: usize) -> Option<usize> {
    let c = spec.input[0];
    let at = |s: usize| {
        try_build(
            b,
            &Spec {
                input: [c, s, s],
                ..*spec
            },
        )
        .is_ok()
    };
    let mut hi = start.max(1);
    while !at(hi) {
        if hi > 4096 {
            return None;
        }
        hi *= 2;
    }
    let mut lo = 0; // invariant: lo fails (or is 0), hi works
    while hi - lo > 1 {
        let mid = (lo + hi) / 2;
        if at(mid) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    Some(hi)
}

/// Builds a model by name (symbolically: no parameter is allocated).
///
/// An input too small for the model's downsampling is reported with the smallest square
/// input that works.
pub fn build<T: Element>(name: &str, cfg: &ZooConfig) -> Result<Model<T>> {
    let info = info(name)?;
    let spec = resolve(info, cfg)?;
    let b = builder::<T>(info);
    let err = match try_build(b, &spec) {
        Ok(m) => return Ok(m),
        Err(e) => e,
    };
    let side = spec.input[1].min(spec.input[2]);
    match smallest_side(b, &spec, info.default_input[1]) {
        // Large enough on both axes (or no size works), so something else is wrong.
        Some(min) if min > side => Err(ZooError::InputTooSmall {
            model: info.name.to_string(),
            got: chw(spec.input),
            smallest: chw([spec.input[0], min, min]),
        }),
        _ => Err(err),
    }
}

/// The smallest square input (with the given options' channels, default channels if unset)
/// that the model accepts, e.g. `[3, 32, 32]` for VGG.
pub fn smallest_input(name: &str, cfg: &ZooConfig) -> Result<[usize; 3]> {
    let info = info(name)?;
    let spec = resolve(info, cfg)?;
    let b = builder::<f32>(info);
    smallest_side(b, &spec, info.default_input[1])
        .map(|s| [spec.input[0], s, s])
        .ok_or_else(|| ZooError::config(info.name, "no input size up to 8192 builds"))
}
