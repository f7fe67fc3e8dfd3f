//! The optimizer interface, its checkpointable state, and the plumbing every optimizer shares.
//!
//! An optimizer updates parameter tensors eagerly and in place from the gradients a training
//! step produced. Gradients arrive as a map from parameter name to tensor, because parameters
//! live in a [`ParamStore`] outside the graph under stable path-like names, and those names
//! are also the checkpoint keys of the optimizer's per-parameter state ("slots": momentum
//! buffers, moment estimates). A step validates every gradient before touching any
//! parameter, so a bad gradient map leaves the model exactly as it was.
//!
//! Per-parameter state is created on first use and then updated in place, so a step allocates
//! nothing beyond that state (a restored or saved slot is shared copy-on-write with the
//! checkpoint, and is copied once on the next step).

use std::collections::BTreeMap;

use convnet_autograd::ParamStore;
use convnet_tensor::{Element, Tensor};

use crate::error::{OptimError, Result};

/// The gradient of each parameter, by parameter name.
///
/// A trainable parameter with no entry is left unchanged by a step (and its state is not
/// decayed). An entry that names no parameter, names a buffer, or has the wrong shape is an
/// error naming it.
pub type Gradients<T = f32> = BTreeMap<String, Tensor<T>>;

/// Everything needed to resume an optimizer exactly: its kind, hyper-parameters, step counts
/// and per-parameter slot tensors.
///
/// A checkpoint stores `slots` as tensors and the rest as metadata; loading it into a fresh
/// optimizer of the same kind makes the following steps bit-identical to an uninterrupted run.
#[derive(Debug, Clone, PartialEq)]
pub struct OptimizerState<T: Element = f32> {
    /// The optimizer's [`Optimizer::name`], checked on load.
    pub kind: String,
    /// Number of `step` calls taken.
    pub step: u64,
    /// Hyper-parameters by name (booleans as 0 or 1); the learning rate is `"lr"`.
    pub hyper: BTreeMap<String, f64>,
    /// Updates applied to each parameter; differs from `step` only for parameters that went
    /// without a gradient on some steps. Bias corrections and decays use this count.
    pub param_steps: BTreeMap<String, u64>,
    /// Slot tensors keyed `"<slot>/<parameter>"`, e.g. `"exp_avg/features.0.weight"`.
    pub slots: BTreeMap<String, Tensor<T>>,
}

/// A first-order optimizer over named parameters.
pub trait Optimizer<T: Element>: std::fmt::Debug + Send {
    /// Applies one update to every trainable parameter that has a gradient.
    fn step(&mut self, params: &mut ParamStore<T>, grads: &Gradients<T>) -> Result<()>;
    /// The learning rate the next step uses (for [`ParamGroups`](crate::ParamGroups), the
    /// base rate before the groups' scales).
    fn learning_rate(&self) -> f64;
    /// Sets the learning rate used by the next steps (a schedule calls this); an invalid value
    /// (negative, NaN) makes the next `step` fail with a message naming it.
    fn set_learning_rate(&mut self, lr: f64);
    /// A snapshot of the full state, for checkpoints.
    fn state(&self) -> OptimizerState<T>;
    /// Restores a snapshot taken by [`Optimizer::state`] of an optimizer of the same kind,
    /// hyper-parameters included.
    fn load_state(&mut self, state: &OptimizerState<T>) -> Result<()>;
    /// The optimizer's name, e.g. `"Adam"`; also the `kind` of its state.
    fn name(&self) -> &'static str;
}

// ---------------------------------------------------------------------------------------------
// Hyper-parameter validation. Every check rejects NaN, because `NaN >= 0` is false.

/// `value` must be finite and >= 0 (learning rates, ε, weight decay, momentum, …).
pub(crate) fn non_negative(owner: &'static str, param: &'static str, value: f64) -> Result<()> {
    if value.is_finite() && value >= 0.0 {
        Ok(())
    } else {
        Err(OptimError::HyperParameter {
            owner,
            param,
            value,
            range: "[0, ∞)",
        })
    }
}

/// `value` must lie in [0, 1) (Adam's β).
pub(crate) fn unit_half_open(owner: &'static str, param: &'static str, value: f64) -> Result<()> {
    if (0.0..1.0).contains(&value) {
        Ok(())
    } else {
        Err(OptimError::HyperParameter {
            owner,
            param,
            value,
            range: "[0, 1)",
        })
    }
}

/// `value` must lie in [0, 1] (RMSProp's α, Adadelta's ρ, SGD's dampening).
pub(crate) fn unit_closed(owner: &'static str, param: &'static str, value: f64) -> Result<()> {
    if (0.0..=1.0).contains(&value) {
        Ok(())
    } else {
        Err(OptimError::HyperParameter {
            owner,
            param,
            value,
            range: "[0, 1]",
        })
    }
}

pub(crate) fn flag(b: bool) -> f64 {
    if b { 1.0 } else { 0.0 }
}

/// Reads hyper-parameter `key` from a saved state, or an error naming it.
pub(crate) fn hyper(
    owner: &'static str,
    state: &OptimizerState<impl Element>,
    key: &str,
) -> Result<f64> {
    state
        .hyper
        .get(key)
        .copied()
        .ok_or_else(|| OptimError::State {
            owner,
            detail: format!("hyper-parameter `{key}` is missing"),
        })
}

/// Reads a boolean hyper-parameter (stored as 0 or 1).
pub(crate) fn hyper_flag(
    owner: &'static str,
    state: &OptimizerState<impl Element>,
    key: &str,
) -> Result<bool> {
    match hyper(owner, state, key)? {
        0.0 => Ok(false),
        1.0 => Ok(true),
        v => Err(OptimError::State {
            owner,
            detail: format!("flag `{key}` = {v} is neither 0 nor 1"),
        }),
    }
}

/// Checks that `state` was taken from an optimizer called `owner`.
pub(crate) fn check_kind(owner: &'static str, state: &OptimizerState<impl Element>) -> Result<()> {
    if state.kind == owner {
        Ok(())
    } else {
        Err(OptimError::State {
            owner,
            detail: format!("it was saved by {}", state.kind),
        })
    }
}

/// Every gradient names a trainable parameter of `params` and has its shape.
pub(crate) fn check_gradients<T: Element>(
    owner: &'static str,
    params: &ParamStore<T>,
    grads: &Gradients<T>,
) -> Result<()> {
    for (name, g) in grads {
        let p = params
            .get(name)
            .ok_or_else(|| OptimError::UnknownParameter {
                owner,
                name: name.clone(),
            })?;
        if params.is_buffer(name) {
            return Err(OptimError::GradientForBuffer {
                owner,
                name: name.clone(),
            });
        }
        if g.shape() != p.shape() {
            return Err(OptimError::Shape {
                owner,
                what: "gradient",
                name: name.clone(),
                expected: p.shape().to_vec(),
                got: g.shape().to_vec(),
            });
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Per-parameter slots.

/// The state of one parameter: its update count and up to `N` slot tensors, created lazily
/// (a momentum buffer exists only when momentum is on).
#[derive(Debug, Clone)]
pub(crate) struct ParamSlots<T: Element, const N: usize> {
    pub step: u64,
    pub slots: [Option<Tensor<T>>; N],
}

impl<T: Element, const N: usize> ParamSlots<T, N> {
    fn new() -> Self {
        ParamSlots {
            step: 0,
            slots: std::array::from_fn(|_| None),
        }
    }

    /// Creates slot `i` filled with `init` if it does not exist yet; true if it was created.
    pub fn ensure(&mut self, i: usize, shape: &[usize], init: f64) -> bool {
        let created = self.slots[i].is_none();
        if created {
            self.slots[i] = Some(Tensor::full(shape, T::of_f64(init)));
        }
        created
    }
}

/// The mutable elements of a slot that [`ParamSlots::ensure`] created.
pub(crate) fn slot_data<T: Element>(slot: &mut Option<Tensor<T>>) -> &mut [T] {
    match slot {
        Some(t) => t.data_mut(),
        None => &mut [],
    }
}

/// All parameters' slots of one optimizer, with the slot names used as checkpoint keys.
#[derive(Debug, Clone)]
pub(crate) struct SlotStore<T: Element, const N: usize> {
    names: [&'static str; N],
    params: BTreeMap<String, ParamSlots<T, N>>,
}

impl<T: Element, const N: usize> SlotStore<T, N> {
    pub fn new(names: [&'static str; N]) -> Self {
        SlotStore {
            names,
            params: BTreeMap::new(),
        }
    }

    /// Validates `grads` against `params` and the existing slots before anything is updated.
    fn check(
        &self,
        owner: &'static str,
        params: &ParamStore<T>,
        grads: &Gradients<T>,
    ) -> Result<()> {
        check_gradients(owner, params, grads)?;
        for name in grads.keys() {
            let Some(p) = params.get(name) else { continue };
            if let Some(ps) = self.params.get(name) {
                for (slot, t) in self.names.iter().zip(&ps.slots) {
                    if let Some(t) = t.as_ref().filter(|t| t.shape() != p.shape()) {
                        return Err(OptimError::Shape {
                            owner,
                            what: "state slot",
                            name: format!("{slot}/{name}"),
                            expected: p.shape().to_vec(),
                            got: t.shape().to_vec(),
                        });
                    }
                }
            }
        }
        Ok(())
    }

    /// Runs `update(slots, shape, param, grad)` for every trainable parameter that has a
    /// gradient, after validating them all; the parameter's update count is already bumped.
    pub fn update(
        &mut self,
        owner: &'static str,
        params: &mut ParamStore<T>,
        grads: &Gradients<T>,
        mut update: impl FnMut(&mut ParamSlots<T, N>, &[usize], &mut [T], &[T]),
    ) -> Result<()> {
        self.check(owner, params, grads)?;
        for (name, p) in params.trainable_mut() {
            let Some(g) = grads.get(name) else { continue };
            if !self.params.contains_key(name) {
                self.params.insert(name.to_owned(), ParamSlots::new());
            }
            let Some(ps) = self.params.get_mut(name) else {
                continue;
            };
            ps.step += 1;
            update(ps, g.shape(), p.data_mut(), &g.data());
        }
        Ok(())
    }

    /// Writes every parameter's step count and slots into `state`.
    pub fn export(&self, state: &mut OptimizerState<T>) {
        for (param, ps) in &self.params {
            state.param_steps.insert(param.clone(), ps.step);
            for (slot, t) in self.names.iter().zip(&ps.slots) {
                if let Some(t) = t {
                    state.slots.insert(format!("{slot}/{param}"), t.clone());
                }
            }
        }
    }

    /// Replaces all slots with those in `state`.
    pub fn import(&mut self, owner: &'static str, state: &OptimizerState<T>) -> Result<()> {
        let mut params: BTreeMap<String, ParamSlots<T, N>> = state
            .param_steps
            .iter()
            .map(|(name, &step)| {
                (
                    name.clone(),
                    ParamSlots {
                        step,
                        ..ParamSlots::new()
                    },
                )
            })
            .collect();
        for (key, t) in &state.slots {
            let bad = |detail: String| OptimError::State { owner, detail };
            let (slot, param) = key
                .split_once('/')
                .ok_or_else(|| bad(format!("slot key `{key}` is not `<slot>/<parameter>`")))?;
            let i = self.names.iter().position(|n| *n == slot).ok_or_else(|| {
                bad(format!(
                    "unknown slot `{slot}` in `{key}` (expected one of {:?})",
                    self.names
                ))
            })?;
            let ps = params
                .get_mut(param)
                .ok_or_else(|| bad(format!("slot `{key}` has no step count for `{param}`")))?;
            ps.slots[i] = Some(t.clone());
        }
        self.params = params;
        Ok(())
    }
}

/// Builds an optimizer's [`OptimizerState`] from its hyper-parameters and slots.
pub(crate) fn snapshot<T: Element, const N: usize>(
    kind: &'static str,
    step: u64,
    hyper: &[(&str, f64)],
    slots: &SlotStore<T, N>,
) -> OptimizerState<T> {
    let mut state = OptimizerState {
        kind: kind.into(),
        step,
        hyper: hyper.iter().map(|&(k, v)| (k.to_string(), v)).collect(),
        param_steps: BTreeMap::new(),
        slots: BTreeMap::new(),
    };
    slots.export(&mut state);
    state
}
