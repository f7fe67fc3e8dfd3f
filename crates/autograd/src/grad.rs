//! Reverse-mode differentiation by appending nodes.
//!
//! `grad` walks the graph backwards from `y` and, for each node on a path to one of `xs`, asks
//! its op's gradient rule ([`crate::OpRule::grad`]) for the operand gradients, as new nodes. Because gradients are
//! ordinary nodes, `grad` can be applied to them again (Hessian-vector products), and a whole
//! training step — forward, loss and every parameter gradient — is one graph for the executor.
//!
//! Conventions: contributions from several uses are summed with `add` nodes; an `x` that `y`
//! does not depend on gets a zeros node of its shape (never `None`), so callers can treat every
//! gradient alike. Gradient nodes are named `grad[<forward node name>]/<op>` for inspection.

use convnet_tensor::Element;

use crate::error::{AutogradError, Result};
use crate::graph::{Graph, NodeId};
use crate::op::Op;
use crate::rule::{GradCtx, Grads};

/// Gradients of the single-element node `y` with respect to each of `xs`.
pub fn grad<T: Element>(g: &mut Graph<T>, y: NodeId, xs: &[NodeId]) -> Result<Vec<NodeId>> {
    let shape = g.shape(y)?.clone();
    if !shape.is_scalar_like() {
        return Err(AutogradError::Grad {
            node: g.name(y)?.to_string(),
            detail: format!(
                "output has shape {shape}; grad needs a single element (use grad_with_seed)"
            ),
        });
    }
    let seed = g.fill(shape, 1.0);
    grad_with_seed(g, y, seed, xs)
}

/// Vector-Jacobian product: gradients of `Σ seed·y` with respect to each of `xs`.
pub fn grad_with_seed<T: Element>(
    g: &mut Graph<T>,
    y: NodeId,
    seed: NodeId,
    xs: &[NodeId],
) -> Result<Vec<NodeId>> {
    let (ys, ss) = (g.shape(y)?.clone(), g.shape(seed)?.clone());
    if ys != ss {
        return Err(AutogradError::Grad {
            node: g.name(y)?.to_string(),
            detail: format!("seed has shape {ss}, output has {ys}"),
        });
    }
    for &x in xs {
        g.node(x)?;
    }
    let n = y.index() + 1;
    // Which nodes depend on some x (forward), and which does y depend on (backward).
    let mut from_x = vec![false; n];
    for &x in xs {
        if x.index() < n {
            from_x[x.index()] = true;
        }
    }
    let inputs: Vec<_> = (0..n)
        .map(|i| g.inputs_unchecked(NodeId(i as u32)))
        .collect();
    for i in 0..n {
        if inputs[i].iter().any(|p| from_x[p.index()]) {
            from_x[i] = true;
        }
    }
    let mut to_y = vec![false; n];
    to_y[y.index()] = true;
    for i in (0..n).rev() {
        if to_y[i] {
            for p in &inputs[i] {
                to_y[p.index()] = true;
            }
        }
    }

    let mut parts: Vec<Vec<NodeId>> = vec![Vec::new(); n];
    let mut total: Vec<Option<NodeId>> = vec![None; n];
    parts[y.index()].push(seed);
    for i in (0..n).rev() {
        if !(to_y[i] && from_x[i]) {
            continue;
        }
        let id = NodeId(i as u32);
        let scope = format!("grad[{}]", g.node_unchecked(id).name);
        let list = std::mem::take(&mut parts[i]);
        let gi = g.scope(&scope, |g| g.add_n(&list))?;
        let Some(gi) = gi else { continue };
        total[i] = Some(gi);
        if inputs[i].iter().all(|p| !from_x[p.index()]) {
            continue;
        }
        let grads = g.scope(&scope, |g| vjp(g, id, gi))?;
        for (p, d) in inputs[i].iter().zip(grads) {
            if let Some(d) = d
                && from_x[p.index()]
            {
                parts[p.index()].push(d);
            }
        }
    }
    xs.iter()
        .map(|&x| match total.get(x.index()).copied().flatten() {
            Some(t) => Ok(t),
            None => {
                let s = g.shape(x)?.clone();
                Ok(g.fill(s, 0.0))
            }
        })
        .collect()
}

/// Appends the nodes of one node's vector-Jacobian product: given `gy` (the gradient of the
/// output), the gradient of each operand, checked against the operands' count and shapes (a
/// user's rule that gets them wrong is named, not summed into a wrong shape).
fn vjp<T: Element>(g: &mut Graph<T>, node: NodeId, gy: NodeId) -> Result<Grads> {
    let inputs = g.inputs_unchecked(node);
    let Op::Apply(rule) = g.node_unchecked(node).op.clone() else {
        return Ok(Grads::from_elem(None, inputs.len()));
    };
    let grads = rule.grad(&mut GradCtx::new(g, inputs.clone(), node, gy))?;
    let wrong = |detail: String| AutogradError::Grad {
        node: g.node_unchecked(node).name.clone(),
        detail: format!("the gradient rule of {}: {detail}", rule.name()),
    };
    if grads.len() != inputs.len() {
        return Err(wrong(format!(
            "gave {} gradient(s) for {} operand(s)",
            grads.len(),
            inputs.len()
        )));
    }
    for (pos, (&x, d)) in inputs.iter().zip(&grads).enumerate() {
        if let Some(d) = *d {
            let (want, got) = (g.shape(x)?, g.shape(d)?);
            if want != got {
                return Err(wrong(format!(
                    "gave shape {got} for operand {pos} of shape {want}"
                )));
            }
        }
    }
    Ok(grads)
}
