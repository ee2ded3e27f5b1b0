//! Campaign operations shared by the command line and the HTTP API:
//! importing contact lists, moving a campaign between its states, and the
//! do-not-call table.
//!
//! # Import: one transaction, bad rows reported
//! Good rows go into the store in one transaction: all of them or none
//! (a failure of the store rolls the whole file back). A bad row (no
//! phone, a number that is not one, no time zone, a broken CSV line) is
//! reported with its line number and reason and skipped, so one typo does
//! not hold back a million good rows. With `strict`, any bad row means
//! nothing is imported: the file is read once to check it, then again to
//! import it.

use std::io::Read;
use std::time::Instant;

use serde::Serialize;
use waihu_campaign::contact::{ImportSpec, read_contacts};
use waihu_store::{ImportCounts, NewContact, Store};

/// Bad rows kept in a report (the count goes on).
const BAD_ROWS_KEPT: usize = 100;

/// What an import did.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ImportReport {
    pub campaign: String,
    /// Good rows read.
    pub rows: u64,
    pub inserted: u64,
    pub merged: u64,
    /// Bad rows: how many, and the first of them as `(line, reason)`.
    pub bad: u64,
    pub bad_rows: Vec<(u64, String)>,
    /// Nothing was written (strict import with bad rows).
    pub refused: bool,
    pub seconds: f64,
}

impl ImportReport {
    /// Good rows per second.
    pub fn rate(&self) -> f64 {
        if self.seconds > 0.0 {
            self.rows as f64 / self.seconds
        } else {
            0.0
        }
    }
}

/// Why an import failed as a whole.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{0}")]
    Header(String),
    #[error("store: {0}")]
    Store(#[from] waihu_store::StoreError),
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// Imports a CSV list from `open()` (called once, or twice when strict).
/// `progress` gets the good rows written so far.
pub fn import(
    store: &mut Store,
    campaign: &str,
    spec: &ImportSpec,
    strict: bool,
    mut open: impl FnMut() -> Result<Box<dyn Read>, ImportError>,
    now_ms: i64,
    progress: impl FnMut(u64),
) -> Result<ImportReport, ImportError> {
    let started = Instant::now();
    let mut report = ImportReport {
        campaign: campaign.to_owned(),
        ..ImportReport::default()
    };
    let note_bad = |report: &mut ImportReport, line: u64, reason: String| {
        report.bad += 1;
        if report.bad_rows.len() < BAD_ROWS_KEPT {
            report.bad_rows.push((line, reason));
        }
    };
    if strict {
        let reader =
            read_contacts(open()?, spec).map_err(|e| ImportError::Header(e.to_string()))?;
        for row in reader {
            if let Err(e) = row {
                note_bad(&mut report, e.line, e.reason.to_string());
            }
        }
        if report.bad > 0 {
            report.refused = true;
            report.seconds = started.elapsed().as_secs_f64();
            return Ok(report);
        }
    }
    let reader = read_contacts(open()?, spec).map_err(|e| ImportError::Header(e.to_string()))?;
    let mut rows = 0u64;
    let mut bad_seen = Vec::new();
    let good = reader.filter_map(|row| match row {
        Ok(row) => {
            rows += 1;
            Some(NewContact {
                phone: row.phone,
                timezone: row.timezone,
                fields: row.fields,
            })
        }
        Err(e) => {
            bad_seen.push((e.line, e.reason.to_string()));
            None
        }
    });
    let ImportCounts { inserted, merged } =
        store.import_contacts(campaign, good, now_ms, progress)?;
    report.rows = rows;
    report.inserted = inserted;
    report.merged = merged;
    if !strict {
        for (line, reason) in bad_seen {
            note_bad(&mut report, line, reason);
        }
    }
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// What may be asked of a campaign.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transition {
    Start,
    Pause,
    Stop,
}

impl Transition {
    pub fn parse(s: &str) -> Option<Transition> {
        Some(match s {
            "start" => Transition::Start,
            "pause" => Transition::Pause,
            "stop" => Transition::Stop,
            _ => return None,
        })
    }
}

/// The state a campaign moves to from `from`, or why it cannot.
pub fn next_state(from: &str, t: Transition) -> Result<&'static str, String> {
    match (from, t) {
        ("draft" | "paused" | "running", Transition::Start) => Ok("running"),
        ("running" | "paused", Transition::Pause) => Ok("paused"),
        ("draft" | "running" | "paused" | "finished", Transition::Stop) => Ok("finished"),
        ("finished", Transition::Start | Transition::Pause) => {
            Err("the campaign is finished; import new contacts into a new campaign".to_owned())
        }
        ("draft", Transition::Pause) => Err("the campaign has not started".to_owned()),
        (other, _) => Err(format!("unknown campaign state {other:?}")),
    }
}

/// The state of `name` in the store (`draft` if it has none yet).
pub fn state_of(store: &Store, name: &str) -> Result<String, waihu_store::StoreError> {
    Ok(store
        .campaigns()?
        .into_iter()
        .find(|c| c.name == name)
        .map_or_else(|| "draft".to_owned(), |c| c.state))
}

/// Applies `t` to campaign `name`; returns its new state.
pub fn transition(
    store: &mut Store,
    name: &str,
    t: Transition,
    now_ms: i64,
) -> Result<&'static str, String> {
    let from = state_of(store, name).map_err(|e| e.to_string())?;
    let to = next_state(&from, t)?;
    store
        .set_campaign_state(name, to, now_ms)
        .map_err(|e| e.to_string())?;
    Ok(to)
}

/// A number as people write it, in E.164 (`country`: of a number written
/// without a country code, ISO 3166).
pub fn normalise(raw: &str, country: &str) -> Result<String, String> {
    let normaliser =
        waihu_campaign::contact::PhoneNormalizer::new(country).map_err(|e| e.to_string())?;
    normaliser
        .normalize(raw)
        .map(|p| p.e164)
        .map_err(|e| e.to_string())
}

/// The import spec of a campaign made through the API, from its stored
/// configuration (`None` for a campaign of the configuration file).
pub fn stored_import_spec(config_json: &str) -> Option<ImportSpec> {
    if config_json == "{}" {
        return None;
    }
    serde_json::from_str::<crate::config::CampaignEntry>(config_json)
        .ok()
        .map(|e| e.import)
}

/// Unix milliseconds now.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn campaign_states_move_only_along_their_edges() {
        assert_eq!(next_state("draft", Transition::Start), Ok("running"));
        assert_eq!(next_state("running", Transition::Pause), Ok("paused"));
        assert_eq!(next_state("paused", Transition::Start), Ok("running"));
        assert_eq!(next_state("paused", Transition::Stop), Ok("finished"));
        assert!(next_state("finished", Transition::Start).is_err());
        assert!(next_state("draft", Transition::Pause).is_err());
    }

    fn spec() -> ImportSpec {
        serde_yaml::from_str("default_country: CN\ndefault_timezone: Asia/Shanghai\n")
            .expect("spec")
    }

    fn csv(text: &'static str) -> impl FnMut() -> Result<Box<dyn Read>, ImportError> {
        move || Ok(Box::new(text.as_bytes()) as Box<dyn Read>)
    }

    const LIST: &str = "phone,name,segment\n\
        13800138000,王芳,vip\n\
        not a number,李雷,new\n\
        +86 138 0013 8001,韩梅梅,prospect\n\
        138-0013-8000,,loyal\n";

    #[test]
    fn good_rows_are_imported_and_bad_ones_reported_by_line() {
        let mut store = Store::open("sqlite::memory:").expect("store");
        let report = import(&mut store, "c", &spec(), false, csv(LIST), 1, |_| {}).expect("import");
        assert_eq!((report.rows, report.inserted, report.merged), (3, 2, 1));
        assert_eq!(report.bad, 1);
        assert_eq!(report.bad_rows[0].0, 3, "the header is line 1");
        let contacts = store.contacts("c", 0, 10).expect("contacts");
        assert_eq!(contacts[0].phone, "+8613800138000");
        assert_eq!(contacts[0].fields["name"], "王芳");
        assert_eq!(
            contacts[0].fields["segment"], "loyal",
            "the later row merged"
        );
    }

    #[test]
    fn a_strict_import_with_a_bad_row_writes_nothing() {
        let mut store = Store::open("sqlite::memory:").expect("store");
        let report = import(&mut store, "c", &spec(), true, csv(LIST), 1, |_| {}).expect("import");
        assert!(report.refused);
        assert_eq!(report.bad, 1);
        assert!(store.contacts("c", 0, 10).expect("contacts").is_empty());
    }
}
