//! crm-csv: a waihu plugin that knows the customers, from a CSV file or
//! a SQLite database, for the agent screen, `retention.offers` and
//! `campaign.select_mode`.
//!
//! ```yaml
//! plugins:
//!   - name: crm
//!     path: target/release/libcrm_csv.so
//!     config:
//!       file: customers.csv      # or customers.db (SQLite)
//!       table: customers         # SQLite only; default "customers"
//!       default_country: "+86"   # optional: how a national number is made E.164
//! ```
//!
//! Columns (CSV header or SQLite columns): `phone` (E.164) and `id` (the
//! contact id) are the keys; `name`, `plan`, `tenure_months`,
//! `monthly_spend`, `last_agent` and `churn_score` are typed; any other
//! column lands in `fields`. A customer comes out in the shape of
//! `retention.offers`'s customer (`docs/lua-api.md`), so a script can pass
//! it on as is.
//!
//! The file is read once, when the instance is made: a lookup is a hash
//! lookup. To take a new file, reload the plugin
//! (`POST /api/v1/plugins/NAME/reload`).
//!
//! Lua: `plugins.NAME.lookup(key)` (a customer table or nil) and
//! `plugins.NAME.count()`.

mod table;

use std::collections::HashMap;
use std::ffi::CStr;

use serde_json::{Value, json};
use waihu_plugin_abi::abi::capability;
use waihu_plugin_abi::export_plugin;
use waihu_plugin_abi::sdk::{Host, Plugin, PluginError, PluginResult};

pub use table::{Customer, load};

/// The loaded customers, by phone and by contact id.
#[derive(Debug)]
pub struct Crm {
    by_phone: HashMap<String, usize>,
    by_id: HashMap<String, usize>,
    customers: Vec<Customer>,
    default_country: Option<String>,
}

impl Crm {
    pub fn from_customers(customers: Vec<Customer>, default_country: Option<String>) -> Crm {
        let mut by_phone = HashMap::new();
        let mut by_id = HashMap::new();
        for (i, c) in customers.iter().enumerate() {
            if !c.phone.is_empty() {
                by_phone.insert(c.phone.clone(), i);
            }
            if let Some(id) = &c.id {
                by_id.insert(id.clone(), i);
            }
        }
        Crm {
            by_phone,
            by_id,
            customers,
            default_country,
        }
    }

    /// By E.164 number, by contact id, or by a national number made E.164
    /// with `default_country`.
    pub fn find(&self, key: &str) -> Option<&Customer> {
        let key = key.trim();
        let i = self
            .by_phone
            .get(key)
            .or_else(|| self.by_id.get(key))
            .or_else(|| {
                let cc = self.default_country.as_deref()?;
                let national = key.trim_start_matches('0');
                (!key.starts_with('+'))
                    .then(|| self.by_phone.get(&format!("{cc}{national}")))
                    .flatten()
            })?;
        self.customers.get(*i)
    }
}

impl Plugin for Crm {
    const NAME: &'static CStr = c"crm-csv";
    const VERSION: &'static CStr = c"0.1.0";
    const CAPABILITIES: u32 = capability::LOOKUP | capability::LUA;

    fn new(host: Host, config: Value) -> PluginResult<Self> {
        let file = config["file"].as_str().ok_or_else(|| {
            PluginError::failed("config.file is required (a .csv or SQLite file)")
        })?;
        let table = config["table"].as_str().unwrap_or("customers");
        let customers = load(std::path::Path::new(file), table)
            .map_err(|e| PluginError::failed(format!("{file}: {e}")))?;
        host.info(&format!("{} customer(s) from {file}", customers.len()));
        let cc = config["default_country"].as_str().map(str::to_owned);
        Ok(Crm::from_customers(customers, cc))
    }

    fn lua_functions(&self) -> Vec<String> {
        vec!["lookup".into(), "count".into()]
    }

    fn lookup(&self, key: &str) -> PluginResult<Option<Value>> {
        Ok(self.find(key).map(Customer::to_json))
    }

    fn lua_call(&self, function: &str, args: Vec<Value>) -> PluginResult<Value> {
        match function {
            "lookup" => {
                let key = match args.first() {
                    Some(Value::String(s)) => s.clone(),
                    Some(Value::Number(n)) => n.to_string(),
                    _ => {
                        return Err(PluginError::BadInput(
                            "lookup(key): key is a phone number or a contact id".into(),
                        ));
                    }
                };
                Ok(self.find(&key).map_or(Value::Null, Customer::to_json))
            }
            "count" => Ok(json!(self.customers.len())),
            other => Err(PluginError::Unsupported(format!(
                "crm-csv has no function {other} (it has lookup, count)"
            ))),
        }
    }
}

export_plugin!(Crm);

#[cfg(test)]
mod tests;
