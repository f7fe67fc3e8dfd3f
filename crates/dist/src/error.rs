//! The crate's error type.

use thiserror::Error;

/// Errors of starting a world and of its collectives.
#[derive(Debug, Error)]
pub enum DistError {
    /// The process was started by an MPI launcher but this build has no MPI.
    #[error(
        "started by an MPI launcher ({launcher}, {size} ranks) but this convnet was built \
         without MPI: every rank would train alone. Build it with `--features mpi` \
         (cargo build --release -p convnet-cli --features mpi)"
    )]
    NotBuiltWithMpi {
        /// The launcher's environment variable that was found.
        launcher: String,
        /// The world size the launcher announced.
        size: usize,
    },
    /// MPI could not be initialised or a call failed.
    #[error("MPI: {0}")]
    Mpi(String),
    /// The ranks did not call the same collective with the same lengths.
    #[error("ranks disagree: {0}")]
    Mismatch(String),
    /// Another rank failed or ended, so this collective cannot complete.
    #[error("rank {rank} failed or ended before the collective completed")]
    PeerGone {
        /// The rank that went away (the lowest, if several did).
        rank: usize,
    },
    /// An argument that cannot be used (a root outside the world, …).
    #[error("{0}")]
    Invalid(String),
}

/// The crate's result type.
pub type Result<T, E = DistError> = std::result::Result<T, E>;
