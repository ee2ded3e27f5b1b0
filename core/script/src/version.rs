//! A version: one snapshot of the scripts directory, validated, with its
//! pool of Lua states and its agent scripts. Work pins an `Arc<Version>`
//! when it starts and keeps it to the end, whatever reloads happen.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use mlua::{IntoLuaMulti, Lua, Value};
use serde::Serialize;

use crate::Services;
use crate::convert::{self, BadReturn};
use crate::error::{HookError, HookErrorKind, LoadError};
use crate::pool::Pool;
use crate::route::{CallInfo, Route, RouteStates, RouteStats};
use crate::sandbox::Limits;
use crate::sources::Sources;
use crate::state::{self, Hook};
use crate::types::{
    AgentChange, AgentScript, Contact, Customer, ModeChoice, Offer, Outcome, OverflowAction,
    OverflowInfo, Verdict,
};

/// What identifies a version, for logs, `GET /api/v1/scripts` and
/// `waihu check`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct VersionInfo {
    /// 1 for the first load, one more for each successful reload.
    pub number: u64,
    /// Hex SHA-256 over every `.lua` file (lib/ included), sorted by
    /// relative path; each contributes path, a zero byte, its length as 8
    /// little-endian bytes, and its content.
    pub hash: String,
    /// Every `.lua` file, relative to the scripts directory, sorted.
    pub files: Vec<String>,
    /// Names of the agent scripts defined.
    pub agent_scripts: Vec<String>,
    /// Things that load but deserve a look: undefined hooks (with the
    /// default callers will apply), unreachable agent-script nodes.
    pub warnings: Vec<String>,
}

/// One loaded, validated version of the scripts.
pub struct Version {
    info: VersionInfo,
    agent_scripts: BTreeMap<String, AgentScript>,
    /// Which hooks the scripts define (same in every state).
    defined: [bool; Hook::COUNT],
    /// Whether the scripts define `route`.
    has_route: bool,
    /// The broadcast flows (`broadcast.NAME`) the scripts define.
    broadcasts: Vec<String>,
    pool: Pool,
    /// States of running routes, apart from the pool (see `route.rs`).
    routes: RouteStates,
    sources: Arc<Sources>,
    limits: Limits,
    services: Arc<dyn Services>,
}

impl fmt::Debug for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Version")
            .field("info", &self.info)
            .field("pool", &self.pool.counts())
            .finish_non_exhaustive()
    }
}

impl Version {
    /// Builds and fully validates the first state; the others come lazily.
    pub(crate) fn build(
        number: u64,
        sources: Sources,
        limits: Limits,
        pool_size: usize,
        services: &Arc<dyn Services>,
    ) -> Result<Version, LoadError> {
        let sources = Arc::new(sources);
        let built = state::build(&sources, limits, services, true)?;
        let defined = Hook::ALL.map(|hook| built.state.has(hook));
        let has_route = built.state.route().is_some();
        let broadcasts = built.state.broadcast_names();
        let info = VersionInfo {
            number,
            hash: sources.hash.clone(),
            files: sources.files.clone(),
            agent_scripts: built.agent_scripts.keys().cloned().collect(),
            warnings: built.warnings,
        };
        Ok(Version {
            info,
            agent_scripts: built.agent_scripts,
            defined,
            has_route,
            broadcasts,
            pool: Pool::new(built.state, pool_size),
            routes: RouteStates::new(pool_size),
            sources,
            limits,
            services: Arc::clone(services),
        })
    }

    pub fn info(&self) -> &VersionInfo {
        &self.info
    }

    /// Leases a state, calls the hook, gives the state back (or drops it if
    /// the call hit a limit).
    fn call<A: IntoLuaMulti, R>(
        &self,
        hook: Hook,
        args: impl FnOnce(&Lua) -> mlua::Result<A>,
        convert: impl FnOnce(&Value) -> Result<R, BadReturn>,
    ) -> Result<R, HookError> {
        let fail = |kind| HookError {
            file: None,
            line: None,
            function: hook.name(),
            kind,
        };
        if !self.defined[hook as usize] {
            return Err(fail(HookErrorKind::Missing));
        }
        let build =
            || state::build(&self.sources, self.limits, &self.services, false).map(|b| b.state);
        let mut lease = self
            .pool
            .lease(build)
            .map_err(|why| fail(HookErrorKind::Unavailable(why)))?;
        let result = lease.invoke(hook, args, convert);
        if let Err(HookError {
            kind: HookErrorKind::MemoryLimit { .. } | HookErrorKind::InstructionBudget { .. },
            ..
        }) = &result
        {
            lease.discard();
        }
        result
    }

    /// `campaign.select_mode(contact)`: how to dial this contact.
    ///
    /// On error the caller falls back to the campaign's configured mode:
    /// [`ModeChoice::fallback`].
    pub fn select_mode(&self, contact: &Contact) -> Result<ModeChoice, HookError> {
        self.call(
            Hook::SelectMode,
            |lua| convert::contact(lua, contact),
            convert::mode_choice,
        )
    }

    /// `campaign.next_attempt(contact, outcome, attempts, now)`: when to call
    /// again (unix seconds), or `None` for never. `attempts` counts the
    /// attempt that just ended; `now` is unix seconds.
    ///
    /// On error there is no further attempt: [`NEXT_ATTEMPT_ON_ERROR`](crate::NEXT_ATTEMPT_ON_ERROR).
    pub fn next_attempt(
        &self,
        contact: &Contact,
        outcome: Outcome,
        attempts: u32,
        now: i64,
    ) -> Result<Option<i64>, HookError> {
        self.call(
            Hook::NextAttempt,
            |lua| {
                Ok((
                    convert::contact(lua, contact)?,
                    lua.create_string(outcome.as_str())?,
                    attempts,
                    now,
                ))
            },
            convert::next_attempt,
        )
    }

    /// `retention.offers(customer)`: offers ranked best first (may be empty).
    ///
    /// On error no offers are made: [`offers_on_error`](crate::offers_on_error).
    pub fn offers(&self, customer: &Customer) -> Result<Vec<Offer>, HookError> {
        self.call(
            Hook::Offers,
            |lua| convert::customer(lua, customer),
            convert::offers,
        )
    }

    /// `blacklist.check(number, contact, now)`: may this number be dialled
    /// now? `contact` is `None` for manual dials.
    ///
    /// On error (and when no script defines it) the dial is denied, fail
    /// closed: [`Verdict::fail_closed`].
    pub fn blacklist_check(
        &self,
        number: &str,
        contact: Option<&Contact>,
        now: i64,
    ) -> Result<Verdict, HookError> {
        self.call(
            Hook::BlacklistCheck,
            |lua| {
                let contact = match contact {
                    Some(c) => Value::Table(convert::contact(lua, c)?),
                    None => Value::Nil,
                };
                Ok((lua.create_string(number)?, contact, now))
            },
            convert::verdict,
        )
    }

    /// `queue.on_overflow(info)`: what to do with a queued call that waited
    /// too long or whose queue has no agent logged in.
    ///
    /// `Ok(None)` when no script defines the hook, or the hook returned
    /// `nil`: the queue's configured overflow action applies. On error the
    /// caller applies it too (and logs the error). A returned queue name or
    /// prompt name is checked as `call:queue` and `call:play` check theirs.
    pub fn queue_overflow(&self, info: &OverflowInfo) -> Result<Option<OverflowAction>, HookError> {
        if !self.defined[Hook::QueueOverflow as usize] {
            return Ok(None);
        }
        self.call(
            Hook::QueueOverflow,
            |lua| convert::overflow_info(lua, info),
            convert::overflow_action,
        )
    }

    /// `agent.on_state_change(change)`: tells the scripts an agent changed
    /// state. A notification: what the hook returns is ignored.
    ///
    /// `Ok(())` when no script defines the hook. An error (the hook raised,
    /// or hit a limit) changes nothing for the agent: the caller logs it.
    pub fn agent_state_change(&self, change: &AgentChange) -> Result<(), HookError> {
        if !self.defined[Hook::AgentStateChange as usize] {
            return Ok(());
        }
        self.call(
            Hook::AgentStateChange,
            |lua| convert::agent_change(lua, change),
            |_| Ok(()),
        )
    }

    /// Whether the scripts define the call-flow hook `route(call)`. Without
    /// it the switch routes calls its own way.
    pub fn has_route(&self) -> bool {
        self.has_route
    }

    /// Starts the route of a new call on this version. The route keeps the
    /// version alive and runs on it to the end, whatever reloads happen;
    /// drive it with [`Route::resume`], first with `None`.
    ///
    /// Fails with [`HookErrorKind::Missing`] when no script defines
    /// `route`, or [`HookErrorKind::Unavailable`] when no Lua state could be
    /// had for it. On error the caller rejects the call.
    pub fn start_route(self: &Arc<Self>, info: CallInfo) -> Result<Route, HookError> {
        if !self.has_route {
            return Err(HookError {
                file: None,
                line: None,
                function: "route",
                kind: HookErrorKind::Missing,
            });
        }
        let build =
            || state::build(&self.sources, self.limits, &self.services, false).map(|b| b.state);
        Route::start(Arc::clone(self), &self.routes, build, info)
    }

    /// The broadcast flows the scripts define (`broadcast.NAME`), sorted.
    pub fn broadcasts(&self) -> &[String] {
        &self.broadcasts
    }

    /// Starts the broadcast flow `broadcast.NAME(call, contact)` of an
    /// answered campaign call, like a route: pinned to this version, driven
    /// with [`Route::resume`], first with `None`.
    pub fn start_broadcast(
        self: &Arc<Self>,
        name: &str,
        info: CallInfo,
        contact: Contact,
    ) -> Result<Route, HookError> {
        if !self.broadcasts.iter().any(|b| b == name) {
            return Err(HookError {
                file: None,
                line: None,
                function: "broadcast",
                kind: HookErrorKind::Missing,
            });
        }
        let build =
            || state::build(&self.sources, self.limits, &self.services, false).map(|b| b.state);
        let mut route = Route::start(Arc::clone(self), &self.routes, build, info)?;
        route.set_broadcast(name, contact);
        Ok(route)
    }

    /// The route states of this version and the routes on them.
    pub fn route_stats(&self) -> RouteStats {
        self.routes.stats()
    }

    pub(crate) fn retire_route_state(&self, state: &Arc<crate::route::RouteState>) {
        self.routes.retire(state);
    }

    /// The agent script called `name`.
    pub fn agent_script(&self, name: &str) -> Option<&AgentScript> {
        self.agent_scripts.get(name)
    }

    /// Every agent script, by name.
    pub fn agent_scripts(&self) -> impl Iterator<Item = &AgentScript> {
        self.agent_scripts.values()
    }

    /// Builds the rest of the pool now rather than lazily on the first
    /// calls (each state costs about as much as the scripts' top level).
    /// Meant for a background thread right after a reload; returns how many
    /// states the version has.
    pub fn warm_up(&self) -> usize {
        self.pool.fill(|| {
            state::build(&self.sources, self.limits, &self.services, false).map(|b| b.state)
        })
    }

    /// Lua states of this version: (idle, in existence).
    pub fn pool_counts(&self) -> (usize, usize) {
        self.pool.counts()
    }
}
