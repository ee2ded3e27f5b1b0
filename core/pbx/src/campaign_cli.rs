//! `waihu campaign ...`, `waihu dnc ...` and `waihu simulate`: they work
//! on the store file directly (SQLite in WAL mode takes a second process),
//! so they work whether the switch runs or not; a running dialer sees a
//! campaign's new state at its next tick.

use std::io::{IsTerminal, Read};
use std::path::Path;
use std::process::ExitCode;

use waihu_campaign::contact::ImportSpec;
use waihu_store::Store;

use crate::campaigns::{self, ImportError, Transition};
use crate::cli::{CampaignCommand, DncCommand};
use crate::config::{self, Settings};

fn settings(path: Option<&Path>) -> Result<Settings, ExitCode> {
    config::load(path).map_err(|e| {
        for line in e.lines() {
            eprintln!("{line}");
        }
        ExitCode::FAILURE
    })
}

fn open_store(settings: &Settings) -> Result<Store, ExitCode> {
    Store::open(&settings.store_url).map_err(|e| {
        eprintln!("store.url {}: {e}", settings.store_url);
        ExitCode::FAILURE
    })
}

/// The import spec of a campaign: the YAML's, or the defaults for a
/// campaign known only to the store (made through the API).
fn import_spec(settings: &Settings, store: &Store, name: &str) -> Result<ImportSpec, String> {
    let row = store
        .campaigns()
        .map_err(|e| e.to_string())?
        .into_iter()
        .find(|c| c.name == name);
    // A campaign changed through the API reads its lists its new way.
    if let Some(spec) = row
        .as_ref()
        .and_then(|r| campaigns::stored_import_spec(&r.config))
    {
        return Ok(spec);
    }
    if let Some(c) = settings.campaigns.iter().find(|c| c.name == name) {
        return Ok(c.import.clone());
    }
    if row.is_some() {
        Ok(ImportSpec::default())
    } else {
        let names: Vec<&str> = settings.campaigns.iter().map(|c| c.name.as_str()).collect();
        Err(format!(
            "no campaign {name:?} in {} (campaigns: {})",
            settings.source,
            if names.is_empty() {
                "none".to_owned()
            } else {
                names.join(", ")
            }
        ))
    }
}

pub fn campaign(path: Option<&Path>, command: CampaignCommand) -> ExitCode {
    let settings = match settings(path) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let mut store = match open_store(&settings) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let result = match command {
        CampaignCommand::Import { name, file, strict } => {
            import(&settings, &mut store, &name, &file, strict)
        }
        CampaignCommand::List => list(&settings, &store),
        CampaignCommand::Status { name } => status(&store, &name),
        CampaignCommand::Start { name } => {
            transition(&settings, &mut store, &name, Transition::Start)
        }
        CampaignCommand::Pause { name } => {
            transition(&settings, &mut store, &name, Transition::Pause)
        }
        CampaignCommand::Stop { name } => {
            transition(&settings, &mut store, &name, Transition::Stop)
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

fn import(
    settings: &Settings,
    store: &mut Store,
    name: &str,
    file: &Path,
    strict: bool,
) -> Result<(), String> {
    let spec = import_spec(settings, store, name)?;
    let size = std::fs::metadata(file)
        .map_err(|e| format!("cannot read {}: {e}", file.display()))?
        .len();
    let bar = indicatif::ProgressBar::with_draw_target(
        None,
        if std::io::stderr().is_terminal() {
            indicatif::ProgressDrawTarget::stderr()
        } else {
            indicatif::ProgressDrawTarget::hidden()
        },
    );
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {pos} rows imported ({per_sec}) {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    bar.set_message(format!("from {} ({} MB)", file.display(), size / 1_000_000));
    let open = || -> Result<Box<dyn Read>, ImportError> {
        let f = std::fs::File::open(file).map_err(|source| ImportError::Read {
            path: file.display().to_string(),
            source,
        })?;
        Ok(Box::new(std::io::BufReader::with_capacity(1 << 16, f)))
    };
    let report = campaigns::import(store, name, &spec, strict, open, campaigns::now_ms(), |n| {
        bar.set_position(n)
    })
    .map_err(|e| format!("{}: {e}", file.display()))?;
    bar.finish_and_clear();
    for (line, reason) in &report.bad_rows {
        eprintln!("{}:{line}: {reason}", file.display());
    }
    if report.bad > report.bad_rows.len() as u64 {
        eprintln!(
            "... and {} more bad rows",
            report.bad - report.bad_rows.len() as u64
        );
    }
    if report.refused {
        return Err(format!(
            "{}: {} bad rows; --strict: nothing imported",
            file.display(),
            report.bad
        ));
    }
    println!(
        "{name}: {} rows imported ({} new, {} merged), {} bad rows skipped, in {:.1} s ({:.0} rows/s)",
        report.rows,
        report.inserted,
        report.merged,
        report.bad,
        report.seconds,
        report.rate()
    );
    Ok(())
}

fn list(settings: &Settings, store: &Store) -> Result<(), String> {
    let rows = store.campaigns().map_err(|e| e.to_string())?;
    let mut names: Vec<String> = settings.campaigns.iter().map(|c| c.name.clone()).collect();
    for r in &rows {
        if !names.contains(&r.name) {
            names.push(r.name.clone());
        }
    }
    println!(
        "{:<24} {:<12} {:<10} {:>10} {:>10} {:>10}",
        "campaign", "mode", "state", "contacts", "pending", "done"
    );
    for name in names {
        let mode = settings
            .campaigns
            .iter()
            .find(|c| c.name == name)
            .map_or("api", |c| c.mode.as_str());
        let state = rows
            .iter()
            .find(|r| r.name == name)
            .map_or("draft", |r| r.state.as_str());
        let counts = store.campaign_counts(&name).map_err(|e| e.to_string())?;
        let total: u64 = counts.contacts.values().sum();
        let get = |k: &str| counts.contacts.get(k).copied().unwrap_or(0);
        println!(
            "{name:<24} {mode:<12} {state:<10} {total:>10} {:>10} {:>10}",
            get("pending"),
            get("done")
        );
    }
    Ok(())
}

fn status(store: &Store, name: &str) -> Result<(), String> {
    let state = campaigns::state_of(store, name).map_err(|e| e.to_string())?;
    let counts = store.campaign_counts(name).map_err(|e| e.to_string())?;
    let out = serde_json::json!({ "campaign": name, "state": state, "counts": counts });
    println!(
        "{}",
        serde_json::to_string_pretty(&out).map_err(|e| e.to_string())?
    );
    Ok(())
}

fn transition(
    settings: &Settings,
    store: &mut Store,
    name: &str,
    t: Transition,
) -> Result<(), String> {
    import_spec(settings, store, name)?;
    let to = campaigns::transition(store, name, t, campaigns::now_ms())
        .map_err(|e| format!("{name}: {e}"))?;
    println!("{name}: {to}");
    Ok(())
}

pub fn dnc(path: Option<&Path>, command: DncCommand) -> ExitCode {
    let settings = match settings(path) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let mut store = match open_store(&settings) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let normalise = |number: &str, country: &str| {
        crate::campaigns::normalise(number, country).map_err(|e| format!("{number:?}: {e}"))
    };
    let result = match command {
        DncCommand::Add {
            number,
            reason,
            country,
        } => normalise(&number, &country).and_then(|phone| {
            store
                .add_dnc(&phone, &reason, "cli", campaigns::now_ms())
                .map_err(|e| e.to_string())?;
            println!("{phone}: on the do-not-call table");
            Ok(())
        }),
        DncCommand::Remove { number, country } => normalise(&number, &country).and_then(|phone| {
            match store.remove_dnc(&phone).map_err(|e| e.to_string())? {
                true => {
                    println!("{phone}: removed");
                    Ok(())
                }
                false => Err(format!("{phone} is not on the do-not-call table")),
            }
        }),
        DncCommand::List => store.dnc_list().map_err(|e| e.to_string()).map(|rows| {
            for (phone, reason, source, added_ms) in rows {
                println!("{phone}\t{source}\t{added_ms}\t{reason}");
            }
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

/// The reference scenario of the pacing goals, built in.
const REFERENCE_SCENARIO: &str = include_str!("../../campaign/scenarios/reference.yaml");

/// `waihu simulate`: the campaign's pacing (its abandon target and
/// window, connect limit, ratio) on a virtual carrier and virtual agents,
/// one row per mode.
pub fn simulate(
    path: Option<&Path>,
    campaign: Option<&str>,
    agents: u32,
    hours: f64,
    scenario: Option<&Path>,
    seed: u64,
) -> ExitCode {
    use waihu_campaign::pacing::{PaceMode, PacingConfig};
    use waihu_campaign::sim::{self, Scenario};
    let text = match scenario {
        Some(p) => match std::fs::read_to_string(p) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("{}: {e}", p.display());
                return ExitCode::FAILURE;
            }
        },
        None => REFERENCE_SCENARIO.to_owned(),
    };
    let scenario = match Scenario::from_yaml(&text) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("scenario: {e}");
            return ExitCode::FAILURE;
        }
    };
    if agents == 0 || agents > 10_000 || !(hours > 0.0 && hours <= 24.0 * 31.0) {
        eprintln!("--agents must be 1..=10000 and --hours in (0, 744]");
        return ExitCode::FAILURE;
    }
    let mut base = PacingConfig {
        connect_limit_ms: scenario.connect_limit_ms,
        ..PacingConfig::default()
    };
    if let Some(name) = campaign {
        let settings = match settings(path) {
            Ok(s) => s,
            Err(code) => return code,
        };
        let Some(c) = settings.campaigns.iter().find(|c| c.name == name) else {
            eprintln!("no campaign {name:?} in {}", settings.source);
            return ExitCode::FAILURE;
        };
        base.abandon_target = c.abandon_target;
        base.abandon_window_ms = i64::try_from(c.abandon_window.as_millis()).unwrap_or(i64::MAX);
        base.connect_limit_ms = i64::try_from(c.connect_limit.as_millis()).unwrap_or(i64::MAX);
        base.ratio = c.ratio;
    }
    let reports: Vec<_> = [
        PaceMode::Predictive,
        PaceMode::Progressive,
        PaceMode::Preview,
    ]
    .into_iter()
    .map(|mode| {
        let config = PacingConfig {
            mode,
            ..base.clone()
        };
        sim::run_with(&scenario, config, agents, hours, seed)
    })
    .collect();
    println!(
        "{} agents, {hours} h, seed {seed}; at most {:.2} talk minutes per agent-hour",
        agents,
        scenario.talk_ceiling_min_per_hour()
    );
    print!("{}", sim::table(&reports));
    ExitCode::SUCCESS
}
