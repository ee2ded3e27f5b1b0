//! The rotating file. Time is an argument (seconds since the Unix epoch),
//! so rotation is tested without waiting for midnight.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

/// When to start a new file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Past this many bytes (0: never).
    pub max_bytes: u64,
    /// When the UTC date changes.
    pub daily: bool,
    /// Flush after each line (else at rotation and on drop).
    pub flush_every_event: bool,
}

/// The live file and what rotation needs to know of it.
#[derive(Debug)]
pub struct Writer {
    path: PathBuf,
    policy: Policy,
    out: BufWriter<File>,
    bytes: u64,
    day: i64,
}

/// Now, as Unix seconds.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

impl Writer {
    /// Appends to `path` (a file left by a previous run is continued).
    pub fn open(path: PathBuf, policy: Policy, now: i64) -> io::Result<Writer> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        let bytes = file.metadata()?.len();
        Ok(Writer {
            path,
            policy,
            out: BufWriter::new(file),
            bytes,
            day: now.div_euclid(86_400),
        })
    }

    /// One event; rotates first if the line would be the first of a new
    /// day or would pass the size limit.
    pub fn write_line(&mut self, line: &str, now: i64) -> io::Result<()> {
        let len = line.len() as u64 + 1;
        let new_day = self.policy.daily && now.div_euclid(86_400) != self.day;
        let too_big =
            self.policy.max_bytes > 0 && self.bytes > 0 && self.bytes + len > self.policy.max_bytes;
        if new_day || too_big {
            self.rotate(now)?;
        }
        // One write of line and newline, so a reader never sees half a line
        // end without its newline more than needed.
        let mut buf = Vec::with_capacity(line.len() + 1);
        buf.extend_from_slice(line.trim_end_matches('\n').as_bytes());
        buf.push(b'\n');
        self.out.write_all(&buf)?;
        self.bytes += buf.len() as u64;
        if self.policy.flush_every_event {
            self.out.flush()?;
        }
        Ok(())
    }

    /// Renames the live file aside and starts a new one.
    pub fn rotate(&mut self, now: i64) -> io::Result<PathBuf> {
        self.out.flush()?;
        let aside = free_name(&self.path, now);
        std::fs::rename(&self.path, &aside)?;
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        self.out = BufWriter::new(file);
        self.bytes = 0;
        self.day = now.div_euclid(86_400);
        Ok(aside)
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        // Shutdown: whatever is buffered reaches the file.
        let _ = self.out.flush();
    }
}

/// `STEM.YYYY-MM-DDTHHMMSS.jsonl` beside `path`, `.N` added until free.
fn free_name(path: &Path, now: i64) -> PathBuf {
    let stem = path
        .file_stem()
        .map_or_else(|| "events".into(), |s| s.to_string_lossy().into_owned());
    let ext = path
        .extension()
        .map_or_else(|| "jsonl".into(), |s| s.to_string_lossy().into_owned());
    let stamp = stamp(now);
    let dir = path.parent().unwrap_or(Path::new(""));
    let mut candidate = dir.join(format!("{stem}.{stamp}.{ext}"));
    let mut n = 1;
    while candidate.exists() {
        candidate = dir.join(format!("{stem}.{stamp}.{n}.{ext}"));
        n += 1;
    }
    candidate
}

/// `YYYY-MM-DDTHHMMSS` in UTC.
pub fn stamp(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}{:02}{:02}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard
/// Hinnant's algorithm), to avoid a date crate for one file name.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh directory, removed when the guard drops.
    fn dir(name: &str) -> tempfile::TempDir {
        tempfile::Builder::new()
            .prefix(&format!("events-jsonl-{name}-"))
            .tempdir()
            .unwrap()
    }

    fn files(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    const NOON: i64 = 1_763_985_600; // 2025-11-24T12:00:00Z

    #[test]
    fn stamps_are_utc_dates() {
        assert_eq!(stamp(0), "1970-01-01T000000");
        assert_eq!(stamp(NOON), "2025-11-24T120000");
        assert_eq!(stamp(951_782_400), "2000-02-29T000000");
    }

    #[test]
    fn a_new_day_starts_a_new_file() {
        let d = dir("daily");
        let policy = Policy {
            max_bytes: 0,
            daily: true,
            flush_every_event: true,
        };
        let mut w = Writer::open(d.path().join("events.jsonl"), policy, NOON).unwrap();
        w.write_line(r#"{"n":1}"#, NOON).unwrap();
        w.write_line(r#"{"n":2}"#, NOON + 11 * 3600).unwrap();
        w.write_line(r#"{"n":3}"#, NOON + 12 * 3600).unwrap();
        assert_eq!(
            files(d.path()),
            ["events.2025-11-25T000000.jsonl", "events.jsonl"]
        );
        let old = std::fs::read_to_string(d.path().join("events.2025-11-25T000000.jsonl")).unwrap();
        assert_eq!(old, "{\"n\":1}\n{\"n\":2}\n");
        let live = std::fs::read_to_string(d.path().join("events.jsonl")).unwrap();
        assert_eq!(live, "{\"n\":3}\n");
    }

    #[test]
    fn a_full_file_rotates_before_the_line_that_would_pass_the_limit() {
        let d = dir("size");
        let policy = Policy {
            max_bytes: 20,
            daily: false,
            flush_every_event: false,
        };
        let mut w = Writer::open(d.path().join("ev.jsonl"), policy, NOON).unwrap();
        for n in 0..5 {
            w.write_line(&format!("{{\"n\":{n}}}"), NOON).unwrap();
        }
        drop(w);
        // 8 bytes a line: two fit in 20, so files of 2, 2 and 1 lines.
        let names = files(d.path());
        assert_eq!(names.len(), 3, "{names:?}");
        assert!(names.contains(&"ev.2025-11-24T120000.1.jsonl".to_owned()));
        let all: usize = names
            .iter()
            .map(|n| {
                std::fs::read_to_string(d.path().join(n))
                    .unwrap()
                    .lines()
                    .count()
            })
            .sum();
        assert_eq!(all, 5, "no line lost, the buffered one flushed on drop");
    }
}
