//! Progress reporting for an epoch: a live bar (batches done, loss, accuracy, images/s, ETA)
//! when stderr is a terminal, plain lines otherwise (logs, CI), or nothing.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressMode {
    /// A bar on a terminal, plain lines otherwise.
    Auto,
    /// A live bar on stderr, whatever it is (indicatif draws nothing off a terminal).
    Bar,
    /// One line every `every` batches and at the end of the epoch.
    Lines {
        /// Batches between lines (0 counts as 1).
        every: usize,
    },
    /// Nothing.
    Silent,
}

/// Reports one epoch's progress.
#[derive(Debug)]
pub struct EpochProgress {
    bar: Option<ProgressBar>,
    lines_every: Option<usize>,
    label: String,
    total: usize,
    started: Instant,
}

impl EpochProgress {
    /// Starts reporting an epoch of `total_batches` batches headed `label` (e.g.
    /// `epoch 1/10`); [`ProgressMode::Auto`] off a terminal prints a line every tenth of it.
    pub fn new(mode: ProgressMode, label: &str, total_batches: usize) -> Self {
        let mode = match mode {
            ProgressMode::Auto if std::io::stderr().is_terminal() => ProgressMode::Bar,
            ProgressMode::Auto => ProgressMode::Lines {
                every: (total_batches / 10).max(1),
            },
            m => m,
        };
        let bar = (mode == ProgressMode::Bar).then(|| {
            let bar = ProgressBar::with_draw_target(
                Some(total_batches as u64),
                ProgressDrawTarget::stderr(),
            );
            let style =
                ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg} ETA {eta}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> ");
            bar.set_style(style);
            bar.set_prefix(label.to_string());
            bar
        });
        EpochProgress {
            bar,
            lines_every: match mode {
                ProgressMode::Lines { every } => Some(every.max(1)),
                _ => None,
            },
            label: label.to_string(),
            total: total_batches,
            started: Instant::now(),
        }
    }

    /// Records that `done` batches (of the total) are finished, with running figures.
    pub fn update(&self, done: usize, images: usize, loss: f64, accuracy: f64) {
        let elapsed = self.started.elapsed();
        let rate = images as f64 / elapsed.as_secs_f64().max(1e-9);
        let msg = format!(
            "loss {loss:.4} acc {:.2}% {rate:.0} img/s",
            100.0 * accuracy
        );
        if let Some(bar) = &self.bar {
            bar.set_position(done as u64);
            bar.set_message(msg);
        } else if let Some(every) = self.lines_every
            && (done.is_multiple_of(every) || done == self.total)
        {
            let eta = if done > 0 {
                elapsed.mul_f64((self.total - done) as f64 / done as f64)
            } else {
                Duration::ZERO
            };
            eprintln!(
                "{} {done}/{} {msg} ETA {:.0}s",
                self.label,
                self.total,
                eta.as_secs_f64()
            );
        }
    }

    /// Ends the epoch's report (completes the bar; plain lines need nothing).
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish();
        }
    }

    /// Time since [`EpochProgress::new`].
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }
}
