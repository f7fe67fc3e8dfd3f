//! The MPI engine: the system's MPI (Open MPI) through rsmpi.
//!
//! MPI is initialised with `MPI_THREAD_SERIALIZED` and every call goes through one lock, so
//! the communicator may be used from any thread (the executor may run a synchronised
//! BatchNorm's reduction on a worker thread) while MPI sees one call at a time.
//!
//! Ending: rsmpi finalises MPI when its `Universe` is dropped, and `MPI_Finalize` waits for
//! every rank — so a rank that fails must not simply return, or the others hang in their next
//! collective. [`Communicator::abort`] calls `MPI_Abort`, which makes the launcher end every
//! rank; [`Mpi::finish`] finalises explicitly after a successful run.

use std::sync::Mutex;

use mpi::collective::{CommunicatorCollectives, Root, SystemOperation};
use mpi::environment::Universe;
use mpi::topology::{Communicator as _, SimpleCommunicator};
use mpi::traits::Equivalence;

use crate::{Communicator, DistError, Result, check_root};

/// `MPI_COMM_WORLD` of an MPI job started by `mpirun`/`mpiexec`.
pub struct Mpi {
    /// Dropping the universe calls `MPI_Finalize`; `None` once [`Mpi::finish`] has.
    universe: Mutex<Option<Universe>>,
    rank: usize,
    size: usize,
    library: String,
}

impl std::fmt::Debug for Mpi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mpi")
            .field("rank", &self.rank)
            .field("size", &self.size)
            .field("library", &self.library)
            .finish()
    }
}

/// MPI's element counts are C `int`s: a longer buffer is reduced in pieces of this many.
const MAX_COUNT: usize = i32::MAX as usize;

impl Mpi {
    /// Initialises MPI (once per process) and joins `MPI_COMM_WORLD`.
    pub fn init() -> Result<Mpi> {
        let (universe, provided) = mpi::initialize_with_threading(mpi::Threading::Serialized)
            .ok_or_else(|| DistError::Mpi("MPI is already initialised in this process".into()))?;
        if matches!(provided, mpi::Threading::Single | mpi::Threading::Funneled) {
            return Err(DistError::Mpi(format!(
                "the MPI library offers only {provided:?} threading; convnet needs \
                 MPI_THREAD_SERIALIZED"
            )));
        }
        let world = universe.world();
        let library = mpi::environment::library_version()
            .ok()
            // "Open MPI v4.1.4, package: Debian OpenMPI, ident: …": the name and version.
            .and_then(|v| v.split([',', '\n']).next().map(|l| l.trim().to_string()))
            .unwrap_or_else(|| "MPI".into());
        Ok(Mpi {
            rank: world.rank() as usize,
            size: world.size() as usize,
            universe: Mutex::new(Some(universe)),
            library,
        })
    }

    /// Runs one MPI call on the world communicator, serialised with every other, refusing
    /// once MPI has been finalised.
    fn call<R>(&self, f: impl FnOnce(&SimpleCommunicator) -> R) -> Result<R> {
        let guard = self.universe.lock().unwrap_or_else(|p| p.into_inner());
        match guard.as_ref() {
            Some(u) => Ok(f(&u.world())),
            None => Err(DistError::Mpi("MPI has been finalised".into())),
        }
    }

    fn allreduce_sum<T: Equivalence + Copy>(&self, buf: &mut [T]) -> Result<()> {
        for piece in buf.chunks_mut(MAX_COUNT) {
            let send = piece.to_vec();
            self.call(|w| w.all_reduce_into(&send[..], piece, SystemOperation::sum()))?;
        }
        Ok(())
    }

    fn broadcast<T: Equivalence>(&self, buf: &mut [T], root: usize) -> Result<()> {
        check_root(root, self.size)?;
        for piece in buf.chunks_mut(MAX_COUNT) {
            self.call(|w| w.process_at_rank(root as i32).broadcast_into(piece))?;
        }
        Ok(())
    }

    /// Finalises MPI after a successful run (every rank must call it). Later collectives are
    /// refused.
    pub fn finish(&self) {
        let universe = self
            .universe
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        drop(universe);
    }
}

impl Communicator for Mpi {
    fn rank(&self) -> usize {
        self.rank
    }
    fn size(&self) -> usize {
        self.size
    }
    fn describe(&self) -> String {
        format!("{}, {} ranks", self.library, self.size)
    }
    fn allreduce_sum_f32(&self, buf: &mut [f32]) -> Result<()> {
        self.allreduce_sum(buf)
    }
    fn allreduce_sum_f64(&self, buf: &mut [f64]) -> Result<()> {
        self.allreduce_sum(buf)
    }
    fn broadcast_f32(&self, buf: &mut [f32], root: usize) -> Result<()> {
        self.broadcast(buf, root)
    }
    fn broadcast_bytes(&self, buf: &mut [u8], root: usize) -> Result<()> {
        self.broadcast(buf, root)
    }
    fn barrier(&self) -> Result<()> {
        self.call(|w| w.barrier())
    }
    fn abort(&self, code: i32) -> ! {
        // Not through the lock: the main thread may hold it, blocked in a collective that
        // will never complete — which is exactly when abort is needed.
        SimpleCommunicator::world().abort(code)
    }
    fn finish(&self) {
        Mpi::finish(self)
    }
}
