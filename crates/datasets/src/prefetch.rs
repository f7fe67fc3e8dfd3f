//! Items made in order on a background thread, a bounded number ahead of the consumer.
//!
//! The consumer must be able to tell "the thread has made every item" from "the thread died":
//! a panic while making an item is returned as an error by the next call (with the panic's
//! message), never mistaken for the end of the sequence.

use std::ops::Range;
use std::sync::mpsc::{Receiver, sync_channel};
use std::thread::JoinHandle;

pub(crate) struct Prefetch<T> {
    rx: Receiver<T>,
    handle: Option<JoinHandle<()>>,
    next: usize,
    end: usize,
}

impl<T: Send + 'static> Prefetch<T> {
    /// Starts a thread named `name` that makes `make(i)` for every `i` in `items`, at most
    /// `ahead` items before they are taken. Fails only when no thread can be started.
    pub(crate) fn spawn(
        name: &str,
        items: Range<usize>,
        ahead: usize,
        make: impl Fn(usize) -> T + Send + 'static,
    ) -> std::io::Result<Prefetch<T>> {
        let (tx, rx) = sync_channel(ahead);
        let range = items.clone();
        let handle = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                for i in range {
                    if tx.send(make(i)).is_err() {
                        break; // the consumer stopped early
                    }
                }
            })?;
        Ok(Prefetch {
            rx,
            handle: Some(handle),
            next: items.start,
            end: items.end,
        })
    }

    /// The next item, `None` after the last, or — once — `Err(message)` when the thread ended
    /// before making item `index` (it panicked); `None` after that.
    pub(crate) fn next(&mut self) -> Option<Result<T, (usize, String)>> {
        if self.next >= self.end {
            return None;
        }
        match self.rx.recv() {
            Ok(item) => {
                self.next += 1;
                Some(Ok(item))
            }
            Err(_) => {
                let index = self.next;
                self.next = self.end;
                let why = match self.handle.take().map(JoinHandle::join) {
                    Some(Err(payload)) => panic_message(payload.as_ref()),
                    _ => "the thread ended without making it".to_string(),
                };
                Some(Err((index, why)))
            }
        }
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        format!("panicked: {s}")
    } else if let Some(s) = payload.downcast_ref::<String>() {
        format!("panicked: {s}")
    } else {
        "panicked".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_item_arrives_in_order_then_none() {
        let mut p = Prefetch::spawn("test", 3..7, 2, |i| i * 10).unwrap();
        let got: Vec<_> = std::iter::from_fn(|| p.next()).collect();
        assert_eq!(got, vec![Ok(30), Ok(40), Ok(50), Ok(60)]);
    }

    #[test]
    fn a_panic_while_making_an_item_is_an_error_not_the_end() {
        let mut p = Prefetch::spawn("test", 0..10, 2, |i| {
            assert!(i != 4, "item {i} cannot be made");
            i
        })
        .unwrap();
        let got: Vec<_> = std::iter::from_fn(|| p.next()).collect();
        assert_eq!(got.len(), 5, "{got:?}");
        assert_eq!(got[..4], [Ok(0), Ok(1), Ok(2), Ok(3)]);
        let Err((index, why)) = &got[4] else {
            panic!("{got:?}")
        };
        assert_eq!(*index, 4);
        assert!(why.contains("item 4 cannot be made"), "{why}");
    }
}
