//! The waihu binary: command line, logging, and the tokio runtime around
//! the sans-IO `waihu_sip` endpoint.
//!
//! - [`cli`]: `waihu run`, `waihu check`;
//! - [`config`]: the YAML file, checked into [`config::Settings`];
//! - [`server`]: binds, spawns, waits for a signal, shuts down;
//! - [`sip`]: the driver task that owns the endpoint, UDP and TCP;
//! - [`http`]: `/api/v1/health` and `/metrics`;
//! - [`shutdown`]: broadcast-and-confirm graceful shutdown.
// Denied, not forbidden: the plugin loader's `ffi` module allows it.
#![deny(unsafe_code)]

/// mimalloc rather than the system allocator: call set-up allocates and
/// frees many small objects across threads, where glibc's malloc was a
/// quarter of the switch's time under load.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod acd;
mod api_acd;
mod api_campaigns;
mod api_desktop;
mod api_plugins;
mod api_reports;
mod api_scripts;
mod auth;
mod call;
mod campaign_cli;
mod campaigns;
mod cli;
mod config;
mod dialer;
mod dialpoint;
mod dnc;
mod events_ws;
mod http;
mod plugin;
mod report_cli;
mod report_svg;
mod reports;
mod rtp_ports;
mod scripts;
mod server;
mod shutdown;
mod sip;
mod store;
mod trunks;
mod web;

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
        Command::Cdr {
            command:
                cli::CdrCommand::Export {
                    config,
                    since,
                    format,
                },
        } => Ok(cdr_export(config.as_deref(), since.as_deref(), format)),
        Command::Campaign { config, command } => {
            Ok(campaign_cli::campaign(config.as_deref(), command))
        }
        Command::Dnc { config, command } => Ok(campaign_cli::dnc(config.as_deref(), command)),
        Command::Report { config, command } => Ok(report_cli::report(config.as_deref(), command)),
        Command::Simulate {
            config,
            campaign,
            agents,
            hours,
            scenario,
            seed,
        } => Ok(campaign_cli::simulate(
            config.as_deref(),
            campaign.as_deref(),
            agents,
            hours,
            scenario.as_deref(),
            seed,
        )),
        Command::Run { config } => {
            let settings = match config::load(config.as_deref()) {
                Ok(settings) => settings,
                Err(e) => {
                    print_problems(&e);
                    return Ok(ExitCode::FAILURE);
                }
            };
            raise_open_files();
            let cores = std::thread::available_parallelism().map_or(1, usize::from);
            let mut builder = tokio::runtime::Builder::new_multi_thread();
            builder.worker_threads(
                settings
                    .workers
                    .unwrap_or_else(|| config::default_workers(cores)),
            );
            let runtime = builder
                .enable_all()
                .build()
                .context("starting the tokio runtime")?;
            runtime.block_on(server::run(settings))?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Every call holds sockets (two RTP and two RTCP per bridged call, a TCP
/// connection per phone on TCP), so the usual soft limit of 1024 open files
/// would stop a switch at a few hundred calls with "too many open files".
/// The soft limit is raised to the hard limit, which the administrator
/// sets (systemd `LimitNOFILE`, `ulimit -Hn`); failing that, the switch
/// runs with what it has and says so.
fn raise_open_files() {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    let Some(soft) = limit.current else {
        return; // unlimited already
    };
    // An unlimited hard limit still has the kernel's own bound (fs.nr_open,
    // 1,048,576 by default), which setrlimit would refuse to exceed.
    let target = limit.maximum.unwrap_or(1 << 20);
    if soft >= target {
        tracing::info!(open_files = soft, "open-files limit");
        return;
    }
    let raised = Rlimit {
        current: Some(target),
        maximum: limit.maximum,
    };
    match setrlimit(Resource::Nofile, raised) {
        Ok(()) => tracing::info!(open_files = target, was = soft, "open-files limit raised"),
        Err(e) => tracing::warn!(
            open_files = soft,
            error = %e,
            "could not raise the open-files limit; calls may fail with too many open files"
        ),
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
                    let prompts = check_prompts(&settings.prompts_dir);
                    let plugins = check_plugins(&settings);
                    if prompts == ExitCode::SUCCESS {
                        plugins
                    } else {
                        prompts
                    }
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

/// Loads every plugin and makes an instance of it, as `waihu run` would;
/// each one that would not load is one line naming its file, and so is a
/// campaign whose `amd.detector` names a plugin that detects nothing.
fn check_plugins(settings: &Settings) -> ExitCode {
    let plugins = &settings.plugins;
    let mut code = ExitCode::SUCCESS;
    let mut loaded = Vec::new();
    for (s, result) in plugins.iter().zip(plugin::check(plugins)) {
        match result {
            Ok(p) => {
                println!(
                    "ok: plugin {}: {} {} ({}{})",
                    s.name,
                    p.plugin,
                    p.version,
                    p.capabilities.join(", "),
                    if p.lua_functions.is_empty() {
                        String::new()
                    } else {
                        format!("; lua: {}", p.lua_functions.join(", "))
                    }
                );
                loaded.push(p);
            }
            Err(e) => {
                eprintln!("plugins: {}: {e}", s.name);
                code = ExitCode::FAILURE;
            }
        }
    }
    for c in &settings.campaigns {
        if let Some(config::AmdEntry {
            detector: config::DetectorChoice::Plugin(name),
            ..
        }) = &c.amd
            && let Some(p) = loaded.iter().find(|p| &p.name == name)
            && !p.capabilities.contains(&"amd")
        {
            eprintln!(
                "campaigns: {}: amd.detector {name}: the plugin has no answering-machine detector ({})",
                c.name,
                p.capabilities.join(", ")
            );
            code = ExitCode::FAILURE;
        }
    }
    code
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
        "ok: {}: sip {} (domain {}, realm {}), http {}, {} agent(s), {} trunk(s), {} queue(s), {} campaign(s)",
        s.source,
        listen.join(" "),
        s.domain,
        s.realm,
        s.http_listen,
        s.agents.len(),
        s.trunks.len(),
        s.queues.len(),
        s.campaigns.len()
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
    let mut request = agent.post(&url);
    if let Some(token) = auth::cli_token(&settings) {
        request = request.header("Authorization", &format!("Bearer {token}"));
    }
    match request.send_empty() {
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

/// `waihu cdr export`: the CDRs since a time, as CSV or JSON lines.
fn cdr_export(
    path: Option<&std::path::Path>,
    since: Option<&str>,
    format: cli::ExportFormat,
) -> ExitCode {
    let settings = match config::load(path) {
        Ok(s) => s,
        Err(e) => {
            print_problems(&e);
            return ExitCode::FAILURE;
        }
    };
    let since_ms = match since.map(parse_since) {
        None => 0,
        Some(Ok(ms)) => ms,
        Some(Err(e)) => {
            eprintln!("--since: {e}");
            return ExitCode::FAILURE;
        }
    };
    let rows =
        match waihu_store::Store::open(&settings.store_url).and_then(|s| s.cdrs_since(since_ms)) {
            Ok(rows) => rows,
            Err(e) => {
                eprintln!("store.url {}: {e}", settings.store_url);
                return ExitCode::FAILURE;
            }
        };
    let out = std::io::stdout();
    let written = match format {
        cli::ExportFormat::Json => rows.iter().try_for_each(|cdr| {
            use std::io::Write as _;
            let line = serde_json::to_string(cdr).map_err(std::io::Error::other)?;
            writeln!(out.lock(), "{line}")
        }),
        cli::ExportFormat::Csv => write_csv(out.lock(), &rows),
    };
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("writing the export: {e}");
            ExitCode::FAILURE
        }
    }
}

fn write_csv(out: impl std::io::Write, rows: &[waihu_store::Cdr]) -> std::io::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record([
        "call_id",
        "from",
        "to",
        "start",
        "answer",
        "end",
        "hangup_by",
        "hangup_cause",
        "sip_status",
        "digits",
        "recording",
        "trunk",
        "dialled",
        "queue",
        "agent",
        "wait_ms",
        "talk_ms",
        "vars",
        "media",
    ])?;
    let time = |ms: i64| {
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms.max(0) as u64);
        humantime::format_rfc3339_millis(t).to_string()
    };
    for c in rows {
        w.write_record([
            c.call_id.clone(),
            c.from.clone(),
            c.to.clone(),
            time(c.start_ms),
            c.answer_ms.map(time).unwrap_or_default(),
            time(c.end_ms),
            c.hangup_by.clone(),
            c.hangup_cause.clone(),
            c.sip_status.map(|s| s.to_string()).unwrap_or_default(),
            c.digits.clone(),
            c.recording.clone().unwrap_or_default(),
            c.trunk.clone().unwrap_or_default(),
            c.dialled.clone().unwrap_or_default(),
            c.queue.clone().unwrap_or_default(),
            c.agent.clone().unwrap_or_default(),
            c.wait_ms.map(|v| v.to_string()).unwrap_or_default(),
            c.talk_ms.map(|v| v.to_string()).unwrap_or_default(),
            serde_json::to_string(&c.vars).unwrap_or_default(),
            serde_json::to_string(&c.media).unwrap_or_default(),
        ])?;
    }
    w.flush()
}

/// RFC 3339, or a span back from now (`24h`, `7days`), as Unix milliseconds.
fn parse_since(s: &str) -> Result<i64, String> {
    let at = match humantime::parse_rfc3339_weak(s) {
        Ok(t) => t,
        Err(_) => {
            let span = humantime::parse_duration(s)
                .map_err(|e| format!("{s:?} is neither a time (RFC 3339) nor a span (24h): {e}"))?;
            std::time::SystemTime::now()
                .checked_sub(span)
                .ok_or_else(|| format!("{s:?} reaches before 1970"))?
        }
    };
    at.duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .map_err(|_| format!("{s:?} is before 1970"))
}
