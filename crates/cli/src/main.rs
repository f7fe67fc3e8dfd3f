//! `convnet`: train and evaluate the classic CNNs on real data sets from one command.
//!
//! `convnet train` with no arguments trains LeNet-5 on MNIST. Exit codes: 0 success, 1 a
//! failure while running (corrupt file, diverging loss, …), 2 a usage error (unknown option,
//! model or data set), 66 missing input data or checkpoint (sysexits' EX_NOINPUT).

#![warn(missing_docs)]

#[macro_use]
mod world;
mod alloc_count;
mod args;
mod commands;
mod recipes;

use std::process::ExitCode;

use clap::Parser;

use crate::args::{Cli, Command};

#[global_allocator]
static ALLOCATOR: alloc_count::Counting = alloc_count::Counting;

/// A failure with the exit code it should produce.
#[derive(Debug)]
pub struct Failure {
    /// The process's exit code (see the crate documentation).
    pub code: u8,
    /// What is printed after `error: ` on stderr.
    pub message: String,
}

impl Failure {
    /// A usage error, exit code 2: an unknown option, model or data set.
    pub fn usage(message: impl Into<String>) -> Self {
        Failure {
            code: 2,
            message: message.into(),
        }
    }
    /// A failure while running, exit code 1 (a corrupt file, a diverging loss, …).
    pub fn run(message: impl ToString) -> Self {
        Failure {
            code: 1,
            message: message.to_string(),
        }
    }
    /// Missing input data or checkpoint, exit code 66 (sysexits' `EX_NOINPUT`).
    pub fn no_input(message: impl ToString) -> Self {
        Failure {
            code: 66,
            message: message.to_string(),
        }
    }
}

fn main() -> ExitCode {
    alloc_count::keep_freed_memory();
    let cli = Cli::parse();
    // Under `mpirun` this joins the job (or refuses, in a build without MPI); a process
    // started on its own is a world of one.
    let world = match convnet_dist::init() {
        Ok(w) => w,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    world::set(world.clone());
    // A panic or an error on one rank must end the whole job: the other ranks may be waiting
    // for it in a collective, and rsmpi's normal ending (MPI_Finalize) would wait for them.
    convnet_dist::abort_on_panic(world.clone());
    let command = cli.command.unwrap_or_default();
    if world.size() > 1 && !matches!(command, Command::Train(_) | Command::LrFind(_)) {
        eprintln!(
            "error: rank {}: only `convnet train` and `convnet lr-find` run data-parallel; start \
             this command without mpirun",
            world.rank()
        );
        world.abort(2);
    }
    let result = match command {
        Command::Train(a) => commands::train::run(*a),
        Command::LrFind(a) => commands::train::lr_find(*a),
        Command::Eval(a) => commands::eval::run(a),
        Command::Predict(a) => commands::predict::run(a),
        Command::Summary(a) => commands::summary::run(a),
        Command::Bench(a) => commands::bench::run(a),
        Command::Inspect(a) => commands::inspect::run(a),
        Command::Report(a) => commands::report::run(a),
        Command::Models => commands::catalog::models(),
        Command::Datasets(a) => commands::catalog::datasets(a),
        Command::Download(a) => commands::catalog::download(a),
    };
    match result {
        Ok(()) => {
            world.finish();
            ExitCode::SUCCESS
        }
        Err(f) if world.size() > 1 => {
            eprintln!(
                "error: rank {} of {}: {}",
                world.rank(),
                world.size(),
                f.message
            );
            world.abort(i32::from(f.code))
        }
        Err(f) => {
            eprintln!("error: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}
