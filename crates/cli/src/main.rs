//! `convnet`: train and evaluate the classic CNNs on real data sets from one command.
//!
//! `convnet train` with no arguments trains LeNet-5 on MNIST. Exit codes: 0 success, 1 a
//! failure while running (corrupt file, diverging loss, …), 2 a usage error (unknown option,
//! model or data set), 66 missing input data or checkpoint (sysexits' EX_NOINPUT).

#![warn(missing_docs)]

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
    let cli = Cli::parse();
    let result = match cli.command.unwrap_or_default() {
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
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("error: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}
