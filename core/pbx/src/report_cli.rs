//! `waihu report agents|campaigns|campaign NAME|queues`: the reports of
//! the HTTP API, read from the store file directly (like `waihu cdr
//! export`), so they work whether the switch runs or not. A plain table
//! by default, CSV with `--csv`.

use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use waihu_store::{Span, Store};

use crate::config;
use crate::reports::{self, ParamsBook, Table};

/// The span and the output of every report.
#[derive(Debug, Clone, Args)]
pub struct ReportArgs {
    /// From (inclusive): RFC 3339 (`2026-11-01T00:00:00Z`) or a span back
    /// from now (`24h`, `7days`); the beginning of records when absent.
    #[arg(long, value_name = "WHEN")]
    pub since: Option<String>,
    /// Until (exclusive), written the same way; now when absent.
    #[arg(long, value_name = "WHEN")]
    pub until: Option<String>,
    /// CSV (a header row, one row per line) rather than a table.
    #[arg(long)]
    pub csv: bool,
}

#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// Per agent: calls placed and connected, inbound calls, talk and
    /// wrap-up time, dispositions, success rate.
    Agents(ReportArgs),
    /// Per campaign: contact rate, conversion, abandon rate (rolling
    /// too), attempts per contact, dispositions.
    Campaigns(ReportArgs),
    /// One campaign: its abandon rate by day and its answers by hour of
    /// day (with --csv, the table --table names).
    Campaign {
        name: String,
        #[command(flatten)]
        args: ReportArgs,
        /// The table --csv prints: `days` or `hours`.
        #[arg(long, value_enum, default_value = "days")]
        table: CampaignTable,
    },
    /// Per queue: service level, average and longest wait, abandoned.
    Queues {
        #[command(flatten)]
        args: ReportArgs,
        /// The service level's threshold, in seconds.
        #[arg(long, value_name = "SECONDS", default_value_t = reports::DEFAULT_THRESHOLD_S)]
        threshold_s: u32,
    },
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum CampaignTable {
    Days,
    Hours,
}

/// Runs a report; failures are one line on stderr and exit 1.
pub fn report(path: Option<&Path>, command: ReportCommand) -> ExitCode {
    match run(path, command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

fn run(path: Option<&Path>, command: ReportCommand) -> Result<(), String> {
    let settings = config::load(path).map_err(|e| e.lines().join("\n"))?;
    let args = match &command {
        ReportCommand::Agents(a) | ReportCommand::Campaigns(a) => a,
        ReportCommand::Campaign { args, .. } | ReportCommand::Queues { args, .. } => args,
    };
    let span = reports::span(
        args.since.as_deref(),
        args.until.as_deref(),
        reports::now_ms(),
    )?;
    let csv = args.csv;
    let store = Store::open(&settings.store_url)
        .map_err(|e| format!("store.url {}: {e}", settings.store_url))?;
    let failed = |e: waihu_store::StoreError| format!("store.url {}: {e}", settings.store_url);
    let book = || -> Result<ParamsBook, String> {
        Ok(ParamsBook::new(
            &settings.campaigns,
            &store.campaigns().map_err(failed)?,
        ))
    };
    let tables: Vec<Table> = match command {
        ReportCommand::Agents(_) => {
            vec![reports::agents_table(
                &store.agent_reports(span).map_err(failed)?,
            )]
        }
        ReportCommand::Campaigns(_) => {
            let book = book()?;
            vec![reports::campaigns_table(
                &store
                    .campaign_reports(span, |n| book.get(n))
                    .map_err(failed)?,
            )]
        }
        ReportCommand::Campaign { name, table, .. } => {
            let book = book()?;
            let detail = store
                .campaign_detail(&name, span, &book.get(&name))
                .map_err(failed)?
                .ok_or_else(|| format!("no campaign {name:?} in the store"))?;
            if csv {
                vec![match table {
                    CampaignTable::Days => reports::days_table(&detail),
                    CampaignTable::Hours => reports::hours_table(&detail),
                }]
            } else {
                vec![
                    reports::campaigns_table(std::slice::from_ref(&detail.summary)),
                    reports::days_table(&detail),
                    reports::hours_table(&detail),
                ]
            }
        }
        ReportCommand::Queues { threshold_s, .. } => {
            let threshold = reports::threshold_ms(Some(threshold_s))?;
            vec![reports::queues_table(
                &store.queue_reports(span, threshold).map_err(failed)?,
            )]
        }
    };
    print(&tables, span, csv).map_err(|e| format!("writing the report: {e}"))
}

fn print(tables: &[Table], span: Span, csv: bool) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    if csv {
        for t in tables {
            out.write_all(&t.to_csv().map_err(std::io::Error::other)?)?;
        }
        return out.flush();
    }
    let when = |ms: i64| {
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms.max(0) as u64);
        humantime::format_rfc3339_seconds(t).to_string()
    };
    writeln!(
        out,
        "from {} until {}",
        if span.since_ms == 0 {
            "the beginning".to_owned()
        } else {
            when(span.since_ms)
        },
        when(span.until_ms)
    )?;
    for t in tables {
        writeln!(out, "\n{}:", t.name)?;
        out.write_all(t.to_text().as_bytes())?;
    }
    out.flush()
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use crate::cli::{Cli, Command};

    use super::*;

    #[test]
    fn report_commands_parse() {
        let cli = Cli::parse_from([
            "waihu",
            "report",
            "-c",
            "w.yaml",
            "queues",
            "--since",
            "24h",
            "--csv",
            "--threshold-s",
            "30",
        ]);
        let Command::Report { config, command } = cli.command else {
            panic!("not a report");
        };
        assert_eq!(config.as_deref(), Some(Path::new("w.yaml")));
        let ReportCommand::Queues { args, threshold_s } = command else {
            panic!("not queues");
        };
        assert_eq!(
            (args.since.as_deref(), args.until, args.csv, threshold_s),
            (Some("24h"), None, true, 30)
        );
        let cli = Cli::parse_from(["waihu", "report", "campaign", "sale", "--table", "hours"]);
        assert!(matches!(
            cli.command,
            Command::Report {
                command: ReportCommand::Campaign {
                    table: CampaignTable::Hours,
                    ..
                },
                ..
            }
        ));
        assert!(Cli::try_parse_from(["waihu", "report", "calls"]).is_err());
    }
}
