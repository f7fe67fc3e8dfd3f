//! Shared test helpers: LeNet-5 and a one-call gradient check of a module through the graph.
#![allow(dead_code)]

use convnet_nn::autograd::{GradCheckConfig, check_gradients};
use convnet_nn::prelude::*;
use convnet_nn::{Feeds, rng_from_seed};

/// LeNet-5 with a padding-2 first convolution (61,706 parameters), torchvision-style names.
pub fn lenet5<T: Element>() -> Sequential<T> {
    let mut f = Sequential::new("features");
    f.push(Conv2d::new(f.next_name(), 1, 6, 5).padding(2));
    f.push(Activation::relu(f.next_name()));
    f.push(MaxPool2d::new(f.next_name(), 2));
    f.push(Conv2d::new(f.next_name(), 6, 16, 5));
    f.push(Activation::relu(f.next_name()));
    f.push(MaxPool2d::new(f.next_name(), 2));
    let mut c = Sequential::new("classifier");
    c.push(Linear::new(c.next_name(), 400, 120));
    c.push(Activation::relu(c.next_name()));
    c.push(Linear::new(c.next_name(), 120, 84));
    c.push(Activation::relu(c.next_name()));
    c.push(Linear::new(c.next_name(), 84, 10));
    Sequential::new("")
        .with(f)
        .with(Flatten::new("flatten"))
        .with(c)
}

/// Gradient-checks `module` in `mode` at a random input of per-sample shape `input`, w.r.t.
/// the input and every trainable parameter (f64, central differences).
pub fn gradcheck_module(
    module: impl Module<f64> + 'static,
    input: &[usize],
    batch: usize,
    mode: Mode,
    seed: u64,
) {
    let model = Model::<f64>::new(module, input).unwrap();
    let mg = model.build_graph(mode).unwrap();
    let params = model.init_params(seed).unwrap();
    // Move biases/BN statistics off their constant initial values.
    let mut params2 = ParamStore::new();
    for (name, v) in params.iter() {
        let noise = Tensor::<f64>::normal(v.shape(), 0.0, 0.1, seed ^ name.len() as u64).unwrap();
        let mut t = v.zip_with(&noise, "add", |a, b| a + b).unwrap();
        if name.ends_with("running_var") {
            t = t.map(|x| x.abs() + 0.5);
        }
        if params.is_buffer(name) {
            params2.insert_buffer(name, t).unwrap();
        } else {
            params2.insert(name, t).unwrap();
        }
    }
    let mut shape = vec![batch];
    shape.extend_from_slice(input);
    let x = Tensor::<f64>::normal(&shape, 0.0, 1.0, seed + 1).unwrap();
    let mut feeds = Feeds::new().with(mg.input, x);
    mg.fill_random_inputs(&mut feeds, batch, &mut rng_from_seed(seed + 2))
        .unwrap();
    let mut wrt = vec![mg.input];
    for p in model.param_specs().iter().filter(|p| p.trainable) {
        wrt.push(mg.graph.param_node(&p.name).unwrap());
    }
    let cfg = GradCheckConfig {
        rtol: 1e-4,
        atol: 1e-6,
        ..GradCheckConfig::default()
    };
    let report = check_gradients(&mg.graph, mg.output, &wrt, &feeds, &params2, &cfg).unwrap();
    assert!(report.checks > 0);
    assert!(
        report.passed(),
        "{}: {}",
        model.module().name(),
        report.worst
    );
}
