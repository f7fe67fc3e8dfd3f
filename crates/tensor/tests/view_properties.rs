//! Property tests for the view algebra and for layout-independence of every op: an op on a
//! strided, non-contiguous view must give exactly the result it gives on a contiguous copy.

use convnet_tensor::Tensor;
use proptest::prelude::*;

type UnaryOp = fn(&Tensor<f64>) -> Tensor<f64>;

/// A shape of rank 1..=4 with small dims.
fn shape() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(1usize..5, 1..=4)
}

/// A non-contiguous view of `shape`: a larger buffer with permuted axes, narrowed at an
/// offset, permuted back. Returns the view; its values are random.
fn strided_view(shape: &[usize], seed: u64) -> Tensor<f64> {
    let rank = shape.len();
    // Reverse the axes in memory and add one spare row/column per axis.
    let perm: Vec<usize> = (0..rank).rev().collect();
    let base_shape: Vec<usize> = perm.iter().map(|&a| shape[a] + 1).collect();
    let mut base = Tensor::<f64>::normal(&base_shape, 0.0, 1.0, seed).unwrap();
    for (axis, &d) in base_shape.iter().enumerate() {
        base = base.narrow(axis, 1, d - 1).unwrap();
    }
    let v = base.permute(&perm).unwrap();
    assert_eq!(v.shape(), shape);
    v
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn permute_then_inverse_is_identity(s in shape(), seed in 0u64..1000, rot in 0usize..4) {
        let x = strided_view(&s, seed);
        let rank = s.len();
        let perm: Vec<usize> = (0..rank).map(|i| (i + rot) % rank).collect();
        let mut inverse = vec![0; rank];
        for (i, &p) in perm.iter().enumerate() { inverse[p] = i; }
        let back = x.permute(&perm).unwrap().permute(&inverse).unwrap();
        prop_assert_eq!(back.strides(), x.strides());
        prop_assert_eq!(back, x);
    }

    #[test]
    fn reshape_round_trips(s in shape(), seed in 0u64..1000) {
        let x = strided_view(&s, seed);
        let flat = x.reshape(&[x.numel()]).unwrap();
        prop_assert_eq!(flat.to_vec(), x.to_vec());
        prop_assert_eq!(flat.reshape(&s).unwrap(), x.clone());
        let c = x.contiguous();
        prop_assert!(c.reshape(&[x.numel()]).unwrap().shares_storage_with(&c));
    }

    #[test]
    fn broadcasting_equals_explicit_repetition(s in shape(), seed in 0u64..1000, mask in 0u32..16) {
        // Collapse some axes of `s` to 1 in the second operand.
        let small: Vec<usize> = s.iter().enumerate().map(|(i, &d)| if mask >> i & 1 == 1 { 1 } else { d }).collect();
        let a = strided_view(&s, seed);
        let b = Tensor::<f64>::normal(&small, 0.0, 1.0, seed + 1).unwrap();
        let explicit = Tensor::from_fn(&s, |flat| {
            let mut rem = flat;
            let mut idx = vec![0; s.len()];
            for ax in (0..s.len()).rev() { idx[ax] = rem % s[ax]; rem /= s[ax]; }
            let bidx: Vec<usize> = idx.iter().zip(&small).map(|(&i, &d)| if d == 1 { 0 } else { i }).collect();
            b.get(&bidx).unwrap()
        });
        prop_assert_eq!(a.add(&b).unwrap(), a.add(&explicit).unwrap());
        prop_assert_eq!(b.broadcast_to(&s).unwrap(), explicit);
    }

    #[test]
    fn every_op_is_layout_independent(s in shape(), seed in 0u64..1000) {
        let v = strided_view(&s, seed);
        prop_assert!(s.iter().filter(|&&d| d > 1).count() <= 1 || !v.is_contiguous());
        let c = v.contiguous();
        let other = strided_view(&s, seed + 7);
        let unary: [UnaryOp; 10] = [
            |t| t.neg(), |t| t.abs(), |t| t.exp(), |t| t.relu(), |t| t.sigmoid(), |t| t.tanh(),
            |t| t.square(), |t| t.leaky_relu(0.1), |t| t.softplus(), |t| t.gelu(),
        ];
        for f in unary { prop_assert_eq!(f(&v), f(&c)); }
        prop_assert_eq!(v.add(&other).unwrap(), c.add(&other.contiguous()).unwrap());
        prop_assert_eq!(v.maximum(&other).unwrap(), c.maximum(&other).unwrap());
        prop_assert_eq!(v.lt(&other).unwrap(), c.lt(&other).unwrap());
        let last = s.len() - 1;
        for axes in [vec![0], vec![last], vec![]] {
            prop_assert_eq!(v.sum(&axes, true).unwrap(), c.sum(&axes, true).unwrap());
            prop_assert_eq!(v.max(&axes, false).unwrap(), c.max(&axes, false).unwrap());
            prop_assert_eq!(v.mean(&axes, false).unwrap(), c.mean(&axes, false).unwrap());
        }
        prop_assert_eq!(v.argmax(last).unwrap(), c.argmax(last).unwrap());
        prop_assert_eq!(v.softmax(last).unwrap(), c.softmax(last).unwrap());
        prop_assert_eq!(v.log_softmax(0).unwrap(), c.log_softmax(0).unwrap());
        let pads: Vec<(usize, usize)> = s.iter().map(|_| (1, 0)).collect();
        prop_assert_eq!(v.pad(&pads, 0.0).unwrap(), c.pad(&pads, 0.0).unwrap());
        prop_assert_eq!(Tensor::concat(&[&v, &other], 0).unwrap(), Tensor::concat(&[&c, &other.contiguous()], 0).unwrap());
        let mut inplace = v.clone();
        inplace.mul_assign(&other).unwrap();
        prop_assert_eq!(inplace, c.mul(&other).unwrap());
    }

    #[test]
    fn matmul_of_views_equals_matmul_of_copies(m in 1usize..6, k in 1usize..6, n in 1usize..6, seed in 0u64..1000) {
        let a = strided_view(&[m, k], seed);
        let b = strided_view(&[k, n], seed + 3);
        let got = a.matmul(&b).unwrap();
        let want = a.contiguous().matmul(&b.contiguous()).unwrap();
        prop_assert!(got.max_abs_diff(&want).unwrap() < 1e-12);
        let bt = strided_view(&[n, k], seed + 5);
        let got_t = a.matmul(&bt.t().unwrap()).unwrap();
        let want_t = a.contiguous().matmul(&bt.t().unwrap().contiguous()).unwrap();
        prop_assert!(got_t.max_abs_diff(&want_t).unwrap() < 1e-12);
    }
}
