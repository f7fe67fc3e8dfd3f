//! The data-parallel world this process belongs to: a single process, or one rank of an
//! `mpirun` job (built with `--features mpi`). Set once in `main`; only rank 0 prints.

use std::sync::{Arc, OnceLock};

use convnet_dist::{Communicator, SingleProcess};

static WORLD: OnceLock<Arc<dyn Communicator>> = OnceLock::new();

/// Makes `comm` the world (once, from `main`).
pub fn set(comm: Arc<dyn Communicator>) {
    let _ = WORLD.set(comm);
}

/// The world: a single process unless `main` joined an MPI job.
pub fn get() -> Arc<dyn Communicator> {
    WORLD
        .get()
        .cloned()
        .unwrap_or_else(|| Arc::new(SingleProcess))
}

/// Whether this process prints (rank 0, or the only process).
pub fn is_root() -> bool {
    WORLD.get().is_none_or(|w| w.is_root())
}

/// `eprintln!` on rank 0 only: the run's notes, printed once per job rather than per rank.
macro_rules! note {
    ($($arg:tt)*) => {
        if $crate::world::is_root() {
            eprintln!($($arg)*);
        }
    };
}

/// `println!` on rank 0 only: the run's results, printed once per job.
macro_rules! say {
    ($($arg:tt)*) => {
        if $crate::world::is_root() {
            println!($($arg)*);
        }
    };
}
