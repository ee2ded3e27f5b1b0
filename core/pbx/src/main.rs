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

mod api_scripts;
mod call;
mod cli;
mod config;
mod http;
mod rtp_ports;
mod scripts;
mod server;
mod shutdown;
mod sip;
mod store;
mod trunks;

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
        Command::Reload { config } => Ok(admin(config.as_deref(), "/api/v1/scripts/reload")),
        Command::Rollback { config } => Ok(admin(config.as_deref(), "/api/v1/scripts/rollback")),
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
            match scripts::check(&settings.scripts) {
                Ok(v) => {
                    println!("{}", summary(&settings));
                    println!(
                        "ok: scripts {}: version {} ({} files, hash {}), agent scripts: {}",
                        settings.scripts.dir.display(),
                        v.number,
                        v.files.len(),
                        scripts::short(&v.hash),
                        v.agent_scripts.join(", ")
                    );
                    check_prompts(&settings.prompts_dir)
                }
                Err(e) => {
                    eprintln!("{e}");
                    ExitCode::FAILURE
                }
            }
        }
        Err(e) => {
            print_problems(&e);
            ExitCode::FAILURE
        }
    }
}

/// Loads every prompt as `waihu run` would; each bad file is one line.
fn check_prompts(dir: &std::path::Path) -> ExitCode {
    if !dir.exists() {
        eprintln!(
            "warning: prompts.dir {} does not exist: calls can play tones only",
            dir.display()
        );
        return ExitCode::SUCCESS;
    }
    match waihu_media::prompt::PromptCache::load_dir(dir) {
        Ok(cache) => {
            println!("ok: prompts {}: {} prompt(s)", dir.display(), cache.len());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("prompts.dir {}: {e}", dir.display());
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

/// `waihu reload` / `waihu rollback`: asks the running switch (at the
/// configuration's `http.listen`) and prints its answer.
fn admin(path: Option<&std::path::Path>, api: &str) -> ExitCode {
    let settings = match config::load(path) {
        Ok(s) => s,
        Err(e) => {
            print_problems(&e);
            return ExitCode::FAILURE;
        }
    };
    let url = format!("http://{}{api}", settings.http_listen);
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(std::time::Duration::from_secs(30)))
        .build()
        .into();
    match agent.post(&url).send_empty() {
        Ok(mut response) => {
            let status = response.status();
            let body = response.body_mut().read_to_string().unwrap_or_default();
            if status.is_success() {
                println!("{body}");
                ExitCode::SUCCESS
            } else {
                eprintln!("{url}: {status}: {body}");
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("{url}: {e} (is waihu running with this configuration?)");
            ExitCode::FAILURE
        }
    }
}
