//! VGG (Simonyan & Zisserman 2014, "Very deep convolutional networks for large-scale image
//! recognition"), configurations A, B, D and E of Table 1 — VGG-11, -13, -16, -19 — with an
//! optional BatchNorm after every convolution (torchvision's `vgg*_bn`).
//!
//! Layout and keys as torchvision: `features.N` (3×3 convolutions with padding 1, ReLU, 2×2
//! max pooling; with BatchNorm each conv is followed by `BatchNorm2d`, shifting the indices
//! as in torchvision), `avgpool` (adaptive to 7×7, so the classifier does not depend on the
//! input size; it is the identity at 224×224), and `classifier.N` (4096 → 4096 → classes
//! with ReLU and dropout 0.5). Parameter counts at 1000 classes: 132,863,336 / 133,047,848 /
//! 138,357,544 / 143,667,240 (Table 2 of the paper: 133, 133, 138, 144 million). Five
//! poolings by 2 make 32×32 the smallest input.

use convnet_nn::prelude::*;

use crate::Spec;
use crate::error::{Result, ZooError};
use crate::layers::{AdaptiveAvgPool2d, scaled};

/// Table 1 of the paper: channels of each 3×3 convolution, `M` for a 2×2 max pool.
const M: usize = 0;
pub(crate) fn config(depth: usize) -> Option<&'static [usize]> {
    Some(match depth {
        11 => &[64, M, 128, M, 256, 256, M, 512, 512, M, 512, 512, M],
        13 => &[
            64, 64, M, 128, 128, M, 256, 256, M, 512, 512, M, 512, 512, M,
        ],
        16 => &[
            64, 64, M, 128, 128, M, 256, 256, 256, M, 512, 512, 512, M, 512, 512, 512, M,
        ],
        19 => &[
            64, 64, M, 128, 128, M, 256, 256, 256, 256, M, 512, 512, 512, 512, M, 512, 512, 512,
            512, M,
        ],
        _ => return None,
    })
}

/// torchvision's VGG initialisation: He (fan-out) convolutions, N(0, 0.01) linear layers,
/// zero biases.
fn fc(name: String, i: usize, o: usize) -> Linear {
    Linear::new(name, i, o)
        .weight_init(Init::Normal {
            mean: 0.0,
            std: 0.01,
        })
        .bias_init(Init::ZEROS)
}

pub(crate) fn build<T: Element>(spec: &Spec) -> Result<Box<dyn Module<T>>> {
    let depth: usize = spec
        .name
        .trim_start_matches("vgg")
        .trim_end_matches("-bn")
        .parse()
        .map_err(|_| ZooError::config(spec.name, "not a VGG depth"))?;
    let cfg = config(depth).ok_or_else(|| ZooError::config(spec.name, "not a VGG depth"))?;
    let d = spec.div;
    let mut f = Sequential::new("features");
    let mut c = spec.input[0];
    for layer in cfg {
        match *layer {
            M => {
                f.push(MaxPool2d::new(f.next_name(), 2));
            }
            n => {
                let n = scaled(n, d, 1);
                f.push(
                    Conv2d::new(f.next_name(), c, n, 3)
                        .padding(1)
                        .weight_init(Init::HeNormalFanOut)
                        .bias_init(Init::ZEROS),
                );
                if spec.bn {
                    f.push(BatchNorm::new_2d(f.next_name(), n));
                }
                f.push(Activation::relu(f.next_name()));
                c = n;
            }
        }
    }
    let hidden = scaled(4096, d, 1);
    let mut cl = Sequential::new("classifier");
    cl.push(fc(cl.next_name(), c * 49, hidden));
    cl.push(Activation::relu(cl.next_name()));
    cl.push(Dropout::new(cl.next_name(), 0.5));
    cl.push(fc(cl.next_name(), hidden, hidden));
    cl.push(Activation::relu(cl.next_name()));
    cl.push(Dropout::new(cl.next_name(), 0.5));
    cl.push(fc(cl.next_name(), hidden, spec.classes));
    Ok(Box::new(
        Sequential::new("")
            .with(f)
            .with(AdaptiveAvgPool2d::new("avgpool", [7, 7]))
            .with(Flatten::new("flatten"))
            .with(cl),
    ))
}
