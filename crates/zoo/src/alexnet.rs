//! AlexNet (Krizhevsky, Sutskever & Hinton 2012, "ImageNet classification with deep
//! convolutional neural networks").
//!
//! - `alexnet`, as published: 96-256-384-384-256 filters of 11×11/4, 5×5, 3×3, 3×3, 3×3;
//!   the two-GPU towers as grouped convolutions (groups = 2 on conv2, conv4 and conv5, whose
//!   kernels see only their own tower's maps; conv3 and the fully-connected layers see
//!   both); ReLU; local response normalisation (k = 2, n = 5, α = 10⁻⁴, β = 0.75) after the
//!   first two convolutions; overlapping 3×3/2 max pooling after both normalisations and
//!   after conv5; dropout 0.5 before the first two fully-connected layers of 4096.
//!   60,965,224 parameters at 1000 classes. Input: 227×227. The paper says 224×224, but
//!   (224 − 11)/4 + 1 is not whole; 227 is the size that gives its 55×55 maps (Caffe's
//!   choice, and what `cuda-convnet` effectively did with its padding). The first
//!   fully-connected layer is sized from the input (256·6·6 at 227).
//! - `alexnet-torchvision`, torchvision's single-tower variant (from "One weird trick…",
//!   Krizhevsky 2014): 64-192-384-256-256, padding 2 on conv1, no LRN, an adaptive 6×6
//!   average pool before the classifier; 61,100,840 parameters at 1000 classes, keys as
//!   torchvision's state dict.
//!
//! Initialisation: the published variant as in §5 of the paper (weights N(0, 0.01), biases 1
//! in conv2, conv4, conv5 and the hidden fully-connected layers, 0 elsewhere); torchvision's
//! with PyTorch's defaults, as torchvision does.
//!
//! Both use torchvision's layout (`features.N`, `classifier.N`) so indices line up.

use convnet_nn::prelude::*;

use crate::Spec;
use crate::error::Result;
use crate::layers::{AdaptiveAvgPool2d, scaled, window_out};

pub(crate) fn build<T: Element>(spec: &Spec) -> Result<Box<dyn Module<T>>> {
    Ok(if spec.name == "alexnet-torchvision" {
        Box::new(torchvision(spec))
    } else {
        Box::new(published(spec))
    })
}

const PAPER_W: Init = Init::Normal {
    mean: 0.0,
    std: 0.01,
};

fn classifier<T: Element>(
    flat: usize,
    hidden: usize,
    classes: usize,
    paper: bool,
) -> Sequential<T> {
    let fc = |name: String, i: usize, o: usize, bias: f64| {
        let l = Linear::new(name, i, o);
        if paper {
            l.weight_init(PAPER_W).bias_init(Init::Constant(bias))
        } else {
            l
        }
    };
    let mut c = Sequential::new("classifier");
    c.push(Dropout::new(c.next_name(), 0.5));
    c.push(fc(c.next_name(), flat, hidden, 1.0));
    c.push(Activation::relu(c.next_name()));
    c.push(Dropout::new(c.next_name(), 0.5));
    c.push(fc(c.next_name(), hidden, hidden, 1.0));
    c.push(Activation::relu(c.next_name()));
    c.push(fc(c.next_name(), hidden, classes, 0.0));
    c
}

/// Spatial size after the published feature extractor (1 when it does not fit).
fn published_side(n: usize) -> usize {
    window_out(n, 11, 4, 0)
        .and_then(|n| window_out(n, 3, 2, 0))
        .and_then(|n| window_out(n, 3, 2, 0))
        .and_then(|n| window_out(n, 3, 2, 0))
        .unwrap_or(1)
}

fn published<T: Element>(spec: &Spec) -> Sequential<T> {
    let [c, h, w] = spec.input;
    let d = spec.div;
    let ch = [96, 256, 384, 384, 256].map(|n| scaled(n, d, 2));
    let conv = |name: String, i: usize, o: usize, k: usize, bias: f64| {
        Conv2d::new(name, i, o, k)
            .weight_init(PAPER_W)
            .bias_init(Init::Constant(bias))
    };
    let mut f = Sequential::new("features");
    f.push(conv(f.next_name(), c, ch[0], 11, 0.0).stride(4));
    f.push(Activation::relu(f.next_name()));
    f.push(LocalResponseNorm::alexnet(f.next_name()));
    f.push(MaxPool2d::new(f.next_name(), 3).stride(2));
    f.push(
        conv(f.next_name(), ch[0], ch[1], 5, 1.0)
            .padding(2)
            .groups(2),
    );
    f.push(Activation::relu(f.next_name()));
    f.push(LocalResponseNorm::alexnet(f.next_name()));
    f.push(MaxPool2d::new(f.next_name(), 3).stride(2));
    f.push(conv(f.next_name(), ch[1], ch[2], 3, 0.0).padding(1));
    f.push(Activation::relu(f.next_name()));
    f.push(
        conv(f.next_name(), ch[2], ch[3], 3, 1.0)
            .padding(1)
            .groups(2),
    );
    f.push(Activation::relu(f.next_name()));
    f.push(
        conv(f.next_name(), ch[3], ch[4], 3, 1.0)
            .padding(1)
            .groups(2),
    );
    f.push(Activation::relu(f.next_name()));
    f.push(MaxPool2d::new(f.next_name(), 3).stride(2));
    let flat = ch[4] * published_side(h) * published_side(w);
    Sequential::new("")
        .with(f)
        .with(Flatten::new("flatten"))
        .with(classifier(flat, scaled(4096, d, 1), spec.classes, true))
}

fn torchvision<T: Element>(spec: &Spec) -> Sequential<T> {
    let c = spec.input[0];
    let d = spec.div;
    let ch = [64, 192, 384, 256, 256].map(|n| scaled(n, d, 1));
    let mut f = Sequential::new("features");
    f.push(
        Conv2d::new(f.next_name(), c, ch[0], 11)
            .stride(4)
            .padding(2),
    );
    f.push(Activation::relu(f.next_name()));
    f.push(MaxPool2d::new(f.next_name(), 3).stride(2));
    f.push(Conv2d::new(f.next_name(), ch[0], ch[1], 5).padding(2));
    f.push(Activation::relu(f.next_name()));
    f.push(MaxPool2d::new(f.next_name(), 3).stride(2));
    f.push(Conv2d::new(f.next_name(), ch[1], ch[2], 3).padding(1));
    f.push(Activation::relu(f.next_name()));
    f.push(Conv2d::new(f.next_name(), ch[2], ch[3], 3).padding(1));
    f.push(Activation::relu(f.next_name()));
    f.push(Conv2d::new(f.next_name(), ch[3], ch[4], 3).padding(1));
    f.push(Activation::relu(f.next_name()));
    f.push(MaxPool2d::new(f.next_name(), 3).stride(2));
    Sequential::new("")
        .with(f)
        .with(AdaptiveAvgPool2d::new("avgpool", [6, 6]))
        .with(Flatten::new("flatten"))
        .with(classifier(
            ch[4] * 36,
            scaled(4096, d, 1),
            spec.classes,
            false,
        ))
}
