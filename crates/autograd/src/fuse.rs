//! Fusion: the planner's grouping of elementwise nodes into one pass over memory.
//!
//! The graph stays as it is — every node symbolic and differentiable, so gradients of
//! gradients keep working — and only the plan changes: neighbouring nodes whose op is a
//! pointwise function ([`OpRule::pointwise`](crate::OpRule::pointwise)) over one shape form a
//! group, which the executor runs as one [`FusedProgram`] at the position of the group's last
//! node. A member whose value someone outside the group reads (or that is a requested
//! output) is written out; the others live only in cache-sized tiles.
//!
//! Grouping walks the steps in order. A pointwise step joins the group of an operand of the
//! same shape (merging the groups of several operands) when moving the group's work to this
//! step is safe: no step before it, outside the group, reads a member — such a reader would
//! run before the group has produced the member's value. Everything a member reads from
//! outside is computed before the member, hence before the group runs. Views of members and
//! reductions are readers outside the group, so they end it or force a write-out, as they
//! should: fusion across a reduction is not this pass's business.

use std::collections::HashMap;
use std::sync::Arc;

use convnet_tensor::Element;
use convnet_tensor::ops::fused::{FusedProgram, Instr, Pointwise};

use crate::plan::{Alloc, Step};

/// Largest group: registers are tiles of 4 KiB, and beyond a few dozen of them a group stops
/// fitting in the cache it is meant to run in.
const MAX_MEMBERS: usize = 48;

/// One fused group of a plan.
#[derive(Debug)]
pub(crate) struct FusedGroup {
    /// Member steps in execution order; the last is the leader, where the group runs.
    pub members: Vec<usize>,
    /// Steps outside the group whose values the members read, in program input order.
    pub inputs: Vec<usize>,
    /// Members whose values are written out, in program output order.
    pub outputs: Vec<usize>,
    /// The program: input `k` is `inputs[k]`, instruction `k` computes `members[k]`.
    pub program: FusedProgram,
}

impl FusedGroup {
    /// The group's ops in order, for profiles and plan summaries.
    pub fn describe<T: Element>(&self, steps: &[Step<T>]) -> String {
        let ops: Vec<&str> = self.members.iter().map(|&m| steps[m].op.name()).collect();
        format!(
            "fused {} ops ({}) → {} output(s)",
            ops.len(),
            ops.join(" "),
            self.outputs.len()
        )
    }
}

/// How a step takes part in fusion.
#[derive(Debug, Clone, Default)]
pub(crate) enum Fusion {
    /// Runs on its own.
    #[default]
    Alone,
    /// Computed by the group that runs at step `leader`.
    Member {
        /// The group's last step.
        leader: usize,
    },
    /// The last member: runs the whole group.
    Leader(Arc<FusedGroup>),
}

fn pointwise<T: Element>(s: &Step<T>) -> Option<Pointwise> {
    if s.alloc == Alloc::View || s.alloc == Alloc::External {
        return None;
    }
    s.op.rule()?.pointwise()
}

/// Groups the fusible steps of a plan and marks them ([`Fusion`]). `outputs` are the plan's
/// requested outputs (always written out).
pub(crate) fn plan_fusion<T: Element>(steps: &mut [Step<T>], outputs: &[usize]) {
    let n = steps.len();
    let mut readers: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, s) in steps.iter().enumerate() {
        for &p in &s.inputs {
            if readers[p].last() != Some(&i) {
                readers[p].push(i);
            }
        }
    }
    // Group ids by step, and members by group id (a merged-away group is left empty).
    let mut group_of: Vec<Option<usize>> = vec![None; n];
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for i in 0..n {
        if pointwise(&steps[i]).is_none() {
            continue;
        }
        let mut joinable: Vec<usize> = Vec::new();
        for &p in &steps[i].inputs {
            let Some(g) = group_of[p] else { continue };
            if joinable.contains(&g) || steps[p].shape != steps[i].shape {
                continue;
            }
            // Safe to run the group at `i`: every reader of a member before `i` is a member.
            let safe = groups[g]
                .iter()
                .all(|&m| readers[m].iter().all(|&r| r >= i || group_of[r] == Some(g)));
            let size: usize = joinable.iter().map(|&h| groups[h].len()).sum();
            if safe && size + groups[g].len() < MAX_MEMBERS {
                joinable.push(g);
            }
        }
        let g = match joinable.split_first() {
            Some((&g, rest)) => {
                for &h in rest {
                    let moved = std::mem::take(&mut groups[h]);
                    for &m in &moved {
                        group_of[m] = Some(g);
                    }
                    groups[g].extend(moved);
                }
                g
            }
            None => {
                groups.push(Vec::new());
                groups.len() - 1
            }
        };
        groups[g].push(i);
        group_of[i] = Some(g);
    }
    for (g, mut members) in groups.into_iter().enumerate() {
        if members.len() < 2 {
            continue;
        }
        members.sort_unstable();
        let group = build_group(steps, &readers, &group_of, g, members, outputs);
        let leader = *group.members.last().expect("a group has members");
        for &m in &group.members[..group.members.len() - 1] {
            steps[m].fusion = Fusion::Member { leader };
        }
        steps[leader].kernel = Some(group.describe(steps));
        steps[leader].fusion = Fusion::Leader(Arc::new(group));
    }
}

/// The program of one group: its external inputs, instructions and written-out members.
fn build_group<T: Element>(
    steps: &[Step<T>],
    readers: &[Vec<usize>],
    group_of: &[Option<usize>],
    g: usize,
    members: Vec<usize>,
    outputs: &[usize],
) -> FusedGroup {
    let inside = |s: usize| group_of[s] == Some(g);
    let mut inputs: Vec<usize> = Vec::new();
    for &m in &members {
        for &p in &steps[m].inputs {
            if !inside(p) && !inputs.contains(&p) {
                inputs.push(p);
            }
        }
    }
    let mut register: HashMap<usize, usize> = HashMap::new();
    for (k, &p) in inputs.iter().enumerate() {
        register.insert(p, k);
    }
    for (k, &m) in members.iter().enumerate() {
        register.insert(m, inputs.len() + k);
    }
    let instrs: Vec<Instr> = members
        .iter()
        .map(|&m| Instr {
            op: pointwise(&steps[m]).expect("members are pointwise"),
            args: steps[m].inputs.iter().map(|p| register[p]).collect(),
        })
        .collect();
    let written: Vec<usize> = members
        .iter()
        .copied()
        .filter(|&m| outputs.contains(&m) || readers[m].iter().any(|&r| !inside(r)))
        .collect();
    let program = FusedProgram::new(
        inputs.len(),
        instrs,
        written.iter().map(|m| register[m]).collect(),
    )
    .expect("a group's program reads registers in order and names each output once");
    FusedGroup {
        members,
        inputs,
        outputs: written,
        program,
    }
}
