//! `plugins:`: native plugins to load (see `docs/plugins.md`).

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::validate::{Checker, ProblemKind};

/// One entry of `plugins:`, as written.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginEntry {
    /// How scripts (`plugins.NAME`), campaigns (`amd.detector: NAME`), the
    /// API and the metrics name it.
    pub name: String,
    /// The shared library; a relative path is relative to the config
    /// file's directory.
    pub path: PathBuf,
    /// Handed to the plugin as a JSON object.
    #[serde(default)]
    pub config: Option<serde_yaml::Value>,
    /// How long a lookup or a Lua call may take before the caller goes on
    /// without it (and it counts as a failure).
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// Failures in a row (errors, timeouts, panics) that disable it.
    #[serde(default = "default_max_failures")]
    pub max_failures: u32,
    /// Events waiting for an event sink; beyond it they are dropped, counted.
    #[serde(default = "default_queue")]
    pub queue: usize,
    /// Threads that run its lookups and Lua calls side by side.
    #[serde(default = "default_workers")]
    pub workers: usize,
}

fn default_workers() -> usize {
    2
}

fn default_timeout_ms() -> u64 {
    200
}

fn default_max_failures() -> u32 {
    5
}

fn default_queue() -> usize {
    10_000
}

/// A checked plugin entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PluginSettings {
    pub name: String,
    /// Resolved against the config file's directory.
    pub path: PathBuf,
    /// The `config` map as a JSON object.
    pub config_json: String,
    pub timeout: Duration,
    pub max_failures: u32,
    pub queue: usize,
    pub workers: usize,
}

/// A name Lua can write as `plugins.NAME`.
fn is_lua_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && s.len() <= 64
}

pub(super) fn check_plugins(
    c: &mut Checker,
    source: &str,
    entries: &[PluginEntry],
) -> Vec<PluginSettings> {
    let mut out: Vec<PluginSettings> = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        let key = |k: &str| format!("plugins[{i}].{k}");
        if !is_lua_name(&e.name) {
            c.report(
                key("name"),
                ProblemKind::BadPluginName {
                    value: e.name.clone(),
                },
            );
        } else if out.iter().any(|p| p.name == e.name) {
            c.report(
                key("name"),
                ProblemKind::Duplicate {
                    what: "plugin",
                    value: e.name.clone(),
                },
            );
        }
        if e.path.as_os_str().is_empty() {
            c.report(key("path"), ProblemKind::Empty);
        }
        let config_json = match &e.config {
            None | Some(serde_yaml::Value::Null) => Ok("{}".to_owned()),
            Some(v @ serde_yaml::Value::Mapping(_)) => {
                serde_json::to_string(v).map_err(|e| e.to_string())
            }
            Some(_) => Err("a mapping of keys to values".to_owned()),
        };
        let config_json = config_json.unwrap_or_else(|reason| {
            c.report(key("config"), ProblemKind::BadPluginConfig { reason });
            String::new()
        });
        c.range(&key("timeout_ms"), e.timeout_ms, 1, 60_000);
        c.range(
            &key("max_failures"),
            u64::from(e.max_failures),
            1,
            1_000_000,
        );
        c.range(&key("queue"), e.queue as u64, 1, 10_000_000);
        c.range(&key("workers"), e.workers as u64, 1, 64);
        out.push(PluginSettings {
            name: e.name.clone(),
            path: super::validate::relative_to_config(source, &e.path),
            config_json,
            timeout: Duration::from_millis(e.timeout_ms),
            max_failures: e.max_failures,
            queue: e.queue,
            workers: e.workers,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::from_str;

    const BASE: &str =
        "sip:\n  listen: [\"udp:127.0.0.1:5060\"]\n  domain: example.com\n  realm: example.com\n";

    #[test]
    fn a_plugin_entry_becomes_settings_with_json_config_and_a_resolved_path() {
        let text = format!(
            "{BASE}plugins:\n  - name: crm\n    path: lib/libcrm_csv.so\n    config:\n      file: customers.csv\n      limit: 3\n"
        );
        let s = from_str("/etc/waihu/waihu.yaml", &text).unwrap();
        let p = &s.plugins[0];
        assert_eq!(p.name, "crm");
        assert_eq!(p.path, std::path::Path::new("/etc/waihu/lib/libcrm_csv.so"));
        let config: serde_json::Value = serde_json::from_str(&p.config_json).unwrap();
        assert_eq!(
            config,
            serde_json::json!({"file": "customers.csv", "limit": 3})
        );
        assert_eq!(p.timeout.as_millis(), 200);
        assert_eq!(p.max_failures, 5);
    }

    /// The example file lists its plugins commented out (the libraries
    /// are not there to load); uncommented, they must be valid.
    #[test]
    fn the_commented_example_plugins_are_valid() {
        let example = include_str!("../../../../waihu.example.yaml");
        let block: String = example
            .lines()
            .skip_while(|l| *l != "plugins: []")
            .skip(1)
            .take_while(|l| l.starts_with("#  "))
            .map(|l| format!("{}\n", &l[1..]))
            .collect();
        assert!(block.contains("name: warehouse"), "{block}");
        let s = from_str("waihu.example.yaml", &format!("{BASE}plugins:\n{block}")).unwrap();
        let names: Vec<&str> = s.plugins.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["crm", "warehouse"]);
        assert_eq!(s.plugins[1].queue, 10_000);
    }

    #[test]
    fn bad_names_duplicates_and_configs_are_all_reported() {
        let text = format!(
            "{BASE}plugins:\n  - name: crm-csv\n    path: a.so\n  - name: crm\n    path: b.so\n    config: [1, 2]\n  - name: crm\n    path: c.so\n    timeout_ms: 0\n"
        );
        let lines = from_str("w.yaml", &text).unwrap_err().lines().join("\n");
        assert!(lines.contains("plugins[0].name"), "{lines}");
        assert!(lines.contains("plugins[1].config"), "{lines}");
        assert!(
            lines.contains("plugins[2].name: plugin \"crm\" is defined twice"),
            "{lines}"
        );
        assert!(lines.contains("plugins[2].timeout_ms"), "{lines}");
    }
}
