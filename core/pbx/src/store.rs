//! The store on a thread of its own.
//!
//! SQLite calls block; a call's task must not. Calls hand their CDR to
//! this thread through a channel and go on. Queries (the HTTP API) get
//! their answer through a oneshot. At shutdown the thread drains what is
//! queued before it exits, so no CDR of a finished call is lost.

use std::sync::{Arc, Mutex, PoisonError, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;
use tracing::{error, info, warn};
use waihu_store::{Cdr, Store, StoreError};

enum Job {
    Cdr(Box<Cdr>),
    Cdrs {
        call_id: Option<String>,
        limit: u32,
        reply: oneshot::Sender<Result<Vec<Cdr>, String>>,
    },
    /// Any other work on the store, in order with the rest.
    Run(Box<dyn FnOnce(&mut Store) + Send>),
    /// A read that needs nothing of the CDRs: it may run while CDRs
    /// queued before it wait for their batch's commit.
    Read(Box<dyn FnOnce(&mut Store) + Send>),
}

/// CDRs written in one transaction at most.
const CDR_BATCH: usize = 512;

/// How long the first CDR of a batch waits for others to share its
/// commit. Busy, a commit per call was the store's largest cost; idle,
/// a CDR is on disk this much later.
const CDR_LINGER: Duration = Duration::from_millis(20);

/// One commit for the batch; if it fails, each CDR on its own, so one bad
/// row costs only itself.
fn write_cdrs(store: &mut Store, batch: &[Cdr]) {
    if store.insert_cdrs(batch).is_ok() {
        return;
    }
    for cdr in batch {
        if let Err(e) = store.insert_cdr(cdr) {
            error!(call_id = %cdr.call_id, error = %e, "cdr not written");
        }
    }
}

/// A cheap handle to the store thread.
#[derive(Clone, Debug)]
pub struct StoreHandle {
    jobs: mpsc::Sender<Job>,
    /// Read-only connections for [`StoreHandle::read`]; `None` for an
    /// in-memory store, whose reads go to the thread.
    readers: Option<Arc<Readers>>,
}

/// Idle read-only connections, one per reader at the same moment (a
/// runtime thread each, at most).
#[derive(Debug)]
struct Readers {
    url: String,
    idle: Mutex<Vec<Store>>,
}

impl Readers {
    fn lease(&self) -> Option<Store> {
        let idle = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        idle.or_else(|| match Store::open_reader(&self.url) {
            Ok(reader) => reader,
            Err(e) => {
                warn!(error = %e, "no read-only store connection: reading on the store thread");
                None
            }
        })
    }

    fn give_back(&self, reader: Store) {
        self.idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(reader);
    }
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Job::Cdr(c) => write!(f, "Cdr({})", c.call_id),
            Job::Cdrs { call_id, .. } => write!(f, "Cdrs({call_id:?})"),
            Job::Run(_) => f.write_str("Run"),
            Job::Read(_) => f.write_str("Read"),
        }
    }
}

/// The store thread; join it after every handle is dropped.
#[derive(Debug)]
pub struct StoreThread {
    join: JoinHandle<()>,
}

impl StoreThread {
    /// Waits for the thread to write what is queued (every handle must be dropped first).
    pub fn join(self) {
        if self.join.join().is_err() {
            error!("the store thread panicked");
        }
    }
}

/// Opens the store (creating the file on first run) and starts its thread.
pub fn start(url: &str) -> Result<(StoreHandle, StoreThread), StoreError> {
    start_with(url, CDR_LINGER)
}

/// [`start`], with the CDR batches' `linger`.
fn start_with(url: &str, linger: Duration) -> Result<(StoreHandle, StoreThread), StoreError> {
    let mut store = Store::open(url)?;
    info!(path = store.path(), "store opened");
    let (jobs, rx) = mpsc::channel::<Job>();
    let join = std::thread::Builder::new()
        .name("waihu-store".into())
        .spawn(move || {
            let mut next = None;
            loop {
                let Some(job) = next.take().or_else(|| rx.recv().ok()) else {
                    break;
                };
                match job {
                    Job::Cdr(cdr) => {
                        // The CDRs queued meanwhile go in the same commit;
                        // reads that need none of them do not wait for it,
                        // any other job does.
                        let mut batch = vec![*cdr];
                        let until = Instant::now() + linger;
                        while batch.len() < CDR_BATCH {
                            let left = until.saturating_duration_since(Instant::now());
                            match rx.recv_timeout(left) {
                                Ok(Job::Cdr(more)) => batch.push(*more),
                                Ok(Job::Read(work)) => work(&mut store),
                                Ok(other) => {
                                    next = Some(other);
                                    break;
                                }
                                Err(_) => break,
                            }
                        }
                        write_cdrs(&mut store, &batch);
                    }
                    Job::Cdrs {
                        call_id,
                        limit,
                        reply,
                    } => {
                        let rows = store
                            .cdrs(call_id.as_deref(), limit)
                            .map_err(|e| e.to_string());
                        let _ = reply.send(rows);
                    }
                    Job::Run(work) | Job::Read(work) => work(&mut store),
                }
            }
        })
        .map_err(|e| StoreError::Thread(e.to_string()))?;
    let readers = Store::open_reader(url)?.map(|first| {
        Arc::new(Readers {
            url: url.to_owned(),
            idle: Mutex::new(vec![first]),
        })
    });
    Ok((StoreHandle { jobs, readers }, StoreThread { join }))
}

impl StoreHandle {
    /// Queues a CDR for writing.
    pub fn write_cdr(&self, cdr: Cdr) {
        if self.jobs.send(Job::Cdr(Box::new(cdr))).is_err() {
            error!("store thread gone: cdr lost");
        }
    }

    /// Runs `work` on the store thread, in order with the writes queued
    /// before it, and does not wait.
    pub fn spawn(&self, work: impl FnOnce(&mut Store) + Send + 'static) {
        if self.jobs.send(Job::Run(Box::new(work))).is_err() {
            error!("store thread gone: write lost");
        }
    }

    /// Runs `work` on the store thread and waits for its result.
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, String> {
        let (reply, rx) = oneshot::channel();
        self.spawn(move |store| {
            let _ = reply.send(work(store).map_err(|e| e.to_string()));
        });
        rx.await.map_err(|_| "store thread gone".to_owned())?
    }

    /// Runs `work`, a short read of what is committed, and waits for its
    /// result. It sees every write awaited through [`StoreHandle::run`]
    /// before it, but not CDRs waiting for their batch's commit, nor work
    /// queued by [`StoreHandle::spawn`] and not yet done.
    ///
    /// On a store file it runs here, on a read-only connection beside the
    /// writer (WAL readers do not wait for it): a point query costs less
    /// than the two thread hops to the store thread and back, and does
    /// not queue behind its writes. An in-memory store reads on its thread.
    pub async fn read<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, String> {
        if let Some(readers) = &self.readers
            && let Some(reader) = readers.lease()
        {
            let result = work(&reader).map_err(|e| e.to_string());
            readers.give_back(reader);
            return result;
        }
        let (reply, rx) = oneshot::channel();
        let job = Job::Read(Box::new(move |store: &mut Store| {
            let _ = reply.send(work(store).map_err(|e| e.to_string()));
        }));
        self.jobs
            .send(job)
            .map_err(|_| "store thread gone".to_owned())?;
        rx.await.map_err(|_| "store thread gone".to_owned())?
    }

    /// The most recent CDRs, optionally of one Call-ID.
    pub async fn cdrs(&self, call_id: Option<String>, limit: u32) -> Result<Vec<Cdr>, String> {
        let (reply, rx) = oneshot::channel();
        self.jobs
            .send(Job::Cdrs {
                call_id,
                limit,
                reply,
            })
            .map_err(|_| "store thread gone".to_owned())?;
        rx.await.map_err(|_| "store thread gone".to_owned())?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cdr(call_id: &str) -> Cdr {
        Cdr {
            call_id: call_id.into(),
            ..Cdr::default()
        }
    }

    #[tokio::test]
    async fn queued_cdrs_share_a_commit_and_every_job_but_a_read_sees_them() {
        let dir = std::env::temp_dir().join(format!("waihu-store-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let url = format!("sqlite://{}", dir.join("w.db").display());
        // A linger no test outlasts: only another job ends the batch.
        let (store, thread) = start_with(&url, Duration::from_secs(3600)).expect("store");
        store.write_cdr(cdr("a"));
        store.write_cdr(cdr("b"));
        // A read does not wait for the batch the CDRs linger in.
        let early = store.read(|s| s.cdr_count()).await.expect("read");
        assert_eq!(early, 0, "the batch is still lingering");
        // Any other job waits for it: it sees both CDRs.
        let seen = store.run(|s| s.cdr_count()).await.expect("run");
        assert_eq!(seen, 2);
        // Once committed, a read sees them (on its own connection).
        assert!(store.readers.is_some());
        assert_eq!(store.read(|s| s.cdr_count()).await.expect("read"), 2);
        // And what is queued at shutdown is written.
        store.write_cdr(cdr("c"));
        drop(store);
        thread.join();
        let reopened = Store::open(&url).expect("reopen");
        assert_eq!(reopened.cdr_count().expect("count"), 3);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn an_in_memory_store_reads_on_its_thread() {
        let (store, thread) =
            start_with("sqlite::memory:", Duration::from_secs(3600)).expect("store");
        assert!(store.readers.is_none());
        store.write_cdr(cdr("a"));
        assert_eq!(store.read(|s| s.cdr_count()).await.expect("read"), 0);
        assert_eq!(store.run(|s| s.cdr_count()).await.expect("run"), 1);
        assert_eq!(store.read(|s| s.cdr_count()).await.expect("read"), 1);
        drop(store);
        thread.join();
    }
}
