//! The waihu binary: command line, logging, and the tokio runtime around
//! the sans-IO `waihu_sip` endpoint.
//!
//! - [`cli`]: `waihu run`, `waihu check`;
//! - [`config`]: the YAML file, checked into [`config::Settings`];
//! - [`server`]: binds, spawns, waits for a signal, shuts down;
//! - [`sip`]: the driver task that owns the endpoint, UDP and TCP;
//! - [`http`]: `/api/v1/health` and `/metrics`;
//! - [`shutdown`]: broadcast-and-confirm graceful shutdown.
#![forbid(unsafe_code)]

mod cli;
mod config;
mod http;
mod server;
mod shutdown;
mod sip;

use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use tracing_subscriber::EnvFilter;

use crate::cli::{Cli, Command};
use crate::config::Settings;

fn main() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    init_logging(cli.log_level.as_deref())?;
    match cli.command {
        Command::Check { config } => Ok(check(config.as_deref())),
        Command::Run { config } => {
            let settings = match config::load(config.as_deref()) {
                Ok(settings) => settings,
                Err(e) => {
                    print_problems(&e);
                    return Ok(ExitCode::FAILURE);
                }
            };
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("starting the tokio runtime")?;
            runtime.block_on(server::run(settings))?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `--log-level` wins over RUST_LOG; the default is `info`.
fn init_logging(level: Option<&str>) -> anyhow::Result<()> {
    let filter = match level {
        Some(level) => {
            EnvFilter::try_new(level).with_context(|| format!("bad --log-level {level:?}"))?
        }
        None => EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    Ok(())
}

/// `waihu check`: every problem on stderr and exit 1, or a summary on stdout.
fn check(path: Option<&std::path::Path>) -> ExitCode {
    match config::load(path) {
        Ok(settings) => {
            for w in &settings.warnings {
                eprintln!("{}: warning: {w}", settings.source);
            }
            println!("{}", summary(&settings));
            ExitCode::SUCCESS
        }
        Err(e) => {
            print_problems(&e);
            ExitCode::FAILURE
        }
    }
}

fn print_problems(e: &config::ConfigError) {
    for line in e.lines() {
        eprintln!("{line}");
    }
}

fn summary(s: &Settings) -> String {
    let listen: Vec<String> = s.listeners.iter().map(ToString::to_string).collect();
    format!(
        "ok: {}: sip {} (domain {}, realm {}), http {}, {} agent(s)",
        s.source,
        listen.join(" "),
        s.domain,
        s.realm,
        s.http_listen,
        s.agents.len()
    )
}
