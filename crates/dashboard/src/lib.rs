//! # convnet-dashboard
//!
//! Watching a network learn, as ConvNetJS's MNIST demo shows it: a page served on 127.0.0.1
//! while `convnet train --dashboard` runs, with the loss, accuracy and learning-rate curves,
//! throughput and ETA, and one card per layer in network order — its type, output shape and
//! size arithmetic, its parameter count with the formula, and, refreshed every few seconds
//! from a fixed sample batch, its activation and gradient statistics, dead-unit fraction,
//! update-to-weight ratio, the sample's activation maps and the first convolutions' filters
//! and their gradients — plus the sample strip with predictions, misclassified validation
//! images and the confusion matrix.
//!
//! - [`Hub`]: the page's data, pictures and event streams, shared by the three sides;
//! - [`Monitor`]: the fit loop's [`convnet_train::Callback`] that fills it;
//! - [`DashboardServer`]: the HTTP server (httparse on our own sockets, every bound explicit): the page, `/state`, the server-sent
//!   events at `/events` and the pictures at `/img/`;
//! - [`report::render`]: the same page as one self-contained HTML file (`convnet report`).
//!
//! Everything the page needs is compiled in (`assets/`): no CDN, no internet, no Node.js.
//! The charts are SVG drawn by the page's own script.
//!
//! ```
//! use std::sync::Arc;
//! use convnet_dashboard::{DashState, DashboardServer, Hub};
//!
//! let hub = Arc::new(Hub::new(DashState::default()));
//! let server = DashboardServer::start(Arc::clone(&hub), "127.0.0.1", 0).unwrap();
//! assert!(server.url().starts_with("http://127.0.0.1:"));
//! assert!(hub.state_json().contains("\"layers\":[]"));
//! ```

#![warn(missing_docs)]

pub mod hub;
pub mod monitor;
pub mod report;
pub mod server;
pub mod state;

pub use hub::Hub;
pub use monitor::{Monitor, SampleBatch, inspect_into, layer_cards};
pub use server::DashboardServer;
pub use state::{
    DashState, LayerCard, LayerLive, LrFindChart, Progress, RaceChart, RaceTrack, RunInfo, Sample,
    StepPoint, ValPoint, race_charts,
};
