//! Output sizes and parameter counts from the lectures: (N − F + 2P)/S + 1 and (F·F·D + 1)·K.

use convnet_nn::prelude::*;

fn conv_model(input: &[usize], conv: Conv2d, strict: bool) -> Result<Model<f32>, NnError> {
    Model::builder(conv, input).strict_geometry(strict).build()
}

#[test]
fn n7_f3_gives_5_at_stride_1_and_3_at_stride_2() {
    for (s, want) in [(1, 5), (2, 3)] {
        let m = conv_model(&[1, 7, 7], Conv2d::new("conv", 1, 1, 3).stride(s), true).unwrap();
        assert_eq!(
            m.output_shape().to_string(),
            format!("[B, 1, {want}, {want}]")
        );
    }
}

#[test]
fn stride_3_does_not_fit_and_strict_mode_says_so() {
    let err = conv_model(&[1, 7, 7], Conv2d::new("conv", 1, 1, 3).stride(3), true)
        .unwrap_err()
        .to_string();
    assert!(err.contains("2.33"), "{err}");
    assert!(err.contains("conv"), "{err}");
    // Without strict mode the floor rule applies: ⌊4/3⌋ + 1 = 2.
    let m = conv_model(&[1, 7, 7], Conv2d::new("conv", 1, 1, 3).stride(3), false).unwrap();
    assert_eq!(m.output_shape().to_string(), "[B, 1, 2, 2]");
    let s = m.summary(1).unwrap();
    assert_eq!(s.rows[0].arithmetic, "⌊(7 − 3 + 2·0)/3⌋ + 1 = 2");
}

#[test]
fn cifar_input_through_five_5x5_filters_with_padding_2() {
    let m = conv_model(&[3, 32, 32], Conv2d::new("conv", 3, 5, 5).padding(2), true).unwrap();
    assert_eq!(m.output_shape().to_string(), "[B, 5, 32, 32]");
    assert_eq!(m.num_params(), 380);
    let row = &m.summary(1).unwrap().rows[0];
    assert_eq!(row.arithmetic, "(32 − 5 + 2·2)/1 + 1 = 32");
    assert_eq!(row.params_formula, "(5·5·3 + 1)·5 = 380");
}

#[test]
fn eight_5x5x1_filters_on_28x28x1() {
    let m = conv_model(&[1, 28, 28], Conv2d::new("conv", 1, 8, 5), true).unwrap();
    assert_eq!(m.output_shape().to_string(), "[B, 8, 24, 24]");
    assert_eq!(m.num_params(), 208);
    assert_eq!(
        m.summary(1).unwrap().rows[0].params_formula,
        "(5·5·1 + 1)·8 = 208"
    );
}

#[test]
fn pooling_follows_w2_equals_w1_minus_f_over_s_plus_1() {
    for (w1, f, s) in [(224, 2, 2), (55, 3, 2), (28, 2, 2), (13, 3, 2), (32, 4, 4)] {
        let m = Model::<f32>::new(MaxPool2d::new("pool", f).stride(s), &[3, w1, w1]).unwrap();
        let w2 = (w1 - f) / s + 1;
        assert_eq!(m.output_shape().to_string(), format!("[B, 3, {w2}, {w2}]"));
        let a = Model::<f32>::new(AvgPool2d::new("pool", f).stride(s), &[3, w1, w1]).unwrap();
        assert_eq!(a.output_shape(), m.output_shape());
    }
    // Ceil mode keeps the partial window: ⌈(6 − 3)/2⌉ + 1 = 3.
    let m = Model::<f32>::new(
        MaxPool2d::new("pool", 3).stride(2).ceil_mode(true),
        &[1, 6, 6],
    )
    .unwrap();
    assert_eq!(m.output_shape().to_string(), "[B, 1, 3, 3]");
}

#[test]
fn same_and_valid_padding() {
    // Odd kernel, stride 1: symmetric.
    let m = conv_model(
        &[1, 28, 28],
        Conv2d::new("c", 1, 2, 5).padding(Padding::Same),
        false,
    )
    .unwrap();
    assert_eq!(m.output_shape().to_string(), "[B, 2, 28, 28]");
    // Even kernel: one extra row/column at the bottom/right.
    let m = conv_model(
        &[1, 28, 28],
        Conv2d::new("c", 1, 2, 4).padding(Padding::Same),
        false,
    )
    .unwrap();
    assert_eq!(m.output_shape().to_string(), "[B, 2, 28, 28]");
    assert_eq!(
        m.summary(1).unwrap().rows[0].arithmetic,
        "(28 − 4 + 1 + 2)/1 + 1 = 28"
    );
    // Stride 2: ceil(28/2) = 14.
    let m = conv_model(
        &[1, 28, 28],
        Conv2d::new("c", 1, 2, 3).stride(2).padding(Padding::Same),
        false,
    )
    .unwrap();
    assert_eq!(m.output_shape().to_string(), "[B, 2, 14, 14]");
    let m = conv_model(
        &[1, 28, 28],
        Conv2d::new("c", 1, 2, 3).padding(Padding::Valid),
        false,
    )
    .unwrap();
    assert_eq!(m.output_shape().to_string(), "[B, 2, 26, 26]");
    // Dilation 2 makes a 3×3 kernel span 5.
    let m = conv_model(&[1, 28, 28], Conv2d::new("c", 1, 2, 3).dilation(2), false).unwrap();
    assert_eq!(m.output_shape().to_string(), "[B, 2, 24, 24]");
}

#[test]
fn groups_divide_the_weight() {
    let m = conv_model(
        &[4, 8, 8],
        Conv2d::new("c", 4, 8, 3).groups(2).bias(false),
        false,
    )
    .unwrap();
    assert_eq!(m.param_specs()[0].shape, vec![8, 2, 3, 3]);
    assert_eq!(m.num_params(), 8 * 2 * 9);
}
