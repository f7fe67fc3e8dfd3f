//! The collectives' results on several ranks (as threads), their refusals, and the bucketed
//! reduction's packing.

use convnet_dist::{Communicator, DistError, SingleProcess, ThreadGroup, allreduce_sum_bucketed};

#[test]
fn allreduce_sums_in_rank_order_and_agrees_on_every_rank() {
    let out = ThreadGroup::run(3, |c| {
        let r = c.rank() as f32;
        let mut a = vec![r, 10.0 * r, 1e8];
        c.allreduce_sum_f32(&mut a).unwrap();
        let mut b = vec![r as f64 + 0.5];
        c.allreduce_sum_f64(&mut b).unwrap();
        (a, b)
    });
    for (a, b) in &out {
        assert_eq!(a, &vec![3.0, 30.0, 3e8]);
        assert_eq!(b, &vec![4.5]);
    }
    // A sum whose f32 value depends on the order: rank order, ((1e8 + 4) + 4), on every rank
    // (4 + 4 first would give 1e8 + 8).
    let order = ThreadGroup::run(3, |c| {
        let mut v = [if c.rank() == 0 { 1e8f32 } else { 4.0 }];
        c.allreduce_sum_f32(&mut v).unwrap();
        v[0]
    });
    let rank_order = (0f32 + 1e8 + 4.0) + 4.0;
    assert_ne!(rank_order, 1e8f32 + (4.0 + 4.0));
    assert_eq!(order, vec![rank_order; 3]);
}

#[test]
fn broadcast_takes_the_roots_values() {
    let out = ThreadGroup::run(4, |c| {
        let mut v = vec![c.rank() as f32; 5];
        c.broadcast_f32(&mut v, 2).unwrap();
        let mut bytes = [c.rank() as u8; 3];
        c.broadcast_bytes(&mut bytes, 1).unwrap();
        c.barrier().unwrap();
        (v, bytes)
    });
    for (v, bytes) in out {
        assert_eq!(v, vec![2.0; 5]);
        assert_eq!(bytes, [1, 1, 1]);
    }
}

#[test]
fn many_rounds_in_a_row_stay_in_step() {
    let out = ThreadGroup::run(2, |c| {
        let mut total = 0.0f64;
        for i in 0..500 {
            let mut v = [i as f64 * (c.rank() as f64 + 1.0)];
            c.allreduce_sum_f64(&mut v).unwrap();
            total += v[0];
        }
        total
    });
    let expected: f64 = (0..500).map(|i| 3.0 * i as f64).sum();
    assert_eq!(out, vec![expected, expected]);
}

#[test]
fn mismatched_collectives_are_refused_on_every_rank() {
    let out = ThreadGroup::run(2, |c| {
        let mut v = vec![0f32; 2 + c.rank()];
        c.allreduce_sum_f32(&mut v)
    });
    for r in out {
        let e = r.unwrap_err();
        assert!(matches!(e, DistError::Mismatch(_)), "{e}");
        assert!(
            e.to_string().contains("2 f32") && e.to_string().contains("3 f32"),
            "{e}"
        );
    }
}

#[test]
fn a_rank_that_ends_early_fails_the_others_instead_of_hanging() {
    let out = ThreadGroup::run(3, |c| {
        if c.rank() == 1 {
            return Ok(());
        }
        let mut v = [1f32];
        c.allreduce_sum_f32(&mut v)
    });
    assert!(out[1].is_ok());
    // Rank 1 is the first to go; whichever of the others fails second may see the first of
    // them gone too.
    assert!(
        matches!(out[0], Err(DistError::PeerGone { rank: 1 })),
        "{:?}",
        out[0]
    );
    assert!(
        matches!(out[2], Err(DistError::PeerGone { .. })),
        "{:?}",
        out[2]
    );
}

#[test]
fn a_panicking_rank_is_re_raised_after_the_others_are_released() {
    let caught = std::panic::catch_unwind(|| {
        ThreadGroup::run(2, |c| {
            if c.rank() == 0 {
                c.abort(3);
            }
            let mut v = [0f32];
            c.allreduce_sum_f32(&mut v).is_err()
        })
    });
    let p = caught.unwrap_err();
    let msg = p.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(
        msg.contains("rank 0 aborted") && msg.contains("code 3"),
        "{msg}"
    );
}

#[test]
fn a_broadcast_root_outside_the_world_is_refused() {
    let mut v = [0f32];
    let e = SingleProcess.broadcast_f32(&mut v, 1).unwrap_err();
    assert!(e.to_string().contains("root 1"), "{e}");
    let out = ThreadGroup::run(2, |c| c.broadcast_f32(&mut [0.0], 2).is_err());
    assert_eq!(out, vec![true, true]);
}

#[test]
fn bucketed_reduction_packs_in_order_and_reduces_everything() {
    // Buffers of 3, 5, 1, 20 and 4 floats with buckets of 8 floats: [3, 5], the 20 on its
    // own, then [1, 4] — three calls.
    let lens = [3usize, 5, 1, 20, 4];
    let out = ThreadGroup::run(2, |c| {
        let mut data: Vec<Vec<f32>> = lens
            .iter()
            .enumerate()
            .map(|(i, &n)| {
                (0..n)
                    .map(|k| (i * 100 + k) as f32 + c.rank() as f32)
                    .collect()
            })
            .collect();
        let mut views: Vec<&mut [f32]> = data.iter_mut().map(|v| v.as_mut_slice()).collect();
        let stats = allreduce_sum_bucketed(c.as_ref(), &mut views, 8 * 4).unwrap();
        (data, stats)
    });
    for (data, stats) in &out {
        assert_eq!(stats.calls, 3);
        assert_eq!(stats.bytes, 33 * 4);
        for (i, v) in data.iter().enumerate() {
            for (k, x) in v.iter().enumerate() {
                assert_eq!(*x, 2.0 * (i * 100 + k) as f32 + 1.0);
            }
        }
    }
    // One rank: nothing to do, nothing changed.
    let mut a = vec![1.0f32, 2.0];
    let stats = allreduce_sum_bucketed(&SingleProcess, &mut [a.as_mut_slice()], 4).unwrap();
    assert_eq!((stats.calls, a), (0, vec![1.0, 2.0]));
}
