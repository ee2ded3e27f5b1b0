//! Reading customers from a CSV file or a SQLite table.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Value, json};

/// One customer, typed where waihu knows the column.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Customer {
    /// The contact id.
    pub id: Option<String>,
    /// E.164.
    pub phone: String,
    pub name: Option<String>,
    pub plan: Option<String>,
    pub tenure_months: u32,
    pub monthly_spend: f64,
    pub last_agent: Option<String>,
    /// 0..1, higher is more likely to leave.
    pub churn_score: f64,
    /// Every other column.
    pub fields: BTreeMap<String, String>,
}

impl Customer {
    /// The shape of `retention.offers`'s customer: `id` is a number there,
    /// so a non-numeric contact id goes in `fields.contact_id`.
    pub fn to_json(&self) -> Value {
        let mut fields = self.fields.clone();
        let id = match self.id.as_deref().map(str::parse::<i64>) {
            Some(Ok(n)) => n,
            Some(Err(_)) => {
                if let Some(id) = &self.id {
                    fields.insert("contact_id".into(), id.clone());
                }
                0
            }
            None => 0,
        };
        json!({
            "id": id,
            "phone": self.phone,
            "name": self.name,
            "plan": self.plan,
            "tenure_months": self.tenure_months,
            "monthly_spend": self.monthly_spend,
            "last_agent": self.last_agent,
            "churn_score": self.churn_score,
            "fields": fields,
        })
    }

    /// From column names and text values; a bad number is an error naming it.
    fn from_row<'a>(row: impl Iterator<Item = (&'a str, String)>) -> Result<Customer, String> {
        let mut c = Customer::default();
        let opt = |v: String| (!v.is_empty()).then_some(v);
        for (column, value) in row {
            let value = value.trim().to_owned();
            match column {
                "phone" => c.phone = value,
                "id" | "contact_id" => c.id = opt(value),
                "name" => c.name = opt(value),
                "plan" => c.plan = opt(value),
                "last_agent" => c.last_agent = opt(value),
                "tenure_months" | "tenure" => c.tenure_months = number(column, &value)?,
                "monthly_spend" => c.monthly_spend = number(column, &value)?,
                "churn_score" => c.churn_score = number(column, &value)?,
                other => {
                    c.fields.insert(other.to_owned(), value);
                }
            }
        }
        if c.phone.is_empty() && c.id.is_none() {
            return Err("neither phone nor id".into());
        }
        Ok(c)
    }
}

fn number<T: std::str::FromStr + Default>(column: &str, value: &str) -> Result<T, String> {
    if value.is_empty() {
        return Ok(T::default());
    }
    value
        .parse()
        .map_err(|_| format!("{column} {value:?} is not a number"))
}

/// Why a file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Csv(csv::Error),
    #[error(transparent)]
    Sqlite(rusqlite::Error),
    /// A row with a bad value: its 1-based number (header excluded) and why.
    #[error("row {0}: {1}")]
    Row(usize, String),
}

/// Every customer of `path`: SQLite when the file starts with SQLite's
/// magic, CSV otherwise. `table` names the SQLite table.
pub fn load(path: &Path, table: &str) -> Result<Vec<Customer>, LoadError> {
    let mut magic = [0u8; 16];
    let is_sqlite = std::fs::File::open(path)
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut magic))
        .is_ok()
        && &magic == b"SQLite format 3\0";
    if is_sqlite {
        load_sqlite(path, table)
    } else {
        load_csv(path)
    }
}

fn load_csv(path: &Path) -> Result<Vec<Customer>, LoadError> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(path)
        .map_err(LoadError::Csv)?;
    let headers = reader.headers().map_err(LoadError::Csv)?.clone();
    let mut out = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(LoadError::Csv)?;
        let row = headers.iter().zip(record.iter().map(str::to_owned));
        out.push(Customer::from_row(row).map_err(|e| LoadError::Row(i + 1, e))?);
    }
    Ok(out)
}

fn load_sqlite(path: &Path, table: &str) -> Result<Vec<Customer>, LoadError> {
    if !table.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(LoadError::Row(0, format!("bad table name {table:?}")));
    }
    let db = rusqlite::Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(LoadError::Sqlite)?;
    let mut stmt = db
        .prepare(&format!("SELECT * FROM {table}"))
        .map_err(LoadError::Sqlite)?;
    let columns: Vec<String> = stmt
        .column_names()
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    let mut rows = stmt.query([]).map_err(LoadError::Sqlite)?;
    let mut out = Vec::new();
    let mut n = 0;
    while let Some(row) = rows.next().map_err(LoadError::Sqlite)? {
        n += 1;
        let mut values = Vec::with_capacity(columns.len());
        for i in 0..columns.len() {
            use rusqlite::types::ValueRef;
            let text = match row.get_ref(i).map_err(LoadError::Sqlite)? {
                ValueRef::Null => String::new(),
                ValueRef::Integer(v) => v.to_string(),
                ValueRef::Real(v) => v.to_string(),
                ValueRef::Text(t) | ValueRef::Blob(t) => String::from_utf8_lossy(t).into_owned(),
            };
            values.push(text);
        }
        let row = columns.iter().map(String::as_str).zip(values);
        out.push(Customer::from_row(row).map_err(|e| LoadError::Row(n, e))?);
    }
    Ok(out)
}
