//! Running a plan: feeds checked, nodes evaluated in order by asking each op's rule, buffers
//! dropped after their last reader, and elementwise nodes written in place into a dying
//! operand's buffer.
//!
//! Optional check mode scans every value for NaN/∞ and names the first node that produced one;
//! optional profiling records each node's wall time, so users can see where a step goes and we
//! can measure the executor's own overhead (step time minus the sum of node times).

use std::time::{Duration, Instant};

use convnet_tensor::{Element, Precision, Tensor, buffers};
use smallvec::SmallVec;

use crate::error::{AutogradError, Result};
use crate::feeds::{FeedKey, Feeds, Value};
use crate::fuse::{FusedGroup, Fusion};
use crate::graph::{Graph, NodeId};
use crate::op::Op;
use crate::params::ParamStore;
use crate::plan::{Alloc, Plan, Step};
use crate::rule::{EvalArgs, EvalError, OpRule};
use crate::shape::Dim;

/// Switches for one run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunOptions {
    /// Fail with an error naming the node on the first NaN or infinity (feeds included).
    pub check_finite: bool,
    /// Record the wall time of every node.
    pub profile: bool,
    /// Precision of the convolutions' and matmuls' products (`f32` computations only; see
    /// [`Precision`]). Elementwise ops and reductions always run in the element type.
    pub precision: Precision,
    /// Run the plan's fused groups node by node, as the graph has them, instead of as one
    /// pass (the results are the same bits; tests compare the two). Check mode always does.
    pub unfused: bool,
}

/// The op name a fused group's profile entry and errors carry (its nodes keep their own).
pub const FUSED_OP: &str = "fused";

/// One node's time in a profiled run.
#[derive(Debug, Clone)]
pub struct NodeTiming {
    /// The node that ran.
    pub node: NodeId,
    /// Its layer-path name.
    pub name: String,
    /// Its op's short name.
    pub op: &'static str,
    /// The kernel the op ran on, where it says (a convolution's chosen kernel).
    pub kernel: Option<String>,
    /// Wall time of the node's evaluation (for a leaf, of fetching its value).
    pub time: Duration,
}

/// The outputs of a run, with timings when profiling was on.
#[derive(Debug, Clone)]
pub struct RunOutput<T: Element> {
    /// The requested outputs, in the order they were requested.
    pub outputs: Vec<Tensor<T>>,
    /// One entry per planned node that ran, in execution order (a fused group is one entry,
    /// under its last node's name, with op [`FUSED_OP`]); empty unless profiling was on.
    pub timings: Vec<NodeTiming>,
    /// Wall time of the whole run (feed checks and bookkeeping included).
    pub total: Duration,
}

impl<T: Element> RunOutput<T> {
    /// Sum of the per-node times (zero unless profiled).
    pub fn node_time(&self) -> Duration {
        self.timings.iter().map(|t| t.time).sum()
    }
}

/// Check mode: errs on the first NaN or infinity in `t`, the value of step `s`, describing
/// the step's inputs (still held: check mode never lets an op overwrite its operand).
fn check_finite<T: Element>(
    t: &Tensor<T>,
    s: &Step<T>,
    steps: &[Step<T>],
    values: &[Option<Value<T>>],
) -> Result<()> {
    let data = t.data();
    let mut bad = data.iter().enumerate().filter(|(_, v)| !v.is_finite());
    if let Some((first, _)) = bad.next() {
        let inputs = if s.inputs.is_empty() {
            "(none: a feed, parameter or constant)".to_string()
        } else {
            s.inputs
                .iter()
                .map(|&p| match &values[p] {
                    Some(Value::Tensor(v)) => format!("`{}` {}", steps[p].name, describe(v)),
                    Some(Value::Indices(ix)) => {
                        format!("`{}` indices {:?}", steps[p].name, ix.shape())
                    }
                    None => format!("`{}` (released)", steps[p].name),
                })
                .collect::<Vec<_>>()
                .join("; ")
        };
        return Err(AutogradError::NonFinite {
            op: s.op.name(),
            node: s.name.clone(),
            count: 1 + bad.count(),
            first,
            inputs,
        });
    }
    Ok(())
}

/// `[shape] min … max … mean …` over the finite values, and how many are not finite.
fn describe<T: Element>(t: &Tensor<T>) -> String {
    let (mut lo, mut hi, mut sum, mut bad) = (f64::INFINITY, f64::NEG_INFINITY, 0.0, 0usize);
    let data = t.data();
    for v in data.iter() {
        let x = v.as_f64();
        if x.is_finite() {
            lo = lo.min(x);
            hi = hi.max(x);
            sum += x;
        } else {
            bad += 1;
        }
    }
    let finite = data.len() - bad;
    let stats = if finite == 0 {
        "no finite values".to_string()
    } else {
        format!("min {lo:.4e} max {hi:.4e} mean {:.4e}", sum / finite as f64)
    };
    let bad = if bad > 0 {
        format!(", {bad} non-finite")
    } else {
        String::new()
    };
    format!("{:?} {stats}{bad}", t.shape())
}

impl<T: Element> Plan<T> {
    /// Runs the plan and returns the requested outputs in order.
    pub fn run(&self, feeds: &Feeds<T>, params: &ParamStore<T>) -> Result<Vec<Tensor<T>>> {
        Ok(self.run_with(feeds, params, RunOptions::default())?.outputs)
    }

    /// Runs with check mode and/or profiling.
    pub fn run_with(
        &self,
        feeds: &Feeds<T>,
        params: &ParamStore<T>,
        opts: RunOptions,
    ) -> Result<RunOutput<T>> {
        let start = Instant::now();
        let mut values = self.take_feeds(feeds)?;
        // Kernels take their outputs from the buffers the last run freed (see `buffers`).
        let pool = buffers::install(self.buffers.take());
        let mut timings = Vec::new();
        for (i, s) in self.steps.iter().enumerate() {
            let t0 = opts.profile.then(Instant::now);
            match &s.fusion {
                Fusion::Alone => {}
                // Computed with its group, at the group's last step.
                Fusion::Member { .. } => continue,
                Fusion::Leader(group) => {
                    self.run_group(group, &mut values, opts, &mut timings)?;
                    if let Some(t0) = t0.filter(|_| !(opts.unfused || opts.check_finite)) {
                        timings.push(NodeTiming {
                            node: s.node,
                            name: s.name.clone(),
                            op: FUSED_OP,
                            kernel: s.kernel.clone(),
                            time: t0.elapsed(),
                        });
                    }
                    for &r in &s.release {
                        release(&mut values[r]);
                    }
                    continue;
                }
            }
            let value = match &s.op {
                Op::Input | Op::IndexInput => {
                    values[i].take().ok_or_else(|| AutogradError::MissingFeed {
                        node: s.name.clone(),
                    })?
                }
                Op::Param(key) => {
                    let p = params.require(key)?;
                    if p.shape() != s.shape.as_slice() {
                        return Err(AutogradError::ParameterShape {
                            name: key.clone(),
                            expected: s.shape.clone(),
                            got: p.shape().to_vec(),
                        });
                    }
                    Value::Tensor(p.clone())
                }
                Op::Constant(c) => Value::Tensor(c.clone()),
                Op::Fill(v) => Value::Tensor(Tensor::full(&s.shape, T::of_f64(*v))),
                Op::Apply(rule) => Value::Tensor(
                    evaluate(rule.as_ref(), s, &mut values, opts)
                        .map_err(|e| e.at(rule.name(), &s.name))?,
                ),
            };
            if let Some(t0) = t0 {
                timings.push(NodeTiming {
                    node: s.node,
                    name: s.name.clone(),
                    op: s.op.name(),
                    kernel: s.kernel.clone(),
                    time: t0.elapsed(),
                });
            }
            if opts.check_finite
                && let Value::Tensor(t) = &value
            {
                check_finite(t, s, &self.steps, &values)?;
            }
            values[i] = Some(value);
            for &r in &s.release {
                release(&mut values[r]);
            }
        }
        let outputs = self
            .outputs
            .iter()
            .map(|&o| match &values[o] {
                Some(Value::Tensor(t)) => Ok(t.clone()),
                Some(Value::Indices(ix)) => Ok(ix.to_tensor()),
                None => Err(missing(&self.steps[o])),
            })
            .collect::<Result<Vec<_>>>()?;
        // What is still held (outputs aside, which the caller now shares) goes back too.
        for v in &mut values {
            release(v);
        }
        let mut pool = pool.finish();
        pool.trim();
        self.buffers.put_back(pool);
        Ok(RunOutput {
            outputs,
            timings,
            total: start.elapsed(),
        })
    }

    /// Runs a fused group: as one program over its inputs, or (check mode, or when asked)
    /// member by member, keeping only the values the group writes out; member by member,
    /// each member's time is recorded when profiling.
    fn run_group(
        &self,
        group: &FusedGroup,
        values: &mut [Option<Value<T>>],
        opts: RunOptions,
        timings: &mut Vec<NodeTiming>,
    ) -> Result<()> {
        let leader = &self.steps[*group.members.last().expect("a group has members")];
        if opts.unfused || opts.check_finite {
            for &m in &group.members {
                let s = &self.steps[m];
                let rule = s.op.rule().expect("fused members are applied ops");
                let t0 = opts.profile.then(Instant::now);
                let t = evaluate(rule, s, values, opts).map_err(|e| e.at(rule.name(), &s.name))?;
                if let Some(t0) = t0 {
                    timings.push(NodeTiming {
                        node: s.node,
                        name: s.name.clone(),
                        op: s.op.name(),
                        kernel: None,
                        time: t0.elapsed(),
                    });
                }
                if opts.check_finite {
                    check_finite(&t, s, &self.steps, values)?;
                }
                values[m] = Some(Value::Tensor(t));
            }
            for &m in &group.members {
                if !group.outputs.contains(&m) {
                    release(&mut values[m]);
                }
            }
            return Ok(());
        }
        // The leader's value may take over the buffer of an input that dies here.
        let target = match leader.group_in_place {
            Some(k) => match values[group.inputs[k]].take() {
                Some(Value::Tensor(t)) => Some((k, t)),
                _ => {
                    return Err(EvalError::Index("operand was released before use".into())
                        .at(FUSED_OP, &leader.name));
                }
            },
            None => None,
        };
        let inputs = group
            .inputs
            .iter()
            .enumerate()
            .map(|(k, &p)| match &values[p] {
                _ if target.as_ref().is_some_and(|(t, _)| *t == k) => Ok(None),
                Some(Value::Tensor(t)) => Ok(Some(t)),
                Some(Value::Indices(_)) => Err(EvalError::Index(format!(
                    "`{}` holds indices where a float tensor is needed",
                    self.steps[p].name
                ))),
                None => Err(EvalError::Index("operand was released before use".into())),
            })
            .collect::<std::result::Result<Vec<Option<&Tensor<T>>>, EvalError>>()
            .map_err(|e| e.at(FUSED_OP, &leader.name))?;
        let outs = match target {
            // The leader is the group's last written output.
            Some((k, t)) => {
                group
                    .program
                    .run_in_place(&inputs, &leader.shape, t, k, group.outputs.len() - 1)
            }
            None => {
                let inputs: Vec<&Tensor<T>> = inputs.into_iter().flatten().collect();
                group.program.run(&inputs, &leader.shape)
            }
        }
        .map_err(|e| EvalError::Tensor(e).at(FUSED_OP, &leader.name))?;
        for (&m, t) in group.outputs.iter().zip(outs) {
            values[m] = Some(Value::Tensor(t));
        }
        Ok(())
    }

    /// The feeds checked against their placeholders and placed in their steps' slots.
    fn take_feeds(&self, feeds: &Feeds<T>) -> Result<Vec<Option<Value<T>>>> {
        let mut slots: Vec<Option<Value<T>>> = vec![None; self.steps.len()];
        for (key, value) in &feeds.values {
            let step = match key {
                FeedKey::Node(id) => self
                    .step_of
                    .get(id)
                    .copied()
                    .filter(|&s| self.steps[s].op.is_input()),
                FeedKey::Name(n) => {
                    let s = self
                        .steps
                        .iter()
                        .position(|s| s.op.is_input() && &s.name == n);
                    if s.is_none() && !self.graph_inputs.contains(n) {
                        return Err(AutogradError::UnknownFeed { name: n.clone() });
                    }
                    s
                }
            };
            let Some(step) = step else { continue };
            let s = &self.steps[step];
            let kind_error = |expected: &'static str, got: &'static str| AutogradError::FeedKind {
                node: s.name.clone(),
                expected,
                got,
            };
            match (&s.op, value) {
                (Op::Input, Value::Indices(_)) => return Err(kind_error("a tensor", "indices")),
                (Op::IndexInput, Value::Tensor(_)) => {
                    return Err(kind_error("indices", "a tensor"));
                }
                _ => {}
            }
            if value.shape() != s.shape.as_slice() {
                return Err(AutogradError::FeedShape {
                    node: s.name.clone(),
                    expected: format!("{:?}", s.shape),
                    got: value.shape().to_vec(),
                });
            }
            slots[step] = Some(value.clone());
        }
        Ok(slots)
    }
}

/// Evaluates one op step from the values computed so far. An in-place step takes its dying
/// operand's buffer out of its slot (in check mode a shared copy, so the operand survives to
/// be described if the result is not finite) and hands it to the op to overwrite.
fn evaluate<T: Element>(
    rule: &dyn OpRule<T>,
    s: &Step<T>,
    values: &mut [Option<Value<T>>],
    opts: RunOptions,
) -> std::result::Result<Tensor<T>, EvalError> {
    let keep_operands = opts.check_finite;
    let released = || EvalError::Index("operand was released before use".into());
    if let Alloc::InPlace(pos) = s.alloc {
        let slot = &mut values[s.inputs[pos]];
        let taken = if keep_operands {
            slot.clone()
        } else {
            slot.take()
        };
        let Some(Value::Tensor(mut target)) = taken else {
            return Err(released());
        };
        let mut args: SmallVec<[Option<&Value<T>>; 4]> = SmallVec::new();
        for (k, &p) in s.inputs.iter().enumerate() {
            if k == pos {
                args.push(None);
            } else {
                args.push(Some(values[p].as_ref().ok_or_else(released)?));
            }
        }
        rule.eval_in_place(
            &mut target,
            pos,
            &EvalArgs::new(&args, &s.shape, opts.precision),
        )?;
        return Ok(target);
    }
    let mut args: SmallVec<[Option<&Value<T>>; 4]> = SmallVec::new();
    for &p in &s.inputs {
        args.push(Some(values[p].as_ref().ok_or_else(released)?));
    }
    rule.eval(&EvalArgs::new(&args, &s.shape, opts.precision))
}

/// Drops a value after its last reader, giving its buffer to the run's pool when nothing else
/// shares it.
fn release<T: Element>(slot: &mut Option<Value<T>>) {
    if let Some(Value::Tensor(t)) = slot.take() {
        t.recycle();
    }
}

fn missing<T: Element>(s: &Step<T>) -> AutogradError {
    // Unreachable when liveness is right; reported rather than panicking.
    AutogradError::Invalid {
        op: s.op.name(),
        node: s.name.clone(),
        detail: "operand was released before use".into(),
    }
}

impl<T: Element> Graph<T> {
    /// The batch size implied by the feeds: the size fed for the first open (`B`) axis.
    pub fn infer_batch(&self, feeds: &Feeds<T>) -> Option<usize> {
        feeds.values.iter().find_map(|(key, value)| {
            let id = match key {
                FeedKey::Node(id) => *id,
                FeedKey::Name(n) => self.input_named(n)?,
            };
            let shape = &self.node(id).ok()?.shape;
            let axis = shape.dims().iter().position(|d| *d == Dim::Batch)?;
            value.shape().get(axis).copied()
        })
    }

    /// Compiles a plan for `outputs` at the batch size the feeds imply, and runs it.
    pub fn run(
        &self,
        outputs: &[NodeId],
        feeds: &Feeds<T>,
        params: &ParamStore<T>,
    ) -> Result<Vec<Tensor<T>>> {
        Plan::compile(self, outputs, self.infer_batch(feeds))?.run(feeds, params)
    }
}
