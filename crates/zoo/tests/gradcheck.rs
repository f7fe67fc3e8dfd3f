//! A whole-model gradient check (f64, central differences, w.r.t. the input and every
//! trainable parameter — element by element for small tensors, along random directions for
//! large ones) for one model of each family at tiny width, in training mode (BatchNorm with
//! batch statistics, fixed dropout masks) unless noted.

use convnet_nn::autograd::{GradCheckConfig, check_gradients};
use convnet_nn::{Feeds, Mode, ParamStore, Tensor, rng_from_seed};
use convnet_zoo::{ZooConfig, build};

fn gradcheck(name: &str, cfg: ZooConfig, batch: usize) {
    gradcheck_in(name, cfg, batch, Mode::Train);
}

fn gradcheck_in(name: &str, cfg: ZooConfig, batch: usize, mode: Mode) {
    let start = std::time::Instant::now();
    let model = build::<f64>(name, &cfg.classes(3)).unwrap();
    let mg = model.build_graph(mode).unwrap();
    let init = model.init_params(11).unwrap();
    // Move biases and BatchNorm parameters off their constant initial values.
    let mut params = ParamStore::new();
    for (n, v) in init.iter() {
        let noise = Tensor::<f64>::normal(v.shape(), 0.0, 0.1, n.len() as u64).unwrap();
        let t = v.zip_with(&noise, "add", |a, b| a + b).unwrap();
        if init.is_buffer(n) {
            params.insert_buffer(n, t.map(f64::abs)).unwrap();
        } else {
            params.insert(n, t).unwrap();
        }
    }
    let mut shape = vec![batch];
    shape.extend_from_slice(model.input_shape());
    let x = Tensor::<f64>::normal(&shape, 0.0, 1.0, 12).unwrap();
    let mut feeds = Feeds::new().with(mg.input, x);
    mg.fill_random_inputs(&mut feeds, batch, &mut rng_from_seed(13))
        .unwrap();
    let mut wrt = vec![mg.input];
    for p in model.param_specs().iter().filter(|p| p.trainable) {
        wrt.push(mg.graph.param_node(&p.name).unwrap());
    }
    let cfg = GradCheckConfig {
        rtol: 1e-4,
        atol: 1e-7,
        max_elementwise: 16,
        directions: 3,
        ..GradCheckConfig::default()
    };
    let report = check_gradients(&mg.graph, mg.output, &wrt, &feeds, &params, &cfg).unwrap();
    println!(
        "{name}: {} comparisons, worst {} in {:?}",
        report.checks,
        report.worst,
        start.elapsed()
    );
    assert!(report.checks >= wrt.len());
    assert!(report.passed(), "{name}: {}", report.worst);
}

#[test]
fn lenet_gradients() {
    gradcheck("lenet5", ZooConfig::default(), 1);
    gradcheck("lenet5-paper", ZooConfig::default().width_divisor(2), 1);
}

#[test]
fn alexnet_gradients() {
    gradcheck(
        "alexnet",
        ZooConfig::default().width_divisor(32).input([3, 67, 67]),
        1,
    );
    // Its adaptive 6×6 pool repeats the 1×1 maps of a 63×63 input (the general path).
    let cfg = ZooConfig::default().width_divisor(32);
    gradcheck("alexnet-torchvision", cfg.input([3, 63, 63]), 1);
}

#[test]
fn vgg_gradients() {
    gradcheck(
        "vgg11",
        ZooConfig::default().width_divisor(64).input([3, 32, 32]),
        1,
    );
}

#[test]
fn googlenet_gradients() {
    let cfg = ZooConfig::default()
        .width_divisor(32)
        .aux_classifiers(false);
    gradcheck("googlenet", cfg.clone().input([3, 47, 47]), 1);
    // In training mode its BatchNorms normalise 1×1 maps over a batch of two, where the
    // function is too curved for finite differences; evaluation mode checks the rest.
    gradcheck_in("googlenet-bn", cfg.input([3, 31, 31]), 2, Mode::Eval);
}

#[test]
fn resnet_gradients() {
    gradcheck(
        "resnet20",
        ZooConfig::default().width_divisor(16).input([3, 8, 8]),
        2,
    );
    gradcheck(
        "resnet50",
        ZooConfig::default().width_divisor(32).input([3, 16, 16]),
        2,
    );
}
