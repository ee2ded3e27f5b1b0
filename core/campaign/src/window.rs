//! Calling windows: the hours of the contact's own day in which a campaign
//! may dial.
//!
//! A [`CallingWindow`] is the `window:` section of a campaign's YAML:
//!
//! ```yaml
//! window:
//!   days: { mon-fri: ["09:00-12:00", "13:30-20:30"], sat: ["10:00-18:00"] }
//!   rest: ["21:00-09:00", "12:00-13:30"]
//!   holidays: ["2026-10-01", "2026-10-02"]
//! ```
//!
//! `days` opens intervals of local wall-clock time per weekday (a day not
//! named is closed); `rest` closes intervals on every day, and may run past
//! midnight; `holidays` close whole local dates. A time is open when an
//! interval of its weekday holds it, no rest interval does, and its date is
//! not a holiday. Intervals include their start and exclude their end.
//!
//! Without `days` the window is open 09:00-21:00 every day; without `rest`
//! the rest hours are 21:00-09:00 (DOMAIN.md: never call during rest hours),
//! so a campaign that opens its days wider than that is still kept out of
//! the night unless it writes `rest: []`.
//!
//! The contact's zone says what its wall clock reads at an instant (jiff and
//! the IANA rules: daylight saving, past and future changes). [`is_open`]
//! answers for an instant, [`next_open`] gives the first open instant from
//! one on, which is where the dialer parks a contact and the retry policy
//! pushes its next attempt.
//!
//! [`is_open`]: CallingWindow::is_open
//! [`next_open`]: CallingWindow::next_open

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use jiff::Timestamp;
use jiff::civil::{Date, DateTime, Time, Weekday};
use jiff::tz::{AmbiguousOffset, TimeZone};
use serde::Deserialize;

use crate::acd::Ms;

const DAY_SECS: u32 = 86_400;
const DAY_MS: Ms = 86_400_000;

/// How far [`CallingWindow::next_open`] looks ahead before it gives up.
pub const LOOKAHEAD_DAYS: i64 = 400;

/// An interval of local wall-clock time, `HH:MM-HH:MM`: from its start
/// (included) to its end (excluded). `24:00` may end an interval. Only a
/// rest interval may run past midnight (`21:00-09:00`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LocalInterval {
    /// Seconds after midnight.
    start: u32,
    /// Seconds after midnight, up to 86 400; below `start` when the interval
    /// runs past midnight.
    end: u32,
}

impl LocalInterval {
    /// The interval from `start` to `end`, `(hour, minute)` each; `(24, 0)`
    /// is the end of the day.
    pub fn new(start: (u8, u8), end: (u8, u8)) -> Result<LocalInterval, WindowError> {
        let secs = |(h, m): (u8, u8), is_end: bool| {
            let ok = m < 60 && (h < 24 || (is_end && h == 24 && m == 0));
            ok.then_some(u32::from(h) * 3600 + u32::from(m) * 60)
        };
        let text = format!("{:02}:{:02}-{:02}:{:02}", start.0, start.1, end.0, end.1);
        let (Some(s), Some(e)) = (secs(start, false), secs(end, true)) else {
            return Err(WindowError::BadInterval {
                text,
                why: "hours are 00-23 (24:00 only as an end), minutes 00-59",
            });
        };
        if s == e {
            return Err(WindowError::BadInterval {
                text,
                why: "it is empty: it ends where it starts",
            });
        }
        Ok(LocalInterval { start: s, end: e })
    }

    /// Whether the interval runs past midnight.
    pub fn wraps(&self) -> bool {
        self.end < self.start
    }

    fn contains(&self, sec: u32) -> bool {
        if self.wraps() {
            sec >= self.start || sec < self.end
        } else {
            self.start <= sec && sec < self.end
        }
    }

    /// The interval as pieces within one day (two when it wraps).
    fn pieces(&self) -> impl Iterator<Item = (u32, u32)> {
        let (first, second) = if self.wraps() {
            ((self.start, DAY_SECS), Some((0, self.end)))
        } else {
            ((self.start, self.end), None)
        };
        std::iter::once(first).chain(second).filter(|(s, e)| s < e)
    }
}

impl fmt::Display for LocalInterval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hm = |s: u32| (s / 3600, s / 60 % 60);
        let ((sh, sm), (eh, em)) = (hm(self.start), hm(self.end));
        write!(f, "{sh:02}:{sm:02}-{eh:02}:{em:02}")
    }
}

impl FromStr for LocalInterval {
    type Err = WindowError;

    /// `09:00-12:00`, `9:00 - 12:00`, `21:00-09:00`, `20:00-24:00`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |why| WindowError::BadInterval {
            text: s.to_owned(),
            why,
        };
        let (start, end) = s
            .split_once('-')
            .ok_or_else(|| bad("write it as HH:MM-HH:MM"))?;
        let clock = |t: &str| -> Option<(u8, u8)> {
            let (h, m) = t.trim().split_once(':')?;
            let digits = |x: &str, n: std::ops::RangeInclusive<usize>| {
                n.contains(&x.len()) && x.bytes().all(|b| b.is_ascii_digit())
            };
            if !digits(h, 1..=2) || !digits(m, 2..=2) {
                return None;
            }
            Some((h.parse().ok()?, m.parse().ok()?))
        };
        let (Some(start), Some(end)) = (clock(start), clock(end)) else {
            return Err(bad("write it as HH:MM-HH:MM"));
        };
        LocalInterval::new(start, end).map_err(|e| match e {
            WindowError::BadInterval { why, .. } => bad(why),
            other => other,
        })
    }
}

/// Why a `window:` section is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WindowError {
    #[error("`{0}` is not a day: mon, tue, wed, thu, fri, sat, sun, or a range like mon-fri")]
    UnknownDay(String),
    #[error("{0} is given twice in window.days")]
    DayTwice(&'static str),
    #[error("`{text}` is not an interval: {why}")]
    BadInterval { text: String, why: &'static str },
    #[error(
        "window.days: `{0}` ends before it starts; only rest hours may run past midnight \
         (split it: 20:00-24:00 on one day, 00:00-02:00 on the next)"
    )]
    DayWraps(String),
    #[error("`{0}` is not a date YYYY-MM-DD")]
    BadDate(String),
}

/// When a campaign may dial, in each contact's local time.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "WindowSpec")]
pub struct CallingWindow {
    /// Open intervals per weekday, Monday first.
    days: [Vec<LocalInterval>; 7],
    rest: Vec<LocalInterval>,
    holidays: BTreeSet<Date>,
    /// Per weekday, Monday first: the open pieces of the day once rest is
    /// taken out, as sorted, disjoint `[start, end)` seconds of day.
    open: [Vec<(u32, u32)>; 7],
}

impl Default for CallingWindow {
    /// Every day 09:00-21:00; rest 21:00-09:00; no holidays.
    fn default() -> Self {
        let day = vec![LocalInterval {
            start: 9 * 3600,
            end: 21 * 3600,
        }];
        CallingWindow::build(
            std::array::from_fn(|_| day.clone()),
            default_rest(),
            BTreeSet::new(),
        )
    }
}

fn default_rest() -> Vec<LocalInterval> {
    vec![LocalInterval {
        start: 21 * 3600,
        end: 9 * 3600,
    }]
}

impl CallingWindow {
    /// A window from its parts: `days` Monday first. Fails when a day
    /// interval runs past midnight.
    pub fn new(
        days: [Vec<LocalInterval>; 7],
        rest: Vec<LocalInterval>,
        holidays: impl IntoIterator<Item = Date>,
    ) -> Result<CallingWindow, WindowError> {
        if let Some(wraps) = days.iter().flatten().find(|i| i.wraps()) {
            return Err(WindowError::DayWraps(wraps.to_string()));
        }
        Ok(CallingWindow::build(
            days,
            rest,
            holidays.into_iter().collect(),
        ))
    }

    /// Open at every hour of every day, with no rest and no holidays: for
    /// dials outside any campaign, where only the lists apply.
    pub fn always() -> CallingWindow {
        let day = vec![LocalInterval {
            start: 0,
            end: DAY_SECS,
        }];
        CallingWindow::build(
            std::array::from_fn(|_| day.clone()),
            Vec::new(),
            BTreeSet::new(),
        )
    }

    fn build(
        days: [Vec<LocalInterval>; 7],
        rest: Vec<LocalInterval>,
        holidays: BTreeSet<Date>,
    ) -> CallingWindow {
        let open = std::array::from_fn(|d| open_pieces(&days[d], &rest));
        CallingWindow {
            days,
            rest,
            holidays,
            open,
        }
    }

    /// The open intervals of a weekday (before rest is taken out).
    pub fn day(&self, weekday: Weekday) -> &[LocalInterval] {
        &self.days[weekday_index(weekday)]
    }

    pub fn rest(&self) -> &[LocalInterval] {
        &self.rest
    }

    pub fn holidays(&self) -> impl Iterator<Item = Date> + '_ {
        self.holidays.iter().copied()
    }

    /// Whether a contact in `tz` may be dialled at `at` (unix ms).
    pub fn is_open(&self, tz: &TimeZone, at: Ms) -> bool {
        match Timestamp::from_millisecond(at) {
            Ok(ts) => self.open_at(tz.to_datetime(ts)),
            Err(_) => false,
        }
    }

    /// The first instant from `at` on (`at` itself when open) at which a
    /// contact in `tz` may be dialled; `None` when the window does not open
    /// in the next [`LOOKAHEAD_DAYS`] days.
    ///
    /// Local times that a change to daylight saving time skips are never
    /// open; the first instant after the skip is, when its local time is.
    /// Local times that the change back repeats are open both times.
    pub fn next_open(&self, tz: &TimeZone, at: Ms) -> Option<Ms> {
        let limit = at.checked_add(LOOKAHEAD_DAYS * DAY_MS)?;
        let mut t = at;
        // Each step moves to the next local start of an open piece or to
        // the zone's next transition, whichever comes first; the lookahead
        // holds at most a few thousand of those. The cap only guards
        // against a zone database gone wrong.
        for _ in 0..100_000 {
            if t > limit {
                return None;
            }
            let ts = Timestamp::from_millisecond(t).ok()?;
            let local = tz.to_datetime(ts);
            if self.open_at(local) {
                return Some(t);
            }
            let by_clock = self
                .next_piece_start(local)
                .and_then(|start| instant_after(tz, start, t));
            let by_transition = tz
                .following(ts)
                .next()
                .map(|tr| tr.timestamp().as_millisecond())
                .filter(|&ms| ms > t);
            t = match (by_clock, by_transition) {
                (Some(a), Some(b)) => a.min(b),
                (Some(a), None) | (None, Some(a)) => a,
                (None, None) => return None,
            };
        }
        None
    }

    fn open_at(&self, local: DateTime) -> bool {
        if self.holidays.contains(&local.date()) {
            return false;
        }
        let sec = seconds_of_day(local.time());
        self.open[weekday_index(local.weekday())]
            .iter()
            .any(|&(s, e)| s <= sec && sec < e)
    }

    /// The first local start of an open piece strictly after `local`, within
    /// the lookahead.
    fn next_piece_start(&self, local: DateTime) -> Option<DateTime> {
        let after = seconds_of_day(local.time());
        let mut date = local.date();
        for day in 0..=LOOKAHEAD_DAYS + 1 {
            if !self.holidays.contains(&date) {
                let start = self.open[weekday_index(date.weekday())]
                    .iter()
                    .map(|&(s, _)| s)
                    .find(|&s| day > 0 || s > after);
                if let Some(s) = start {
                    let time = Time::new(
                        i8::try_from(s / 3600).ok()?,
                        i8::try_from(s / 60 % 60).ok()?,
                        0,
                        0,
                    )
                    .ok()?;
                    return Some(DateTime::from_parts(date, time));
                }
            }
            date = date.tomorrow().ok()?;
        }
        None
    }
}

/// The first instant after `after` whose local time in `tz` is `local`;
/// `None` when that local time is skipped (the zone's transition is then
/// the next candidate).
fn instant_after(tz: &TimeZone, local: DateTime, after: Ms) -> Option<Ms> {
    let ms = |offset: jiff::tz::Offset| {
        offset
            .to_timestamp(local)
            .ok()
            .map(|ts| ts.as_millisecond())
    };
    match tz.to_ambiguous_timestamp(local).offset() {
        AmbiguousOffset::Unambiguous { offset } => ms(offset).filter(|&t| t > after),
        AmbiguousOffset::Gap { .. } => None,
        AmbiguousOffset::Fold {
            before,
            after: later,
        } => [ms(before), ms(later)]
            .into_iter()
            .flatten()
            .filter(|&t| t > after)
            .min(),
    }
}

fn seconds_of_day(t: Time) -> u32 {
    let part = |x: i8| u32::try_from(x).unwrap_or(0);
    part(t.hour()) * 3600 + part(t.minute()) * 60 + part(t.second())
}

fn weekday_index(w: Weekday) -> usize {
    usize::try_from(w.to_monday_zero_offset()).unwrap_or(0)
}

/// The union of `day` minus the union of `rest`, as sorted disjoint pieces.
fn open_pieces(day: &[LocalInterval], rest: &[LocalInterval]) -> Vec<(u32, u32)> {
    let mut cuts: Vec<u32> = vec![0, DAY_SECS];
    for i in day.iter().chain(rest) {
        for (s, e) in i.pieces() {
            cuts.extend([s, e]);
        }
    }
    cuts.sort_unstable();
    cuts.dedup();
    let mut pieces: Vec<(u32, u32)> = Vec::new();
    for w in cuts.windows(2) {
        let (s, e) = (w[0], w[1]);
        let open = day.iter().any(|i| i.contains(s)) && !rest.iter().any(|i| i.contains(s));
        if !open {
            continue;
        }
        match pieces.last_mut() {
            Some(last) if last.1 == s => last.1 = e,
            _ => pieces.push((s, e)),
        }
    }
    pieces
}

/// The YAML form of a window, checked into a [`CallingWindow`].
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WindowSpec {
    #[serde(default)]
    days: Option<BTreeMap<String, Vec<String>>>,
    #[serde(default)]
    rest: Option<Vec<String>>,
    #[serde(default)]
    holidays: Vec<String>,
}

const DAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// `mon`, `Monday`, `mon-fri`, `sat,sun`, `fri-mon` -> weekday indexes.
fn parse_days(key: &str) -> Result<Vec<usize>, WindowError> {
    let one = |name: &str| {
        let name = name.trim().to_ascii_lowercase();
        DAY_NAMES.iter().position(|d| {
            name == *d || (name.len() > 3 && name.starts_with(d) && is_full_day_name(&name))
        })
    };
    let mut out = Vec::new();
    for part in key.split(',') {
        let unknown = || WindowError::UnknownDay(part.trim().to_owned());
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (one(a).ok_or_else(unknown)?, one(b).ok_or_else(unknown)?);
                let mut d = a;
                loop {
                    out.push(d);
                    if d == b {
                        break;
                    }
                    d = (d + 1) % 7;
                }
            }
            None => out.push(one(part).ok_or_else(unknown)?),
        }
    }
    Ok(out)
}

fn is_full_day_name(name: &str) -> bool {
    [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ]
    .contains(&name)
}

impl TryFrom<WindowSpec> for CallingWindow {
    type Error = WindowError;

    fn try_from(spec: WindowSpec) -> Result<Self, Self::Error> {
        let days = match spec.days {
            None => CallingWindow::default().days,
            Some(map) => {
                let mut days: [Option<Vec<LocalInterval>>; 7] = Default::default();
                for (key, intervals) in map {
                    let intervals = intervals
                        .iter()
                        .map(|s| s.parse())
                        .collect::<Result<Vec<LocalInterval>, _>>()?;
                    for d in parse_days(&key)? {
                        if days[d].is_some() {
                            return Err(WindowError::DayTwice(DAY_NAMES[d]));
                        }
                        days[d] = Some(intervals.clone());
                    }
                }
                days.map(Option::unwrap_or_default)
            }
        };
        let rest = match spec.rest {
            None => default_rest(),
            Some(list) => list.iter().map(|s| s.parse()).collect::<Result<_, _>>()?,
        };
        let holidays = spec
            .holidays
            .iter()
            .map(|s| {
                s.trim()
                    .parse::<Date>()
                    .map_err(|_| WindowError::BadDate(s.clone()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        CallingWindow::new(days, rest, holidays)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(rfc3339: &str) -> Ms {
        rfc3339.parse::<Timestamp>().unwrap().as_millisecond()
    }

    fn tz(name: &str) -> TimeZone {
        crate::zone::lookup_zone(name).unwrap()
    }

    fn yaml(text: &str) -> Result<CallingWindow, String> {
        serde_yaml::from_str(text).map_err(|e| e.to_string())
    }

    /// The example of the module docs.
    fn example() -> CallingWindow {
        yaml(
            r#"
days: { mon-fri: ["09:00-12:00", "13:30-20:30"], sat: ["10:00-18:00"] }
rest: ["21:00-09:00", "12:00-13:30"]
holidays: ["2026-10-01", "2026-10-02"]
"#,
        )
        .unwrap()
    }

    #[test]
    fn always_is_open_at_every_hour_and_on_every_day() {
        let w = CallingWindow::always();
        let sh = tz("Asia/Shanghai");
        for at in [
            "2026-06-14T00:00:00+08:00",
            "2026-06-14T03:00:00+08:00",
            "2026-06-14T23:59:59.999+08:00",
            "2026-10-01T22:00:00+08:00",
        ] {
            assert!(w.is_open(&sh, ms(at)), "{at}");
        }
        assert_eq!(
            w.next_open(&sh, ms("2026-06-14T23:30:00+08:00")),
            Some(ms("2026-06-14T23:30:00+08:00"))
        );
    }

    #[test]
    fn the_default_is_0900_to_2100_every_day() {
        let w = CallingWindow::default();
        let sh = tz("Asia/Shanghai");
        // 2026-06-14 is a Sunday.
        assert!(!w.is_open(&sh, ms("2026-06-14T08:59:59+08:00")));
        assert!(w.is_open(&sh, ms("2026-06-14T09:00:00+08:00")));
        assert!(w.is_open(&sh, ms("2026-06-14T20:59:59.999+08:00")));
        assert!(!w.is_open(&sh, ms("2026-06-14T21:00:00+08:00")));
        assert_eq!(w.rest(), [LocalInterval::from_str("21:00-09:00").unwrap()]);
        assert_eq!(w, yaml("{}").unwrap());
    }

    #[test]
    fn the_yaml_example_reads_as_written() {
        let w = example();
        let i = |s: &str| LocalInterval::from_str(s).unwrap();
        assert_eq!(
            w.day(Weekday::Wednesday),
            [i("09:00-12:00"), i("13:30-20:30")]
        );
        assert_eq!(w.day(Weekday::Saturday), [i("10:00-18:00")]);
        assert!(w.day(Weekday::Sunday).is_empty());
        assert_eq!(w.holidays().count(), 2);
    }

    #[test]
    fn rest_hours_close_what_the_days_open() {
        let w =
            yaml(r#"{ days: { mon-sun: ["00:00-24:00"] }, rest: ["21:00-09:00", "12:00-13:30"] }"#)
                .unwrap();
        let sh = tz("Asia/Shanghai");
        for (time, open) in [
            ("00:00", false),
            ("08:59", false),
            ("09:00", true),
            ("11:59", true),
            ("12:00", false),
            ("13:29", false),
            ("13:30", true),
            ("20:59", true),
            ("21:00", false),
            ("23:59", false),
        ] {
            let at = ms(&format!("2026-06-10T{time}:00+08:00"));
            assert_eq!(w.is_open(&sh, at), open, "{time}");
        }
    }

    #[test]
    fn without_rest_the_night_is_still_closed_unless_rest_is_emptied() {
        let wide = yaml(r#"{ days: { daily-is-not-a-day: [] } }"#);
        assert!(wide.is_err());
        let wide = yaml(r#"{ days: { mon-sun: ["00:00-24:00"] } }"#).unwrap();
        let sh = tz("Asia/Shanghai");
        assert!(!wide.is_open(&sh, ms("2026-06-10T23:00:00+08:00")));
        let all_night = yaml(r#"{ days: { mon-sun: ["00:00-24:00"] }, rest: [] }"#).unwrap();
        assert!(all_night.is_open(&sh, ms("2026-06-10T23:00:00+08:00")));
    }

    #[test]
    fn next_open_is_the_instant_itself_when_open() {
        let w = example();
        let at = ms("2026-06-10T10:15:00+08:00");
        assert_eq!(w.next_open(&tz("Asia/Shanghai"), at), Some(at));
    }

    #[test]
    fn next_open_skips_lunch_the_night_and_sunday() {
        let w = example();
        let sh = tz("Asia/Shanghai");
        // Wednesday lunch -> 13:30 the same day.
        assert_eq!(
            w.next_open(&sh, ms("2026-06-10T12:10:00+08:00")),
            Some(ms("2026-06-10T13:30:00+08:00"))
        );
        // Friday 20:40 -> Saturday 10:00.
        assert_eq!(
            w.next_open(&sh, ms("2026-06-12T20:40:00+08:00")),
            Some(ms("2026-06-13T10:00:00+08:00"))
        );
        // Saturday 18:00 -> Monday 09:00 (Sunday is closed).
        assert_eq!(
            w.next_open(&sh, ms("2026-06-13T18:00:00+08:00")),
            Some(ms("2026-06-15T09:00:00+08:00"))
        );
    }

    #[test]
    fn holidays_close_whole_days() {
        let w = example();
        let sh = tz("Asia/Shanghai");
        // 2026-10-01 is a Thursday, 10-02 a Friday: open Saturday 10:00.
        assert!(!w.is_open(&sh, ms("2026-10-01T10:00:00+08:00")));
        assert_eq!(
            w.next_open(&sh, ms("2026-09-30T20:30:00+08:00")),
            Some(ms("2026-10-03T10:00:00+08:00"))
        );
    }

    #[test]
    fn holidays_are_dates_of_the_contacts_own_calendar() {
        let w = example();
        // Thursday 2026-10-01 10:00 in New York is 22:00 in Shanghai: closed
        // in both, by the holiday there and by rest hours here.
        let at = ms("2026-10-01T10:00:00-04:00");
        assert!(!w.is_open(&tz("America/New_York"), at));
        // Wednesday 09-30 20:00 in New York is 08:00 on the holiday in
        // Shanghai, and the New York evening is open.
        let at = ms("2026-09-30T20:00:00-04:00");
        assert!(w.is_open(&tz("America/New_York"), at));
        assert_eq!(
            w.next_open(&tz("Asia/Shanghai"), at),
            Some(ms("2026-10-03T10:00:00+08:00"))
        );
    }

    #[test]
    fn a_window_that_never_opens_has_no_next_open() {
        let closed = yaml("{ days: {} }").unwrap();
        assert_eq!(
            closed.next_open(&tz("Asia/Shanghai"), ms("2026-06-10T10:00:00Z")),
            None
        );
        // Open only inside rest hours: never open either.
        let night = yaml(r#"{ days: { mon-sun: ["22:00-23:00"] } }"#).unwrap();
        assert_eq!(
            night.next_open(&tz("UTC"), ms("2026-06-10T10:00:00Z")),
            None
        );
    }

    #[test]
    fn the_same_instant_is_open_in_one_zone_and_closed_in_another() {
        let w = CallingWindow::default();
        let at = ms("2026-06-10T02:00:00Z"); // 10:00 Shanghai, 22:00 New York
        assert!(w.is_open(&tz("Asia/Shanghai"), at));
        assert!(!w.is_open(&tz("America/New_York"), at));
        assert!(w.is_open(&tz("+08:00"), at));
    }

    #[test]
    fn us_spring_forward_opens_at_0900_daylight_time() {
        // 2026-03-08: New York goes from EST (-05) to EDT (-04) at 02:00.
        let w = CallingWindow::default();
        let ny = tz("America/New_York");
        assert_eq!(
            w.next_open(&ny, ms("2026-03-07T22:00:00-05:00")),
            Some(ms("2026-03-08T09:00:00-04:00"))
        );
        assert!(!w.is_open(&ny, ms("2026-03-08T12:30:00Z"))); // 08:30 EDT
        assert!(w.is_open(&ny, ms("2026-03-08T13:00:00Z"))); // 09:00 EDT
        assert!(!w.is_open(&ny, ms("2026-03-08T02:00:00Z"))); // 21:00 EST the 7th
        // The week before, 13:00Z was 08:00 EST: closed.
        assert!(!w.is_open(&ny, ms("2026-03-01T13:00:00Z")));
    }

    #[test]
    fn us_fall_back_opens_at_0900_standard_time() {
        // 2026-11-01: EDT (-04) back to EST (-05) at 02:00.
        let w = CallingWindow::default();
        let ny = tz("America/New_York");
        assert_eq!(
            w.next_open(&ny, ms("2026-10-31T21:30:00-04:00")),
            Some(ms("2026-11-01T09:00:00-05:00"))
        );
        assert!(!w.is_open(&ny, ms("2026-11-01T13:30:00Z"))); // 08:30 EST
    }

    #[test]
    fn an_open_time_skipped_by_daylight_saving_opens_when_the_clock_lands() {
        // Open 02:30-04:00 only: on 2026-03-08 New York's clock jumps from
        // 02:00 to 03:00, so the first open instant is 03:00 EDT.
        let w = yaml(r#"{ days: { mon-sun: ["02:30-04:00"] }, rest: [] }"#).unwrap();
        let ny = tz("America/New_York");
        assert_eq!(
            w.next_open(&ny, ms("2026-03-08T00:00:00-05:00")),
            Some(ms("2026-03-08T03:00:00-04:00"))
        );
        // Open 02:00-02:45 only: that day it never comes; the next day does.
        let w = yaml(r#"{ days: { mon-sun: ["02:00-02:45"] }, rest: [] }"#).unwrap();
        assert_eq!(
            w.next_open(&ny, ms("2026-03-08T00:00:00-05:00")),
            Some(ms("2026-03-09T02:00:00-04:00"))
        );
    }

    #[test]
    fn an_open_time_repeated_by_daylight_saving_is_open_both_times() {
        // Open 01:15-01:40 only: on 2026-11-01 New York lives 01:00-02:00
        // twice. At 01:50 EDT the next open instant is 01:15 EST.
        let w = yaml(r#"{ days: { mon-sun: ["01:15-01:40"] }, rest: [] }"#).unwrap();
        let ny = tz("America/New_York");
        assert_eq!(
            w.next_open(&ny, ms("2026-11-01T01:50:00-04:00")),
            Some(ms("2026-11-01T01:15:00-05:00"))
        );
        assert!(w.is_open(&ny, ms("2026-11-01T01:20:00-04:00")));
        assert!(w.is_open(&ny, ms("2026-11-01T01:20:00-05:00")));
    }

    #[test]
    fn shanghai_has_no_daylight_saving() {
        let w = CallingWindow::default();
        let sh = tz("Asia/Shanghai");
        for date in ["2026-01-15", "2026-03-08", "2026-07-15", "2026-11-01"] {
            assert_eq!(
                w.next_open(&sh, ms(&format!("{date}T00:00:00+08:00"))),
                Some(ms(&format!("{date}T09:00:00+08:00"))),
                "{date}"
            );
        }
    }

    #[test]
    fn bad_windows_are_refused_with_the_reason() {
        let err = |text: &str| yaml(text).unwrap_err();
        assert!(err(r#"{ days: { funday: ["09:00-10:00"] } }"#).contains("`funday` is not a day"));
        assert!(err(r#"{ days: { mon: ["25:00-26:00"] } }"#).contains("hours are 00-23"));
        assert!(err(r#"{ days: { mon: ["09:60-10:00"] } }"#).contains("minutes 00-59"));
        assert!(err(r#"{ days: { mon: ["9-10"] } }"#).contains("HH:MM-HH:MM"));
        assert!(err(r#"{ days: { mon: ["10:00-10:00"] } }"#).contains("empty"));
        assert!(
            err(r#"{ days: { mon: ["20:00-02:00"] } }"#)
                .contains("only rest hours may run past midnight")
        );
        assert!(
            err(r#"{ days: { mon-fri: ["09:00-10:00"], fri: ["09:00-10:00"] } }"#)
                .contains("fri is given twice")
        );
        assert!(err(r#"{ holidays: ["2026-13-01"] }"#).contains("not a date"));
        assert!(err(r#"{ rest: ["24:00-09:00"] }"#).contains("hours are 00-23"));
        assert!(err(r#"{ dayz: {} }"#).contains("unknown field"));
    }

    #[test]
    fn day_keys_take_names_ranges_and_lists() {
        let w = yaml(r#"{ days: { "Monday, wed": ["09:00-10:00"], fri-sun: ["10:00-11:00"] } }"#)
            .unwrap();
        assert_eq!(w.day(Weekday::Monday).len(), 1);
        assert!(w.day(Weekday::Tuesday).is_empty());
        assert_eq!(w.day(Weekday::Wednesday).len(), 1);
        assert_eq!(w.day(Weekday::Sunday).len(), 1);
        let wrapped = yaml(r#"{ days: { sat-mon: ["10:00-11:00"] } }"#).unwrap();
        assert_eq!(wrapped.day(Weekday::Monday).len(), 1);
        assert!(wrapped.day(Weekday::Friday).is_empty());
    }

    #[test]
    fn intervals_print_as_they_are_written() {
        for text in ["09:00-12:00", "21:00-09:00", "20:00-24:00"] {
            assert_eq!(LocalInterval::from_str(text).unwrap().to_string(), text);
        }
        assert_eq!(
            LocalInterval::from_str(" 9:05 - 12:00 ")
                .unwrap()
                .to_string(),
            "09:05-12:00"
        );
    }

    #[test]
    fn instants_out_of_range_are_closed() {
        let w = CallingWindow::default();
        assert!(!w.is_open(&tz("UTC"), Ms::MAX));
        assert_eq!(w.next_open(&tz("UTC"), Ms::MAX), None);
    }
}
