//! Import rate of contact files: a million generated rows through
//! `read_contacts`, timed, printed as rows per second.
//!
//! `cargo bench -p waihu-campaign --bench contacts` (release build).
//! `CONTACTS_BENCH_ROWS=N` changes the row count.
#![allow(clippy::disallowed_methods)] // the bench reads the clock on purpose

use std::fmt::Write as _;
use std::time::Instant;

use waihu_campaign::contact::{ImportSpec, read_contacts};

/// A file as campaign managers hand them in: numbers written several ways,
/// a time-zone column filled in for some rows, a few custom fields, and one
/// bad number in a thousand.
fn file(rows: u64) -> String {
    let mut out = String::with_capacity(rows as usize * 80);
    out.push_str("phone,name,segment,plan,amount_due,timezone\r\n");
    for i in 0..rows {
        let n = 13_800_000_000 + (i * 7919) % 100_000_000;
        let (a, b, c) = (n / 100_000_000, n / 10_000 % 10_000, n % 10_000);
        let phone = match i % 4 {
            0 => format!("{a} {b:04} {c:04}"),
            1 => format!("+86 {a}-{b:04}-{c:04}"),
            2 => format!("0086{n}"),
            _ => format!("{n}"),
        };
        let phone = if i % 1000 == 999 {
            "12345".to_owned()
        } else {
            phone
        };
        let tz = if i % 3 == 0 { "Asia/Shanghai" } else { "" };
        let segment = ["prospect", "new", "loyal", "vip"][(i % 4) as usize];
        let _ = write!(
            out,
            "{phone},客户{i},{segment},plan-{},{}.50,{tz}\r\n",
            i % 17,
            i % 500
        );
    }
    out
}

fn main() {
    let rows: u64 = std::env::var("CONTACTS_BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let data = file(rows);
    let spec = ImportSpec {
        default_timezone: Some("Asia/Shanghai".to_owned()),
        ..ImportSpec::default()
    };
    // The number metadata and the zone are loaded on first use: once per
    // process, not per row, so outside the timing.
    let warm = read_contacts("phone\n13800138000\n".as_bytes(), &spec).map(|r| r.count());
    assert_eq!(warm.ok(), Some(1));

    let start = Instant::now();
    let (mut ok, mut bad) = (0u64, 0u64);
    let reader = match read_contacts(data.as_bytes(), &spec) {
        Ok(reader) => reader,
        Err(e) => panic!("header: {e}"),
    };
    for row in reader {
        match row {
            Ok(_) => ok += 1,
            Err(_) => bad += 1,
        }
    }
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(ok + bad, rows);
    println!(
        "contacts: {rows} rows ({ok} ok, {bad} refused, {:.1} MB) in {secs:.2} s: {:.0} rows/s",
        data.len() as f64 / 1e6,
        rows as f64 / secs
    );
}
