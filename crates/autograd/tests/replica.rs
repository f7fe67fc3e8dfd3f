//! `replica_mean`, the cross-replica op of synchronised BatchNorm: its value over a group of
//! replicas, its gradient (itself) against central differences to second order on a strided
//! operand, and a failing reduction reported with the node. Training with it over real ranks
//! is checked against one process in `crates/train/tests/data_parallel.rs`.

use std::sync::Arc;

use convnet_autograd::{Feeds, GradCheckConfig, Graph, ParamStore, Replicas, check_gradients};
use convnet_tensor::Tensor;

/// A replica group of `count` where every other replica holds `others` (the values a real
/// group's other ranks would contribute).
#[derive(Debug)]
struct Fixed {
    count: usize,
    others: Vec<f64>,
    fail: bool,
}

impl Replicas for Fixed {
    fn count(&self) -> usize {
        self.count
    }
    fn mean(&self, values: &mut [f64]) -> Result<(), String> {
        if self.fail {
            return Err("rank 1 went away".into());
        }
        let n = self.count as f64;
        for (v, o) in values.iter_mut().zip(&self.others) {
            *v = (*v + (n - 1.0) * o) / n;
        }
        Ok(())
    }
}

#[test]
fn value_is_the_mean_over_the_replicas() {
    let mut g = Graph::<f64>::new();
    let x = g.input("x", [3]).unwrap();
    let group = Arc::new(Fixed {
        count: 4,
        others: vec![1.0, 2.0, 3.0],
        fail: false,
    });
    let y = g.replica_mean(x, group).unwrap();
    let feeds = Feeds::new().with(x, Tensor::from_vec(vec![5.0, 6.0, 7.0], &[3]).unwrap());
    let out = g.run(&[y], &feeds, &ParamStore::new()).unwrap().remove(0);
    assert_eq!(out.to_vec(), vec![2.0, 3.0, 4.0]);
}

#[test]
fn gradient_checks_to_second_order_on_a_strided_operand() {
    // One replica: the op is the identity and so is its gradient; checked through a
    // transposed (strided) operand and a nonlinear function around it.
    let mut g = Graph::<f64>::new();
    let x = g.input("x", [3, 4]).unwrap();
    let xt = g.transpose(x, 0, 1).unwrap();
    let group = Arc::new(Fixed {
        count: 1,
        others: vec![],
        fail: false,
    });
    let m = g.replica_mean(xt, group).unwrap();
    let s = g.tanh(m).unwrap();
    let y = g.mul(s, xt).unwrap();
    let feeds = Feeds::new().with(x, Tensor::<f64>::normal(&[3, 4], 0.0, 1.0, 7).unwrap());
    let cfg = GradCheckConfig {
        second_order: true,
        ..Default::default()
    };
    check_gradients(&g, y, &[x], &feeds, &ParamStore::new(), &cfg)
        .unwrap()
        .ensure()
        .unwrap();
}

#[test]
fn a_failed_reduction_names_the_node() {
    let mut g = Graph::<f32>::new();
    let x = g.input("x", [2]).unwrap();
    let group = Arc::new(Fixed {
        count: 2,
        others: vec![0.0; 2],
        fail: true,
    });
    let y = g.replica_mean(x, group).unwrap();
    let feeds = Feeds::new().with(x, Tensor::from_vec(vec![1.0, 2.0], &[2]).unwrap());
    let e = g
        .run(&[y], &feeds, &ParamStore::new())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("replica_mean") && e.contains("rank 1 went away"),
        "{e}"
    );
}
