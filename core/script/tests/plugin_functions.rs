//! `plugins.NAME.fn(...)`: scripts call native plugins through the
//! switch's services, with Lua values crossing as JSON.
#![allow(clippy::unwrap_used)] // a panic is the failure report

mod common;

use std::sync::{Arc, Mutex};

use common::ScriptDir;
use serde_json::{Value, json};
use waihu_script::{ScriptHost, Services, Verdict};

/// A plugin "crm" whose `lookup` knows one number, and records its calls.
#[derive(Default)]
struct FakeCrm {
    calls: Mutex<Vec<(String, Value)>>,
}

impl Services for FakeCrm {
    fn dnc_contains(&self, _number: &str) -> bool {
        false
    }

    fn has_plugin(&self, plugin: &str) -> bool {
        plugin == "crm"
    }

    fn plugin_call(&self, _plugin: &str, function: &str, args: Value) -> Result<Value, String> {
        self.calls
            .lock()
            .unwrap()
            .push((function.to_owned(), args.clone()));
        match (function, &args[0]) {
            ("lookup", Value::String(n)) if n == "+8613800000001" => {
                Ok(json!({"name": "Li Lei", "plan": "gold", "tenure_months": 36}))
            }
            ("lookup", _) => Ok(Value::Null),
            _ => Err("no such function".into()),
        }
    }
}

const RULE: &str = r#"
function blacklist.check(number, contact, now)
  if number == "broken" then
    return blacklist.deny(tostring(plugins.crm.explode(1)))
  end
  if plugins.other ~= nil then return blacklist.deny("other plugin seen") end
  local c = plugins.crm.lookup(number, { vip = true, tags = { "a", "b" } })
  if c == nil then return blacklist.allow() end
  return blacklist.deny(c.plan .. ":" .. c.name .. ":" .. c.tenure_months)
end
"#;

fn host(services: Arc<FakeCrm>) -> (ScriptDir, ScriptHost) {
    let dir = ScriptDir::new("plugin_functions");
    dir.write("blacklist.lua", RULE);
    let host = ScriptHost::load(dir.config(), services).unwrap();
    (dir, host)
}

#[test]
fn a_rule_calls_a_plugin_with_json_arguments_and_reads_its_answer() {
    let crm = Arc::new(FakeCrm::default());
    let (_dir, host) = host(crm.clone());
    let v = host.current();
    assert_eq!(
        v.blacklist_check("+8613800000001", None, 0).unwrap(),
        Verdict::Deny("gold:Li Lei:36".into())
    );
    // JSON null comes back as nil.
    assert_eq!(
        v.blacklist_check("+8613800000002", None, 0).unwrap(),
        Verdict::Allow
    );
    let calls = crm.calls.lock().unwrap();
    assert_eq!(calls[0].0, "lookup");
    assert_eq!(
        calls[0].1,
        json!(["+8613800000001", {"vip": true, "tags": ["a", "b"]}])
    );
}

#[test]
fn a_failing_plugin_call_is_a_hook_error_naming_it() {
    let (_dir, host) = host(Arc::new(FakeCrm::default()));
    let err = host
        .current()
        .blacklist_check("broken", None, 0)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("plugins.crm.explode: no such function"),
        "{err}"
    );
    assert!(err.contains("blacklist.lua"), "{err}");
}
