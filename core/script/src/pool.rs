//! The states of one version. A call leases a state, uses it alone, and
//! gives it back, so calls on different threads run in parallel on
//! different states. The pool starts with the state the reload validated
//! and grows lazily up to its cap; past the cap a call waits for a state to
//! come back (calls are short: the instruction budget bounds them).
//!
//! A state whose call hit the memory limit or the instruction budget is
//! dropped rather than given back: its globals may be half-updated, and a
//! fresh one built from the same sources replaces it on demand.

use std::ops::Deref;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

use crate::error::LoadError;
use crate::state::LuaState;

#[derive(Debug)]
struct Idle {
    states: Vec<LuaState>,
    /// States in existence: idle plus leased.
    live: usize,
    /// Calls waiting for a state (so a give-back wakes only when needed:
    /// a wake-up is a system call, a fifth of an uncontended call).
    waiting: usize,
    /// Building an extra state failed once; the sources do not change, so
    /// the pool stops trying and makes do with the states it has.
    build_failed: Option<String>,
}

#[derive(Debug)]
pub(crate) struct Pool {
    idle: Mutex<Idle>,
    returned: Condvar,
    cap: usize,
}

fn lock(m: &Mutex<Idle>) -> MutexGuard<'_, Idle> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Pool {
    pub fn new(first: LuaState, cap: usize) -> Pool {
        let idle = Idle {
            states: vec![first],
            live: 1,
            waiting: 0,
            build_failed: None,
        };
        Pool {
            idle: Mutex::new(idle),
            returned: Condvar::new(),
            cap: cap.max(1),
        }
    }

    /// A state for one call: an idle one, else a new one from `build` while
    /// under the cap, else the next one given back.
    pub fn lease(
        &self,
        build: impl Fn() -> Result<LuaState, LoadError>,
    ) -> Result<Lease<'_>, String> {
        let mut idle = lock(&self.idle);
        loop {
            if let Some(state) = idle.states.pop() {
                return Ok(Lease {
                    pool: self,
                    state: Some(state),
                    keep: true,
                });
            }
            if idle.live < self.cap && idle.build_failed.is_none() {
                idle.live += 1;
                drop(idle);
                match build() {
                    Ok(state) => {
                        return Ok(Lease {
                            pool: self,
                            state: Some(state),
                            keep: true,
                        });
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "could not build another Lua state; the version keeps its current states");
                        idle = lock(&self.idle);
                        idle.live -= 1;
                        idle.build_failed = Some(e.to_string());
                        self.returned.notify_all();
                    }
                }
                continue;
            }
            if idle.live == 0 {
                let why = idle
                    .build_failed
                    .clone()
                    .unwrap_or_else(|| "the pool is empty".to_owned());
                return Err(why);
            }
            idle.waiting += 1;
            idle = self
                .returned
                .wait(idle)
                .unwrap_or_else(PoisonError::into_inner);
            idle.waiting -= 1;
        }
    }

    /// Builds states until the pool holds its cap (or a build fails);
    /// returns how many states exist afterwards.
    pub fn fill(&self, build: impl Fn() -> Result<LuaState, LoadError>) -> usize {
        loop {
            let mut idle = lock(&self.idle);
            if idle.live >= self.cap || idle.build_failed.is_some() {
                return idle.live;
            }
            idle.live += 1;
            drop(idle);
            match build() {
                Ok(state) => self.give_back(state),
                Err(e) => {
                    let mut idle = lock(&self.idle);
                    idle.live -= 1;
                    idle.build_failed = Some(e.to_string());
                }
            }
        }
    }

    /// (idle, live) state counts.
    pub fn counts(&self) -> (usize, usize) {
        let idle = lock(&self.idle);
        (idle.states.len(), idle.live)
    }

    fn give_back(&self, state: LuaState) {
        let mut idle = lock(&self.idle);
        idle.states.push(state);
        let wake = idle.waiting > 0;
        drop(idle);
        if wake {
            self.returned.notify_one();
        }
    }

    fn lose(&self) {
        let mut idle = lock(&self.idle);
        idle.live -= 1;
        // A failed extra build may have been bad luck (memory); with a state
        // gone, let the next call try again.
        idle.build_failed = None;
        let wake = idle.waiting > 0;
        drop(idle);
        if wake {
            self.returned.notify_one();
        }
    }
}

/// A leased state; goes back to the pool when dropped, unless discarded.
#[derive(Debug)]
pub(crate) struct Lease<'a> {
    pool: &'a Pool,
    state: Option<LuaState>,
    keep: bool,
}

impl Lease<'_> {
    /// Drop the state instead of giving it back.
    pub fn discard(&mut self) {
        self.keep = false;
    }
}

impl Deref for Lease<'_> {
    type Target = LuaState;

    fn deref(&self) -> &LuaState {
        // Only `drop` takes the state out.
        self.state
            .as_ref()
            .unwrap_or_else(|| unreachable!("a lease holds its state until dropped"))
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        if let Some(state) = self.state.take() {
            if self.keep && !std::thread::panicking() {
                self.pool.give_back(state);
            } else {
                drop(state);
                self.pool.lose();
            }
        }
    }
}
