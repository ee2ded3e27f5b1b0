//! Graceful shutdown, as in mini-redis: one broadcast tells every task to
//! stop; every task holds a clone of an mpsc sender and drops it when done,
//! so the receiver's `recv()` returning `None` confirms that all have finished.

use tokio::sync::{broadcast, mpsc};

/// Held by each task: tells it when to stop, and (by being dropped) that it has.
#[derive(Debug)]
pub struct Shutdown {
    notify: broadcast::Receiver<()>,
    is_shutdown: bool,
    _done: mpsc::Sender<()>,
}

impl Shutdown {
    /// Waits for the signal; returns at once if it was already seen.
    pub async fn recv(&mut self) {
        if self.is_shutdown {
            return;
        }
        // Lagged cannot happen (one message is ever sent) and Closed means the
        // coordinator is gone: both mean stop.
        let _ = self.notify.recv().await;
        self.is_shutdown = true;
    }

    /// Another handle for a task spawned by this one.
    pub fn clone_handle(&self) -> Shutdown {
        Shutdown {
            notify: self.notify.resubscribe(),
            is_shutdown: self.is_shutdown,
            _done: self._done.clone(),
        }
    }
}

/// Owned by `run`: hands out [`Shutdown`] handles, triggers and awaits them.
#[derive(Debug)]
pub struct Coordinator {
    notify: broadcast::Sender<()>,
    done_tx: mpsc::Sender<()>,
    done_rx: mpsc::Receiver<()>,
}

impl Default for Coordinator {
    fn default() -> Self {
        Self::new()
    }
}

impl Coordinator {
    pub fn new() -> Coordinator {
        let (notify, _) = broadcast::channel(1);
        let (done_tx, done_rx) = mpsc::channel(1);
        Coordinator {
            notify,
            done_tx,
            done_rx,
        }
    }

    pub fn handle(&self) -> Shutdown {
        Shutdown {
            notify: self.notify.subscribe(),
            is_shutdown: false,
            _done: self.done_tx.clone(),
        }
    }

    /// Tells every task to stop and waits until all have dropped their handles.
    pub async fn shutdown(self) {
        let Coordinator {
            notify,
            done_tx,
            mut done_rx,
        } = self;
        let _ = notify.send(());
        drop(done_tx);
        // Returns None once every Shutdown handle is gone.
        let _ = done_rx.recv().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn shutdown_waits_for_every_task() {
        let coordinator = Coordinator::new();
        let finished = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        for i in 0..3u64 {
            let mut handle = coordinator.handle();
            let finished = finished.clone();
            tokio::spawn(async move {
                handle.recv().await;
                // Some tasks take a while to flush.
                tokio::time::sleep(Duration::from_millis(10 * i)).await;
                let mut nested = handle.clone_handle();
                // Already signalled: returns at once.
                nested.recv().await;
                finished.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            });
        }
        coordinator.shutdown().await;
        assert_eq!(finished.load(std::sync::atomic::Ordering::SeqCst), 3);
    }
}
