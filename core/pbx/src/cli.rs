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
