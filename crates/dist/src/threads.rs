//! N ranks as threads of one process: the same collectives as MPI, through shared memory, so
//! that the training loop's data parallelism can be tested (and shown) without a launcher.
//!
//! Every collective is one *exchange*: each rank deposits its contribution, the last to arrive
//! publishes all of them, and each rank computes the result itself from the contributions in
//! rank order. Sums are therefore taken in a fixed order, `((x₀ + x₁) + x₂) + …`, and are
//! bit-identical on every rank and from run to run.

use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use crate::{Communicator, DistError, Result, check_root};

/// Runs ranks as threads.
#[derive(Debug, Clone, Copy)]
pub struct ThreadGroup;

impl ThreadGroup {
    /// Runs `body` on `ranks` threads, each with its own rank of one world, and returns their
    /// results in rank order. A rank that panics (or calls [`Communicator::abort`]) makes the
    /// others' pending and later collectives fail with [`DistError::PeerGone`]; its panic is
    /// then re-raised here.
    ///
    /// # Panics
    ///
    /// If `ranks` is 0, or when a rank panicked (after every rank has ended).
    pub fn run<R, F>(ranks: usize, body: F) -> Vec<R>
    where
        R: Send,
        F: Fn(Arc<dyn Communicator>) -> R + Sync,
    {
        assert!(ranks > 0, "a thread group needs at least one rank");
        let shared = Arc::new(Shared {
            size: ranks,
            state: Mutex::new(Round {
                generation: 0,
                slots: (0..ranks).map(|_| None).collect(),
                published: None,
                picked_up: 0,
                gone: vec![false; ranks],
            }),
            changed: Condvar::new(),
        });
        let body = &body;
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..ranks)
                .map(|rank| {
                    let shared = Arc::clone(&shared);
                    std::thread::Builder::new()
                        .name(format!("rank-{rank}"))
                        .spawn_scoped(scope, move || {
                            let _leaving = Leaving {
                                shared: Arc::clone(&shared),
                                rank,
                            };
                            body(Arc::new(ThreadRank { shared, rank }))
                        })
                        .expect("spawning a rank's thread")
                })
                .collect();
            let mut results = Vec::with_capacity(ranks);
            let mut panic = None;
            for h in handles {
                match h.join() {
                    Ok(r) => results.push(r),
                    Err(p) => panic = panic.or(Some(p)),
                }
            }
            if let Some(p) = panic {
                std::panic::resume_unwind(p);
            }
            results
        })
    }
}

/// Marks its rank as gone when the rank's body ends, normally or by a panic, so that no other
/// rank waits for it.
struct Leaving {
    shared: Arc<Shared>,
    rank: usize,
}

impl Drop for Leaving {
    fn drop(&mut self) {
        let mut s = self.shared.lock();
        s.gone[self.rank] = true;
        self.shared.changed.notify_all();
    }
}

struct Shared {
    size: usize,
    state: Mutex<Round>,
    changed: Condvar,
}

impl Shared {
    /// The state; a rank that panicked while holding the lock left it consistent (every
    /// update below is a single assignment), so a poisoned lock is taken over.
    fn lock(&self) -> MutexGuard<'_, Round> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn wait<'a>(&self, g: MutexGuard<'a, Round>) -> MutexGuard<'a, Round> {
        self.changed.wait(g).unwrap_or_else(|p| p.into_inner())
    }
}

/// What one rank brings to a collective.
#[derive(Debug, Clone, PartialEq)]
enum Contribution {
    SumF32(Vec<f32>),
    SumF64(Vec<f64>),
    BroadcastF32 { root: usize, data: Vec<f32> },
    BroadcastBytes { root: usize, data: Vec<u8> },
    Barrier,
}

impl Contribution {
    /// The collective and its length, which every rank must agree on.
    fn signature(&self) -> String {
        match self {
            Contribution::SumF32(v) => format!("allreduce-sum of {} f32", v.len()),
            Contribution::SumF64(v) => format!("allreduce-sum of {} f64", v.len()),
            Contribution::BroadcastF32 { root, data } => {
                format!("broadcast of {} f32 from rank {root}", data.len())
            }
            Contribution::BroadcastBytes { root, data } => {
                format!("broadcast of {} bytes from rank {root}", data.len())
            }
            Contribution::Barrier => "barrier".into(),
        }
    }
}

struct Round {
    /// Counts published rounds.
    generation: u64,
    /// The current round's contributions, by rank.
    slots: Vec<Option<Contribution>>,
    /// The last complete round, until every rank has picked it up.
    published: Option<Arc<Vec<Contribution>>>,
    picked_up: usize,
    /// Ranks whose body has ended.
    gone: Vec<bool>,
}

impl Round {
    /// A rank that has ended without contributing to the current round.
    fn missing_peer(&self) -> Option<usize> {
        (0..self.slots.len()).find(|&r| self.gone[r] && self.slots[r].is_none())
    }
}

/// One rank of a [`ThreadGroup`].
struct ThreadRank {
    shared: Arc<Shared>,
    rank: usize,
}

impl std::fmt::Debug for ThreadRank {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ThreadRank")
            .field("rank", &self.rank)
            .field("size", &self.shared.size)
            .finish()
    }
}

impl ThreadRank {
    /// Deposits `mine` and returns every rank's contribution to the same round, in rank order,
    /// after checking that all ranks called the same collective.
    fn exchange(&self, mine: Contribution) -> Result<Arc<Vec<Contribution>>> {
        let shared = &self.shared;
        let mut s = shared.lock();
        // The previous round is still being picked up by slower ranks: wait for it to clear.
        while s.published.is_some() {
            s = shared.wait(s);
        }
        if let Some(rank) = s.missing_peer() {
            return Err(DistError::PeerGone { rank });
        }
        s.slots[self.rank] = Some(mine);
        let generation = s.generation;
        if s.slots.iter().all(Option::is_some) {
            let all: Vec<Contribution> = s.slots.iter_mut().filter_map(Option::take).collect();
            s.published = Some(Arc::new(all));
            s.picked_up = 0;
            s.generation += 1;
            shared.changed.notify_all();
        } else {
            while s.generation == generation {
                if let Some(rank) = s.missing_peer() {
                    // Withdraw, so that the round is not published without this rank knowing.
                    s.slots[self.rank] = None;
                    return Err(DistError::PeerGone { rank });
                }
                s = shared.wait(s);
            }
        }
        let all = Arc::clone(s.published.as_ref().expect("a published round"));
        s.picked_up += 1;
        if s.picked_up == shared.size {
            s.published = None;
            shared.changed.notify_all();
        }
        drop(s);
        let first = all[0].signature();
        if let Some((r, c)) = all.iter().enumerate().find(|(_, c)| c.signature() != first) {
            return Err(DistError::Mismatch(format!(
                "rank 0 called {first}, rank {r} called {}",
                c.signature()
            )));
        }
        Ok(all)
    }
}

/// `buf` ← the sum of `parts`, added in the order given (rank order), on every rank alike.
fn sum_in_rank_order<'a, T>(buf: &mut [T], parts: impl Iterator<Item = &'a [T]>)
where
    T: Copy + Default + std::ops::AddAssign + 'a,
{
    buf.fill(T::default());
    for part in parts {
        buf.iter_mut().zip(part).for_each(|(b, &x)| *b += x);
    }
}

impl Communicator for ThreadRank {
    fn rank(&self) -> usize {
        self.rank
    }
    fn size(&self) -> usize {
        self.shared.size
    }
    fn describe(&self) -> String {
        format!("{} ranks as threads of one process", self.shared.size)
    }
    fn allreduce_sum_f32(&self, buf: &mut [f32]) -> Result<()> {
        let all = self.exchange(Contribution::SumF32(buf.to_vec()))?;
        sum_in_rank_order(
            buf,
            all.iter().filter_map(|c| match c {
                Contribution::SumF32(v) => Some(v.as_slice()),
                _ => None,
            }),
        );
        Ok(())
    }
    fn allreduce_sum_f64(&self, buf: &mut [f64]) -> Result<()> {
        let all = self.exchange(Contribution::SumF64(buf.to_vec()))?;
        sum_in_rank_order(
            buf,
            all.iter().filter_map(|c| match c {
                Contribution::SumF64(v) => Some(v.as_slice()),
                _ => None,
            }),
        );
        Ok(())
    }
    fn broadcast_f32(&self, buf: &mut [f32], root: usize) -> Result<()> {
        check_root(root, self.size())?;
        let all = self.exchange(Contribution::BroadcastF32 {
            root,
            data: buf.to_vec(),
        })?;
        match &all[root] {
            Contribution::BroadcastF32 { data, .. } => buf.copy_from_slice(data),
            _ => unreachable!("exchange checked that every rank broadcast f32"),
        }
        Ok(())
    }
    fn broadcast_bytes(&self, buf: &mut [u8], root: usize) -> Result<()> {
        check_root(root, self.size())?;
        let all = self.exchange(Contribution::BroadcastBytes {
            root,
            data: buf.to_vec(),
        })?;
        match &all[root] {
            Contribution::BroadcastBytes { data, .. } => buf.copy_from_slice(data),
            _ => unreachable!("exchange checked that every rank broadcast bytes"),
        }
        Ok(())
    }
    fn barrier(&self) -> Result<()> {
        self.exchange(Contribution::Barrier).map(|_| ())
    }
    fn abort(&self, code: i32) -> ! {
        // Only this thread can be ended: its panic marks the rank gone, which fails the
        // others' collectives, and ThreadGroup::run re-raises it.
        panic!(
            "rank {} aborted the thread group with code {code}",
            self.rank
        )
    }
}
