//! Parameter keys match torchvision's state-dict keys, so the zoo can load weights by name.

use convnet_nn::prelude::*;

#[test]
fn resnet_basic_block_keys_match_torchvision() {
    let layer = Sequential::<f32>::new("layer2").with(Residual::basic("layer2.0", 64, 128, 2));
    let model = Model::new(layer, &[64, 56, 56]).unwrap();
    let names: Vec<&str> = model
        .param_specs()
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    assert_eq!(
        names,
        vec![
            "layer2.0.conv1.weight",
            "layer2.0.bn1.weight",
            "layer2.0.bn1.bias",
            "layer2.0.bn1.running_mean",
            "layer2.0.bn1.running_var",
            "layer2.0.conv2.weight",
            "layer2.0.bn2.weight",
            "layer2.0.bn2.bias",
            "layer2.0.bn2.running_mean",
            "layer2.0.bn2.running_var",
            "layer2.0.downsample.0.weight",
            "layer2.0.downsample.1.weight",
            "layer2.0.downsample.1.bias",
            "layer2.0.downsample.1.running_mean",
            "layer2.0.downsample.1.running_var",
        ]
    );
    assert_eq!(model.output_shape().to_string(), "[B, 128, 28, 28]");
    // torchvision: 73,728 + 147,456 + 8,192 conv weights, 3 × 2·128 BN affine.
    assert_eq!(model.num_params(), 73_728 + 147_456 + 8_192 + 3 * 256);
    let params = model.init_params(0).unwrap();
    assert!(params.is_buffer("layer2.0.bn1.running_var"));
    assert_eq!(
        params.get("layer2.0.bn1.running_var").unwrap().to_vec(),
        vec![1.0; 128]
    );
    let s = model.summary(1).unwrap();
    let last = s.rows.last().unwrap();
    assert_eq!(
        (last.name.as_str(), last.kind.as_str()),
        ("layer2.0", "Residual")
    );
    assert_eq!(last.arithmetic, "body + projection, ReLU");
    assert_eq!(s.buffer_elements, 3 * 256);
}

#[test]
fn bottleneck_and_sequential_indexing() {
    let b = Residual::<f32>::bottleneck("layer1.0", 64, 64, 256, 1);
    let model = Model::new(b, &[64, 8, 8]).unwrap();
    let names: Vec<&str> = model
        .param_specs()
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    assert!(
        names.contains(&"layer1.0.conv3.weight") && names.contains(&"layer1.0.downsample.0.weight")
    );
    assert_eq!(model.param_specs()[0].shape, vec![64, 64, 1, 1]);

    let mut f = Sequential::<f32>::new("features");
    assert_eq!(f.next_name(), "features.0");
    f.push(Conv2d::new(f.next_name(), 3, 64, 11).stride(4).padding(2));
    assert_eq!(f.next_name(), "features.1");
    let fc = Linear::new("fc", 3, 2);
    let m = Model::<f32>::new(Sequential::new("").with(fc), &[3]).unwrap();
    let specs = m.param_specs();
    assert_eq!(
        (specs[0].name.as_str(), specs[0].shape.as_slice()),
        ("fc.weight", &[2usize, 3][..])
    );
    assert_eq!(specs[1].name, "fc.bias");
}
