//! The process the `waihu` binary runs as: its open-files limit and its
//! worker threads, read from `/proc` while it serves.

mod common;

use common::{Config, Server};

/// `(soft, hard)` of "Max open files" in `/proc/PID/limits`; `None` stands
/// for "unlimited".
fn open_files(pid: u32) -> (Option<u64>, Option<u64>) {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).expect("reading limits");
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .expect("a Max open files line");
    let mut values = line["Max open files".len()..]
        .split_whitespace()
        .map(|v| v.parse::<u64>().ok());
    (values.next().flatten(), values.next().flatten())
}

/// Names of the process's threads.
fn thread_names(pid: u32) -> Vec<String> {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .expect("listing threads")
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .map(|name| name.trim().to_owned())
        .collect()
}

#[test]
fn a_low_soft_open_files_limit_is_raised_to_the_hard_limit() {
    let (_, hard) = open_files(std::process::id());
    let Some(hard) = hard.filter(|&h| h > 256) else {
        panic!("this test needs a hard open-files limit above 256 (ulimit -Hn)");
    };
    let server = Server::start(&Config {
        soft_open_files: Some(256),
        ..Config::default()
    });
    assert_eq!(
        open_files(server.pid()),
        (Some(hard), Some(hard)),
        "the soft limit should have been raised from 256 to the hard limit"
    );
    assert!(
        server.log().contains("open-files limit raised"),
        "the raise is logged"
    );
}

#[test]
fn process_workers_sets_the_number_of_runtime_threads() {
    let workers = |n: u32| {
        let server = Server::start(&Config {
            extra_yaml: format!("process:\n  workers: {n}\n"),
            ..Config::default()
        });
        // tokio names its blocking-pool threads like its workers, so the
        // OS count is a bound; the runtime's own count is exact.
        let named = thread_names(server.pid())
            .iter()
            .filter(|name| name.as_str() == "tokio-rt-worker")
            .count();
        (server.metric("waihu_runtime_workers"), named)
    };
    let (one, named) = workers(1);
    assert_eq!(one, 1.0);
    assert!(named >= 1);
    let (three, named) = workers(3);
    assert_eq!(three, 3.0);
    assert!(named >= 3, "{named} runtime threads for 3 workers");
    // 0, the default: one per two cores, rounded up.
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let (default, _) = workers(0);
    assert_eq!(default, cores.div_ceil(2) as f64, "{cores} cores");
}
