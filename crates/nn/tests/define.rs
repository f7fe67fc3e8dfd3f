//! Keras-grade definitions: layers named by their place in a container, input sizes taken from
//! the graph, and the same build-time errors as fully spelled-out definitions.

use convnet_nn::layers::shorthand::*;
use convnet_nn::prelude::*;
use convnet_nn::{Ctx, NodeId};

fn spelled_out_lenet() -> Sequential<f32> {
    Sequential::new("")
        .with(Conv2d::new("0", 1, 6, 5).padding(2))
        .with(Activation::relu("1"))
        .with(MaxPool2d::new("2", 2))
        .with(Conv2d::new("3", 6, 16, 5))
        .with(Activation::relu("4"))
        .with(MaxPool2d::new("5", 2))
        .with(Flatten::new("6"))
        .with(Linear::new("7", 16 * 5 * 5, 120))
        .with(Activation::relu("8"))
        .with(Linear::new("9", 120, 84))
        .with(Activation::relu("10"))
        .with(Linear::new("11", 84, 10))
}

fn short_lenet() -> Sequential<f32> {
    Sequential::default()
        .with(conv(6, 5).padding(2))
        .with(relu())
        .with(max_pool(2))
        .with(conv(16, 5))
        .with(relu())
        .with(max_pool(2))
        .with(flatten())
        .with(linear(120))
        .with(relu())
        .with(linear(84))
        .with(relu())
        .with(linear(10))
}

#[test]
fn short_definition_is_the_spelled_out_one() {
    let a = Model::new(spelled_out_lenet(), &[1, 28, 28]).unwrap();
    let b = Model::new(short_lenet(), &[1, 28, 28]).unwrap();
    assert_eq!(a.param_specs(), b.param_specs());
    assert_eq!(a.layer_names().unwrap(), b.layer_names().unwrap());
    assert_eq!(
        a.summary(1).unwrap().to_text(),
        b.summary(1).unwrap().to_text()
    );
    // The same seed draws the same parameters, and a step computes the same loss.
    let (mut pa, mut pb) = (a.init_params(3).unwrap(), b.init_params(3).unwrap());
    let x = Tensor::<f32>::normal(&[4, 1, 28, 28], 0.0, 1.0, 9).unwrap();
    let la = a
        .train_step(CrossEntropyLoss::new(), 0)
        .unwrap()
        .run(&mut pa, &x, &[1, 2, 3, 4])
        .unwrap()
        .loss;
    let lb = b
        .train_step(CrossEntropyLoss::new(), 0)
        .unwrap()
        .run(&mut pb, &x, &[1, 2, 3, 4])
        .unwrap()
        .loss;
    assert_eq!(la, lb);
    // The summary shows the inferred sizes in its formulas: (5·5·6 + 1)·16 = 2,416.
    let text = b.summary(1).unwrap().to_text();
    assert!(text.contains("(5·5·6 + 1)·16 = 2,416"), "{text}");
    assert!(text.contains("(400 + 1)·120 = 48,120"), "{text}");
}

#[test]
fn nested_unnamed_containers_take_their_parents_paths() {
    let block = sequential::<f32>()
        .with(conv(8, 3).padding(1))
        .with(batch_norm());
    let net = Sequential::new("features")
        .with(conv(4, 3))
        .with(relu())
        .with(block)
        .with(Conv2d::new("features.head", 8, 2, 1));
    let model = Model::new(net, &[3, 10, 10]).unwrap();
    let names: Vec<(&str, Vec<usize>)> = model
        .param_specs()
        .iter()
        .map(|p| (p.name.as_str(), p.shape.clone()))
        .collect();
    assert_eq!(
        names,
        [
            ("features.0.weight", vec![4, 3, 3, 3]),
            ("features.0.bias", vec![4]),
            ("features.2.0.weight", vec![8, 4, 3, 3]),
            ("features.2.0.bias", vec![8]),
            ("features.2.1.weight", vec![8]),
            ("features.2.1.bias", vec![8]),
            ("features.2.1.running_mean", vec![8]),
            ("features.2.1.running_var", vec![8]),
            ("features.head.weight", vec![2, 8, 1, 1]),
            ("features.head.bias", vec![2]),
        ]
    );
    assert_eq!(model.output_shape().to_string(), "[B, 2, 8, 8]");
}

#[test]
fn residual_and_concat_name_their_unnamed_children() {
    let net = Sequential::<f32>::new("")
        .with(conv(4, 1))
        .with(
            Residual::new("")
                .push(conv(4, 3).padding(1))
                .push(batch_norm())
                .projection(conv(4, 1)),
        )
        .with(Concat::new("").branch(conv(2, 1)).branch(conv(3, 1)));
    let model = Model::new(net, &[3, 6, 6]).unwrap();
    let weights: Vec<&str> = model
        .param_specs()
        .iter()
        .map(|p| p.name.as_str())
        .filter(|n| n.ends_with(".weight"))
        .collect();
    assert_eq!(
        weights,
        [
            "0.weight",
            "1.0.weight",
            "1.1.weight",
            "1.downsample.weight",
            "2.0.weight",
            "2.1.weight"
        ]
    );
    assert_eq!(model.output_shape().to_string(), "[B, 5, 6, 6]");
}

#[test]
fn inferred_sizes_keep_the_build_time_errors() {
    // A linear layer after a 4-D activation: the usual hint, naming the layer by position.
    let net = Sequential::<f32>::default()
        .with(conv(6, 5))
        .with(linear(10));
    let err = Model::new(net, &[1, 28, 28]).unwrap_err().to_string();
    assert!(err.contains("layer `1` (Linear)"), "{err}");
    assert!(err.contains("add a Flatten layer"), "{err}");
    assert!(err.contains("[B, 6, 24, 24]"), "{err}");

    // Groups must divide the inferred channels too.
    let net = Sequential::<f32>::new("f").with(conv(6, 3).groups(2));
    let err = Model::new(net, &[3, 8, 8]).unwrap_err().to_string();
    assert!(err.contains("layer `f.0` (Conv2d)"), "{err}");
    assert!(
        err.contains("groups 2 must divide both in_channels 3"),
        "{err}"
    );

    // BatchNorm on the wrong rank.
    let net = Sequential::<f32>::default()
        .with(flatten())
        .with(batch_norm());
    let err = Model::new(net, &[3, 8, 8]).unwrap_err().to_string();
    assert!(err.contains("layer `1` (BatchNorm2d)"), "{err}");
    assert!(
        err.contains("expected input [N, ?, H, W], got [B, 192]"),
        "{err}"
    );

    // An automatic name that collides with a given one is the duplicate-parameter error.
    let net = Sequential::<f32>::new("a")
        .with(Linear::new("a.1", 4, 4))
        .with(linear(4));
    let err = Model::new(net, &[4]).unwrap_err();
    assert!(
        matches!(&err, NnError::DuplicateParameter { name, .. } if name == "a.1.weight"),
        "{err}"
    );
}

/// A container that does not name its children.
#[derive(Debug)]
struct Pair(Vec<Box<dyn Module<f32>>>);

impl Module<f32> for Pair {
    fn name(&self) -> &str {
        "pair"
    }
    fn kind(&self) -> &'static str {
        "Pair"
    }
    fn children(&self) -> Vec<&dyn Module<f32>> {
        self.0.iter().map(|c| c.as_ref()).collect()
    }
    fn forward(&self, ctx: &mut Ctx<'_, f32>, x: NodeId) -> convnet_nn::Result<NodeId> {
        let mut y = x;
        for c in &self.0 {
            y = ctx.call(c.as_ref(), y)?;
        }
        Ok(y)
    }
}

#[test]
fn an_unnamed_layer_in_a_container_that_names_nothing_is_an_error() {
    let pair = Pair(vec![Box::new(linear(3)), Box::new(relu())]);
    let err = Model::new(pair, &[5]).unwrap_err().to_string();
    assert!(err.contains("a Linear inside `pair` has no name"), "{err}");
    // Named, it builds, and the size is still inferred.
    let pair = Pair(vec![
        Box::new(Linear::to(3).named("pair.fc")),
        Box::new(Activation::relu("pair.act")),
    ]);
    let model = Model::new(pair, &[5]).unwrap();
    assert_eq!(model.param_specs()[0].shape, [3, 5]);
}
