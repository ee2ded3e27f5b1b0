//! What the HTTP reports, the `/reports` page and `waihu report` share:
//! reading a span (`since`/`until`), the parameters of each campaign
//! (its zone, abandon window and target) from the configuration, and the
//! tables (one header, one row per line) that become CSV, plain text or
//! HTML.
//!
//! The figures themselves come from the store ([`waihu_store::Store::agent_reports`]
//! and its siblings); this module only lays them out.

use std::time::Duration;

use waihu_store::{
    AgentReport, CampaignDetail, CampaignParams, CampaignReport, CampaignRow, DISPOSITIONS,
    QueueReport, Span,
};

use crate::config::Campaign;

/// The service level's threshold when none is asked for.
pub const DEFAULT_THRESHOLD_S: u32 = 20;

/// A time, as `since` and `until` take it: RFC 3339
/// (`2026-11-01T00:00:00Z`), or a span back from `now_ms` (`24h`,
/// `7days`).
pub fn parse_when(s: &str, now_ms: i64) -> Result<i64, String> {
    let s = s.trim();
    if let Ok(t) = humantime::parse_rfc3339_weak(s) {
        return t
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .map_err(|_| format!("{s:?} is before 1970"));
    }
    let back = humantime::parse_duration(s).map_err(|_| {
        format!("{s:?} is neither a time (RFC 3339, 2026-11-01T00:00:00Z) nor a span back from now (24h, 7days)")
    })?;
    let back = i64::try_from(back.as_millis()).unwrap_or(i64::MAX);
    Ok(now_ms.saturating_sub(back).max(0))
}

/// The span `since`..`until`: from the beginning and up to now (the
/// attempts of this very millisecond included) when absent.
pub fn span(since: Option<&str>, until: Option<&str>, now_ms: i64) -> Result<Span, String> {
    let since_ms = match since.filter(|s| !s.trim().is_empty()) {
        Some(s) => parse_when(s, now_ms).map_err(|e| format!("since: {e}"))?,
        None => 0,
    };
    let until_ms = match until.filter(|s| !s.trim().is_empty()) {
        Some(s) => parse_when(s, now_ms).map_err(|e| format!("until: {e}"))?,
        None => now_ms.saturating_add(1),
    };
    Span::new(since_ms, until_ms).map_err(|e| e.to_string())
}

/// A configured campaign's report parameters: its contacts' default zone
/// (`import.default_timezone`) if it names one, else UTC.
pub fn params_of(c: &Campaign) -> CampaignParams {
    let timezone = c
        .import
        .default_timezone
        .as_deref()
        .and_then(|z| waihu_campaign::zone::lookup_zone(z).ok())
        .unwrap_or_else(|| CampaignParams::default().timezone);
    CampaignParams {
        timezone,
        abandon_window_ms: i64::try_from(c.abandon_window.as_millis()).unwrap_or(i64::MAX),
        abandon_target: c.abandon_target,
    }
}

/// The parameters of every campaign: of those made or changed through the
/// API (their JSON in the store), then the configuration's; the defaults
/// for any other.
#[derive(Clone, Debug, Default)]
pub struct ParamsBook {
    known: Vec<(String, CampaignParams)>,
}

impl ParamsBook {
    pub fn new(configured: &[Campaign], stored: &[CampaignRow]) -> ParamsBook {
        // A campaign changed through the API runs with its stored
        // configuration (a YAML campaign's row holds `{}`, which is none).
        let mut known: Vec<(String, CampaignParams)> = stored
            .iter()
            .filter_map(|row| {
                let entry =
                    serde_json::from_str::<crate::config::CampaignEntry>(&row.config).ok()?;
                let c = crate::config::check_campaign(&entry, &|_| true, &|_| true).ok()?;
                Some((row.name.clone(), params_of(&c)))
            })
            .collect();
        for c in configured {
            if !known.iter().any(|(n, _)| n == &c.name) {
                known.push((c.name.clone(), params_of(c)));
            }
        }
        ParamsBook { known }
    }

    pub fn get(&self, campaign: &str) -> CampaignParams {
        self.known
            .iter()
            .find(|(n, _)| n == campaign)
            .map(|(_, p)| p.clone())
            .unwrap_or_default()
    }
}

/// One cell: how it is written depends on where.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    Text(String),
    Count(u64),
    /// A fraction: 0.25 is `0.2500` in CSV, `25.0%` on screen.
    Rate(f64),
    /// Milliseconds: seconds in CSV (`61.5`); on screen `12.5s` under a
    /// minute, `1:01` or `1:00:01` from there.
    Ms(i64),
}

impl Cell {
    /// As a CSV field.
    pub fn csv(&self) -> String {
        match self {
            Cell::Text(s) => s.clone(),
            Cell::Count(n) => n.to_string(),
            Cell::Rate(r) => format!("{r:.4}"),
            Cell::Ms(ms) => format!("{:.1}", *ms as f64 / 1000.0),
        }
    }

    /// For a person.
    pub fn show(&self) -> String {
        match self {
            Cell::Text(s) => s.clone(),
            Cell::Count(n) => n.to_string(),
            Cell::Rate(r) => format!("{:.1}%", r * 100.0),
            Cell::Ms(ms) if *ms < 60_000 => format!("{:.1}s", (*ms).max(0) as f64 / 1000.0),
            Cell::Ms(ms) => {
                let s = (*ms).max(0) / 1000;
                if s >= 3600 {
                    format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
                } else {
                    format!("{}:{:02}", s / 60, s % 60)
                }
            }
        }
    }

    /// Right-aligned on screen.
    pub fn numeric(&self) -> bool {
        !matches!(self, Cell::Text(_))
    }
}

/// A table: a header row and one row per line.
#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    /// For file names and headings: `agents`, `campaigns`, `queues`,
    /// `days`, `hours`.
    pub name: &'static str,
    pub header: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
}

impl Table {
    /// The table as CSV (header row first).
    pub fn to_csv(&self) -> Result<Vec<u8>, csv::Error> {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(&self.header)?;
        for row in &self.rows {
            w.write_record(row.iter().map(Cell::csv))?;
        }
        w.into_inner().map_err(|e| csv::Error::from(e.into_error()))
    }

    /// The table as aligned plain text, for a terminal.
    pub fn to_text(&self) -> String {
        let shown: Vec<Vec<String>> = self
            .rows
            .iter()
            .map(|r| r.iter().map(Cell::show).collect())
            .collect();
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for row in &shown {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let mut out = String::new();
        let line = |cells: &[String], numeric: &dyn Fn(usize) -> bool, out: &mut String| {
            let parts: Vec<String> = cells
                .iter()
                .zip(&widths)
                .enumerate()
                .map(|(i, (c, w))| {
                    if numeric(i) {
                        format!("{c:>w$}")
                    } else {
                        format!("{c:<w$}")
                    }
                })
                .collect();
            out.push_str(parts.join("  ").trim_end());
            out.push('\n');
        };
        let numeric_col = |i: usize| self.rows.first().is_some_and(|r| r[i].numeric());
        line(&self.header, &numeric_col, &mut out);
        let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
        line(&rule, &|_| false, &mut out);
        for row in &shown {
            line(row, &numeric_col, &mut out);
        }
        if self.rows.is_empty() {
            out.push_str("(nothing in this span)\n");
        }
        out
    }
}

fn strings(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| (*s).to_owned()).collect()
}

/// Per agent.
pub fn agents_table(rows: &[AgentReport]) -> Table {
    let mut header = strings(&[
        "agent",
        "placed",
        "connected",
        "inbound",
        "talk_s",
        "wrap_up_s",
    ]);
    header.extend(DISPOSITIONS.iter().map(|d| (*d).to_owned()));
    header.push("success_rate".into());
    Table {
        name: "agents",
        header,
        rows: rows
            .iter()
            .map(|a| {
                let mut row = vec![
                    Cell::Text(a.agent.clone()),
                    Cell::Count(a.placed),
                    Cell::Count(a.connected),
                    Cell::Count(a.inbound),
                    Cell::Ms(a.talk_ms),
                    Cell::Ms(a.wrap_up_ms),
                ];
                row.extend(
                    DISPOSITIONS
                        .iter()
                        .map(|d| Cell::Count(a.dispositions.get(*d).copied().unwrap_or(0))),
                );
                row.push(Cell::Rate(a.success_rate));
                row
            })
            .collect(),
    }
}

/// Per campaign.
pub fn campaigns_table(rows: &[CampaignReport]) -> Table {
    let mut header = strings(&[
        "campaign",
        "contacts",
        "contacts_dialled",
        "dialled",
        "answered",
        "machines",
        "connected",
        "abandoned",
        "success",
        "contact_rate",
        "conversion",
        "abandon_rate",
        "rolling_abandon_rate",
        "abandon_target",
        "attempts_per_contact",
    ]);
    header.extend(DISPOSITIONS.iter().map(|d| (*d).to_owned()));
    Table {
        name: "campaigns",
        header,
        rows: rows
            .iter()
            .map(|c| {
                let mut row = vec![
                    Cell::Text(c.campaign.clone()),
                    Cell::Count(c.contacts),
                    Cell::Count(c.contacts_dialled),
                    Cell::Count(c.dialled),
                    Cell::Count(c.answered),
                    Cell::Count(c.machines),
                    Cell::Count(c.connected),
                    Cell::Count(c.abandoned),
                    Cell::Count(c.success),
                    Cell::Rate(c.contact_rate),
                    Cell::Rate(c.conversion),
                    Cell::Rate(c.abandon_rate),
                    Cell::Rate(c.rolling_abandon_rate),
                    Cell::Rate(c.abandon_target),
                    Cell::Text(format!("{:.2}", c.attempts_per_contact)),
                ];
                row.extend(
                    DISPOSITIONS
                        .iter()
                        .map(|d| Cell::Count(c.dispositions.get(*d).copied().unwrap_or(0))),
                );
                row
            })
            .collect(),
    }
}

/// A campaign's days: the abandon rate per day and rolling.
pub fn days_table(d: &CampaignDetail) -> Table {
    Table {
        name: "days",
        header: strings(&[
            "day",
            "dialled",
            "answered",
            "abandoned",
            "abandon_rate",
            "rolling_abandon_rate",
        ]),
        rows: d
            .days
            .iter()
            .map(|day| {
                vec![
                    Cell::Text(day.day.clone()),
                    Cell::Count(day.dialled),
                    Cell::Count(day.answered),
                    Cell::Count(day.abandoned),
                    Cell::Rate(day.abandon_rate),
                    Cell::Rate(day.rolling_abandon_rate),
                ]
            })
            .collect(),
    }
}

/// A campaign's hours of the day: when to call.
pub fn hours_table(d: &CampaignDetail) -> Table {
    Table {
        name: "hours",
        header: strings(&[
            "hour",
            "dialled",
            "answered",
            "answer_rate",
            "connected",
            "success",
            "success_rate",
        ]),
        rows: d
            .hours
            .iter()
            .map(|h| {
                vec![
                    Cell::Text(format!("{:02}:00", h.hour)),
                    Cell::Count(h.dialled),
                    Cell::Count(h.answered),
                    Cell::Rate(h.answer_rate),
                    Cell::Count(h.connected),
                    Cell::Count(h.success),
                    Cell::Rate(h.success_rate),
                ]
            })
            .collect(),
    }
}

/// Per queue.
pub fn queues_table(rows: &[QueueReport]) -> Table {
    Table {
        name: "queues",
        header: strings(&[
            "queue",
            "offered",
            "answered",
            "answered_in_threshold",
            "threshold_s",
            "service_level",
            "abandoned",
            "overflowed",
            "waiting",
            "avg_wait_s",
            "longest_wait_s",
            "avg_abandon_wait_s",
        ]),
        rows: rows
            .iter()
            .map(|q| {
                vec![
                    Cell::Text(q.queue.clone()),
                    Cell::Count(q.offered),
                    Cell::Count(q.answered),
                    Cell::Count(q.answered_in_threshold),
                    Cell::Count(u64::try_from(q.threshold_ms / 1000).unwrap_or(0)),
                    Cell::Rate(q.service_level),
                    Cell::Count(q.abandoned),
                    Cell::Count(q.overflowed),
                    Cell::Count(q.waiting),
                    Cell::Ms(q.avg_wait_ms),
                    Cell::Ms(q.longest_wait_ms),
                    Cell::Ms(q.avg_abandon_wait_ms),
                ]
            })
            .collect(),
    }
}

/// The service level's threshold in milliseconds, checked.
pub fn threshold_ms(seconds: Option<u32>) -> Result<i64, String> {
    match seconds.unwrap_or(DEFAULT_THRESHOLD_S) {
        0 => Err("threshold_s must be at least 1".into()),
        s if s > 24 * 3600 => Err(format!("threshold_s {s} is longer than a day")),
        s => Ok(i64::from(s) * 1000),
    }
}

/// Now, in Unix milliseconds (the binary's clock; reports are not a core).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_millis()
        .try_into()
        .unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_793_577_600_000;

    #[test]
    fn when_is_a_time_or_a_span_back_and_bad_input_is_named() {
        assert_eq!(parse_when("2026-11-02T00:00:00Z", 0), Ok(NOW));
        assert_eq!(parse_when("24h", NOW), Ok(NOW - 86_400_000));
        assert_eq!(parse_when("7days", NOW), Ok(NOW - 7 * 86_400_000));
        let e = parse_when("yesterday-ish", NOW).expect_err("bad");
        assert!(e.contains("yesterday-ish") && e.contains("RFC 3339"), "{e}");
        assert_eq!(
            span(None, None, NOW),
            Ok(Span {
                since_ms: 0,
                until_ms: NOW + 1
            })
        );
        let e = span(Some("1h"), Some("2h"), NOW).expect_err("backwards");
        assert!(e.contains("until"), "{e}");
        assert!(
            span(Some("x"), None, NOW)
                .expect_err("bad")
                .starts_with("since: ")
        );
    }

    #[test]
    fn campaign_parameters_come_from_the_api_row_then_the_configuration() {
        let row = |name: &str, config: &str| CampaignRow {
            name: name.into(),
            state: "draft".into(),
            config: config.into(),
            updated_ms: 0,
        };
        let api = r#"{"name":"api","queue":"sales","abandon_target_pct":5,"abandon_window":"24h",
            "import":{"default_timezone":"Asia/Shanghai"}}"#;
        let book = ParamsBook::new(
            &[],
            &[
                row("api", api),
                // A YAML campaign's row, and a row that is not a campaign.
                row("yaml", "{}"),
                row("broken", r#"{"name":"broken","mode":"telepathy"}"#),
            ],
        );
        let p = book.get("api");
        assert_eq!(p.timezone.iana_name(), Some("Asia/Shanghai"));
        assert_eq!(p.abandon_window_ms, 86_400_000);
        assert!((p.abandon_target - 0.05).abs() < 1e-12);
        // Unknown, `{}` and invalid: the defaults (UTC, 30 days, 3 %).
        for name in ["yaml", "broken", "nowhere"] {
            let p = book.get(name);
            assert_eq!(p.timezone.iana_name(), Some("UTC"), "{name}");
            assert_eq!(p.abandon_window_ms, 30 * 86_400_000, "{name}");
            assert!((p.abandon_target - 0.03).abs() < 1e-12, "{name}");
        }
    }

    #[test]
    fn thresholds_are_checked() {
        assert_eq!(threshold_ms(None), Ok(20_000));
        assert_eq!(threshold_ms(Some(30)), Ok(30_000));
        assert!(threshold_ms(Some(0)).is_err());
        assert!(threshold_ms(Some(100_000)).is_err());
    }

    #[test]
    fn a_table_writes_as_csv_and_as_aligned_text() {
        let t = queues_table(&[QueueReport {
            queue: "sales, east".into(),
            offered: 4,
            answered: 3,
            answered_in_threshold: 2,
            threshold_ms: 20_000,
            service_level: 2.0 / 3.0,
            avg_wait_ms: 12_500,
            longest_wait_ms: 3_725_000,
            ..QueueReport::default()
        }]);
        let csv = String::from_utf8(t.to_csv().expect("csv")).expect("utf8");
        let mut lines = csv.lines();
        assert_eq!(
            lines.next(),
            Some(
                "queue,offered,answered,answered_in_threshold,threshold_s,service_level,abandoned,overflowed,waiting,avg_wait_s,longest_wait_s,avg_abandon_wait_s"
            )
        );
        assert_eq!(
            lines.next(),
            Some("\"sales, east\",4,3,2,20,0.6667,0,0,0,12.5,3725.0,0.0")
        );
        assert_eq!(lines.next(), None);
        let text = t.to_text();
        assert!(text.contains("66.7%"), "{text}");
        assert!(text.contains("1:02:05"), "{text}");
        assert!(text.contains("12.5s"), "{text}");
        let empty = agents_table(&[]).to_text();
        assert!(empty.contains("nothing in this span"), "{empty}");
        assert!(empty.starts_with("agent  placed  connected"), "{empty}");
    }
}
