//! Executor behaviour: feed checks naming the node, check mode, memory planning and reuse,
//! fusion, open batch size, strict geometry errors, and a training step as one plan.

use convnet_autograd::{
    AutogradError, Conv2dParams, Feeds, Graph, GraphOptions, ParamStore, Plan, Pool2dParams,
    RunOptions, Shape, grad,
};
use convnet_tensor::Tensor;

fn mlp() -> (
    Graph<f32>,
    ParamStore<f32>,
    convnet_autograd::NodeId,
    convnet_autograd::NodeId,
) {
    let mut g = Graph::<f32>::new();
    let x = g.input("x", Shape::with_batch(&[4])).unwrap();
    let w = g.param("fc.weight", &[3, 4]).unwrap();
    let b = g.param("fc.bias", &[3]).unwrap();
    let y = g.scope("fc", |g| g.linear(x, w, Some(b))).unwrap();
    let mut p = ParamStore::new();
    p.insert("fc.weight", Tensor::ones(&[3, 4])).unwrap();
    p.insert("fc.bias", Tensor::zeros(&[3])).unwrap();
    (g, p, x, y)
}

#[test]
fn missing_feed_names_the_input() {
    let (g, p, _, y) = mlp();
    let plan = Plan::compile(&g, &[y], Some(2)).unwrap();
    let e = plan.run(&Feeds::new(), &p).unwrap_err();
    assert_eq!(e, AutogradError::MissingFeed { node: "x".into() });
    assert!(e.to_string().contains("`x`"));
}

#[test]
fn wrong_shape_and_kind_name_the_input() {
    let (g, p, x, y) = mlp();
    let plan = Plan::compile(&g, &[y], Some(2)).unwrap();
    let e = plan
        .run(&Feeds::new().with(x, Tensor::<f32>::zeros(&[2, 5])), &p)
        .unwrap_err();
    assert!(
        matches!(&e, AutogradError::FeedShape { node, got, .. } if node == "x" && got == &[2, 5]),
        "{e}"
    );
    // A tensor of the other element type no longer compiles (typed feeds; see the
    // compile_fail example in `feeds.rs`); the run-time kind check that remains is indices
    // fed to a tensor input.
    let e = plan
        .run(
            &Feeds::new().with("x", convnet_autograd::Indices::vector(&[0, 1])),
            &p,
        )
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("input `x`: fed indices, expected a tensor"),
        "{e}"
    );
    let e = plan
        .run(
            &Feeds::new().with("nope", Tensor::<f32>::zeros(&[2, 4])),
            &p,
        )
        .unwrap_err();
    assert!(matches!(e, AutogradError::UnknownFeed { .. }));
}

#[test]
fn check_mode_names_the_node_that_made_a_nan() {
    let mut g = Graph::<f32>::new();
    let x = g.input("x", [3]).unwrap();
    let y = g.scope("block.1", |g| g.ln(x)).unwrap();
    let z = g.exp(y).unwrap();
    let plan = Plan::compile(&g, &[z], None).unwrap();
    // ln and exp run as one fused pass; check mode still names the node inside it.
    assert_eq!(plan.fused_groups(), 1);
    let feeds = Feeds::new().with(
        x,
        Tensor::<f32>::from_vec(vec![1.0, -1.0, 2.0], &[3]).unwrap(),
    );
    assert!(
        plan.run(&feeds, &ParamStore::new()).is_ok(),
        "without check mode NaN passes through"
    );
    let opts = RunOptions {
        check_finite: true,
        ..RunOptions::default()
    };
    let e = plan.run_with(&feeds, &ParamStore::new(), opts).unwrap_err();
    assert!(
        e.to_string()
            .contains("ln at `block.1/ln` produced 1 non-finite"),
        "{e}"
    );
}

#[test]
fn check_mode_describes_the_inputs_even_of_an_in_place_op() {
    // ln(x) is computed in place over x's buffer when x dies there; check mode must still
    // show x as it was.
    let mut g = Graph::<f32>::new();
    let x = g.input("x", [3]).unwrap();
    let s = g.scale(x, 2.0).unwrap();
    let y = g.scope("block.2", |g| g.ln(s)).unwrap();
    let plan = Plan::compile(&g, &[y], None).unwrap();
    let feeds = Feeds::new().with(
        x,
        Tensor::<f32>::from_vec(vec![1.0, -1.0, 2.0], &[3]).unwrap(),
    );
    let opts = RunOptions {
        check_finite: true,
        ..RunOptions::default()
    };
    let e = plan
        .run_with(&feeds, &ParamStore::new(), opts)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("ln at `block.2/ln` produced 1 non-finite value(s) (first at flat index 1)")
            && e.contains("`scale` [3] min -2.0000e0 max 4.0000e0 mean 1.3333e0"),
        "{e}"
    );
}

#[test]
fn open_batch_runs_at_any_size() {
    let (g, p, x, y) = mlp();
    assert_eq!(g.shape(y).unwrap().to_string(), "[B, 3]");
    for n in [1, 5] {
        let out = g
            .run(
                &[y],
                &Feeds::new().with(x, Tensor::<f32>::ones(&[n, 4])),
                &p,
            )
            .unwrap();
        assert_eq!(out[0].shape(), &[n, 3]);
        assert_eq!(out[0].to_vec()[0], 4.0);
    }
    let e = Plan::compile(&g, &[y], None).unwrap_err();
    assert!(matches!(e, AutogradError::BatchSize { .. }));
}

#[test]
fn peak_is_known_before_running_and_reuse_reduces_it() {
    // A chain of 20 elementwise ops on a 1000-element tensor: without reuse 20 buffers, with
    // release-after-last-reader and in-place writes a handful.
    let mut g = Graph::<f32>::new();
    let x = g.input("x", [1000]).unwrap();
    let mut v = g.exp(x).unwrap();
    for i in 0..19 {
        v = if i % 2 == 0 {
            g.tanh(v).unwrap()
        } else {
            g.add(v, x).unwrap()
        };
    }
    let plan = Plan::compile_unfused(&g, &[v], None).unwrap();
    assert_eq!(plan.intermediate_bytes(), 20 * 4000);
    assert!(plan.peak_bytes() <= 2 * 4000, "peak {}", plan.peak_bytes());
    assert!(plan.in_place_steps() >= 18);
    assert_eq!(plan.fused_groups(), 0);
    let feeds = Feeds::new().with(x, Tensor::<f32>::normal(&[1000], 0.0, 1.0, 3).unwrap());
    let out = plan.run(&feeds, &ParamStore::new()).unwrap();
    assert_eq!(out[0].shape(), &[1000]);
    // Fused, the chain is one pass that writes only its result: the same bits.
    let fused = Plan::compile(&g, &[v], None).unwrap();
    assert_eq!((fused.fused_groups(), fused.fused_nodes()), (1, 20));
    assert_eq!(fused.intermediate_bytes(), 4000);
    assert_eq!(fused.peak_bytes(), 4000);
    let got = fused.run(&feeds, &ParamStore::new()).unwrap();
    assert_eq!(got[0].to_vec(), out[0].to_vec());
}

#[test]
fn in_place_execution_matches_fresh_evaluation() {
    let mut g = Graph::<f64>::new();
    let x = g.input("x", [5]).unwrap();
    let a = g.exp(x).unwrap();
    let b = g.sin(a).unwrap(); // in place into a
    let c = g.mul(b, x).unwrap(); // in place into b
    let d = g.sub(x, c).unwrap(); // in place into c (operand 1)
    let xs = Tensor::<f64>::from_vec(vec![-1.0, 0.0, 0.5, 1.0, 2.0], &[5]).unwrap();
    let plan = Plan::compile_unfused(&g, &[d], None).unwrap();
    assert_eq!(plan.in_place_steps(), 3);
    let out = plan
        .run(&Feeds::new().with(x, xs.clone()), &ParamStore::new())
        .unwrap();
    let want = xs.sub(&xs.exp().sin().mul(&xs).unwrap()).unwrap();
    assert!(out[0].max_abs_diff(&want).unwrap() < 1e-15);
    assert_eq!(xs.to_vec()[0], -1.0, "feeds are never written");
}

#[test]
fn training_step_is_one_plan_and_profiles_nodes() {
    let mut g = Graph::<f32>::new();
    let x = g.input("x", Shape::with_batch(&[4])).unwrap();
    let labels = g
        .input("labels", Shape::from([convnet_autograd::Dim::Batch]))
        .unwrap();
    let w = g.param("fc.weight", &[3, 4]).unwrap();
    let logits = g.linear(x, w, None).unwrap();
    let lp = g.log_softmax(logits, 1).unwrap();
    let picked = g.take_along_axis(lp, labels, 1).unwrap();
    let nll = g.mean(picked, &[], false).unwrap();
    let loss = g.neg(nll).unwrap();
    let dw = grad(&mut g, loss, &[w]).unwrap()[0];
    let mut p = ParamStore::new();
    p.insert("fc.weight", Tensor::zeros(&[3, 4])).unwrap();
    let plan = Plan::compile(&g, &[loss, dw], Some(2)).unwrap();
    let feeds = Feeds::new().with(x, Tensor::<f32>::ones(&[2, 4])).with(
        labels,
        Tensor::<f32>::from_vec(vec![0.0, 2.0], &[2]).unwrap(),
    );
    let out = plan
        .run_with(
            &feeds,
            &p,
            RunOptions {
                profile: true,
                check_finite: true,
                ..RunOptions::default()
            },
        )
        .unwrap();
    assert!((out.outputs[0].item().unwrap() - 3f32.ln()).abs() < 1e-6);
    assert_eq!(out.outputs[1].shape(), &[3, 4]);
    assert_eq!(out.timings.len(), plan.len());
    // A bad label is reported naming the gather node.
    let bad = feeds.clone().with(
        labels,
        Tensor::<f32>::from_vec(vec![0.0, 3.0], &[2]).unwrap(),
    );
    let e = plan.run(&bad, &p).unwrap_err();
    assert!(e.to_string().contains("take_along_axis"), "{e}");
}

#[test]
fn shape_errors_name_op_layer_and_shapes() {
    let mut g = Graph::<f32>::new();
    let x = g.input("x", Shape::with_batch(&[1, 28, 28])).unwrap();
    let w = g.param("features.0.weight", &[6, 3, 5, 5]).unwrap();
    let e = g
        .scope("features.0", |g| g.conv2d(x, w, Conv2dParams::default()))
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("conv2d at `features.0/conv2d`"), "{e}");
    assert!(
        e.contains("[B, 1, 28, 28]") || e.contains("[1, 1, 28, 28]"),
        "{e}"
    );
    assert!(e.contains("[6, 3, 5, 5]"), "{e}");
    let a = g.input("a", [2, 3]).unwrap();
    let b = g.input("b", [4, 5]).unwrap();
    let e = g.scope("fc", |g| g.matmul(a, b)).unwrap_err().to_string();
    assert_eq!(
        e,
        "matmul at `fc/matmul`: [2, 3] × [4, 5]: inner dimensions 3 and 4 differ"
    );
}

#[test]
fn strict_geometry_names_the_layer_and_suggests_padding() {
    let mut g = Graph::<f32>::with_options(GraphOptions {
        strict_geometry: true,
    });
    let x = g.input("x", Shape::with_batch(&[1, 7, 7])).unwrap();
    let w = g.param("conv1.weight", &[4, 1, 3, 3]).unwrap();
    let p = Conv2dParams {
        stride: [3, 3],
        ..Conv2dParams::default()
    };
    let e = g
        .scope("conv1", |g| g.conv2d(x, w, p))
        .unwrap_err()
        .to_string();
    assert!(e.contains("conv2d at `conv1/conv2d`"), "{e}");
    assert!(
        e.contains("(7 − 3 + 2·0)/3 + 1 = 2.33 is not a whole number; padding 1 would fit"),
        "{e}"
    );
    let e = g
        .scope("pool1", |g| g.max_pool2d(x, Pool2dParams::new(2, 2, 0)))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("max_pool2d at `pool1/max_pool2d`") && e.contains("no padding fits"),
        "{e}"
    );
    // The default floor rule accepts both.
    g.set_strict_geometry(false);
    let y = g.conv2d(x, w, p).unwrap();
    assert_eq!(g.shape(y).unwrap().to_string(), "[B, 4, 2, 2]");
}

/// Fused groups against the unfused plan, bit for bit: a strided (transposed) feed, a
/// broadcast operand, a member that a view and a reduction read (written out), a member that
/// is a requested output, and a pointwise node that may not join the group before it because
/// a reduction between them reads a member (the group would run too late for it).
#[test]
fn fused_plans_give_the_unfused_bits_and_respect_readers() {
    let mut g = Graph::<f64>::new();
    let x = g.input("x", [6, 5]).unwrap();
    let b = g.param("b", &[5]).unwrap();
    let xb = g.add(x, b).unwrap();
    let t = g.tanh(xb).unwrap();
    let sq = g.square(t).unwrap();
    let flat = g.reshape(t, [30]).unwrap(); // a view of a member
    let s = g.sum_all(sq).unwrap(); // a reduction reads a member
    let s6 = g.expand(s, [6, 5]).unwrap();
    let late = g.mul(sq, s6).unwrap(); // cannot join: the sum reads `sq` before it
    let out = g.sigmoid(late).unwrap();
    let outputs = [out, flat, t];
    let fused = Plan::compile(&g, &outputs, None).unwrap();
    let unfused = Plan::compile_unfused(&g, &outputs, None).unwrap();
    assert_eq!(fused.fused_groups(), 2, "add·tanh·square, then mul·sigmoid");
    assert_eq!(fused.fused_nodes(), 5);
    let mut p = ParamStore::new();
    p.insert("b", Tensor::<f64>::normal(&[5], 0.0, 1.0, 1).unwrap())
        .unwrap();
    // x fed as the transpose of a [5, 6] tensor: a strided view.
    let xt = Tensor::<f64>::normal(&[5, 6], 0.0, 1.0, 2)
        .unwrap()
        .t()
        .unwrap();
    assert!(!xt.is_contiguous());
    let feeds = Feeds::new().with(x, xt);
    let a = unfused.run(&feeds, &p).unwrap();
    let f = fused.run(&feeds, &p).unwrap();
    let node_by_node = fused
        .run_with(
            &feeds,
            &p,
            RunOptions {
                unfused: true,
                ..RunOptions::default()
            },
        )
        .unwrap()
        .outputs;
    for k in 0..outputs.len() {
        assert_eq!(a[k].to_vec(), f[k].to_vec(), "output {k}");
        assert_eq!(a[k].to_vec(), node_by_node[k].to_vec(), "output {k}");
    }
    // `xb` and `late` live only in tiles, and the second group writes over `sq`, which dies
    // there, as the unfused `mul` does.
    assert_eq!(
        fused.intermediate_bytes() + 2 * 30 * 8,
        unfused.intermediate_bytes()
    );
    assert_eq!(fused.in_place_steps(), 1);
    assert!(fused.peak_bytes() <= unfused.peak_bytes());
}

/// A fused group writes its result into an operand's buffer that dies at the group, as an
/// unfused elementwise op would: `relu(x·w + b)` needs no buffer beyond the product's.
#[test]
fn a_fused_group_writes_in_place_over_a_dying_operand() {
    let mut g = Graph::<f32>::new();
    let x = g.input("x", [64, 32]).unwrap();
    let w = g.param("w", &[32, 48]).unwrap();
    let b = g.param("b", &[48]).unwrap();
    let xw = g.matmul(x, w).unwrap();
    let z = g.add(xw, b).unwrap();
    let y = g.relu(z).unwrap();
    let fused = Plan::compile(&g, &[y], None).unwrap();
    assert_eq!((fused.fused_groups(), fused.in_place_steps()), (1, 1));
    assert_eq!(fused.peak_bytes(), 64 * 48 * 4, "only the product's buffer");
    let mut p = ParamStore::new();
    p.insert("w", Tensor::normal(&[32, 48], 0.0, 1.0, 1).unwrap())
        .unwrap();
    p.insert("b", Tensor::normal(&[48], 0.0, 1.0, 2).unwrap())
        .unwrap();
    let feeds = Feeds::new().with(x, Tensor::normal(&[64, 32], 0.0, 1.0, 3).unwrap());
    let want = Plan::compile_unfused(&g, &[y], None)
        .unwrap()
        .run(&feeds, &p)
        .unwrap();
    let got = fused.run(&feeds, &p).unwrap();
    assert_eq!(got[0].to_vec(), want[0].to_vec());
}

/// The second run of a plan takes most of its intermediates from the buffers the first freed,
/// and reused memory never leaks stale values: every run gives the bits of a plan that has
/// never run, whatever ran before.
#[test]
fn later_runs_reuse_the_plans_buffers_and_compute_the_same_bits() {
    let mut g = Graph::<f32>::new();
    let x = g.input("x", Shape::with_batch(&[3, 12, 12])).unwrap();
    let labels = g
        .input("labels", Shape::from([convnet_autograd::Dim::Batch]))
        .unwrap();
    let w = g.param("conv.weight", &[8, 3, 3, 3]).unwrap();
    let fc = g.param("fc.weight", &[5, 8 * 6 * 6]).unwrap();
    let c = g.conv2d(x, w, Conv2dParams::new(1, 1)).unwrap();
    let r = g.relu(c).unwrap();
    let pooled = g.max_pool2d(r, Pool2dParams::new(2, 2, 0)).unwrap();
    let flat = g.reshape(pooled, Shape::with_batch(&[8 * 6 * 6])).unwrap();
    let logits = g.linear(flat, fc, None).unwrap();
    let lp = g.log_softmax(logits, 1).unwrap();
    let picked = g.take_along_axis(lp, labels, 1).unwrap();
    let nll = g.mean(picked, &[], false).unwrap();
    let loss = g.neg(nll).unwrap();
    let grads = grad(&mut g, loss, &[w, fc]).unwrap();
    let mut p = ParamStore::new();
    p.insert(
        "conv.weight",
        Tensor::normal(&[8, 3, 3, 3], 0.0, 0.3, 1).unwrap(),
    )
    .unwrap();
    p.insert(
        "fc.weight",
        Tensor::normal(&[5, 8 * 6 * 6], 0.0, 0.1, 2).unwrap(),
    )
    .unwrap();
    let outputs = [loss, grads[0], grads[1]];
    let feeds = |seed: u64| {
        Feeds::new()
            .with(
                x,
                Tensor::<f32>::normal(&[4, 3, 12, 12], 0.0, 1.0, seed).unwrap(),
            )
            .with(
                labels,
                Tensor::<f32>::from_vec(vec![0.0, 4.0, 2.0, 1.0], &[4]).unwrap(),
            )
    };
    let fresh = |seed: u64| {
        let plan = Plan::compile(&g, &outputs, Some(4)).unwrap();
        let out = plan.run(&feeds(seed), &p).unwrap();
        out.iter().map(|t| t.to_vec()).collect::<Vec<_>>()
    };
    let plan = Plan::compile(&g, &outputs, Some(4)).unwrap();
    let first = plan.run(&feeds(10), &p).unwrap();
    let after_first = plan.buffer_stats();
    // The first run allocates (and already reuses what its early nodes free).
    assert!(
        after_first.allocated > outputs.len() as u64,
        "{after_first:?}"
    );
    assert!(after_first.returned > 0, "{after_first:?}");
    // Other inputs, then the first again: each run matches a plan that never ran.
    for seed in [11, 10] {
        let before = plan.buffer_stats();
        let out = plan.run(&feeds(seed), &p).unwrap();
        let after = plan.buffer_stats();
        let got: Vec<Vec<f32>> = out.iter().map(|t| t.to_vec()).collect();
        assert_eq!(got, fresh(seed), "run with seed {seed}");
        // Most requests are served from what the last run freed. What is made again: the
        // three outputs the caller kept, and values still shared with a live view when they
        // are released (the flattened features, the last layer's input gradient).
        let allocated = after.allocated - before.allocated;
        let reused = after.reused - before.reused;
        assert!(
            2 * allocated < after_first.allocated,
            "{before:?} → {after:?}"
        );
        assert!(reused >= 2 * allocated, "{before:?} → {after:?}");
    }
    assert_eq!(first[0].to_vec(), fresh(10)[0]);
}
