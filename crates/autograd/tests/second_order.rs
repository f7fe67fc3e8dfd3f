//! Gradients of gradients: a Hessian-vector product against finite differences, and the
//! end-to-end gradient check of a small CNN (conv → relu → max-pool → linear → softmax
//! cross-entropy) w.r.t. every parameter.

mod common;

use convnet_autograd::{
    Conv2dParams, Feeds, GradCheckConfig, Graph, ParamStore, Plan, Pool2dParams, Shape,
    check_gradients, grad,
};
use convnet_tensor::Tensor;

#[test]
fn hessian_vector_product_matches_finite_differences() {
    // f(x) = Σ tanh(W x)² · softplus(x)-weighted, a smooth non-quadratic function.
    let mut g = Graph::<f64>::new();
    let x = g.input("x", [5, 1]).unwrap();
    let w = g.input("w", [4, 5]).unwrap();
    let h = g.matmul(w, x).unwrap();
    let t = g.tanh(h).unwrap();
    let t2 = g.square(t).unwrap();
    let s = g.sum_all(t2).unwrap();
    let sp = g.softplus(x).unwrap();
    let sps = g.sum_all(sp).unwrap();
    let f = g.mul(s, sps).unwrap();
    let gx = grad(&mut g, f, &[x]).unwrap()[0];
    let v = g.input("v", [5, 1]).unwrap();
    let gv = g.mul(gx, v).unwrap();
    let gvs = g.sum_all(gv).unwrap();
    let hv = grad(&mut g, gvs, &[x]).unwrap()[0];

    let xs = common::sample(&[5, 1], common::Domain::Range(-1.0, 1.0), 1);
    let ws = common::sample(&[4, 5], common::Domain::Range(-1.0, 1.0), 2);
    let vs = common::sample(&[5, 1], common::Domain::Range(-1.0, 1.0), 3);
    let feeds = |x: &Tensor<f64>| {
        Feeds::new()
            .with("x", x.clone())
            .with("w", ws.clone())
            .with("v", vs.clone())
    };
    let p = ParamStore::new();
    let analytic = g.run(&[hv], &feeds(&xs), &p).unwrap().remove(0);
    let eps = 1e-5;
    let plus = xs.add(&vs.scale(eps)).unwrap();
    let minus = xs.sub(&vs.scale(eps)).unwrap();
    let gp = g.run(&[gx], &feeds(&plus), &p).unwrap().remove(0);
    let gm = g.run(&[gx], &feeds(&minus), &p).unwrap().remove(0);
    let numeric = gp.sub(&gm).unwrap().scale(0.5 / eps);
    let err = analytic.max_abs_diff(&numeric).unwrap();
    assert!(
        err < 1e-7,
        "H·v {analytic:?} vs finite differences {numeric:?}"
    );
    // The same through the public checker's second-order mode.
    let cfg = GradCheckConfig {
        second_order: true,
        ..GradCheckConfig::default()
    };
    let r = check_gradients(&g, f, &[x, w], &feeds(&xs), &p, &cfg).unwrap();
    assert!(r.passed(), "{}", r.worst);
}

/// conv(3×3, pad 1) → relu → max-pool 2×2 → linear → softmax cross-entropy, batch open.
fn small_cnn() -> (
    Graph<f64>,
    ParamStore<f64>,
    Vec<convnet_autograd::NodeId>,
    convnet_autograd::NodeId,
) {
    let mut g = Graph::<f64>::new();
    let x = g.input("x", Shape::with_batch(&[2, 6, 6])).unwrap();
    let labels = g
        .input("labels", Shape::from([convnet_autograd::Dim::Batch]))
        .unwrap();
    let cw = g.param("conv.weight", &[3, 2, 3, 3]).unwrap();
    let cb = g.param("conv.bias", &[3, 1, 1]).unwrap();
    let fw = g.param("fc.weight", &[4, 27]).unwrap();
    let fb = g.param("fc.bias", &[4]).unwrap();
    let h = g
        .scope("conv", |g| {
            let c = g.conv2d(x, cw, Conv2dParams::new(1, 1))?;
            let c = g.add(c, cb)?;
            g.relu(c)
        })
        .unwrap();
    let pooled = g
        .scope("pool", |g| {
            g.max_pool2d(
                h,
                Pool2dParams {
                    kernel: [2, 2],
                    stride: [2, 2],
                    padding: [0, 0],
                    ceil_mode: false,
                    count_include_pad: true,
                },
            )
        })
        .unwrap();
    let flat = g.flatten(pooled, 1).unwrap();
    let logits = g.scope("fc", |g| g.linear(flat, fw, Some(fb))).unwrap();
    let loss = g
        .scope("loss", |g| {
            let lp = g.log_softmax(logits, 1)?;
            let picked = g.take_along_axis(lp, labels, 1)?;
            let m = g.mean(picked, &[], false)?;
            g.neg(m)
        })
        .unwrap();
    let mut p = ParamStore::new();
    let r = common::Domain::Range(-0.5, 0.5);
    p.insert("conv.weight", common::sample(&[3, 2, 3, 3], r, 11))
        .unwrap();
    p.insert("conv.bias", common::sample(&[3, 1, 1], r, 12))
        .unwrap();
    p.insert("fc.weight", common::sample(&[4, 27], r, 13))
        .unwrap();
    p.insert("fc.bias", common::sample(&[4], r, 14)).unwrap();
    (g, p, vec![cw, cb, fw, fb], loss)
}

#[test]
fn small_cnn_end_to_end_gradients() {
    let (g, p, params, loss) = small_cnn();
    let feeds = Feeds::new()
        .with(
            "x",
            common::sample(&[3, 2, 6, 6], common::Domain::Distinct, 5),
        )
        .with(
            "labels",
            Tensor::<f64>::from_vec(vec![1.0, 3.0, 0.0], &[3]).unwrap(),
        );
    let cfg = GradCheckConfig {
        rtol: 1e-5,
        ..GradCheckConfig::default()
    };
    let r = check_gradients(&g, loss, &params, &feeds, &p, &cfg).unwrap();
    assert!(r.passed(), "{}", r.worst);
    assert!(r.checks > 20);
    // Whole step (forward, loss, all gradients) as one plan, peak known up front.
    let mut g2 = g.clone();
    let grads = grad(&mut g2, loss, &params).unwrap();
    let mut outs = vec![loss];
    outs.extend(&grads);
    let plan = Plan::compile(&g2, &outs, Some(3)).unwrap();
    assert!(plan.peak_bytes() > 0 && plan.peak_bytes() < plan.intermediate_bytes());
    let out = plan.run(&feeds, &p).unwrap();
    assert_eq!(out[1].shape(), &[3, 2, 3, 3]);
    assert!(g2.to_dot().contains("grad[conv/conv2d]"));
}
