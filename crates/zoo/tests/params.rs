//! Parameter counts and output shapes of every model, pinned to the published figures. The
//! builds are symbolic, so even VGG-19's 143M parameters cost nothing here.

use convnet_nn::Model;
use convnet_zoo::{MODELS, ZooConfig, build, names};

fn model(name: &str, cfg: ZooConfig) -> Model<f32> {
    build::<f32>(name, &cfg).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Trainable parameters whose key starts with one of `prefixes` (a key's first component).
fn count_under(m: &Model<f32>, prefixes: &[&str], weights_only: bool) -> usize {
    m.param_specs()
        .iter()
        .filter(|p| p.trainable && (!weights_only || p.shape.len() > 1))
        .filter(|p| prefixes.contains(&p.name.split('.').next().unwrap_or("")))
        .map(|p| p.numel())
        .sum()
}

#[test]
fn lenet5_counts_and_shapes() {
    let m = model("lenet5", ZooConfig::default());
    assert_eq!(m.num_params(), 61_706);
    assert_eq!(m.output_shape().to_string(), "[B, 10]");
    assert_eq!(m.input_shape(), &[1, 28, 28]);
    // The paper's network: exactly its "60,000 trainable parameters" on 32×32 input.
    let p = model("lenet5-paper", ZooConfig::default());
    assert_eq!(p.input_shape(), &[1, 32, 32]);
    assert_eq!(p.output_shape().to_string(), "[B, 10]");
    assert_eq!(p.num_params(), 60_000);
    let per_layer: Vec<usize> = ["c1", "s2", "c3", "s4", "c5", "f6"]
        .iter()
        .map(|l| count_under(&p, &[l], false))
        .collect();
    assert_eq!(per_layer, vec![156, 12, 1_516, 32, 48_120, 10_164]);
    // The RBF centres are a buffer (84·10), not trained.
    let buffers: usize = p
        .param_specs()
        .iter()
        .filter(|s| !s.trainable)
        .map(|s| s.numel())
        .sum();
    assert_eq!(buffers, 840);
    // The common form on the paper's 32×32 input: 16·6·6 features into the first FC.
    let m32 = model("lenet5", ZooConfig::default().input([1, 32, 32]));
    assert_eq!(m32.num_params(), 61_706 + 16 * 11 * 120);
}

#[test]
fn alexnet_counts_and_shapes() {
    let a = model("alexnet", ZooConfig::default());
    assert_eq!(a.input_shape(), &[3, 227, 227]);
    assert_eq!(a.num_params(), 60_965_224);
    assert_eq!(a.output_shape().to_string(), "[B, 1000]");
    // The towers: conv2/4/5 kernels see 48/192/192 maps.
    let w = |n: &str| {
        a.param_specs()
            .iter()
            .find(|p| p.name == n)
            .unwrap()
            .shape
            .clone()
    };
    assert_eq!(w("features.4.weight"), vec![256, 48, 5, 5]);
    assert_eq!(w("features.8.weight"), vec![384, 256, 3, 3]);
    assert_eq!(w("features.10.weight"), vec![384, 192, 3, 3]);
    assert_eq!(w("features.12.weight"), vec![256, 192, 3, 3]);
    assert_eq!(w("classifier.1.weight"), vec![4096, 9216]);
    let t = model("alexnet-torchvision", ZooConfig::default());
    assert_eq!(t.num_params(), 61_100_840);
    assert_eq!(t.output_shape().to_string(), "[B, 1000]");
    let t10 = model("alexnet-torchvision", ZooConfig::default().classes(10));
    assert_eq!(t10.num_params(), 61_100_840 - 990 * 4097);
}

#[test]
fn vgg_counts_and_shapes() {
    for (name, n) in [
        ("vgg11", 132_863_336),
        ("vgg13", 133_047_848),
        ("vgg16", 138_357_544),
        ("vgg19", 143_667_240),
        ("vgg11-bn", 132_868_840),
        ("vgg13-bn", 133_053_736),
        ("vgg16-bn", 138_365_992),
        ("vgg19-bn", 143_678_248),
    ] {
        let m = model(name, ZooConfig::default());
        assert_eq!(m.num_params(), n, "{name}");
        assert_eq!(m.output_shape().to_string(), "[B, 1000]", "{name}");
    }
    // The flag is the same as the -bn name; the adaptive pool keeps the count at 32×32.
    let bn = model("vgg16", ZooConfig::default().batch_norm(true));
    assert_eq!(bn.num_params(), 138_365_992);
    let cifar = model("vgg16", ZooConfig::default().input([3, 32, 32]).classes(10));
    assert_eq!(cifar.num_params(), 138_357_544 - 990 * 4097);
    assert_eq!(cifar.output_shape().to_string(), "[B, 10]");
}

#[test]
fn googlenet_counts_match_table_1() {
    let g = model("googlenet", ZooConfig::default());
    assert_eq!(g.output_shape().to_string(), "[B, 1000]");
    // Table 1 counts weights (no biases) in units of 1024. The rows it computes consistently
    // from its own filter columns agree to within its rounding…
    let k = |layers: &[&str]| count_under(&g, layers, true) as f64 / 1024.0;
    for (layers, table) in [
        (&["conv2", "conv3"][..], 112.0),
        (&["inception3a"][..], 159.0),
        (&["inception3b"][..], 380.0),
        (&["inception4b"][..], 437.0),
        (&["fc"][..], 1000.0),
    ] {
        let ours = k(layers);
        assert!(
            (ours - table).abs() <= 1.0,
            "{layers:?}: {ours}K vs Table 1's {table}K"
        );
    }
    // …and the others are what the table's filter columns give (the paper's params column
    // is off there: 4a 364K, 4c 463K, 4d 580K, 4e 840K, 5a 1072K, 5b 1388K, conv1 2.7K).
    let exact = |layers: &[&str]| count_under(&g, layers, true);
    assert_eq!(exact(&["conv1"]), 9_408);
    assert_eq!(exact(&["inception4a"]), 375_552);
    assert_eq!(exact(&["inception4c"]), 509_440);
    assert_eq!(exact(&["inception4d"]), 604_672);
    assert_eq!(exact(&["inception4e"]), 867_328);
    assert_eq!(exact(&["inception5a"]), 1_042_432);
    assert_eq!(exact(&["inception5b"]), 1_442_816);
    // The whole main network is within 1% of the table's sum (6,797.7K).
    let main = g
        .param_specs()
        .iter()
        .filter(|p| p.shape.len() > 1 && !p.name.starts_with("aux"));
    let total: usize = main.map(|p| p.numel()).sum();
    assert!(
        (total as f64 / 1024.0 / 6797.7 - 1.0).abs() < 0.01,
        "{total}"
    );
    // With biases and the two auxiliary heads (each 1×1 conv 128, FC 2048→1024, FC 1024→1000).
    let aux = count_under(&g, &["aux1", "aux2"], false);
    assert_eq!(
        aux,
        (512 * 128 + 128) + (528 * 128 + 128) + 2 * (2048 * 1024 + 1024 + 1025 * 1000)
    );
    let no_aux = model("googlenet", ZooConfig::default().aux_classifiers(false));
    assert_eq!(no_aux.num_params() + aux, g.num_params());

    // torchvision's GoogLeNet.
    let tv = model("googlenet-bn", ZooConfig::default().aux_classifiers(false));
    assert_eq!(tv.num_params(), 6_624_904);
    assert_eq!(
        model("googlenet-bn", ZooConfig::default()).num_params(),
        13_004_888
    );
}

#[test]
fn googlenet_aux_heads_only_in_training() {
    use convnet_nn::Mode;
    let m = model(
        "googlenet",
        ZooConfig::default().width_divisor(8).classes(10),
    );
    let train = m.build_graph(Mode::Train).unwrap();
    let eval = m.build_graph(Mode::Eval).unwrap();
    for name in [convnet_zoo::AUX1_LOGITS, convnet_zoo::AUX2_LOGITS] {
        let id = train
            .graph
            .find(name)
            .unwrap_or_else(|| panic!("{name} in train graph"));
        assert_eq!(train.graph.shape(id).unwrap().to_string(), "[B, 10]");
        assert!(
            eval.graph.find(name).is_none(),
            "{name} must not be in the eval graph"
        );
    }
    assert_eq!(m.output_shape().to_string(), "[B, 10]");
}

#[test]
fn resnet_counts_and_shapes() {
    for (name, n) in [
        ("resnet18", 11_689_512),
        ("resnet34", 21_797_672),
        ("resnet50", 25_557_032),
        ("resnet101", 44_549_160),
        ("resnet152", 60_192_808),
    ] {
        let m = model(name, ZooConfig::default());
        assert_eq!(m.num_params(), n, "{name}");
        assert_eq!(m.output_shape().to_string(), "[B, 1000]", "{name}");
    }
    // CIFAR ResNets, Table 6 of the paper: 0.27M, 0.46M, 0.66M, 0.85M, 1.7M.
    for (name, n, paper) in [
        ("resnet20", 269_722, 0.27),
        ("resnet32", 464_154, 0.46),
        ("resnet44", 658_586, 0.66),
        ("resnet56", 853_018, 0.85),
        ("resnet110", 1_727_962, 1.7),
    ] {
        let m = model(name, ZooConfig::default());
        assert_eq!(m.input_shape(), &[3, 32, 32]);
        assert_eq!(m.num_params(), n, "{name}");
        let tol = if paper < 1.0 { 0.005 } else { 0.05 };
        assert!(
            (n as f64 / 1e6 - paper).abs() <= tol,
            "{name}: {n} vs {paper}M"
        );
        assert_eq!(m.output_shape().to_string(), "[B, 10]");
    }
    // ResNet-18 adapted to CIFAR (3×3/1 stem, no max pool; the common benchmark model):
    // 11,173,962 parameters, ImageNet ResNet-18's 11,689,512 less the 7×7 stem's 9,408 − 1,728
    // and the 1000-way fc's 513,000 − 5,130.
    let m = model("resnet18-cifar", ZooConfig::default());
    assert_eq!(m.input_shape(), &[3, 32, 32]);
    assert_eq!(m.num_params(), 11_173_962);
    assert_eq!(
        m.num_params(),
        11_689_512 - (9_408 - 1_728) - (513_000 - 5_130)
    );
    assert_eq!(m.output_shape().to_string(), "[B, 10]");
    let layers = m.layer_names().unwrap();
    assert!(!layers.iter().any(|l| l == "maxpool"), "{layers:?}");
}

#[test]
fn every_model_takes_classes_and_builds_at_its_default() {
    for info in MODELS {
        let m = model(info.name, ZooConfig::default().classes(7));
        assert_eq!(m.output_shape().to_string(), "[B, 7]", "{}", info.name);
        assert_eq!(m.input_shape(), &info.default_input);
        assert!(!info.description.is_empty());
    }
    assert_eq!(names().len(), MODELS.len());
}
