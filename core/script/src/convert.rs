//! Values into Lua (built by hand: this is the hot path of every hook call)
//! and hook results out of Lua, checked against the contract. A result that
//! does not fit is a [`BadReturn`] saying what was expected and what came.

use std::collections::BTreeMap;

use mlua::{Lua, Table, Value};

use crate::route::{MAX_QUEUE_NAME, is_queue_name, is_relative_path};
use crate::types::{
    AgentChange, Contact, Customer, DialMode, ModeChoice, Offer, OverflowAction, OverflowInfo,
    Verdict,
};

/// A result that breaks the contract.
#[derive(Debug)]
pub(crate) struct BadReturn {
    pub expected: String,
    pub got: String,
}

fn bad(expected: impl Into<String>, got: &Value) -> BadReturn {
    BadReturn {
        expected: expected.into(),
        got: describe(got),
    }
}

/// A short, safe rendering of a Lua value for error messages.
pub(crate) fn describe(v: &Value) -> String {
    match v {
        Value::Nil => "nil".to_owned(),
        Value::Boolean(b) => format!("boolean {b}"),
        Value::Integer(i) => format!("integer {i}"),
        Value::Number(n) => format!("number {n}"),
        Value::String(s) => {
            let text = s.to_string_lossy();
            match text.char_indices().nth(40) {
                Some((cut, _)) => format!("string \"{}...\"", &text[..cut]),
                None => format!("string \"{text}\""),
            }
        }
        other => format!("a {}", other.type_name()),
    }
}

fn fields_table(lua: &Lua, fields: &BTreeMap<String, String>) -> mlua::Result<Table> {
    let t = lua.create_table_with_capacity(0, fields.len())?;
    for (k, v) in fields {
        t.raw_set(k.as_str(), v.as_str())?;
    }
    Ok(t)
}

/// `{ id, phone, timezone?, attempts, last_agent?, fields }`.
pub(crate) fn contact(lua: &Lua, c: &Contact) -> mlua::Result<Table> {
    let t = lua.create_table_with_capacity(0, 6)?;
    t.raw_set("id", c.id)?;
    t.raw_set("phone", c.phone.as_str())?;
    if let Some(tz) = &c.timezone {
        t.raw_set("timezone", tz.as_str())?;
    }
    t.raw_set("attempts", c.attempts)?;
    if let Some(agent) = &c.last_agent {
        t.raw_set("last_agent", agent.as_str())?;
    }
    t.raw_set("fields", fields_table(lua, &c.fields)?)?;
    Ok(t)
}

/// `{ id, phone, name?, plan?, tenure_months, monthly_spend, churn_score,
/// broadband_expiry?, fields }`.
pub(crate) fn customer(lua: &Lua, c: &Customer) -> mlua::Result<Table> {
    let t = lua.create_table_with_capacity(0, 9)?;
    t.raw_set("id", c.id)?;
    t.raw_set("phone", c.phone.as_str())?;
    if let Some(name) = &c.name {
        t.raw_set("name", name.as_str())?;
    }
    if let Some(plan) = &c.plan {
        t.raw_set("plan", plan.as_str())?;
    }
    t.raw_set("tenure_months", c.tenure_months)?;
    t.raw_set("monthly_spend", c.monthly_spend)?;
    t.raw_set("churn_score", c.churn_score)?;
    if let Some(expiry) = &c.broadband_expiry {
        t.raw_set("broadband_expiry", expiry.as_str())?;
    }
    t.raw_set("fields", fields_table(lua, &c.fields)?)?;
    Ok(t)
}

/// `{ call_id, from, to, queue, waited_s, position, priority, reason }`.
pub(crate) fn overflow_info(lua: &Lua, i: &OverflowInfo) -> mlua::Result<Table> {
    let t = lua.create_table_with_capacity(0, 8)?;
    t.raw_set("call_id", i.call_id.as_str())?;
    t.raw_set("from", i.from.as_str())?;
    t.raw_set("to", i.to.as_str())?;
    t.raw_set("queue", i.queue.as_str())?;
    t.raw_set("waited_s", i.waited_s)?;
    t.raw_set("position", i.position)?;
    t.raw_set("priority", i.priority)?;
    t.raw_set("reason", i.reason.as_str())?;
    Ok(t)
}

/// `{ agent, from, to, reason?, queue?, call_id?, at_ms }`.
pub(crate) fn agent_change(lua: &Lua, c: &AgentChange) -> mlua::Result<Table> {
    let t = lua.create_table_with_capacity(0, 7)?;
    t.raw_set("agent", c.agent.as_str())?;
    t.raw_set("from", c.from.as_str())?;
    t.raw_set("to", c.to.as_str())?;
    if let Some(reason) = &c.reason {
        t.raw_set("reason", reason.as_str())?;
    }
    if let Some(queue) = &c.queue {
        t.raw_set("queue", queue.as_str())?;
    }
    if let Some(call_id) = &c.call_id {
        t.raw_set("call_id", call_id.as_str())?;
    }
    t.raw_set("at_ms", c.at_ms)?;
    Ok(t)
}

fn field(t: &Table, key: &str) -> Value {
    // A returned table is plain data: read it raw, running no metamethod
    // outside the budget.
    t.raw_get(key).unwrap_or(Value::Nil)
}

/// An integer, or a float with no fraction (`os.time() + 3600 * 1.5` is a
/// float in Lua 5.4 even when whole).
fn integer(v: &Value) -> Option<i64> {
    match *v {
        Value::Integer(i) => Some(i),
        Value::Number(n) if n.fract() == 0.0 && n >= i64::MIN as f64 && n < i64::MAX as f64 => {
            Some(n as i64)
        }
        _ => None,
    }
}

fn as_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => s.to_str().ok().map(|s| s.to_owned()),
        _ => None,
    }
}

const MODE_SHAPE: &str = "{ mode = \"predictive\"|\"progressive\"|\"preview\"|\"manual\"|\"broadcast\", priority = <integer>, agent = <string or nil> }";

pub(crate) fn mode_choice(v: &Value) -> Result<ModeChoice, BadReturn> {
    let Value::Table(t) = v else {
        return Err(bad(MODE_SHAPE, v));
    };
    let mode_value = field(t, "mode");
    let mode = match &mode_value {
        Value::String(s) => s.to_str().ok().and_then(|s| DialMode::parse(&s)),
        _ => None,
    }
    .ok_or_else(|| {
        bad(
            "`mode` one of \"predictive\", \"progressive\", \"preview\", \"manual\", \"broadcast\"",
            &mode_value,
        )
    })?;
    let priority_value = field(t, "priority");
    let priority =
        integer(&priority_value).ok_or_else(|| bad("`priority` an integer", &priority_value))?;
    let agent = match field(t, "agent") {
        Value::Nil => None,
        v => Some(as_string(&v).ok_or_else(|| bad("`agent` a string or nil", &v))?),
    };
    Ok(ModeChoice {
        mode,
        priority,
        agent,
    })
}

pub(crate) fn next_attempt(v: &Value) -> Result<Option<i64>, BadReturn> {
    match v {
        Value::Nil => Ok(None),
        v => integer(v)
            .map(Some)
            .ok_or_else(|| bad("a unix time in seconds (integer) or nil", v)),
    }
}

const OFFER_SHAPE: &str = "{ code = <string>, text = <string>, price = <number> }";

pub(crate) fn offers(v: &Value) -> Result<Vec<Offer>, BadReturn> {
    let Value::Table(list) = v else {
        return Err(bad(format!("a list of {OFFER_SHAPE}"), v));
    };
    let mut out = Vec::with_capacity(list.raw_len());
    for i in 1..=list.raw_len() {
        let item = list.raw_get::<Value>(i).unwrap_or(Value::Nil);
        let Value::Table(t) = &item else {
            return Err(bad(format!("offer {i} to be {OFFER_SHAPE}"), &item));
        };
        let code_value = field(t, "code");
        let code = as_string(&code_value)
            .ok_or_else(|| bad(format!("offer {i}: `code` a string"), &code_value))?;
        let text_value = field(t, "text");
        let text = as_string(&text_value)
            .ok_or_else(|| bad(format!("offer {i}: `text` a string"), &text_value))?;
        let price = match field(t, "price") {
            Value::Integer(p) => p as f64,
            Value::Number(p) if p.is_finite() => p,
            other => return Err(bad(format!("offer {i}: `price` a number"), &other)),
        };
        out.push(Offer { code, text, price });
    }
    Ok(out)
}

const VERDICT_SHAPE: &str = "blacklist.allow() or blacklist.deny(reason)";

pub(crate) fn verdict(v: &Value) -> Result<Verdict, BadReturn> {
    let Value::Table(t) = v else {
        return Err(bad(VERDICT_SHAPE, v));
    };
    let tag = field(t, "verdict");
    match as_string(&tag).as_deref() {
        Some("allow") => Ok(Verdict::Allow),
        Some("deny") => {
            let reason = field(t, "reason");
            as_string(&reason)
                .map(Verdict::Deny)
                .ok_or_else(|| bad("a deny reason (string)", &reason))
        }
        _ => Err(bad(VERDICT_SHAPE, v)),
    }
}

const OVERFLOW_SHAPE: &str = "nil or { action = \"queue\"|\"voicemail\"|\"callback\"|\"hangup\", queue = <queue name, for \"queue\">, prompt = <prompt name or nil> }";

/// `nil` leaves the decision to the queue's configuration.
pub(crate) fn overflow_action(v: &Value) -> Result<Option<OverflowAction>, BadReturn> {
    let t = match v {
        Value::Nil => return Ok(None),
        Value::Table(t) => t,
        other => return Err(bad(OVERFLOW_SHAPE, other)),
    };
    let action_value = field(t, "action");
    let action = match &action_value {
        Value::String(s) => s.to_str().ok().map(|s| s.to_owned()),
        _ => None,
    };
    let prompt = || match field(t, "prompt") {
        Value::Nil => Ok(None),
        v => match as_string(&v) {
            Some(p) if is_relative_path(&p) => Ok(Some(p)),
            _ => Err(bad(
                "`prompt` a prompt name (letters, digits, '_', '.', '-' and '/', no '..', no leading '/') or nil",
                &v,
            )),
        },
    };
    let action = match action.as_deref() {
        Some("queue") => {
            let queue_value = field(t, "queue");
            let queue = as_string(&queue_value)
                .filter(|q| is_queue_name(q))
                .ok_or_else(|| {
                    bad(
                        format!(
                            "`queue` a queue name (1..{MAX_QUEUE_NAME} letters, digits, '_', '.', '-') with action \"queue\""
                        ),
                        &queue_value,
                    )
                })?;
            OverflowAction::Queue { queue }
        }
        Some("voicemail") => OverflowAction::Voicemail { prompt: prompt()? },
        Some("callback") => OverflowAction::Callback { prompt: prompt()? },
        Some("hangup") => OverflowAction::Hangup { prompt: prompt()? },
        _ => {
            return Err(bad(
                "`action` one of \"queue\", \"voicemail\", \"callback\", \"hangup\"",
                &action_value,
            ));
        }
    };
    Ok(Some(action))
}
