//! Every constructor and op given mismatched shapes or lengths returns an error that names
//! the op and the shapes; none panics inside a kernel.

use convnet_tensor::{Tensor, TensorError};

fn msg<T: std::fmt::Debug>(r: Result<T, TensorError>) -> String {
    r.expect_err("expected an error").to_string()
}

#[test]
fn constructors_check_lengths_and_parameters() {
    assert_eq!(
        msg(Tensor::<f32>::from_vec(vec![1.0; 5], &[2, 3])),
        "from_vec: data has 5 elements but shape [2, 3] needs 6"
    );
    assert!(msg(Tensor::<f32>::arange_step(0.0, 1.0, 0.0)).contains("non-zero step"));
    assert!(msg(Tensor::<f32>::uniform(&[2], 2.0, 1.0, 0)).contains("low < high"));
}

#[test]
fn views_reject_bad_axes_and_sizes() {
    let x = Tensor::<f32>::zeros(&[2, 3]);
    assert!(msg(x.permute(&[0, 0])).contains("permute: [0, 0] is not a permutation"));
    assert!(msg(x.transpose(0, 2)).contains("axis 2 is out of range for a tensor of shape [2, 3]"));
    assert!(msg(x.narrow(0, 1, 5)).contains("narrow"));
    assert!(msg(x.broadcast_to(&[3, 3])).contains("cannot broadcast [2, 3] to [3, 3]"));
    assert!(msg(x.squeeze(0)).contains("has size 2, not 1"));
    assert!(msg(x.reshape(&[5])).contains("reshape"));
    assert!(msg(x.flatten(1, 0)).contains("flatten"));
    assert!(msg(x.get(&[2, 0])).contains("out of bounds"));
    assert!(msg(x.item()).contains("item"));
}

#[test]
fn ops_name_themselves_and_both_shapes() {
    let a = Tensor::<f32>::zeros(&[2, 3]);
    let b = Tensor::<f32>::zeros(&[3, 2]);
    for (r, op) in [
        (a.add(&b), "add"),
        (a.sub(&b), "sub"),
        (a.div(&b), "div"),
        (a.ge(&b), "ge"),
    ] {
        assert_eq!(
            msg(r),
            format!("{op}: [2, 3] and [3, 2] cannot be broadcast: dimension 0 has sizes 2 and 3")
        );
    }
    assert_eq!(
        msg(Tensor::<f32>::zeros(&[64, 400]).matmul(&Tensor::zeros(&[120, 84]))),
        "matmul: [64, 400] × [120, 84]: inner dimensions 400 and 120 differ"
    );
    assert!(msg(Tensor::<f32>::zeros(&[3]).matmul(&b)).contains("at least 2 axes"));
    assert!(msg(a.sum(&[2], false)).contains("sum: axis 2 is out of range"));
    assert!(msg(a.softmax(2)).contains("softmax"));
    assert!(msg(a.var(&[0], false, 2)).contains("var"));
    assert!(msg(a.pad(&[(1, 1)], 0.0)).contains("pad"));
    assert!(msg(a.index_select(1, &[3])).contains("index_select"));
    assert!(msg(Tensor::<f32>::concat(&[], 0)).contains("concat"));
    let mut c = a.clone();
    assert!(
        msg(c.add_assign(&b)).contains("add_assign: cannot update [2, 3] in place from [3, 2]")
    );
    assert!(msg(a.sum_to_shape(&[4])).contains("sum_to_shape"));
    assert!(msg(a.max_abs_diff(&b)).contains("shapes differ"));
}

#[test]
fn convolution_and_pooling_name_the_op_and_shapes() {
    use convnet_tensor::{Conv2dParams, Pool2dParams};
    let x = Tensor::<f32>::zeros(&[2, 3, 8, 8]);
    let w = Tensor::<f32>::zeros(&[4, 2, 3, 3]);
    let e = msg(x.conv2d(&w, Conv2dParams::default()));
    assert!(
        e.starts_with("conv2d: input [2, 3, 8, 8], weight [4, 2, 3, 3]"),
        "{e}"
    );
    let big = Tensor::<f32>::zeros(&[4, 3, 9, 9]);
    let e = msg(x.conv2d(&big, Conv2dParams::default()));
    assert!(
        e.starts_with("conv2d: input [2, 3, 8, 8], weight [4, 3, 9, 9]:"),
        "{e}"
    );
    assert!(!e.contains("conv2d: conv2d"), "{e}");
    let e = msg(Tensor::<f32>::zeros(&[3, 8, 8]).conv2d(&w, Conv2dParams::default()));
    assert!(e.contains("need [N, C, H, W]"), "{e}");
    let e = msg(x.conv2d(&Tensor::zeros(&[4, 3, 3, 3]), Conv2dParams::new(0, 0)));
    assert!(e.starts_with("conv2d:"), "{e}");
    let e = msg(x.max_pool2d(Pool2dParams::new(9, 1, 0)));
    assert!(e.starts_with("max_pool2d: input [2, 3, 8, 8]:"), "{e}");
    let gy = Tensor::<f32>::zeros(&[2, 3, 5, 5]);
    let e = msg(Tensor::max_pool2d_backward(
        &x,
        &gy,
        Pool2dParams::new(2, 2, 0),
    ));
    assert!(
        e.contains("grad has shape [2, 3, 5, 5], the pooling produces [2, 3, 4, 4]"),
        "{e}"
    );
    let e = msg(Tensor::conv2d_input_grad(
        &gy,
        &w,
        [8, 8],
        Conv2dParams::default(),
    ));
    assert!(e.starts_with("conv2d_input_grad:"), "{e}");
}

#[test]
fn convolution_wrappers_agree_with_the_reference_kernels() {
    use convnet_tensor::Conv2dParams;
    use convnet_tensor::kernels::conv_reference::conv2d_forward_reference;
    let x = Tensor::<f64>::normal(&[2, 4, 7, 6], 0.0, 1.0, 1).unwrap();
    let w = Tensor::<f64>::normal(&[6, 2, 3, 2], 0.0, 1.0, 2).unwrap();
    let p = Conv2dParams {
        stride: [2, 1],
        padding: [1, 0],
        dilation: [1, 2],
        groups: 2,
    };
    // A non-contiguous input view gives the same result as its copy.
    let xt = x
        .permute(&[0, 1, 3, 2])
        .unwrap()
        .contiguous()
        .permute(&[0, 1, 3, 2])
        .unwrap();
    assert!(!xt.is_contiguous());
    let y = xt.conv2d(&w, p).unwrap();
    let g = p.geometry("conv2d", x.shape(), w.shape()).unwrap();
    let mut want = vec![0.0; g.output_len()];
    conv2d_forward_reference(&g, &x.to_vec(), &w.to_vec(), &mut want).unwrap();
    assert_eq!(y.shape(), &[2, 6, g.out_h(), g.out_w()]);
    assert!(
        y.to_vec()
            .iter()
            .zip(&want)
            .all(|(a, b)| (a - b).abs() < 1e-12)
    );
}
