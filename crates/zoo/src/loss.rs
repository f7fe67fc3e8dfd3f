//! The classification loss for every zoo model, GoogLeNet's auxiliary heads included.
//!
//! GoogLeNet's training graph carries two extra logits nodes named
//! [`AUX1_LOGITS`] and [`AUX2_LOGITS`]; the paper adds
//! their losses to the main one with weight 0.3 during training and discards the heads at
//! inference. [`AuxClassifierLoss`] does exactly that: cross-entropy on the model output plus
//! `aux_weight` × the cross-entropy of each auxiliary node it finds in the graph. In graphs
//! without them (every other model, and evaluation graphs) it is plain cross-entropy, so a
//! trainer can use it for every zoo model.

use convnet_nn::loss::cross_entropy;
use convnet_nn::{Element, Graph, Loss, NodeId, Shape, TargetKind};

use crate::googlenet::{AUX1_LOGITS, AUX2_LOGITS};

/// Cross-entropy plus weighted auxiliary-classifier cross-entropies.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AuxClassifierLoss {
    /// Weight of each auxiliary loss (the paper's 0.3).
    pub aux_weight: f64,
    /// Label smoothing ε of the main and every auxiliary cross-entropy (0 = none); see
    /// [`cross_entropy`].
    pub label_smoothing: f64,
}

impl Default for AuxClassifierLoss {
    fn default() -> Self {
        AuxClassifierLoss {
            aux_weight: 0.3,
            label_smoothing: 0.0,
        }
    }
}

impl AuxClassifierLoss {
    /// The paper's loss: auxiliary weight 0.3, no label smoothing (the same as `default()`).
    pub fn new() -> Self {
        Self::default()
    }
    /// Sets [`aux_weight`](Self::aux_weight); 0 gives plain cross-entropy.
    pub fn aux_weight(mut self, w: f64) -> Self {
        self.aux_weight = w;
        self
    }
    /// Sets [`label_smoothing`](Self::label_smoothing) to `eps`.
    pub fn label_smoothing(mut self, eps: f64) -> Self {
        self.label_smoothing = eps;
        self
    }
}

impl<T: Element> Loss<T> for AuxClassifierLoss {
    fn name(&self) -> &'static str {
        "aux_classifier_cross_entropy"
    }
    fn target_kind(&self) -> TargetKind {
        TargetKind::Classes
    }
    fn targets_shape(&self, output: &Shape) -> convnet_nn::Result<Shape> {
        if output.rank() != 2 {
            return Err(convnet_nn::NnError::Loss {
                loss: "aux_classifier_cross_entropy",
                detail: format!("expects model outputs [N, classes], got {output}"),
            });
        }
        Ok(output.without(1))
    }
    fn build(
        &self,
        g: &mut Graph<T>,
        output: NodeId,
        targets: NodeId,
    ) -> convnet_nn::Result<NodeId> {
        let mut total = cross_entropy(g, output, targets, self.label_smoothing)?;
        if self.aux_weight == 0.0 {
            return Ok(total);
        }
        for name in [AUX1_LOGITS, AUX2_LOGITS] {
            if let Some(aux) = g.find(name) {
                let l = cross_entropy(g, aux, targets, self.label_smoothing)?;
                let l = g.scale(l, self.aux_weight)?;
                total = g.add(total, l)?;
            }
        }
        Ok(total)
    }
}
