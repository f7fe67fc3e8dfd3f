//! GoogLeNet / Inception v1 (Szegedy et al. 2014, "Going deeper with convolutions").
//!
//! - `googlenet`, as published (Table 1 and §5 of the paper, and the authors' Caffe model):
//!   7×7/2 convolution, 3×3/2 max pool, LRN, 1×1 reduce and 3×3 convolution, LRN, 3×3/2 max
//!   pool, Inception modules 3a–5b with real 5×5 branches and 3×3/1 max-pool projections,
//!   3×3/2 max pools between the groups (ceil rounding, as in Caffe, which is what yields the
//!   table's 56/28/14/7 sizes), average pool, dropout 0.4 and the linear classifier. Every
//!   convolution has a bias and a ReLU. The two auxiliary classifiers (5×5/3 average pool,
//!   1×1 convolution to 128, FC 1024, dropout 0.7, FC classes) sit on inception 4a and 4d
//!   and exist only in the training graph. The final 7×7/1 average pool is a global one (the
//!   same at 224×224; any input size works), and the auxiliary FC is sized from the input
//!   (128·4·4 at 224).
//!
//!   Table 1's parameter column counts weights only (no biases) in units of 1024, rounded:
//!   conv2 (1×1 reduce + 3×3) is 114,688 = 112K, inception 3a 163,328 = 159.5K ("159K"),
//!   linear 1,024,000 = 1000K. Our per-layer weight counts match every row to within 1K
//!   except conv1, where 7·7·3·64 = 9,408 (9.2K) against the table's 2.7K — an erratum in
//!   the paper (no channel count makes 2.7K with 64 filters of 7×7).
//! - `googlenet-bn`, torchvision's GoogLeNet: every convolution is conv (no bias) → BatchNorm
//!   (ε = 0.001) → ReLU, no LRN, a 2×2/2 pool before 5a, dropout 0.2, adaptive 4×4 pooling in
//!   the auxiliary heads, and — a known torchvision quirk kept so its weights load — a 3×3
//!   convolution in the "5×5" branch. 6,624,904 parameters without the auxiliary heads,
//!   13,004,888 with them.
//!
//! Keys follow torchvision in both: `conv1.conv.weight`, `inception3a.branch2.1.conv.weight`,
//! `aux1.fc2.weight`, `fc.weight` (the published variant has `.conv.bias` and no `.bn`).
//!
//! How the auxiliary losses reach the trainer: in the training graph the heads' logits are
//! nodes named [`AUX1_LOGITS`] and [`AUX2_LOGITS`]; [`crate::AuxClassifierLoss`] adds
//! 0.3 × their cross-entropy to the main one (the paper's weighting) and is plain
//! cross-entropy for every other model and in evaluation graphs.

use convnet_nn::prelude::*;
use convnet_nn::{Ctx, NodeId};

use crate::Spec;
use crate::error::Result;
use crate::layers::{AdaptiveAvgPool2d, scaled, window_out, window_out_ceil};

/// Graph name of the first auxiliary classifier's logits (training graphs only).
pub const AUX1_LOGITS: &str = "aux1/logits";
/// Graph name of the second auxiliary classifier's logits (training graphs only).
pub const AUX2_LOGITS: &str = "aux2/logits";

/// Table 1's Inception columns: `#1×1, #3×3 reduce, #3×3, #5×5 reduce, #5×5, pool proj`.
pub const INCEPTION: [(&str, [usize; 6]); 9] = [
    ("3a", [64, 96, 128, 16, 32, 32]),
    ("3b", [128, 128, 192, 32, 96, 64]),
    ("4a", [192, 96, 208, 16, 48, 64]),
    ("4b", [160, 112, 224, 24, 64, 64]),
    ("4c", [128, 128, 256, 24, 64, 64]),
    ("4d", [112, 144, 288, 32, 64, 64]),
    ("4e", [256, 160, 320, 32, 128, 128]),
    ("5a", [256, 160, 320, 32, 128, 128]),
    ("5b", [384, 192, 384, 48, 128, 128]),
];

/// conv (→ BatchNorm) → ReLU, named like torchvision's `BasicConv2d`.
fn unit<T: Element>(
    name: &str,
    inp: usize,
    out: usize,
    k: usize,
    stride: usize,
    bn: bool,
) -> Sequential<T> {
    // The authors' Caffe model: Xavier weights, biases 0.2; torchvision: truncated N(0, 0.01)
    // (a plain normal here) before BatchNorm.
    let init = if bn {
        Init::Normal {
            mean: 0.0,
            std: 0.01,
        }
    } else {
        Init::GlorotUniform
    };
    let conv = Conv2d::new(format!("{name}.conv"), inp, out, k)
        .stride(stride)
        .padding(k / 2)
        .bias(!bn)
        .weight_init(init)
        .bias_init(Init::Constant(0.2));
    let mut s = Sequential::new(name).with(conv);
    if bn {
        s.push(BatchNorm::new_2d(format!("{name}.bn"), out).eps(1e-3));
    }
    s.with(Activation::relu(format!("{name}.relu")))
}

fn inception<T: Element>(name: &str, inp: usize, c: [usize; 6], bn: bool) -> Concat<T> {
    let b = |l: &str| format!("{name}.{l}");
    // torchvision's "5×5" branch is 3×3; the paper's is 5×5.
    let k5 = if bn { 3 } else { 5 };
    Concat::new(name)
        .branch(unit(&b("branch1"), inp, c[0], 1, 1, bn))
        .branch(
            Sequential::new(b("branch2"))
                .with(unit(&b("branch2.0"), inp, c[1], 1, 1, bn))
                .with(unit(&b("branch2.1"), c[1], c[2], 3, 1, bn)),
        )
        .branch(
            Sequential::new(b("branch3"))
                .with(unit(&b("branch3.0"), inp, c[3], 1, 1, bn))
                .with(unit(&b("branch3.1"), c[3], c[4], k5, 1, bn)),
        )
        .branch(
            Sequential::new(b("branch4"))
                .with(
                    MaxPool2d::new(b("branch4.0"), 3)
                        .stride(1)
                        .padding(1)
                        .ceil_mode(true),
                )
                .with(unit(&b("branch4.1"), inp, c[5], 1, 1, bn)),
        )
}

fn pool(name: &str, k: usize) -> MaxPool2d {
    MaxPool2d::new(name, k).stride(2).ceil_mode(true)
}

/// Spatial size at inception 4a's output (where aux1 reads; aux2 reads the same size).
fn side_at_4a(n: usize) -> Option<usize> {
    let n = window_out(n, 7, 2, 3)?;
    let n = window_out_ceil(n, 3, 2)?;
    let n = window_out_ceil(n, 3, 2)?;
    window_out_ceil(n, 3, 2)
}

fn aux<T: Element>(name: &str, inp: usize, spec: &Spec) -> Sequential<T> {
    let d = spec.div;
    let n = |l: &str| format!("{name}.{l}");
    let c = scaled(128, d, 1);
    let (h, w) = (spec.input[1], spec.input[2]);
    let mut s = Sequential::new(name);
    let flat = if spec.bn {
        s.push(AdaptiveAvgPool2d::new(n("avgpool"), [4, 4]));
        c * 16
    } else {
        s.push(AvgPool2d::new(n("avgpool"), 5).stride(3));
        let side = |x: usize| {
            side_at_4a(x)
                .and_then(|x| window_out(x, 5, 3, 0))
                .unwrap_or(1)
        };
        c * side(h) * side(w)
    };
    let hidden = scaled(1024, d, 1);
    s.with(unit(&n("conv"), inp, c, 1, 1, spec.bn))
        .with(Flatten::new(n("flatten")))
        .with(Linear::new(n("fc1"), flat, hidden))
        .with(Activation::relu(n("relu")))
        .with(Dropout::new(n("dropout"), 0.7))
        .with(Linear::new(n("fc2"), hidden, spec.classes))
}

/// The network in three trunk pieces with the auxiliary heads between them.
#[derive(Debug)]
pub struct GoogLeNet<T: Element = f32> {
    /// Stem through inception 4a.
    head: Sequential<T>,
    /// Inception 4b–4d.
    middle: Sequential<T>,
    /// Inception 4e through the classifier.
    tail: Sequential<T>,
    aux: Option<(Sequential<T>, Sequential<T>)>,
}

pub(crate) fn build<T: Element>(spec: &Spec) -> Result<Box<dyn Module<T>>> {
    let (d, bn) = (spec.div, spec.bn);
    let ch = |n: usize| scaled(n, d, 1);
    let mut head = Sequential::new("")
        .with(unit("conv1", spec.input[0], ch(64), 7, 2, bn))
        .with(pool("maxpool1", 3));
    if !bn {
        head.push(LocalResponseNorm::new("lrn1", 5));
    }
    head.push(unit("conv2", ch(64), ch(64), 1, 1, bn));
    head.push(unit("conv3", ch(64), ch(192), 3, 1, bn));
    if !bn {
        head.push(LocalResponseNorm::new("lrn2", 5));
    }
    head.push(pool("maxpool2", 3));
    let mut middle = Sequential::new("");
    let mut tail = Sequential::new("");
    let mut inp = ch(192);
    let mut aux_in = [0; 2];
    for (i, (id, c)) in INCEPTION.iter().enumerate() {
        let c = c.map(ch);
        let name = format!("inception{id}");
        let block = inception(&name, inp, c, bn);
        match i {
            0..=2 => head.push(block),
            3..=5 => middle.push(block),
            _ => tail.push(block),
        };
        if *id == "4a" {
            aux_in[0] = c[0] + c[2] + c[4] + c[5];
        }
        if *id == "4d" {
            aux_in[1] = c[0] + c[2] + c[4] + c[5];
        }
        inp = c[0] + c[2] + c[4] + c[5];
        match *id {
            "3b" => {
                head.push(pool("maxpool3", 3));
            }
            "4e" => {
                tail.push(pool("maxpool4", if bn { 2 } else { 3 }));
            }
            _ => {}
        }
    }
    tail.push(GlobalAvgPool2d::new("avgpool"));
    tail.push(Dropout::new("dropout", if bn { 0.2 } else { 0.4 }));
    tail.push(Linear::new("fc", inp, spec.classes));
    let aux = spec
        .aux
        .then(|| (aux("aux1", aux_in[0], spec), aux("aux2", aux_in[1], spec)));
    Ok(Box::new(GoogLeNet {
        head,
        middle,
        tail,
        aux,
    }))
}

impl<T: Element> Module<T> for GoogLeNet<T> {
    fn name(&self) -> &str {
        ""
    }
    fn kind(&self) -> &'static str {
        "GoogLeNet"
    }
    fn summary_row(&self) -> bool {
        false
    }
    fn children(&self) -> Vec<&dyn Module<T>> {
        let mut v: Vec<&dyn Module<T>> = vec![&self.head, &self.middle, &self.tail];
        if let Some((a1, a2)) = &self.aux {
            v.push(a1);
            v.push(a2);
        }
        v
    }
    fn forward(&self, ctx: &mut Ctx<'_, T>, x: NodeId) -> convnet_nn::Result<NodeId> {
        let a = ctx.call(&self.head, x)?;
        let train_aux = self.aux.as_ref().filter(|_| ctx.is_train());
        if let Some((a1, _)) = train_aux {
            let y = ctx.call(a1, a)?;
            ctx.graph().set_name(y, AUX1_LOGITS)?;
        }
        let b = ctx.call(&self.middle, a)?;
        if let Some((_, a2)) = train_aux {
            let y = ctx.call(a2, b)?;
            ctx.graph().set_name(y, AUX2_LOGITS)?;
        }
        ctx.call(&self.tail, b)
    }
}
