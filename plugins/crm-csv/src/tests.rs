use serde_json::{Value, json};
use waihu_plugin_abi::sdk::{Host, Plugin, PluginError};

use super::*;

const CSV: &str = "phone,id,name,plan,tenure_months,monthly_spend,last_agent,churn_score,region\n\
+8613800000001,42,Li Lei,gold,36,199.5,1001,0.82,north\n\
+8613800000002,C-7,Han Meimei,basic,3,39,,0.1,south\n";

/// A fresh directory, removed when the guard drops.
fn scratch() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("crm-csv-")
        .tempdir()
        .unwrap()
}

/// `text` in a file of a fresh directory.
fn file(name: &str, text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = scratch();
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

fn crm(path: &std::path::Path) -> Crm {
    Crm::new(
        Host::detached(),
        json!({ "file": path.to_str().unwrap(), "default_country": "+86" }),
    )
    .unwrap()
}

#[test]
fn a_csv_customer_is_found_by_phone_id_or_national_number() {
    let (_dir, path) = file("a.csv", CSV);
    let c = crm(&path);
    let li = c.lookup("+8613800000001").unwrap().unwrap();
    assert_eq!(li["name"], "Li Lei");
    assert_eq!(li["id"], 42);
    assert_eq!(li["tenure_months"], 36);
    assert_eq!(li["monthly_spend"], 199.5);
    assert_eq!(li["churn_score"], 0.82);
    assert_eq!(li["last_agent"], "1001");
    assert_eq!(li["fields"]["region"], "north");
    assert_eq!(c.lookup("42").unwrap().unwrap()["name"], "Li Lei");
    assert_eq!(c.lookup("013800000001").unwrap().unwrap()["name"], "Li Lei");
    let han = c.lookup("C-7").unwrap().unwrap();
    assert_eq!(han["id"], 0, "a non-numeric id is not a number");
    assert_eq!(han["fields"]["contact_id"], "C-7");
    assert_eq!(han["last_agent"], Value::Null);
    assert_eq!(c.lookup("+8613800000003").unwrap(), None);
}

#[test]
fn lua_gets_lookup_and_count() {
    let (_dir, path) = file("b.csv", CSV);
    let c = crm(&path);
    assert_eq!(c.lua_functions(), ["lookup", "count"]);
    assert_eq!(c.lua_call("count", vec![]).unwrap(), json!(2));
    assert_eq!(
        c.lua_call("lookup", vec![json!(42)]).unwrap()["plan"],
        "gold"
    );
    assert_eq!(
        c.lua_call("lookup", vec![json!("+1")]).unwrap(),
        Value::Null
    );
    assert!(matches!(
        c.lua_call("lookup", vec![]),
        Err(PluginError::BadInput(_))
    ));
    assert!(matches!(
        c.lua_call("delete", vec![]),
        Err(PluginError::Unsupported(_))
    ));
}

#[test]
fn a_bad_row_names_its_number_and_column() {
    let (_dir, path) = file(
        "bad.csv",
        "phone,churn_score\n+8613800000001,0.5\n+8613800000002,high\n",
    );
    let err = Crm::new(Host::detached(), json!({ "file": path.to_str().unwrap() })).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("row 2") && msg.contains("churn_score"),
        "{msg}"
    );
    let err = Crm::new(Host::detached(), json!({})).unwrap_err();
    assert!(err.to_string().contains("config.file"), "{err}");
}

#[test]
fn a_sqlite_table_reads_like_the_csv() {
    let dir = scratch();
    let path = dir.path().join("crm.db");
    let db = rusqlite::Connection::open(&path).unwrap();
    db.execute_batch(
        "CREATE TABLE people (phone TEXT, id INTEGER, name TEXT, plan TEXT,
           tenure_months INTEGER, monthly_spend REAL, last_agent TEXT, churn_score REAL);
         INSERT INTO people VALUES ('+8613900000009', 9, 'Wang Fang', 'silver', 12, 88.0, '1002', 0.4);",
    )
    .unwrap();
    drop(db);
    let c = Crm::new(
        Host::detached(),
        json!({ "file": path.to_str().unwrap(), "table": "people" }),
    )
    .unwrap();
    let w = c.lookup("9").unwrap().unwrap();
    assert_eq!(w["name"], "Wang Fang");
    assert_eq!(w["tenure_months"], 12);
    assert_eq!(w["monthly_spend"], 88.0);
    let err = Crm::new(
        Host::detached(),
        json!({ "file": path.to_str().unwrap(), "table": "x; DROP TABLE people" }),
    )
    .unwrap_err();
    assert!(err.to_string().contains("bad table name"), "{err}");
}
