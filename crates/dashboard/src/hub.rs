//! The shared state between the training thread, the snapshot worker and the server: the
//! page's data, the pictures, and the open event streams.
//!
//! Why bounded per-client queues with `try_send`: a slow or closed browser must never slow
//! training down. An event a client has no room for is dropped for that client (the page
//! notices a gap in the step numbers and fetches `/state` again), so nothing ever waits on a
//! socket but the client's own streaming thread.

use std::collections::HashMap;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::state::DashState;

/// Events a client may fall behind by before newer ones are dropped for it.
const CLIENT_QUEUE: usize = 32;

/// State, pictures and subscribers.
#[derive(Debug, Default)]
pub struct Hub {
    state: Mutex<DashState>,
    images: Mutex<HashMap<String, Vec<u8>>>,
    clients: Mutex<Vec<SyncSender<String>>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere must not take the page down: the data is plain and stays usable.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Hub {
    /// A hub starting from `state`.
    pub fn new(state: DashState) -> Self {
        Hub {
            state: Mutex::new(state),
            ..Hub::default()
        }
    }

    /// Runs `f` on the state.
    pub fn with_state<R>(&self, f: impl FnOnce(&mut DashState) -> R) -> R {
        f(&mut lock(&self.state))
    }

    /// The whole state as JSON.
    pub fn state_json(&self) -> String {
        serde_json::to_string(&*lock(&self.state)).unwrap_or_else(|_| "{}".into())
    }

    /// Stores a PNG under `key` (served at `/img/<key>`).
    pub fn put_image(&self, key: &str, png: Vec<u8>) {
        lock(&self.images).insert(key.to_string(), png);
    }

    /// The PNG stored under `key`.
    pub fn image(&self, key: &str) -> Option<Vec<u8>> {
        lock(&self.images).get(key).cloned()
    }

    /// Every stored picture, for the static report.
    pub fn images(&self) -> HashMap<String, Vec<u8>> {
        lock(&self.images).clone()
    }

    /// A new event stream.
    pub fn subscribe(&self) -> Receiver<String> {
        let (tx, rx) = sync_channel(CLIENT_QUEUE);
        lock(&self.clients).push(tx);
        rx
    }

    /// Sends `event` with JSON `data` to every stream that has room; closed streams are
    /// forgotten.
    pub fn publish(&self, event: &str, data: &str) {
        let message = format!("event: {event}\ndata: {data}\n\n");
        lock(&self.clients).retain(|c| match c.try_send(message.clone()) {
            Ok(()) | Err(TrySendError::Full(_)) => true,
            Err(TrySendError::Disconnected(_)) => false,
        });
    }

    /// Open event streams.
    pub fn subscribers(&self) -> usize {
        lock(&self.clients).len()
    }
}
