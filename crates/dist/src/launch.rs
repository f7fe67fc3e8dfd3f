//! Which world this process is part of: how it was started decides.

use std::sync::Arc;

use crate::{Communicator, Result, SingleProcess};

/// What an MPI launcher told this process through its environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaunchInfo {
    /// The variable the world size came from (`OMPI_COMM_WORLD_SIZE`, `PMI_SIZE`).
    pub launcher: String,
    /// This process's rank.
    pub rank: usize,
    /// The number of ranks started.
    pub size: usize,
    /// The number of ranks started on this host, when the launcher says
    /// (`OMPI_COMM_WORLD_LOCAL_SIZE`, `MPI_LOCALNRANKS`).
    pub local_size: Option<usize>,
}

/// The launcher's announcement, if this process was started by `mpirun`/`mpiexec` (Open
/// MPI's `OMPI_COMM_WORLD_*`, or the PMI variables of MPICH's Hydra and Intel MPI).
pub fn launch_info() -> Option<LaunchInfo> {
    let read = |k: &str| std::env::var(k).ok()?.trim().parse::<usize>().ok();
    [
        ("OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_RANK"),
        ("PMI_SIZE", "PMI_RANK"),
    ]
    .iter()
    .find_map(|&(size, rank)| {
        Some(LaunchInfo {
            launcher: size.to_string(),
            size: read(size)?,
            rank: read(rank).unwrap_or(0),
            local_size: read("OMPI_COMM_WORLD_LOCAL_SIZE")
                .or_else(|| read("MPI_LOCALNRANKS"))
                .filter(|&n| n > 0),
        })
    })
}

/// Whether this build can join an MPI job (the `mpi` feature).
pub fn mpi_compiled() -> bool {
    cfg!(feature = "mpi")
}

/// The world of this process: MPI's when an MPI launcher started it (in a build with the
/// `mpi` feature), else a [`SingleProcess`]. A launcher's job of several ranks in a build
/// without MPI is refused ([`crate::DistError::NotBuiltWithMpi`]) rather than letting every
/// rank train alone.
///
/// Call [`Communicator::finish`] on the result after a successful run, and
/// [`Communicator::abort`] on a failure while other ranks may be waiting.
pub fn init() -> Result<Arc<dyn Communicator>> {
    let Some(info) = launch_info() else {
        return Ok(Arc::new(SingleProcess));
    };
    #[cfg(feature = "mpi")]
    {
        let _ = info;
        Ok(Arc::new(crate::Mpi::init()?))
    }
    #[cfg(not(feature = "mpi"))]
    {
        if info.size > 1 {
            return Err(crate::DistError::NotBuiltWithMpi {
                launcher: info.launcher,
                size: info.size,
            });
        }
        Ok(Arc::new(SingleProcess))
    }
}

/// Makes a panic anywhere in this process end the whole job: the panic's message is printed
/// (by the hook that was in place), then, in a world of several ranks, [`Communicator::abort`]
/// ends every rank with exit code 101, the code of a Rust panic. Without this, the other ranks
/// would wait for the dead one in their next collective forever.
pub fn abort_on_panic(comm: Arc<dyn Communicator>) {
    if comm.size() == 1 {
        return;
    }
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        eprint!("rank {}: ", comm.rank());
        previous(info);
        comm.abort(101);
    }));
}
