//! The op set is open: an op defined outside the crate — here SiLU with a slope parameter,
//! `y = x·σ(βx)` — gets shape checks, in-place planning, profiles and gradients of any order
//! through the same rule interface as the built-in ops.

mod common;

use common::{Domain, check_op, sample};
use convnet_autograd::{
    AutogradError, EvalArgs, EvalError, Feeds, GradCtx, Grads, Graph, GraphOptions, Indices,
    OpRule, OutputBuffer, ParamStore, Plan, RuleError, RunOptions, Shape, rule::arity,
};
use convnet_tensor::scalar::sigmoid;
use convnet_tensor::{Element, Tensor};
use smallvec::smallvec;

/// `y = x·σ(βx)` (Swish; SiLU at β = 1). Its derivative, written with graph ops so that it
/// differentiates again: `dy/dx = s + βx·s·(1 − s)` with `s = σ(βx)`.
#[derive(Debug, Clone, Copy)]
struct Swish {
    beta: f64,
}

impl Swish {
    fn value(self, x: f64) -> f64 {
        x * sigmoid(self.beta * x)
    }
}

impl<T: Element> OpRule<T> for Swish {
    fn name(&self) -> &'static str {
        "swish"
    }

    fn describe(&self) -> String {
        format!("swish β={}", self.beta)
    }

    fn shape(&self, inputs: &[&Shape], _: &GraphOptions) -> Result<Shape, RuleError> {
        arity(inputs, 1)?;
        Ok(inputs[0].clone())
    }

    fn output_buffer(&self) -> OutputBuffer {
        OutputBuffer::Elementwise
    }

    fn eval(&self, args: &EvalArgs<'_, T>) -> Result<Tensor<T>, EvalError> {
        let op = *self;
        Ok(args
            .tensor(0)?
            .map(move |v| T::of_f64(op.value(v.as_f64()))))
    }

    fn eval_in_place(
        &self,
        target: &mut Tensor<T>,
        _pos: usize,
        _args: &EvalArgs<'_, T>,
    ) -> Result<(), EvalError> {
        let op = *self;
        *target = target.map(move |v| T::of_f64(op.value(v.as_f64())));
        Ok(())
    }

    fn grad(&self, cx: &mut GradCtx<'_, T>) -> convnet_autograd::Result<Grads> {
        let (x, gy) = (cx.input(0), cx.grad_output());
        let g = cx.graph();
        let bx = g.scale(x, self.beta)?;
        let s = g.sigmoid(bx)?;
        let one_minus = g.neg(s)?;
        let one_minus = g.add_scalar(one_minus, 1.0)?;
        let t = g.mul(bx, s)?;
        let t = g.mul(t, one_minus)?;
        let slope = g.add(s, t)?;
        Ok(smallvec![Some(g.mul(slope, gy)?)])
    }

    fn kernel(&self, _inputs: &[&[usize]]) -> Option<String> {
        Some("scalar map".into())
    }
}

#[test]
fn a_user_op_checks_to_second_order_contiguous_and_strided() {
    for strided in [false, true] {
        for beta in [1.0, 1.7] {
            check_op(
                "swish",
                &[(vec![3, 4], Domain::Range(-3.0, 3.0))],
                |g, v| g.apply(Swish { beta }, &[v[0]]),
                1e-6,
                true,
                strided,
                11,
            );
        }
    }
}

#[test]
fn a_user_op_composes_with_built_in_ops_and_their_gradients() {
    // Swish inside a small network: gradients w.r.t. the input and a parameter, second order.
    check_op(
        "matmul → swish → sum",
        &[
            (vec![2, 3], Domain::Range(-1.0, 1.0)),
            (vec![3, 4], Domain::Range(-1.0, 1.0)),
        ],
        |g, v| {
            let h = g.matmul(v[0], v[1])?;
            let y = g.apply(Swish { beta: 1.0 }, &[h])?;
            g.exp(y)
        },
        1e-6,
        true,
        true,
        12,
    );
}

#[test]
fn the_planner_asks_the_op_and_runs_it_in_place() {
    let mut g = Graph::<f64>::new();
    let x = g.input("x", Shape::with_batch(&[5])).unwrap();
    let h = g.exp(x).unwrap();
    let y = g.apply(Swish { beta: 1.0 }, &[h]).unwrap();
    assert_eq!(g.node(y).unwrap().op.describe(), "swish β=1");
    assert_eq!(g.node(y).unwrap().op.rule_as::<Swish>().unwrap().beta, 1.0);
    let plan = Plan::compile(&g, &[y], Some(2)).unwrap();
    // `exp(x)` dies at the swish node, which overwrites it.
    assert_eq!(plan.in_place_steps(), 1);
    let xv = sample(&[2, 5], Domain::Range(-2.0, 2.0), 3);
    let feeds = Feeds::new().with(x, xv.clone());
    let params = ParamStore::new();
    let out = plan
        .run_with(
            &feeds,
            &params,
            RunOptions {
                profile: true,
                ..RunOptions::default()
            },
        )
        .unwrap();
    let want: Vec<f64> = xv
        .to_vec()
        .iter()
        .map(|v| Swish { beta: 1.0 }.value(v.exp()))
        .collect();
    let got = out.outputs[0].to_vec();
    for (a, b) in got.iter().zip(&want) {
        assert!((a - b).abs() < 1e-14, "{a} vs {b}");
    }
    let swish = out.timings.iter().find(|t| t.op == "swish").unwrap();
    assert_eq!(swish.kernel.as_deref(), Some("scalar map"));
    assert_eq!(
        plan.kernels().collect::<Vec<_>>(),
        vec![("swish", "scalar map")]
    );
}

/// A rule whose gradient has the wrong shape is named when `grad` runs, instead of being
/// broadcast into a wrong answer.
#[derive(Debug)]
struct BadGradient;

impl<T: Element> OpRule<T> for BadGradient {
    fn name(&self) -> &'static str {
        "bad_gradient"
    }
    fn shape(&self, inputs: &[&Shape], _: &GraphOptions) -> Result<Shape, RuleError> {
        arity(inputs, 1)?;
        Ok(inputs[0].clone())
    }
    fn eval(&self, args: &EvalArgs<'_, T>) -> Result<Tensor<T>, EvalError> {
        Ok(args.tensor(0)?.clone())
    }
    fn grad(&self, cx: &mut GradCtx<'_, T>) -> convnet_autograd::Result<Grads> {
        let gy = cx.grad_output();
        let g = cx.graph();
        Ok(smallvec![Some(g.sum_all(gy)?)])
    }
}

#[test]
fn a_wrong_gradient_shape_is_reported_naming_the_op() {
    let mut g = Graph::<f64>::new();
    let x = g.input("x", [3]).unwrap();
    let y = g.scope("layer", |g| g.apply(BadGradient, &[x])).unwrap();
    let s = g.sum_all(y).unwrap();
    let e = convnet_autograd::grad(&mut g, s, &[x]).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, AutogradError::Grad { .. }), "{msg}");
    assert!(msg.contains("layer/bad_gradient"), "{msg}");
    assert!(
        msg.contains("gave shape [] for operand 0 of shape [3]"),
        "{msg}"
    );
}

#[test]
fn index_inputs_feed_labels_as_indices_and_only_where_indices_belong() {
    let mut g = Graph::<f64>::new();
    let logits = g.input("logits", Shape::with_batch(&[3])).unwrap();
    let labels = g.index_input("labels", Shape::with_batch(&[])).unwrap();
    let picked = g.take_along_axis(logits, labels, 1).unwrap();
    let e = g.exp(labels).unwrap_err().to_string();
    assert!(
        e.contains("`labels` holds indices; exp takes a float value"),
        "{e}"
    );
    let plan = Plan::compile(&g, &[picked], Some(2)).unwrap();
    let scores = Tensor::from_vec(vec![0.1, 0.2, 0.3, 1.0, 2.0, 3.0], &[2, 3]).unwrap();
    let feeds = Feeds::new()
        .with(logits, scores.clone())
        .with(labels, Indices::vector(&[2, 0]));
    let out = plan.run(&feeds, &ParamStore::new()).unwrap();
    assert_eq!(out[0].to_vec(), vec![0.3, 1.0]);
    // An out-of-range label names the node.
    let feeds = Feeds::new()
        .with(logits, scores.clone())
        .with(labels, Indices::vector(&[3, 0]));
    let e = plan
        .run(&feeds, &ParamStore::new())
        .unwrap_err()
        .to_string();
    assert!(e.contains("take_along_axis"), "{e}");
    // A tensor fed to the index input is refused, naming it.
    let feeds = Feeds::new()
        .with(logits, scores)
        .with(labels, Tensor::<f64>::zeros(&[2]));
    let e = plan
        .run(&feeds, &ParamStore::new())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("input `labels`: fed a tensor, expected indices"),
        "{e}"
    );
}
