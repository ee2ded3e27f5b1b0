//! Time zones by name, from the IANA database bundled into the binary.
//!
//! Every local-time rule of a campaign (calling windows, rest hours, the
//! next-day retry) works in the contact's own zone. Zones come from the
//! copy of the IANA database compiled into `jiff`, never from
//! `/usr/share/zoneinfo`: the answer does not depend on the machine (a
//! container without zoneinfo, a host with an older database) and looking
//! a zone up does no IO.
//!
//! A zone is written either as an IANA name (`Asia/Shanghai`, any case, old
//! aliases such as `PRC` accepted) or as a fixed offset (`+08:00`, `-0530`,
//! `+8`, `UTC+8`, `GMT-05:00`), the forms `scripts/lib/hours.lua` reads.
//! [`zone_name`] gives the form stored with a contact: the primary IANA name,
//! or `+HH:MM`.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use jiff::tz::{Offset, TimeZone, TimeZoneDatabase};

/// A string that names no time zone.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown time zone `{0}`")]
pub struct UnknownTimeZone(pub String);

/// The bundled database. `TimeZoneDatabase::bundled` is cheap, but one
/// handle keeps every lookup on the same (cached) copy.
fn db() -> &'static TimeZoneDatabase {
    static DB: OnceLock<TimeZoneDatabase> = OnceLock::new();
    DB.get_or_init(TimeZoneDatabase::bundled)
}

/// The zone `name` names: an IANA name or a fixed UTC offset.
pub fn lookup_zone(name: &str) -> Result<TimeZone, UnknownTimeZone> {
    let trimmed = name.trim();
    if let Some(offset) = parse_fixed_offset(trimmed) {
        return Ok(TimeZone::fixed(offset));
    }
    // `Etc/Unknown` is jiff's marker for "no zone": not a zone to call in.
    match db().get(trimmed) {
        Ok(tz) if !tz.is_unknown() && !trimmed.is_empty() => Ok(tz),
        _ => Err(UnknownTimeZone(name.to_owned())),
    }
}

/// How a zone is stored with a contact: the primary IANA name
/// (`Asia/Calcutta` becomes `Asia/Kolkata`), `UTC`, or a fixed offset as
/// `+HH:MM`.
pub fn zone_name(tz: &TimeZone) -> String {
    if let Some(name) = tz.primary_iana_name().or_else(|| tz.iana_name()) {
        return name.to_owned();
    }
    match tz.to_fixed_offset() {
        Ok(offset) => format_offset(offset),
        // Only POSIX-rule zones land here and `lookup_zone` makes none.
        Err(_) => "UTC".to_owned(),
    }
}

/// `+HH:MM` (or `-HH:MM`) of an offset, seconds dropped.
fn format_offset(offset: Offset) -> String {
    let secs = offset.seconds();
    let sign = if secs < 0 { '-' } else { '+' };
    let abs = secs.unsigned_abs();
    format!("{sign}{:02}:{:02}", abs / 3600, abs / 60 % 60)
}

/// `+08:00`, `-0530`, `+8`, `UTC+8`, `GMT-05:00`; at most 14 hours either
/// side, as real zones are.
fn parse_fixed_offset(s: &str) -> Option<Offset> {
    let upper = s.to_ascii_uppercase();
    let rest = upper
        .strip_prefix("UTC")
        .or_else(|| upper.strip_prefix("GMT"))
        .unwrap_or(&upper);
    let (negative, digits) = match rest.as_bytes().first()? {
        b'+' => (false, &rest[1..]),
        b'-' => (true, &rest[1..]),
        _ => return None,
    };
    let (hours, minutes) = match digits.split_once(':') {
        Some((h, m)) if (1..=2).contains(&h.len()) && m.len() == 2 => (h, m),
        Some(_) => return None,
        None if digits.len() == 4 => digits.split_at(2),
        None if (1..=2).contains(&digits.len()) => (digits, "0"),
        None => return None,
    };
    if !hours
        .bytes()
        .chain(minutes.bytes())
        .all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let hours: i32 = hours.parse().ok()?;
    let minutes: i32 = minutes.parse().ok()?;
    if minutes >= 60 || hours * 60 + minutes > 14 * 60 {
        return None;
    }
    let secs = (hours * 60 + minutes) * 60;
    Offset::from_seconds(if negative { -secs } else { secs }).ok()
}

/// The zone of a country that has exactly one in the IANA database (`JP`,
/// `GB`, `IN`, `HK`...), by ISO 3166 alpha-2 code; `None` for countries
/// with several (`US`, `RU`, and also `CN`, listed with `Asia/Shanghai`
/// and `Asia/Urumqi`) and for codes the database does not know.
pub fn single_zone_of_country(country: &str) -> Option<&'static str> {
    let zones = zones_by_country().get(&country.to_ascii_uppercase())?;
    match zones.as_slice() {
        [only] => Some(only.as_str()),
        _ => None,
    }
}

/// How many zones the database lists for a country (for error messages).
pub fn zone_count_of_country(country: &str) -> usize {
    zones_by_country()
        .get(&country.to_ascii_uppercase())
        .map_or(0, Vec::len)
}

/// Country code -> its primary zones, built once from the location data of
/// the bundled database (the `zone.tab` of the IANA distribution).
fn zones_by_country() -> &'static BTreeMap<String, Vec<String>> {
    static MAP: OnceLock<BTreeMap<String, Vec<String>>> = OnceLock::new();
    MAP.get_or_init(|| {
        let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for name in db().available() {
            let name = name.as_str();
            let Ok(tz) = db().get(name) else { continue };
            // Aliases point at a primary zone: count each zone once.
            if tz.primary_iana_name() != Some(name) {
                continue;
            }
            if let Some(location) = tz.location() {
                map.entry(location.country().to_owned())
                    .or_default()
                    .push(name.to_owned());
            }
        }
        map
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iana_names_any_case_and_aliases_store_the_primary_name() {
        let tz = lookup_zone("asia/SHANGHAI").unwrap();
        assert_eq!(zone_name(&tz), "Asia/Shanghai");
        assert_eq!(zone_name(&lookup_zone("PRC").unwrap()), "Asia/Shanghai");
        assert_eq!(
            zone_name(&lookup_zone("Asia/Calcutta").unwrap()),
            "Asia/Kolkata"
        );
        assert_eq!(zone_name(&lookup_zone("UTC").unwrap()), "UTC");
    }

    #[test]
    fn fixed_offsets_in_the_forms_hours_lua_reads() {
        for (text, stored) in [
            ("+08:00", "+08:00"),
            ("+0800", "+08:00"),
            ("+8", "+08:00"),
            ("UTC+8", "+08:00"),
            ("gmt-05:30", "-05:30"),
            ("-0330", "-03:30"),
        ] {
            let tz = lookup_zone(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(zone_name(&tz), stored, "{text}");
        }
    }

    #[test]
    fn nonsense_and_out_of_range_offsets_are_unknown() {
        for text in [
            "",
            "Mars/Olympus",
            "+15:00",
            "+08:60",
            "+123",
            "08:00",
            "UTC+",
            "Etc/Unknown",
        ] {
            assert!(lookup_zone(text).is_err(), "{text:?}");
        }
    }

    #[test]
    fn countries_with_one_zone_have_it_and_others_do_not() {
        assert_eq!(single_zone_of_country("JP"), Some("Asia/Tokyo"));
        assert_eq!(single_zone_of_country("gb"), Some("Europe/London"));
        assert_eq!(single_zone_of_country("US"), None);
        assert_eq!(single_zone_of_country("CN"), None);
        assert_eq!(zone_count_of_country("CN"), 2);
        assert_eq!(single_zone_of_country("XX"), None);
    }
}
