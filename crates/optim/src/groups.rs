//! Parameter groups: one optimizer kind, a learning rate per group of parameters
//! ([`ParamGroups`]).

use std::collections::BTreeMap;
use std::fmt;

use convnet_autograd::{ParamStore, path_under};
use convnet_tensor::Element;

use crate::error::{OptimError, Result};
use crate::optimizer::{Gradients, Optimizer, OptimizerState, check_gradients};
use crate::{AdadeltaConfig, AdagradConfig, AdamConfig, RmsPropConfig, SgdConfig};

const NAME: &str = "ParamGroups";

/// An optimizer's settings, buildable at any learning rate: what [`ParamGroups`] needs to
/// make one optimizer per group. Every `…Config` of this crate implements it.
pub trait OptimizerConfig: Clone + fmt::Debug {
    /// The configured learning rate.
    fn learning_rate(&self) -> f64;
    /// The same settings with learning rate `lr`.
    fn with_learning_rate(&self, lr: f64) -> Self;
    /// Validates the settings and builds the optimizer.
    fn build_boxed<T: Element>(&self) -> Result<Box<dyn Optimizer<T>>>;
}

macro_rules! config {
    ($($config:ty),*) => {$(
        impl OptimizerConfig for $config {
            fn learning_rate(&self) -> f64 {
                self.lr
            }
            fn with_learning_rate(&self, lr: f64) -> Self {
                Self { lr, ..*self }
            }
            fn build_boxed<T: Element>(&self) -> Result<Box<dyn Optimizer<T>>> {
                Ok(Box::new(self.build::<T>()?))
            }
        }
    )*};
}

config!(
    SgdConfig,
    AdagradConfig,
    RmsPropConfig,
    AdadeltaConfig,
    AdamConfig
);

/// The groups of a [`ParamGroups`] before it is built: a configuration and `(prefix, scale)`
/// pairs.
#[derive(Debug, Clone)]
pub struct ParamGroupsBuilder<C: OptimizerConfig> {
    config: C,
    groups: Vec<(String, f64)>,
}

impl<C: OptimizerConfig> ParamGroupsBuilder<C> {
    /// Parameters at or under `prefix` (a layer path: `features`, `layer4.1`) train at
    /// `lr_scale ×` the learning rate. 0 keeps them fixed but still decays their state; to
    /// exclude a layer from training altogether, freeze it in the model instead.
    pub fn group(mut self, prefix: impl Into<String>, lr_scale: f64) -> Self {
        self.groups.push((prefix.into(), lr_scale));
        self
    }

    /// Validates the configuration and the groups (scales finite and ≥ 0, prefixes non-empty
    /// and distinct) and builds one optimizer per group plus one for the rest.
    pub fn build<T: Element>(self) -> Result<ParamGroups<T>> {
        let base_lr = self.config.learning_rate();
        let rest = self.config.build_boxed::<T>()?;
        let mut groups: Vec<Group<T>> = Vec::with_capacity(self.groups.len());
        for (prefix, scale) in self.groups {
            let invalid = |detail: String| OptimError::Invalid {
                owner: NAME,
                detail,
            };
            if prefix.is_empty() || prefix.starts_with('.') || prefix.ends_with('.') {
                return Err(invalid(format!(
                    "group prefix `{prefix}` is not a layer path such as `features` or `layer4.1`"
                )));
            }
            if !(scale.is_finite() && scale >= 0.0) {
                return Err(OptimError::HyperParameter {
                    owner: NAME,
                    param: "lr_scale",
                    value: scale,
                    range: "[0, ∞)",
                });
            }
            if groups.iter().any(|g| g.prefix == prefix) {
                return Err(invalid(format!("group `{prefix}` is given twice")));
            }
            let optimizer = self
                .config
                .with_learning_rate(base_lr * scale)
                .build_boxed::<T>()?;
            groups.push(Group {
                prefix,
                scale,
                optimizer,
            });
        }
        Ok(ParamGroups {
            base_lr,
            groups,
            rest,
            step: 0,
        })
    }
}

#[derive(Debug)]
struct Group<T: Element> {
    prefix: String,
    scale: f64,
    optimizer: Box<dyn Optimizer<T>>,
}

/// One optimizer kind with a learning-rate scale per parameter group.
///
/// Fine-tuning wants the pretrained backbone to move slowly and the new head quickly
/// (`features` at 0.1× the head's rate), and some recipes give biases or norms their own rate.
/// A group is a parameter-path prefix with a learning-rate *scale*: its parameters are updated
/// at `scale × lr`, where `lr` is the one rate a schedule sets, so a schedule moves every group
/// together and keeps their ratios — what PyTorch's schedulers do to `param_groups`.
///
/// Each group (and the rest) has an optimizer of its own, built from one configuration at its
/// scaled rate, so every per-parameter slot (momentum, Adam's moments) is the one that
/// optimizer would keep anyway; a parameter belongs to the group with the longest prefix it
/// lies under ([`path_under`]), so `features` at 0.1 and `features.12` at 1 both work.
///
/// ```
/// use convnet_autograd::ParamStore;
/// use convnet_optim::{Gradients, Optimizer, ParamGroups, SgdConfig};
/// use convnet_tensor::Tensor;
///
/// let mut params = ParamStore::<f64>::new();
/// params.insert("features.0.weight", Tensor::from_vec(vec![1.0], &[1]).unwrap()).unwrap();
/// params.insert("classifier.weight", Tensor::from_vec(vec![1.0], &[1]).unwrap()).unwrap();
/// let mut opt = ParamGroups::builder(SgdConfig::new(0.5))
///     .group("features", 0.1)
///     .build::<f64>()
///     .unwrap();
/// let one = || Tensor::from_vec(vec![1.0], &[1]).unwrap();
/// let grads = Gradients::from([
///     ("features.0.weight".to_string(), one()),
///     ("classifier.weight".to_string(), one()),
/// ]);
/// opt.step(&mut params, &grads).unwrap();
/// assert_eq!(params.get("features.0.weight").unwrap().to_vec(), [1.0 - 0.05]);
/// assert_eq!(params.get("classifier.weight").unwrap().to_vec(), [1.0 - 0.5]);
/// ```
#[derive(Debug)]
pub struct ParamGroups<T: Element = f32> {
    base_lr: f64,
    groups: Vec<Group<T>>,
    /// Parameters under no group, at the base rate.
    rest: Box<dyn Optimizer<T>>,
    step: u64,
}

impl ParamGroups {
    /// Starts a grouped optimizer from `config`, whose learning rate is the base rate (the
    /// one schedules set, and the rate of parameters under no group).
    pub fn builder<C: OptimizerConfig>(config: C) -> ParamGroupsBuilder<C> {
        ParamGroupsBuilder {
            config,
            groups: Vec::new(),
        }
    }
}

/// The key a saved state stores a group's scale under.
fn scale_key(prefix: &str) -> String {
    format!("lr_scale/{prefix}")
}

impl<T: Element> ParamGroups<T> {
    /// The groups as `(prefix, learning-rate scale)`, in the order given.
    pub fn groups(&self) -> Vec<(&str, f64)> {
        self.groups
            .iter()
            .map(|g| (g.prefix.as_str(), g.scale))
            .collect()
    }

    /// The index of the group `name` belongs to (the longest prefix it lies under), or
    /// `None` for the rest.
    pub fn group_of(&self, name: &str) -> Option<usize> {
        self.groups
            .iter()
            .enumerate()
            .filter(|(_, g)| path_under(name, &g.prefix))
            .max_by_key(|(_, g)| g.prefix.len())
            .map(|(i, _)| i)
    }

    /// The learning rate `name` is updated at now.
    pub fn learning_rate_of(&self, name: &str) -> f64 {
        match self.group_of(name) {
            Some(i) => self.groups[i].optimizer.learning_rate(),
            None => self.rest.learning_rate(),
        }
    }

    fn optimizer_mut(&mut self, group: Option<usize>) -> &mut dyn Optimizer<T> {
        match group {
            Some(i) => self.groups[i].optimizer.as_mut(),
            None => self.rest.as_mut(),
        }
    }

    /// `state`'s entries that belong to `group`, as the state of that group's optimizer.
    fn sub_state(
        &self,
        state: &OptimizerState<T>,
        base_lr: f64,
        group: Option<usize>,
    ) -> OptimizerState<T> {
        let mine = |param: &str| self.group_of(param) == group;
        let mut hyper: BTreeMap<String, f64> = state
            .hyper
            .iter()
            .filter(|(k, _)| !k.starts_with("lr_scale/"))
            .map(|(k, &v)| (k.clone(), v))
            .collect();
        let scale = group.map_or(1.0, |i| self.groups[i].scale);
        hyper.insert("lr".into(), base_lr * scale);
        OptimizerState {
            kind: self.rest.name().to_string(),
            step: state.step,
            hyper,
            param_steps: state
                .param_steps
                .iter()
                .filter(|(p, _)| mine(p))
                .map(|(p, &n)| (p.clone(), n))
                .collect(),
            slots: state
                .slots
                .iter()
                .filter(|(k, _)| k.split_once('/').is_some_and(|(_, p)| mine(p)))
                .map(|(k, t)| (k.clone(), t.clone()))
                .collect(),
        }
    }

    /// The state's kind: the optimizer's, marked as grouped so that a plain optimizer of the
    /// same kind refuses it (it would drop the scales).
    fn kind(&self) -> String {
        format!("{} with parameter groups", self.rest.name())
    }
}

impl<T: Element> Optimizer<T> for ParamGroups<T> {
    fn step(&mut self, params: &mut ParamStore<T>, grads: &Gradients<T>) -> Result<()> {
        // Everything is checked before any group updates, so a bad map changes nothing.
        check_gradients(NAME, params, grads)?;
        for g in &self.groups {
            if !params.names().any(|n| path_under(n, &g.prefix)) {
                let mut tops: Vec<&str> = Vec::new();
                for top in params.names().filter_map(|n| n.split('.').next()) {
                    if !tops.contains(&top) {
                        tops.push(top);
                    }
                }
                return Err(OptimError::Invalid {
                    owner: NAME,
                    detail: format!(
                        "group `{}` names no parameter; the store's top-level names are {}",
                        g.prefix,
                        tops.join(", ")
                    ),
                });
            }
        }
        let mut split: Vec<Gradients<T>> = vec![Gradients::new(); self.groups.len() + 1];
        for (name, g) in grads {
            let slot = self.group_of(name).unwrap_or(self.groups.len());
            split[slot].insert(name.clone(), g.clone());
        }
        let rest_grads = split.pop().unwrap_or_default();
        for (group, grads) in self.groups.iter_mut().zip(&split) {
            group.optimizer.step(params, grads)?;
        }
        self.rest.step(params, &rest_grads)?;
        self.step += 1;
        Ok(())
    }

    fn learning_rate(&self) -> f64 {
        self.base_lr
    }

    fn set_learning_rate(&mut self, lr: f64) {
        self.base_lr = lr;
        for g in &mut self.groups {
            g.optimizer.set_learning_rate(lr * g.scale);
        }
        self.rest.set_learning_rate(lr);
    }

    /// The union of the groups' states (their parameters are disjoint), with the base rate
    /// as `lr` and each group's scale as `lr_scale/<prefix>`.
    fn state(&self) -> OptimizerState<T> {
        let mut state = self.rest.state();
        state.kind = self.kind();
        state.step = self.step;
        state.hyper.insert("lr".into(), self.base_lr);
        for g in &self.groups {
            let sub = g.optimizer.state();
            state.param_steps.extend(sub.param_steps);
            state.slots.extend(sub.slots);
            state.hyper.insert(scale_key(&g.prefix), g.scale);
        }
        state
    }

    /// Restores a state saved with the same kind and the same groups; another grouping
    /// would silently move slots between learning rates, so it is refused naming both.
    fn load_state(&mut self, state: &OptimizerState<T>) -> Result<()> {
        let bad = |detail: String| OptimError::State {
            owner: NAME,
            detail,
        };
        if state.kind != self.kind() {
            return Err(bad(format!(
                "it was saved by {}, this is {}",
                state.kind,
                self.kind()
            )));
        }
        let saved: BTreeMap<&str, f64> = state
            .hyper
            .iter()
            .filter_map(|(k, &v)| k.strip_prefix("lr_scale/").map(|p| (p, v)))
            .collect();
        let ours: BTreeMap<&str, f64> = self
            .groups
            .iter()
            .map(|g| (g.prefix.as_str(), g.scale))
            .collect();
        if saved != ours {
            return Err(bad(format!(
                "it was saved with parameter groups {saved:?}, this optimizer has {ours:?}"
            )));
        }
        let base_lr = state
            .hyper
            .get("lr")
            .copied()
            .ok_or_else(|| bad("hyper-parameter `lr` is missing".into()))?;
        // A sub-optimizer may refuse its part (a missing slot step count, a bad flag); the
        // parts already loaded are then put back, so a failed load changes nothing.
        let backup: Vec<OptimizerState<T>> = self
            .groups
            .iter()
            .map(|g| g.optimizer.state())
            .chain([self.rest.state()])
            .collect();
        let targets: Vec<Option<usize>> = (0..self.groups.len()).map(Some).chain([None]).collect();
        for (n, &g) in targets.iter().enumerate() {
            let sub = self.sub_state(state, base_lr, g);
            if let Err(e) = self.optimizer_mut(g).load_state(&sub) {
                for (&g, saved) in targets.iter().zip(&backup).take(n) {
                    self.optimizer_mut(g).load_state(saved)?;
                }
                return Err(e);
            }
        }
        self.base_lr = base_lr;
        self.step = state.step;
        Ok(())
    }

    fn name(&self) -> &'static str {
        self.rest.name()
    }
}
