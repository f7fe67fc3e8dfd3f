//! The op table: every differentiable op with its input domain and tolerance, checked by
//! central finite differences (first order for all, second order for smooth and linear ops),
//! with proptest choosing shapes, strides, padding, dilation, groups and window sizes.
//!
//! | family   | ops                                                     | domain           | 2nd order |
//! |----------|---------------------------------------------------------|------------------|-----------|
//! | unary    | neg exp sin cos tanh sigmoid softplus square scale ...  | [-2, 2]          | yes       |
//! | unary    | ln sqrt rsqrt recip powf                                | [0.5, 2]         | yes       |
//! | unary    | abs relu leaky_relu elu                                 | away from 0      | yes (0 a.e.) |
//! | binary   | add sub mul div pow maximum minimum (+ broadcasting)    | per op           | yes       |
//! | select   | select(cond, a, b) (cond: no gradient)                  | [-2, 2]          | yes       |
//! | reduce   | sum mean var max min                                    | distinct for max | yes       |
//! | movement | reshape permute expand narrow pad concat                | [-2, 2]          | yes       |
//! | matmul   | matmul, linear                                          | [-2, 2]          | yes       |
//! | softmax  | softmax, log_softmax                                    | [-2, 2]          | yes       |
//! | index    | take_along_axis, put_along_axis (indices: none)         | [-2, 2]          | yes       |
//! | conv     | conv2d, conv2d_input_grad, conv2d_weight_grad           | [-1, 1]          | yes       |
//! | pool     | avg_pool2d (+grad), max_pool2d (+grad, select)          | distinct for max | yes       |
//!
//! Tolerances are relative (rtol) with atol = rtol/100; f64 with ε = 1e-6.

mod common;

use common::{Domain, check_op};
use convnet_autograd::{Conv2dParams, Graph, NodeId, Pool2dParams, Result, UnaryOp};
use proptest::prelude::*;

type Build = fn(&mut Graph<f64>, &[NodeId]) -> Result<NodeId>;

const ANY: Domain = Domain::Range(-2.0, 2.0);
const POS: Domain = Domain::Range(0.5, 2.0);

fn unary_table() -> Vec<(UnaryOp, Domain)> {
    use UnaryOp::*;
    vec![
        (Neg, ANY),
        (Exp, ANY),
        (Sin, ANY),
        (Cos, ANY),
        (Tanh, ANY),
        (Sigmoid, ANY),
        (Softplus, ANY),
        (Square, ANY),
        (Scale(-1.5), ANY),
        (AddScalar(0.3), ANY),
        (Ln, POS),
        (Sqrt, POS),
        (Rsqrt, POS),
        (Recip, POS),
        (Powf(2.5), POS),
        (Abs, Domain::AwayFromZero),
        (Relu, Domain::AwayFromZero),
        (LeakyRelu(0.1), Domain::AwayFromZero),
        (Elu(0.7), Domain::AwayFromZero),
    ]
}

fn binary_table() -> Vec<(&'static str, Build, Domain, Domain)> {
    vec![
        ("add", |g, x| g.add(x[0], x[1]), ANY, ANY),
        ("sub", |g, x| g.sub(x[0], x[1]), ANY, ANY),
        ("mul", |g, x| g.mul(x[0], x[1]), ANY, ANY),
        ("div", |g, x| g.div(x[0], x[1]), ANY, POS),
        ("pow", |g, x| g.pow(x[0], x[1]), POS, ANY),
        (
            "maximum",
            |g, x| g.maximum(x[0], x[1]),
            Domain::Distinct,
            ANY,
        ),
        (
            "minimum",
            |g, x| g.minimum(x[0], x[1]),
            Domain::Distinct,
            ANY,
        ),
        (
            "select",
            |g, x| {
                let c = g.gt(x[0], x[1])?;
                g.select(c, x[0], x[1])
            },
            Domain::Distinct,
            ANY,
        ),
    ]
}

fn shape_strategy() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(1usize..4, 1..4)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    #[test]
    fn unary_ops(shape in shape_strategy(), strided in any::<bool>(), seed in 0u64..1000) {
        for (op, d) in unary_table() {
            check_op(&format!("{op:?}"), &[(shape.clone(), d)], |g, x| g.unary(op, x[0]), 1e-5, true, strided, seed);
        }
    }

    #[test]
    fn binary_ops_with_broadcasting(shape in shape_strategy(), bcast in 0usize..3, strided in any::<bool>(), seed in 0u64..1000) {
        // Second operand: same shape, its last axis only, or size-1 leading axes.
        let other: Vec<usize> = match bcast {
            0 => shape.clone(),
            1 => vec![*shape.last().unwrap()],
            _ => shape.iter().enumerate().map(|(i, &d)| if i + 1 == shape.len() { d } else { 1 }).collect(),
        };
        for (name, build, da, db) in binary_table() {
            // Distinct domains need the full shape on both sides to avoid ties after expand.
            let ob = if matches!(da, Domain::Distinct) { shape.clone() } else { other.clone() };
            check_op(name, &[(shape.clone(), da), (ob, db)], build, 1e-5, true, strided, seed);
        }
    }

    #[test]
    fn reductions(shape in shape_strategy(), axis_mask in 0usize..8, keep in any::<bool>(), seed in 0u64..1000) {
        let axes: Vec<usize> = (0..shape.len()).filter(|a| axis_mask & (1 << a) != 0).collect();
        let a = axes.clone();
        check_op("sum", &[(shape.clone(), ANY)], move |g, x| g.sum(x[0], &a, keep), 1e-6, true, false, seed);
        let a = axes.clone();
        check_op("mean", &[(shape.clone(), ANY)], move |g, x| g.mean(x[0], &a, keep), 1e-6, true, false, seed);
        let a = axes.clone();
        check_op("max", &[(shape.clone(), Domain::Distinct)], move |g, x| g.max(x[0], &a, keep), 1e-6, true, false, seed);
        let a = axes.clone();
        check_op("min", &[(shape.clone(), Domain::Distinct)], move |g, x| g.min(x[0], &a, keep), 1e-6, true, false, seed);
        let a = axes.clone();
        let n: usize = if axes.is_empty() { shape.iter().product() } else { axes.iter().map(|&i| shape[i]).product() };
        if n > 1 {
            check_op("var", &[(shape.clone(), ANY)], move |g, x| g.var(x[0], &a, keep, 1), 1e-5, true, false, seed);
        }
    }

    #[test]
    fn movement(shape in prop::collection::vec(1usize..4, 2..4), pad in (0usize..3, 0usize..3), seed in 0u64..1000, strided in any::<bool>()) {
        let s = shape.clone();
        let r = s.len();
        check_op("reshape", &[(s.clone(), ANY)], move |g, x| g.reshape(x[0], vec![s.iter().product::<usize>()]), 1e-6, true, strided, seed);
        let s = shape.clone();
        check_op("permute", &[(s.clone(), ANY)], move |g, x| {
            let axes: Vec<usize> = (0..r).rev().collect();
            g.permute(x[0], &axes)
        }, 1e-6, true, strided, seed);
        let mut one = shape.clone();
        one[0] = 1;
        let big = shape.clone();
        check_op("expand", &[(one, ANY)], move |g, x| g.expand(x[0], big.clone()), 1e-6, true, strided, seed);
        let s = shape.clone();
        check_op("narrow", &[(s.clone(), ANY)], move |g, x| g.narrow(x[0], r - 1, s[r - 1] / 2, s[r - 1] - s[r - 1] / 2), 1e-6, true, strided, seed);
        check_op("pad", &[(shape.clone(), ANY)], move |g, x| {
            let mut pads = vec![(0, 0); r];
            pads[r - 1] = pad;
            pads[0] = (pad.1, pad.0);
            g.pad(x[0], &pads, 0.5)
        }, 1e-6, true, strided, seed);
        let mut other = shape.clone();
        other[0] += 1;
        check_op("concat", &[(shape.clone(), ANY), (other, ANY)], |g, x| g.concat(x, 0), 1e-6, true, strided, seed);
    }

    #[test]
    fn matmul_and_linear(m in 1usize..4, k in 1usize..4, n in 1usize..4, batch in 0usize..3, strided in any::<bool>(), seed in 0u64..1000) {
        let lead: Vec<usize> = if batch == 0 { vec![] } else { vec![batch] };
        let a: Vec<usize> = lead.iter().copied().chain([m, k]).collect();
        let b: Vec<usize> = lead.iter().copied().chain([k, n]).collect();
        check_op("matmul", &[(a, ANY), (b, ANY)], |g, x| g.matmul(x[0], x[1]), 1e-6, true, strided, seed);
        check_op("linear", &[(vec![m, k], ANY), (vec![n, k], ANY), (vec![n], ANY)], |g, x| g.linear(x[0], x[1], Some(x[2])), 1e-6, true, strided, seed);
    }

    #[test]
    fn softmax_family(shape in prop::collection::vec(1usize..5, 1..4), axis_pick in 0usize..3, seed in 0u64..1000) {
        let axis = axis_pick % shape.len();
        check_op("softmax", &[(shape.clone(), ANY)], move |g, x| g.softmax(x[0], axis), 1e-5, true, false, seed);
        check_op("log_softmax", &[(shape.clone(), ANY)], move |g, x| g.log_softmax(x[0], axis), 1e-5, true, false, seed);
    }

    #[test]
    fn conv2d_family(
        n in 1usize..3, groups in 1usize..3, cg in 1usize..3, kg in 1usize..3,
        kh in 1usize..4, kw in 1usize..4, stride in 1usize..3, pad in 0usize..2, dil in 1usize..3,
        extra_h in 0usize..3, extra_w in 0usize..3, seed in 0u64..1000,
    ) {
        let p = Conv2dParams { stride: [stride, stride], padding: [pad, pad], dilation: [dil, dil], groups };
        let h = (dil * (kh - 1) + 1).saturating_sub(2 * pad).max(1) + extra_h;
        let w = (dil * (kw - 1) + 1).saturating_sub(2 * pad).max(1) + extra_w;
        let x = vec![n, groups * cg, h, w];
        let wt = vec![groups * kg, cg, kh, kw];
        let y = p.out_hw("test", &x, &wt).unwrap();
        let gy = vec![n, groups * kg, y[0], y[1]];
        let r = Domain::Range(-1.0, 1.0);
        check_op("conv2d", &[(x.clone(), r), (wt.clone(), r)], move |g, v| g.conv2d(v[0], v[1], p), 1e-6, true, false, seed);
        check_op("conv2d_input_grad", &[(gy.clone(), r), (wt.clone(), r)], move |g, v| g.conv2d_input_grad(v[0], v[1], [h, w], p), 1e-6, true, false, seed);
        check_op("conv2d_weight_grad", &[(x, r), (gy, r)], move |g, v| g.conv2d_weight_grad(v[0], v[1], [kh, kw], p), 1e-6, true, false, seed);
    }

    #[test]
    fn pooling(n in 1usize..3, c in 1usize..3, k in 1usize..4, stride in 1usize..3, pad_pick in 0usize..2,
               extra in 0usize..4, ceil in any::<bool>(), include_pad in any::<bool>(), seed in 0u64..1000) {
        let pad = pad_pick.min(k / 2);
        let p = Pool2dParams { kernel: [k, k], stride: [stride, stride], padding: [pad, pad], ceil_mode: ceil, count_include_pad: include_pad };
        let h = k.saturating_sub(2 * pad).max(1) + extra;
        let x = vec![n, c, h, h + 1];
        check_op("avg_pool2d", &[(x.clone(), ANY)], move |g, v| g.avg_pool2d(v[0], p), 1e-6, true, false, seed);
        check_op("max_pool2d", &[(x.clone(), Domain::Distinct)], move |g, v| g.max_pool2d(v[0], p), 1e-6, true, false, seed);
        check_op("global_avg_pool2d", &[(x, ANY)], |g, v| g.global_avg_pool2d(v[0]), 1e-6, true, false, seed);
    }
}

#[test]
fn pooling_adjoints_are_checked_as_ops() {
    // The gradient primitives are themselves differentiable ops: check them directly.
    let p = Pool2dParams::new(2, 2, 0);
    check_op(
        "max_pool2d_grad(x, gy)",
        &[
            (vec![1, 2, 4, 4], Domain::Distinct),
            (vec![1, 2, 2, 2], ANY),
        ],
        move |g, v| {
            g.apply(
                convnet_autograd::ops::pool::PoolOp::MaxPool2dGrad(p),
                &[v[0], v[1]],
            )
        },
        1e-6,
        true,
        false,
        7,
    );
    check_op(
        "max_pool2d_select(x, v)",
        &[
            (vec![1, 2, 4, 4], Domain::Distinct),
            (vec![1, 2, 4, 4], ANY),
        ],
        move |g, v| {
            g.apply(
                convnet_autograd::ops::pool::PoolOp::MaxPool2dSelect(p),
                &[v[0], v[1]],
            )
        },
        1e-6,
        true,
        false,
        8,
    );
    check_op(
        "avg_pool2d_grad",
        &[(vec![1, 2, 2, 2], ANY)],
        move |g, v| {
            let shape = convnet_autograd::Shape::fixed(&[1, 2, 4, 4]);
            g.apply(
                convnet_autograd::ops::pool::PoolOp::AvgPool2dGrad { params: p, shape },
                &[v[0]],
            )
        },
        1e-6,
        true,
        false,
        9,
    );
}

#[test]
fn gather_and_scatter() {
    use convnet_autograd::{Feeds, GradCheckConfig, ParamStore, check_gradients};
    use convnet_tensor::Tensor;
    let mut g = Graph::<f64>::new();
    let x = g.input("x", [4, 5]).unwrap();
    let labels = g.input("labels", [4]).unwrap();
    let v = g.input("v", [4]).unwrap();
    let lp = g.log_softmax(x, 1).unwrap();
    let picked = g.take_along_axis(lp, labels, 1).unwrap();
    let put = g.put_along_axis(labels, v, 1, [4usize, 5]).unwrap();
    let prod = g.mul(put, x).unwrap();
    let s1 = g.sum_all(prod).unwrap();
    let s0 = g.sum_all(picked).unwrap();
    let y = g.add(s0, s1).unwrap();
    let feeds = Feeds::new()
        .with("x", common::sample(&[4, 5], ANY, 1))
        .with("v", common::sample(&[4], ANY, 2))
        .with(
            "labels",
            Tensor::<f64>::from_vec(vec![0.0, 4.0, 2.0, 2.0], &[4]).unwrap(),
        );
    let cfg = GradCheckConfig {
        second_order: true,
        ..GradCheckConfig::default()
    };
    let r = check_gradients(&g, y, &[x, v], &feeds, &ParamStore::new(), &cfg).unwrap();
    assert!(r.passed(), "{}", r.worst);
}

#[test]
fn large_tensors_are_checked_along_random_directions() {
    check_op(
        "tanh large",
        &[(vec![20, 30], ANY)],
        |g, x| g.tanh(x[0]),
        1e-5,
        true,
        false,
        3,
    );
}

#[test]
fn the_checker_catches_a_wrong_gradient() {
    // A jump at 0 that the analytic gradient (through select) does not see.
    use convnet_autograd::{Feeds, GradCheckConfig, ParamStore, check_gradients};
    use convnet_tensor::Tensor;
    let mut g = Graph::<f64>::new();
    let x = g.input("x", [2]).unwrap();
    let zero = g.scalar(0.0);
    let c = g.gt(x, zero).unwrap();
    let x1 = g.add_scalar(x, 1.0).unwrap();
    let y = g.select(c, x1, x).unwrap();
    let feeds = Feeds::new().with(x, Tensor::<f64>::from_vec(vec![1e-7, 1.0], &[2]).unwrap());
    let r = check_gradients(
        &g,
        y,
        &[x],
        &feeds,
        &ParamStore::new(),
        &GradCheckConfig::default(),
    )
    .unwrap();
    assert!(!r.passed());
    assert!(r.worst.contains("d/dx[0]"), "{}", r.worst);
    assert!(r.ensure().is_err());
}
