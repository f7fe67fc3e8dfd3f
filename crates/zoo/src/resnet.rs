//! ResNet (He, Zhang, Ren & Sun 2015, "Deep residual learning for image recognition").
//!
//! - ImageNet ResNets (Table 1 of the paper): `resnet18` and `resnet34` from BasicBlocks,
//!   `resnet50`, `resnet101` and `resnet152` from Bottlenecks; 7×7/2 stem, 3×3/2 max pool,
//!   four stages of 64-128-256-512 (×4 for bottlenecks), global average pool, one
//!   fully-connected layer. Exactly torchvision's modules and keys (`conv1`, `bn1`,
//!   `layer1.0.conv1`, `layer2.0.downsample.0`, `fc`), including its "v1.5" placement of the
//!   bottleneck stride on the 3×3 convolution; parameter counts 11,689,512 / 21,797,672 /
//!   25,557,032 / 44,549,160 / 60,192,808 at 1000 classes.
//! - CIFAR ResNets (§4.2): a 3×3 stem of 16 filters, three stages of `n` BasicBlocks with
//!   16, 32 and 64 filters (the first block of stages 2 and 3 strides by 2), global average
//!   pool and a fully-connected layer; depth `6n + 2` gives ResNet-20/32/44/56/110. As in the
//!   paper, every shortcut is parameter-free (option A: subsample and zero-pad channels), so
//!   the counts are Table 6's 0.27M / 0.46M / 0.66M / 0.85M / 1.7M.

use convnet_nn::prelude::*;

use crate::Spec;
use crate::error::{Result, ZooError};
use crate::layers::{PadShortcut, scaled};

/// `(bottleneck, blocks per stage)` of an ImageNet ResNet.
fn imagenet_config(depth: usize) -> Option<(bool, [usize; 4])> {
    Some(match depth {
        18 => (false, [2, 2, 2, 2]),
        34 => (false, [3, 4, 6, 3]),
        50 => (true, [3, 4, 6, 3]),
        101 => (true, [3, 4, 23, 3]),
        152 => (true, [3, 8, 36, 3]),
        _ => return None,
    })
}

pub(crate) fn build<T: Element>(spec: &Spec) -> Result<Box<dyn Module<T>>> {
    let (digits, cifar_stem) = match spec.name.strip_suffix("-cifar") {
        Some(base) => (base, true),
        None => (spec.name, false),
    };
    let depth: usize = digits
        .trim_start_matches("resnet")
        .parse()
        .map_err(|_| ZooError::config(spec.name, "not a ResNet depth"))?;
    if let Some((bottleneck, blocks)) = imagenet_config(depth) {
        return Ok(Box::new(imagenet(spec, bottleneck, blocks, cifar_stem)));
    }
    if cifar_stem {
        return Err(ZooError::config(
            spec.name,
            "the -cifar stem is for the ImageNet depths 18, 34, 50, 101, 152",
        ));
    }
    if depth >= 8 && (depth - 2).is_multiple_of(6) {
        return Ok(Box::new(cifar(spec, (depth - 2) / 6)));
    }
    Err(ZooError::config(spec.name, "not a ResNet depth"))
}

/// An ImageNet ResNet; with `cifar_stem`, the usual adaptation to 32×32 images: a 3×3/1 stem
/// and no max pool, the stages and projection shortcuts unchanged.
fn imagenet<T: Element>(
    spec: &Spec,
    bottleneck: bool,
    blocks: [usize; 4],
    cifar_stem: bool,
) -> Sequential<T> {
    let d = spec.div;
    let stem = scaled(64, d, 1);
    let (kernel, stride, pad) = if cifar_stem { (3, 1, 1) } else { (7, 2, 3) };
    let mut net = Sequential::new("")
        .with(
            Conv2d::new("conv1", spec.input[0], stem, kernel)
                .stride(stride)
                .padding(pad)
                .bias(false)
                .weight_init(Init::HeNormalFanOut),
        )
        .with(BatchNorm::new_2d("bn1", stem))
        .with(Activation::relu("relu"));
    if !cifar_stem {
        net.push(MaxPool2d::new("maxpool", 3).stride(2).padding(1));
    }
    let mut inp = stem;
    for (i, &n) in blocks.iter().enumerate() {
        let width = scaled(64 << i, d, 1);
        let out = if bottleneck { width * 4 } else { width };
        let name = format!("layer{}", i + 1);
        let mut stage = Sequential::new(name.clone());
        for b in 0..n {
            let stride = if b == 0 && i > 0 { 2 } else { 1 };
            let bn = format!("{name}.{b}");
            if bottleneck {
                stage.push(Residual::bottleneck(bn, inp, width, out, stride));
            } else {
                stage.push(Residual::basic(bn, inp, out, stride));
            }
            inp = out;
        }
        net.push(stage);
    }
    net.with(GlobalAvgPool2d::new("avgpool"))
        .with(Linear::new("fc", inp, spec.classes))
}

fn cifar<T: Element>(spec: &Spec, n: usize) -> Sequential<T> {
    let d = spec.div;
    let stem = scaled(16, d, 1);
    let mut net = Sequential::new("")
        .with(
            Conv2d::new("conv1", spec.input[0], stem, 3)
                .padding(1)
                .bias(false)
                .weight_init(Init::HeNormal),
        )
        .with(BatchNorm::new_2d("bn1", stem))
        .with(Activation::relu("relu"));
    let mut inp = stem;
    for i in 0..3 {
        let out = scaled(16 << i, d, 1);
        let name = format!("layer{}", i + 1);
        let mut stage = Sequential::new(name.clone());
        for b in 0..n {
            let stride = if b == 0 && i > 0 { 2 } else { 1 };
            let bn = format!("{name}.{b}");
            let c = |l: &str| format!("{bn}.{l}");
            let mut block = Residual::new(bn.clone())
                .push(
                    Conv2d::new(c("conv1"), inp, out, 3)
                        .stride(stride)
                        .padding(1)
                        .bias(false)
                        .weight_init(Init::HeNormal),
                )
                .push(BatchNorm::new_2d(c("bn1"), out))
                .push(Activation::relu(c("relu")))
                .push(
                    Conv2d::new(c("conv2"), out, out, 3)
                        .padding(1)
                        .bias(false)
                        .weight_init(Init::HeNormal),
                )
                .push(BatchNorm::new_2d(c("bn2"), out));
            if stride != 1 || inp != out {
                block = block.projection(PadShortcut::new(c("shortcut"), inp, out, stride));
            }
            stage.push(block);
            inp = out;
        }
        net.push(stage);
    }
    net.with(GlobalAvgPool2d::new("avgpool"))
        .with(Linear::new("fc", inp, spec.classes))
}
