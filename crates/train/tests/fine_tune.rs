//! Fine-tuning from Rust, without the CLI: weights of a 4-class model loaded into a 3-class
//! one (the head replaced), its first block frozen with `Model::freeze`, then `Trainer::fit`.
//! Frozen parameters and BatchNorm's running statistics must come out bit-identical, while the
//! rest trains; a prefix naming no layer is refused.

use convnet_datasets::{DataLoader, Dataset, DatasetMeta, LoaderConfig};
use convnet_nn::prelude::*;
use convnet_optim::SgdConfig;
use convnet_train::{FitConfig, ProgressMode, Trainer};

fn net(classes: usize) -> Sequential {
    let mut block = Sequential::new("block1");
    block.push(Conv2d::new("block1.0", 1, 4, 3).padding(1));
    block.push(BatchNorm::new_2d("block1.1", 4));
    block.push(Activation::relu("block1.2"));
    let mut block2 = Sequential::new("block2");
    block2.push(Conv2d::new("block2.0", 4, 4, 3).padding(1));
    block2.push(BatchNorm::new_2d("block2.1", 4));
    block2.push(Activation::relu("block2.2"));
    Sequential::new("")
        .with(block)
        .with(block2)
        .with(Flatten::new("flatten"))
        .with(Linear::new("fc", 4 * 6 * 6, classes))
}

/// Three classes of 6×6 pictures told apart by where a bright bar lies.
fn bars(n: usize) -> Dataset {
    let mut images = Vec::new();
    let mut labels = Vec::new();
    for i in 0..n {
        let class = (i % 3) as u32;
        let mut img = [20u8; 36];
        for k in 0..6 {
            let at = match class {
                0 => k,         // top row
                1 => 5 * 6 + k, // bottom row
                _ => k * 6 + 3, // a column
            };
            img[at] = 200 + (i % 50) as u8;
        }
        images.extend_from_slice(&img);
        labels.push(class);
    }
    let meta = DatasetMeta {
        name: "bars".into(),
        classes: vec!["top".into(), "bottom".into(), "column".into()],
        mean: vec![0.2],
        std: vec![0.3],
    };
    Dataset::new(meta, [1, 6, 6], images, labels).unwrap()
}

#[test]
fn frozen_layers_stay_bit_identical_and_the_new_head_trains() {
    // "Pretrained" weights: a 4-class model, saved as a torchvision-layout file.
    let source = Model::<f32>::new(net(4), &[1, 6, 6]).unwrap();
    let pretrained = source.init_params(11).unwrap();
    let file = convnet_zoo::save_safetensors(&pretrained).unwrap();

    let mut model = Model::<f32>::new(net(3), &[1, 6, 6]).unwrap();
    let frozen = model.freeze(&["block1"]).unwrap();
    assert_eq!(
        frozen,
        [
            "block1.0.weight",
            "block1.0.bias",
            "block1.1.weight",
            "block1.1.bias",
            "block1.1.running_mean",
            "block1.1.running_var"
        ]
    );
    let optimizer = Box::new(SgdConfig::new(0.1).momentum(0.9).build::<f32>().unwrap());
    let mut trainer = Trainer::new(&model, CrossEntropyLoss::new(), optimizer, None, 3).unwrap();
    let report =
        convnet_zoo::load_pretrained(&model, &file, "pretrained", &mut trainer.params).unwrap();
    assert_eq!(report.replaced, [("fc".to_string(), 4, 3)]);
    assert_eq!(report.loaded, 12, "everything but fc.weight and fc.bias");
    let head_before = trainer.params.get("fc.weight").unwrap().clone();
    let start = trainer.params.clone();
    for name in [
        "block1.0.weight",
        "block2.0.weight",
        "block2.1.running_mean",
    ] {
        assert_eq!(start.get(name), pretrained.get(name), "{name} loaded");
    }

    let train = DataLoader::new(bars(96), LoaderConfig::new(16, 1)).unwrap();
    let val = DataLoader::new(bars(30), LoaderConfig::evaluation(30)).unwrap();
    let mut fit = FitConfig::new(6, 1);
    fit.progress = ProgressMode::Silent;
    let out = trainer.fit(&train, Some(&val), &fit).unwrap();

    let bits = |t: &Tensor<f32>| t.to_vec().iter().map(|v| v.to_bits()).collect::<Vec<_>>();
    for name in &frozen {
        assert_eq!(
            bits(trainer.params.get(name).unwrap()),
            bits(start.get(name).unwrap()),
            "{name} is frozen (BatchNorm statistics included)"
        );
    }
    for name in ["block2.0.weight", "block2.1.running_mean", "fc.weight"] {
        assert_ne!(
            bits(trainer.params.get(name).unwrap()),
            bits(start.get(name).unwrap()),
            "{name} trains"
        );
    }
    assert_ne!(trainer.params.get("fc.weight").unwrap(), &head_before);
    let last = out.history.last().unwrap();
    assert!(
        last.val_accuracy.unwrap() > 0.9,
        "the fine-tuned model separates the bars: {last:?}"
    );
}

#[test]
fn freezing_a_layer_that_does_not_exist_is_refused() {
    let mut model = Model::<f32>::new(net(3), &[1, 6, 6]).unwrap();
    let e = model.freeze(&["block"]).unwrap_err().to_string();
    assert!(
        e.contains("'block'") && e.contains("block1, block2, fc"),
        "{e}"
    );
    // `block1` covers block1.* but not a layer that merely starts with the same letters.
    assert!(!model.is_frozen("block10.weight"));
    model.freeze(&["block1"]).unwrap();
    assert!(model.is_frozen("block1.0.weight") && !model.is_frozen("block10.weight"));
}

#[test]
fn a_pretrained_file_that_does_not_fit_lists_every_problem() {
    let other = Sequential::new("")
        .with(Flatten::new("flatten"))
        .with(Linear::new("fc", 36, 3));
    let other = Model::<f32>::new(other, &[1, 6, 6]).unwrap();
    let file = convnet_zoo::save_safetensors(&other.init_params(0).unwrap()).unwrap();
    let model = Model::<f32>::new(net(3), &[1, 6, 6]).unwrap();
    let mut params = model.init_params(0).unwrap();
    let before = params.clone();
    let e = convnet_zoo::load_pretrained(&model, &file, "other.safetensors", &mut params)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("other.safetensors") && e.contains("missing"),
        "{e}"
    );
    assert!(e.contains("fc.weight: file [3, 36], model [3, 144]"), "{e}");
    assert_eq!(
        params.get("fc.weight"),
        before.get("fc.weight"),
        "unchanged on error"
    );
}
