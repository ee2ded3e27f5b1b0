//! The command line.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// waihu: a PBX for outbound call centres.
#[derive(Debug, Parser)]
#[command(name = "waihu", version, about)]
pub struct Cli {
    /// Log filter, e.g. `info`, `debug` or `waihu=debug,info`. Overrides RUST_LOG.
    #[arg(long, global = true, value_name = "FILTER")]
    pub log_level: Option<String>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the PBX until SIGINT or SIGTERM.
    Run {
        /// The YAML configuration; without it, the built-in defaults (with demo agents).
        #[arg(long, short, value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// Check a configuration and its scripts: print every problem, or a summary if valid.
    Check {
        /// The YAML configuration; without it, the built-in defaults.
        #[arg(long, short, value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// Ask the running switch to reload its scripts; prints the new version or the error.
    Reload {
        /// The configuration the switch runs with (for its `http.listen`).
        #[arg(long, short, value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// Ask the running switch to go back to the previous script version.
    Rollback {
        /// The configuration the switch runs with (for its `http.listen`).
        #[arg(long, short, value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// Call detail records.
    Cdr {
        #[command(subcommand)]
        command: CdrCommand,
    },
    /// Outbound campaigns: contact lists and state.
    Campaign {
        /// The configuration (for its `store.url` and `campaigns:`).
        #[arg(long, short, global = true, value_name = "FILE")]
        config: Option<PathBuf>,
        #[command(subcommand)]
        command: CampaignCommand,
    },
    /// The do-not-call table: numbers no path may dial.
    Dnc {
        /// The configuration (for its `store.url`).
        #[arg(long, short, global = true, value_name = "FILE")]
        config: Option<PathBuf>,
        #[command(subcommand)]
        command: DncCommand,
    },
    /// Reports per agent, campaign and queue, from the store (a table, or CSV).
    Report {
        /// The configuration (for its `store.url` and `campaigns:`).
        #[arg(long, short, global = true, value_name = "FILE")]
        config: Option<PathBuf>,
        #[command(subcommand)]
        command: crate::report_cli::ReportCommand,
    },
    /// Simulate a campaign's pacing on a virtual carrier and virtual agents.
    Simulate {
        /// The configuration (for the campaign's abandon target and ratio).
        #[arg(long, short, value_name = "FILE")]
        config: Option<PathBuf>,
        /// A campaign of the configuration; the defaults when absent.
        #[arg(long, value_name = "NAME")]
        campaign: Option<String>,
        #[arg(long, default_value_t = 30)]
        agents: u32,
        #[arg(long, default_value_t = 8.0)]
        hours: f64,
        /// A scenario YAML (carrier and agent figures); the reference one when absent.
        #[arg(long, value_name = "FILE")]
        scenario: Option<PathBuf>,
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
}

#[derive(Debug, Subcommand)]
pub enum CampaignCommand {
    /// Import a CSV contact list into a campaign (one transaction).
    Import {
        name: String,
        file: PathBuf,
        /// Import nothing if any row is bad (default: skip bad rows, report them).
        #[arg(long)]
        strict: bool,
    },
    /// Every campaign with its state and contact counts.
    List,
    /// One campaign's contacts by status, attempts by outcome, refusals by reason.
    Status { name: String },
    /// Start (or resume) dialling.
    Start { name: String },
    /// Pause dialling; calls in progress finish.
    Pause { name: String },
    /// Finish the campaign: it dials no more.
    Stop { name: String },
}

#[derive(Debug, Subcommand)]
pub enum DncCommand {
    /// Put a number on the table.
    Add {
        number: String,
        #[arg(long, default_value = "added by an operator")]
        reason: String,
        /// The country of a number written without one (ISO 3166).
        #[arg(long, default_value = "CN")]
        country: String,
    },
    /// Take a number off the table.
    Remove {
        number: String,
        #[arg(long, default_value = "CN")]
        country: String,
    },
    /// Print the table.
    List,
}

#[derive(Debug, Subcommand)]
pub enum CdrCommand {
    /// Print the CDRs of calls that started since a time, oldest first.
    Export {
        /// The configuration (for its `store.url`).
        #[arg(long, short, value_name = "FILE")]
        config: Option<PathBuf>,
        /// RFC 3339 (`2026-11-01T00:00:00Z`), or a span back from now
        /// (`24h`, `7days`); everything when absent.
        #[arg(long, value_name = "WHEN")]
        since: Option<String>,
        #[arg(long, value_enum, default_value = "csv")]
        format: ExportFormat,
    },
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ExportFormat {
    Csv,
    Json,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn run_and_check_take_a_config() {
        let cli = Cli::parse_from(["waihu", "run", "--config", "w.yaml", "--log-level", "debug"]);
        assert!(
            matches!(cli.command, Command::Run { config: Some(ref p) } if p.as_os_str() == "w.yaml")
        );
        assert_eq!(cli.log_level.as_deref(), Some("debug"));
        let cli = Cli::parse_from(["waihu", "--log-level", "warn", "check"]);
        assert!(matches!(cli.command, Command::Check { config: None }));
    }
}
