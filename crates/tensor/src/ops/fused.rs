//! Fused elementwise programs: a chain (or tree) of elementwise functions evaluated one tile
//! at a time, so each input is read once and only the values someone needs are written.
//!
//! Run op by op, `y = relu((x − m)·s·γ + β)` is five passes over memory, each reading and
//! writing a full tensor. As a [`FusedProgram`] it is one pass: a tile of `TILE` elements of
//! every input is brought into cache (borrowed where the input is contiguous, gathered where
//! it is a strided or broadcast view), every instruction runs on the tile in registers of
//! `TILE` elements, and the tiles of the requested outputs are written out.
//!
//! Each instruction applies the same monomorphised scalar function as the unfused kernels
//! ([`Unary::dispatch`], [`Binary::dispatch`], [`Compare::dispatch`]) element by element, so
//! a fused result is bit-for-bit the unfused one: fusion changes where values live, never
//! the arithmetic.
//!
//! Registers: inputs are registers `0..inputs`, instruction `k` writes register
//! `inputs + k`, and an instruction may read only registers before its own.

use std::borrow::Cow;
use std::mem::MaybeUninit;

use rayon::prelude::*;
use smallvec::SmallVec;

use crate::buffers::{self, ScratchBuf};
use crate::element::Element;
use crate::error::{Result, TensorError};
use crate::layout::{Dims, Layout, numel};
use crate::scalar::{Binary, BinaryVisitor, Compare, Unary, UnaryVisitor};
use crate::tensor::{PARALLEL_THRESHOLD, Tensor};

/// Elements per tile: 4 KiB of f32 per register, so a dozen registers stay in L1/L2.
const TILE: usize = 1024;
/// Tiles per parallel task: large enough that rayon's hand-off is amortised.
const TILES_PER_TASK: usize = 16;

/// One elementwise function a fused program can apply.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pointwise {
    /// A function of one argument.
    Unary(Unary),
    /// A function of two arguments.
    Binary(Binary),
    /// A comparison of two arguments (1 or 0).
    Compare(Compare),
    /// `select(cond, a, b)`: `a` where `cond ≠ 0`, else `b`.
    Select,
}

impl Pointwise {
    /// Number of arguments.
    pub fn arity(self) -> usize {
        match self {
            Pointwise::Unary(_) => 1,
            Pointwise::Binary(_) | Pointwise::Compare(_) => 2,
            Pointwise::Select => 3,
        }
    }

    /// Short name, as the unfused op's.
    pub fn name(self) -> &'static str {
        match self {
            Pointwise::Unary(u) => u.name(),
            Pointwise::Binary(b) => b.name(),
            Pointwise::Compare(c) => c.name(),
            Pointwise::Select => "select",
        }
    }
}

/// One instruction: a function and the registers it reads.
#[derive(Debug, Clone, PartialEq)]
pub struct Instr {
    /// The function applied.
    pub op: Pointwise,
    /// The registers read, one per argument.
    pub args: Vec<usize>,
}

/// A validated fused elementwise program over tensors of one shape.
#[derive(Debug, Clone, PartialEq)]
pub struct FusedProgram {
    inputs: usize,
    instrs: Vec<Instr>,
    outputs: Vec<usize>,
}

impl FusedProgram {
    /// A program reading `inputs` tensors, running `instrs` in order, and returning the
    /// registers `outputs` (instruction results, each named once).
    pub fn new(inputs: usize, instrs: Vec<Instr>, outputs: Vec<usize>) -> Result<Self> {
        let bad = |detail: String| Err(TensorError::shape("fused program", detail));
        for (k, ins) in instrs.iter().enumerate() {
            let reg = inputs + k;
            if ins.args.len() != ins.op.arity() {
                return bad(format!(
                    "instruction {k} ({}) has {} arguments, needs {}",
                    ins.op.name(),
                    ins.args.len(),
                    ins.op.arity()
                ));
            }
            if let Some(a) = ins.args.iter().find(|&&a| a >= reg) {
                return bad(format!(
                    "instruction {k} ({}) reads register {a}, not yet written (it writes {reg})",
                    ins.op.name()
                ));
            }
        }
        let regs = inputs + instrs.len();
        for (i, &o) in outputs.iter().enumerate() {
            if o < inputs || o >= regs || outputs[..i].contains(&o) {
                return bad(format!(
                    "output register {o} is not an instruction's result named once \
                     (instructions write registers {inputs}..{regs})"
                ));
            }
        }
        Ok(FusedProgram {
            inputs,
            instrs,
            outputs,
        })
    }

    /// Number of input tensors.
    pub fn num_inputs(&self) -> usize {
        self.inputs
    }

    /// The instructions, in order.
    pub fn instrs(&self) -> &[Instr] {
        &self.instrs
    }

    /// The registers returned, in order.
    pub fn outputs(&self) -> &[usize] {
        &self.outputs
    }

    /// Runs the program over `inputs` (each of shape `shape`, any layout: broadcast views
    /// are read with their zero strides) and returns one contiguous tensor per output.
    pub fn run<T: Element>(
        &self,
        inputs: &[&Tensor<T>],
        shape: &[usize],
    ) -> Result<Vec<Tensor<T>>> {
        let inputs: Vec<Option<&Tensor<T>>> = inputs.iter().map(|&t| Some(t)).collect();
        self.run_impl(&inputs, shape, None)
    }

    /// Like [`Self::run`], with output `output` written into `target`'s buffer, which holds
    /// input `input` (`inputs[input]` is `None`): each tile of that input is read before the
    /// tile of the output overwrites it, so an operand that dies here lends its memory, as
    /// unfused elementwise ops do. `target` is made contiguous and unshared first
    /// ([`Tensor::data_mut`]) if it is not.
    pub fn run_in_place<T: Element>(
        &self,
        inputs: &[Option<&Tensor<T>>],
        shape: &[usize],
        target: Tensor<T>,
        input: usize,
        output: usize,
    ) -> Result<Vec<Tensor<T>>> {
        if inputs.get(input).is_none_or(|t| t.is_some()) || output >= self.outputs.len() {
            return Err(TensorError::shape(
                "fused program",
                format!(
                    "in place needs input {input} absent (of {}) and output {output} (of {})",
                    inputs.len(),
                    self.outputs.len()
                ),
            ));
        }
        self.run_impl(inputs, shape, Some((input, output, target)))
    }

    fn run_impl<T: Element>(
        &self,
        inputs: &[Option<&Tensor<T>>],
        shape: &[usize],
        in_place: Option<(usize, usize, Tensor<T>)>,
    ) -> Result<Vec<Tensor<T>>> {
        if inputs.len() != self.inputs {
            return Err(TensorError::shape(
                "fused program",
                format!("takes {} inputs, got {}", self.inputs, inputs.len()),
            ));
        }
        let given = inputs
            .iter()
            .map(|t| t.map(|t| t.shape()))
            .chain(in_place.iter().map(|(_, _, t)| Some(t.shape())));
        if let Some((i, got)) = given
            .enumerate()
            .find_map(|(i, s)| s.filter(|&s| s != shape).map(|s| (i, s)))
        {
            return Err(TensorError::shape(
                "fused program",
                format!("input {i} has shape {got:?}, the program runs at {shape:?}"),
            ));
        }
        let n = numel(shape);
        let readers: Vec<Option<Reader<'_, T>>> =
            inputs.iter().map(|t| t.map(Reader::new)).collect();
        let (target_input, target_output, mut target) = match in_place {
            Some((i, o, t)) => (Some(i), Some(o), Some(t)),
            None => (None, None, None),
        };
        // Exactly the in-place input is absent: the tile loop reads an absent input from the
        // in-place buffer.
        if let Some(i) =
            (0..inputs.len()).find(|&i| inputs[i].is_none() != (Some(i) == target_input))
        {
            return Err(TensorError::shape(
                "fused program",
                format!("input {i} is absent but not the one written over in place"),
            ));
        }
        let fresh_count = self.outputs.len() - usize::from(target_output.is_some());
        let mut outs: SmallVec<[Vec<T>; 4]> =
            (0..fresh_count).map(|_| buffers::uninit(n)).collect();
        {
            let spans = Spans {
                fresh: outs
                    .iter_mut()
                    .map(|v| &mut v.spare_capacity_mut()[..n])
                    .collect(),
                target: target.as_mut().map(|t| t.data_mut()),
            };
            let plan = SpanPlan {
                readers: &readers,
                target_output,
            };
            if n >= PARALLEL_THRESHOLD {
                // One task per run of tiles; each task owns its slices of every output.
                let tasks = spans.split(n, TILE * TILES_PER_TASK);
                // One scratch of registers per worker, not per task.
                tasks.into_par_iter().for_each_init(
                    || self.scratch(),
                    |scratch, mut span| self.run_span_best(&plan, &mut span, scratch),
                );
            } else {
                let mut span = Span {
                    start: 0,
                    len: n,
                    fresh: spans.fresh,
                    target: spans.target,
                };
                self.run_span_best(&plan, &mut span, &mut self.scratch());
            }
        }
        let mut fresh = outs.into_iter().map(|mut v| {
            // SAFETY: `run_span` wrote every element of each fresh output's first `n` slots
            // (the spans partition 0..n, and a span writes each output tile it covers in
            // full), and `n` is within the capacity reserved above.
            unsafe { v.set_len(n) };
            Tensor::from_kernel(v, shape)
        });
        (0..self.outputs.len())
            .map(|k| {
                let t = if Some(k) == target_output {
                    target.take()
                } else {
                    fresh.next()
                };
                t.ok_or_else(|| TensorError::shape("fused program", "an output went missing"))
            })
            .collect()
    }

    /// One tile per register.
    fn scratch<T: Element>(&self) -> ScratchBuf<T> {
        ScratchBuf::zeroed((self.inputs + self.instrs.len()) * TILE)
    }

    /// [`Self::run_span`] compiled for the widest vector unit this CPU has: the tile loops
    /// are plain Rust, which the baseline x86-64 target compiles to 4-lane SSE2, so a copy
    /// built for AVX-512 (or AVX2) runs them 4 (2) times wider. The arithmetic is the same
    /// IEEE operations either way, so every copy gives the same bits.
    fn run_span_best<T: Element>(
        &self,
        plan: &SpanPlan<'_, T>,
        span: &mut Span<'_, T>,
        scratch: &mut [T],
    ) {
        #[cfg(target_arch = "x86_64")]
        {
            if std::is_x86_feature_detected!("avx512f") && std::is_x86_feature_detected!("avx512dq")
            {
                // SAFETY: the CPU has the features the copy is compiled for (checked above).
                return unsafe { self.run_span_avx512(plan, span, scratch) };
            }
            if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
                // SAFETY: as above.
                return unsafe { self.run_span_avx2(plan, span, scratch) };
            }
        }
        self.run_span(plan, span, scratch)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512dq,avx512vl,avx512bw,avx2,fma")]
    fn run_span_avx512<T: Element>(
        &self,
        plan: &SpanPlan<'_, T>,
        span: &mut Span<'_, T>,
        scratch: &mut [T],
    ) {
        self.run_span(plan, span, scratch)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    fn run_span_avx2<T: Element>(
        &self,
        plan: &SpanPlan<'_, T>,
        span: &mut Span<'_, T>,
        scratch: &mut [T],
    ) {
        self.run_span(plan, span, scratch)
    }

    /// Evaluates the elements `span.start..span.start + span.len` tile by tile, writing every
    /// element of the span's slice of each output.
    #[inline(always)]
    fn run_span<T: Element>(
        &self,
        plan: &SpanPlan<'_, T>,
        span: &mut Span<'_, T>,
        scratch: &mut [T],
    ) {
        let (start, len) = (span.start, span.len);
        let mut borrowed: SmallVec<[Option<&[T]>; 8]> = SmallVec::with_capacity(self.inputs);
        let mut done = 0;
        while done < len {
            let t = TILE.min(len - done);
            let at = start + done;
            // Inputs: contiguous ones are read where they are; the rest are gathered.
            borrowed.clear();
            for (i, r) in plan.readers.iter().enumerate() {
                let reg = &mut scratch[i * TILE..i * TILE + t];
                match r {
                    Some(r) => match r.contiguous(at, t) {
                        Some(s) => borrowed.push(Some(s)),
                        None => {
                            r.gather(at, reg);
                            borrowed.push(None);
                        }
                    },
                    // The input written over in place: this tile, before it is overwritten.
                    None => {
                        if let Some(target) = span.target.as_deref() {
                            reg.copy_from_slice(&target[done..done + t]);
                        }
                        borrowed.push(None);
                    }
                }
            }
            for (k, ins) in self.instrs.iter().enumerate() {
                let reg = self.inputs + k;
                let (before, after) = scratch.split_at_mut(reg * TILE);
                let out = &mut after[..t];
                let arg = |a: usize| -> &[T] {
                    match borrowed.get(a) {
                        Some(Some(s)) => s,
                        _ => &before[a * TILE..a * TILE + t],
                    }
                };
                match ins.op {
                    Pointwise::Unary(u) => u.dispatch(UnaryTile {
                        x: arg(ins.args[0]),
                        out,
                    }),
                    Pointwise::Binary(b) => b.dispatch(BinaryTile {
                        a: arg(ins.args[0]),
                        b: arg(ins.args[1]),
                        out,
                    }),
                    Pointwise::Compare(c) => c.dispatch(BinaryTile {
                        a: arg(ins.args[0]),
                        b: arg(ins.args[1]),
                        out,
                    }),
                    Pointwise::Select => {
                        let (c, a, b) = (arg(ins.args[0]), arg(ins.args[1]), arg(ins.args[2]));
                        for (((o, &c), &a), &b) in out.iter_mut().zip(c).zip(a).zip(b) {
                            *o = if c != T::zero() { a } else { b };
                        }
                    }
                }
            }
            let mut fresh = span.fresh.iter_mut();
            for (k, &reg) in self.outputs.iter().enumerate() {
                let src = &scratch[reg * TILE..reg * TILE + t];
                if Some(k) == plan.target_output {
                    if let Some(target) = span.target.as_deref_mut() {
                        target[done..done + t].copy_from_slice(src);
                    }
                } else if let Some(d) = fresh.next() {
                    d[done..done + t].write_copy_of_slice(src);
                }
            }
            done += t;
        }
    }
}

/// What every span of one run shares: how to read each input (`None`: the input written over
/// in place), and which output goes into the in-place buffer.
struct SpanPlan<'a, T: Element> {
    readers: &'a [Option<Reader<'a, T>>],
    target_output: Option<usize>,
}

/// The whole run's output memory: each fresh output's uninitialised slots, and the in-place
/// buffer.
struct Spans<'a, T> {
    fresh: FreshSlices<'a, T>,
    target: Option<&'a mut [T]>,
}

impl<'a, T> Spans<'a, T> {
    /// Cuts every buffer at the same places into spans of `chunk` elements (the last shorter).
    fn split(self, n: usize, chunk: usize) -> Vec<Span<'a, T>> {
        let mut spans = Vec::with_capacity(n.div_ceil(chunk));
        let (mut fresh, mut target) = (self.fresh, self.target);
        let mut start = 0;
        while start < n {
            let len = chunk.min(n - start);
            let (mut mine, mut later) = (FreshSlices::new(), FreshSlices::new());
            for s in fresh {
                let (a, b) = s.split_at_mut(len);
                mine.push(a);
                later.push(b);
            }
            let (t_mine, t_later) = match target {
                Some(t) => {
                    let (a, b) = t.split_at_mut(len);
                    (Some(a), Some(b))
                }
                None => (None, None),
            };
            spans.push(Span {
                start,
                len,
                fresh: mine,
                target: t_mine,
            });
            fresh = later;
            target = t_later;
            start += len;
        }
        spans
    }
}

/// Each fresh output's slots in one span: inline for up to 6 outputs, so splitting a run
/// into tasks allocates nothing in the common case.
type FreshSlices<'a, T> = SmallVec<[&'a mut [MaybeUninit<T>]; 6]>;

/// One task's part of a run: elements `start..start + len` of every output.
struct Span<'a, T> {
    start: usize,
    len: usize,
    fresh: FreshSlices<'a, T>,
    target: Option<&'a mut [T]>,
}

/// Most axes a gathered input may keep after merging (the gather's fixed multi-index).
const MAX_GATHER_RANK: usize = 8;

/// An input's layout, simplified for reading runs of its row-major elements.
struct Reader<'a, T: Element> {
    storage: Cow<'a, [T]>,
    /// Contiguous over its whole extent: element `i` is `storage[offset + i]`.
    contiguous: bool,
    layout: Layout,
}

impl<'a, T: Element> Reader<'a, T> {
    fn new(t: &'a Tensor<T>) -> Self {
        let layout = merge_axes(t.layout());
        if t.is_contiguous() || layout.rank() <= MAX_GATHER_RANK {
            Reader {
                storage: Cow::Borrowed(&t.storage[..]),
                contiguous: t.is_contiguous(),
                layout,
            }
        } else {
            // A view of more than 8 irregular axes: read a row-major copy instead.
            Reader {
                storage: Cow::Owned(t.to_vec()),
                contiguous: true,
                layout: Layout::contiguous(t.shape()),
            }
        }
    }

    /// Elements `at..at + len` in place, when the input is contiguous.
    fn contiguous(&self, at: usize, len: usize) -> Option<&[T]> {
        let o = self.layout.offset() + at;
        self.contiguous.then(|| &self.storage[o..o + len])
    }

    /// Copies elements `at..at + out.len()` (row-major order) into `out`, a run along the
    /// last axis at a time: a fill for a broadcast axis, a copy for a unit stride.
    fn gather(&self, at: usize, out: &mut [T]) {
        let shape = self.layout.shape();
        let strides = self.layout.strides();
        let rank = shape.len();
        if rank == 0 {
            out.fill(self.storage[self.layout.offset()]);
            return;
        }
        // The multi-index of element `at`, and its storage offset.
        let mut index = [0usize; MAX_GATHER_RANK];
        let mut off = self.layout.offset();
        let mut rem = at;
        for ax in (0..rank).rev() {
            index[ax] = rem % shape[ax];
            rem /= shape[ax];
            off += index[ax] * strides[ax];
        }
        let (last, step) = (shape[rank - 1], strides[rank - 1]);
        let mut filled = 0;
        while filled < out.len() {
            let run = (last - index[rank - 1]).min(out.len() - filled);
            let dst = &mut out[filled..filled + run];
            match step {
                0 => dst.fill(self.storage[off]),
                1 => dst.copy_from_slice(&self.storage[off..off + run]),
                _ => {
                    for (k, d) in dst.iter_mut().enumerate() {
                        *d = self.storage[off + k * step];
                    }
                }
            }
            filled += run;
            // Advance the multi-index by `run` elements: to the start of the next row.
            index[rank - 1] += run;
            off += run * step;
            if index[rank - 1] == last {
                off -= last * step;
                index[rank - 1] = 0;
                for ax in (0..rank - 1).rev() {
                    index[ax] += 1;
                    off += strides[ax];
                    if index[ax] < shape[ax] {
                        break;
                    }
                    off -= strides[ax] * shape[ax];
                    index[ax] = 0;
                }
            }
        }
    }
}

/// The same view with adjacent axes merged wherever the outer one steps exactly over the
/// inner one (`stride[a] = stride[a+1]·shape[a+1]`), and unit axes dropped, so runs along
/// the last axis are as long as the layout allows (`[N, C, H, W]` broadcast from `[1, C, 1,
/// 1]` becomes `[N, C, H·W]` with strides `[0, 1, 0]`). At most 8 axes remain, which the
/// gather's fixed index needs: a view with more is made of merged runs anyway or rare enough
/// to read through a contiguous copy.
fn merge_axes(l: &Layout) -> Layout {
    let mut shape = Dims::new();
    let mut strides = Dims::new();
    for (&d, &s) in l.shape().iter().zip(l.strides()) {
        if d == 1 {
            continue;
        }
        match (shape.last_mut(), strides.last()) {
            (Some(pd), Some(&ps)) if ps == s * d => {
                *pd *= d;
                *strides.last_mut().unwrap() = s;
            }
            _ => {
                shape.push(d);
                strides.push(s);
            }
        }
    }
    Layout::from_parts(&shape, &strides, l.offset())
}

/// `out[i] = f(x[i])` over one tile.
struct UnaryTile<'a, T> {
    x: &'a [T],
    out: &'a mut [T],
}

impl<T: Element> UnaryVisitor<T> for UnaryTile<'_, T> {
    type Out = ();
    #[inline(always)]
    fn run(self, f: impl Fn(T) -> T + Sync + Send + Copy) {
        for (o, &x) in self.out.iter_mut().zip(self.x) {
            *o = f(x);
        }
    }
}

/// `out[i] = f(a[i], b[i])` over one tile.
struct BinaryTile<'a, T> {
    a: &'a [T],
    b: &'a [T],
    out: &'a mut [T],
}

impl<T: Element> BinaryVisitor<T> for BinaryTile<'_, T> {
    type Out = ();
    #[inline(always)]
    fn run(self, f: impl Fn(T, T) -> T + Sync + Send + Copy) {
        for ((o, &a), &b) in self.out.iter_mut().zip(self.a).zip(self.b) {
            *o = f(a, b);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instr(op: Pointwise, args: &[usize]) -> Instr {
        Instr {
            op,
            args: args.to_vec(),
        }
    }

    /// BatchNorm's forward tail, `relu((x − m)·s·γ + β)`, with the per-channel operands as
    /// broadcast views, against the same ops run one pass each: the same bits, at sizes
    /// below and above the parallel threshold, on a strided (permuted, narrowed) `x` too.
    #[test]
    fn fused_chain_matches_op_by_op_bitwise() {
        for &(n, c, hw) in &[(2, 3, 5), (4, 16, 33), (8, 64, 64), (1, 1, 1), (3, 7, 1)] {
            let shape = [n, c, hw, hw];
            let per_channel = |seed| {
                Tensor::<f32>::normal(&[1, c, 1, 1], 0.0, 1.0, seed)
                    .unwrap()
                    .broadcast_to(&shape)
                    .unwrap()
            };
            let (m, s, gamma, beta) = (
                per_channel(1),
                per_channel(2),
                per_channel(3),
                per_channel(4),
            );
            let dense = Tensor::<f32>::normal(&shape, 0.0, 1.0, 5).unwrap();
            // The same values read through a permuted, narrowed view of a larger buffer.
            let strided = Tensor::<f32>::normal(&[hw, n, c + 2, hw], 0.0, 1.0, 6)
                .unwrap()
                .narrow(2, 1, c)
                .unwrap()
                .permute(&[1, 2, 0, 3])
                .unwrap();
            for x in [&dense, &strided] {
                let want_centred = x.sub(&m).unwrap();
                let want = want_centred
                    .mul(&s)
                    .unwrap()
                    .mul(&gamma)
                    .unwrap()
                    .add(&beta)
                    .unwrap()
                    .relu();
                let p = FusedProgram::new(
                    5,
                    vec![
                        instr(Pointwise::Binary(Binary::Sub), &[0, 1]),
                        instr(Pointwise::Binary(Binary::Mul), &[5, 2]),
                        instr(Pointwise::Binary(Binary::Mul), &[6, 3]),
                        instr(Pointwise::Binary(Binary::Add), &[7, 4]),
                        instr(Pointwise::Unary(Unary::Relu), &[8]),
                    ],
                    vec![9, 5],
                )
                .unwrap();
                let got = p.run(&[x, &m, &s, &gamma, &beta], &shape).unwrap();
                assert_eq!(got[0].to_vec(), want.to_vec(), "{shape:?}");
                assert_eq!(got[1].to_vec(), want_centred.to_vec(), "{shape:?}");
                assert!(got.iter().all(|t| t.is_contiguous() && t.shape() == shape));
            }
        }
    }

    /// Comparisons, select and a register read twice, on f64 (what gradient checks run in).
    #[test]
    fn masks_select_and_repeated_registers() {
        let shape = [5, 7000];
        let a = Tensor::<f64>::normal(&shape, 0.0, 1.0, 7).unwrap();
        let b = Tensor::<f64>::normal(&[7000], 0.0, 1.0, 8)
            .unwrap()
            .broadcast_to(&shape)
            .unwrap();
        let p = FusedProgram::new(
            2,
            vec![
                instr(Pointwise::Compare(Compare::Gt), &[0, 1]),
                instr(Pointwise::Binary(Binary::Mul), &[0, 0]),
                instr(Pointwise::Select, &[2, 3, 1]),
            ],
            vec![4],
        )
        .unwrap();
        let got = p.run(&[&a, &b], &shape).unwrap();
        let want = Tensor::select(&a.gt(&b).unwrap(), &a.mul(&a).unwrap(), &b).unwrap();
        assert_eq!(got[0].to_vec(), want.to_vec());
    }

    #[test]
    fn malformed_programs_and_inputs_are_refused() {
        let add = |args: &[usize]| instr(Pointwise::Binary(Binary::Add), args);
        let e = FusedProgram::new(1, vec![add(&[0, 1])], vec![1]).unwrap_err();
        assert!(e.to_string().contains("reads register 1"), "{e}");
        let e = FusedProgram::new(1, vec![add(&[0])], vec![1]).unwrap_err();
        assert!(e.to_string().contains("needs 2"), "{e}");
        let e = FusedProgram::new(1, vec![add(&[0, 0])], vec![0]).unwrap_err();
        assert!(e.to_string().contains("output register 0"), "{e}");
        let e = FusedProgram::new(1, vec![add(&[0, 0])], vec![1, 1]).unwrap_err();
        assert!(e.to_string().contains("output register 1"), "{e}");
        let p = FusedProgram::new(1, vec![add(&[0, 0])], vec![1]).unwrap();
        let x = Tensor::<f32>::zeros(&[2, 3]);
        let e = p.run(&[&x], &[3, 2]).unwrap_err();
        assert!(
            e.to_string().contains("[2, 3]") && e.to_string().contains("[3, 2]"),
            "{e}"
        );
        let e = p.run(&[&x, &x], &[2, 3]).unwrap_err();
        assert!(e.to_string().contains("takes 1 inputs, got 2"), "{e}");
    }

    /// Written in place over a dying input, the outputs are the bits of a fresh run, and the
    /// input's buffer is the output's (no new allocation for it).
    #[test]
    fn in_place_over_an_input_gives_the_same_bits() {
        for &n in &[37usize, 40_000] {
            let shape = [n, 3];
            let x = Tensor::<f32>::normal(&shape, 0.0, 1.0, 1).unwrap();
            let y = Tensor::<f32>::normal(&[3], 0.0, 1.0, 2)
                .unwrap()
                .broadcast_to(&shape)
                .unwrap();
            let p = FusedProgram::new(
                2,
                vec![
                    instr(Pointwise::Binary(Binary::Mul), &[0, 1]),
                    instr(Pointwise::Unary(Unary::Tanh), &[2]),
                    instr(Pointwise::Binary(Binary::Sub), &[3, 0]),
                ],
                vec![2, 4],
            )
            .unwrap();
            let want = p.run(&[&x, &y], &shape).unwrap();
            // The only reference to x's buffer goes in as the target.
            let target = x.contiguous().map(|v| v);
            let before = target.data().as_ptr();
            let got = p
                .run_in_place(&[None, Some(&y)], &shape, target, 0, 1)
                .unwrap();
            assert_eq!(got[0].to_vec(), want[0].to_vec(), "{n}");
            assert_eq!(got[1].to_vec(), want[1].to_vec(), "{n}");
            assert_eq!(got[1].data().as_ptr(), before, "{n}: written in place");
            let e = p
                .run_in_place(&[None, None], &shape, x.clone(), 0, 1)
                .unwrap_err();
            assert!(e.to_string().contains("input 1 is absent"), "{e}");
            let e = p
                .run_in_place(&[Some(&x), Some(&y)], &shape, x.clone(), 0, 1)
                .unwrap_err();
            assert!(
                e.to_string().contains("in place needs input 0 absent"),
                "{e}"
            );
        }
    }

    #[test]
    fn merging_axes_keeps_the_element_order() {
        let t = Tensor::<f32>::arange(24).reshape(&[2, 3, 4]).unwrap();
        let l = merge_axes(t.layout());
        assert_eq!((l.shape(), l.strides()), (&[24][..], &[1][..]));
        let b = Tensor::<f32>::arange(3)
            .reshape(&[1, 3, 1, 1])
            .unwrap()
            .broadcast_to(&[2, 3, 4, 5])
            .unwrap();
        let l = merge_axes(b.layout());
        assert_eq!((l.shape(), l.strides()), (&[2, 3, 20][..], &[0, 1, 0][..]));
        let mut out = vec![0.0; 37];
        Reader::new(&b).gather(41, &mut out);
        assert_eq!(out, b.to_vec()[41..78].to_vec());
    }
}
