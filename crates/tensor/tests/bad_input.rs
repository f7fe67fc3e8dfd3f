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
