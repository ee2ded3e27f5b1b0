//! Contact lists: rows of a CSV file, phone numbers in E.164, and the time
//! zone each contact lives in.
//!
//! `waihu campaign import NAME FILE.csv` and `POST
//! /api/v1/campaigns/NAME/contacts` both hand their bytes to
//! [`read_contacts`]: it checks the header against the campaign's
//! [`ImportSpec`] (the `import:` section of its YAML), then yields one
//! `Result<ContactRow, RowError>` per row. A bad row never stops the import:
//! the caller stores the good rows and reports the bad ones by line.
//!
//! For each row:
//! - the phone column is normalised to E.164 with the spec's default country
//!   (`138 0013 8000` -> `+8613800138000`), or the row is refused with the
//!   reason ([`NumberError`]);
//! - the time zone is, in this order: the row's time-zone column when it is
//!   filled in (an IANA name or a fixed offset; a value that names no zone
//!   refuses the row rather than being guessed past), the longest matching
//!   entry of `prefix_timezones`, `default_timezone`, the zone of the
//!   number's country when the IANA database lists exactly one for it; else
//!   the row is refused ("no time zone");
//! - every other column is kept, trimmed, as a custom field for scripts and
//!   agents.
//!
//! Rows whose cells are all blank are skipped (spreadsheets export them).
//! The reader does not merge rows with the same phone: the store does, with
//! [`merge_fields`].
//!
//! Header names match without regard to ASCII case; a name given twice (in
//! any case) or left empty refuses the file.
//!
//! Phone numbers are parsed with the `phonenumber` crate, a port of Google's
//! libphonenumber carrying its metadata (maintained; 0.3.10 ships metadata
//! 9.0). A number costs about 10 µs, most of it the validity check; a whole
//! row about 12 µs, so a million rows take about 12 s on one core
//! (`benches/contacts.rs`). One flaw of the crate is worked around in
//! [`PhoneNormalizer`]: see its `parse`.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::io::Read;

use phonenumber::country::Id;
use serde::Deserialize;

use crate::zone::{self, UnknownTimeZone};

/// How a campaign's contact files are read: the `import:` section of the
/// campaign YAML. Every field has a default.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ImportSpec {
    /// The column holding the phone number (header names match without
    /// regard to ASCII case). Default `phone`.
    pub phone_column: String,
    /// The column holding the contact's time zone, if the files have one.
    /// A file without this column is fine. Default `timezone`.
    pub timezone_column: Option<String>,
    /// ISO 3166 alpha-2 country of numbers written without a country code.
    /// Default `CN`.
    pub default_country: String,
    /// Number prefix -> IANA zone, e.g. `+1212` -> `America/New_York`; the
    /// longest matching prefix wins. In YAML either a map or a list of pairs.
    #[serde(deserialize_with = "prefixes_from_map_or_pairs")]
    pub prefix_timezones: Vec<(String, String)>,
    /// The zone of rows that no other rule places.
    pub default_timezone: Option<String>,
}

impl Default for ImportSpec {
    fn default() -> Self {
        ImportSpec {
            phone_column: "phone".to_owned(),
            timezone_column: Some("timezone".to_owned()),
            default_country: "CN".to_owned(),
            prefix_timezones: Vec::new(),
            default_timezone: None,
        }
    }
}

impl ImportSpec {
    /// Checks the settings without reading a file, for the campaign loader:
    /// the same checks [`read_contacts`] makes before it reads the header.
    pub fn validate(&self) -> Result<(), ImportError> {
        Settings::new(self).map(|_| ())
    }
}

fn prefixes_from_map_or_pairs<'de, D>(de: D) -> Result<Vec<(String, String)>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Prefixes {
        Map(BTreeMap<String, String>),
        Pairs(Vec<(String, String)>),
    }
    Ok(match Prefixes::deserialize(de)? {
        Prefixes::Map(map) => map.into_iter().collect(),
        Prefixes::Pairs(pairs) => pairs,
    })
}

/// Why a file cannot be imported at all (its header or the spec is wrong).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ImportError {
    #[error("no `{column}` column in the header (columns: {})", .seen.join(", "))]
    MissingPhoneColumn { column: String, seen: Vec<String> },
    #[error("column `{0}` appears twice in the header")]
    DuplicateColumn(String),
    #[error("column {position} of the header has no name")]
    UnnamedColumn { position: usize },
    #[error("the file is empty: no header line")]
    Empty,
    #[error("the header is not UTF-8 (save the file as UTF-8, not GBK)")]
    HeaderNotUtf8,
    #[error("cannot read the header: {0}")]
    Read(String),
    #[error("import.phone_column is empty")]
    NoPhoneColumn,
    #[error("import.default_country `{0}` is not an ISO 3166 country code")]
    UnknownCountry(String),
    #[error("import.prefix_timezones: `{0}` is not a number prefix like +86 or +1212")]
    BadPrefix(String),
    #[error("import.{setting}: {error}")]
    UnknownTimeZone {
        setting: &'static str,
        error: UnknownTimeZone,
    },
}

/// One contact read from a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContactRow {
    /// The file line the row starts on; the header is line 1.
    pub line: u64,
    /// E.164: `+` and digits.
    pub phone: String,
    /// A primary IANA name (`Asia/Shanghai`) or a fixed offset (`+08:00`).
    pub timezone: String,
    /// Every column but the phone and time-zone ones, header -> trimmed value
    /// (empty cells kept as empty strings).
    pub fields: BTreeMap<String, String>,
}

/// A row that was not imported, and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct RowError {
    pub line: u64,
    pub reason: RowErrorReason,
}

/// Why one row was not imported.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RowErrorReason {
    #[error("{found} fields where the header has {expected}")]
    FieldCount { expected: usize, found: usize },
    #[error("column `{column}` is not UTF-8 (save the file as UTF-8, not GBK)")]
    InvalidUtf8 { column: String },
    #[error("phone `{raw}`: {error}")]
    InvalidNumber { raw: String, error: NumberError },
    #[error("{0}")]
    UnknownTimeZone(UnknownTimeZone),
    #[error("{}", no_time_zone_text(.country.as_deref()))]
    NoTimeZone {
        /// The number's country, when known.
        country: Option<String>,
    },
    /// The file could not be read further (an IO error); the reader stops.
    #[error("cannot read the file: {0}")]
    Read(String),
}

fn no_time_zone_text(country: Option<&str>) -> String {
    let mut text = String::from(
        "no time zone: fill in the time-zone column, or set import.default_timezone \
         or import.prefix_timezones",
    );
    if let Some(country) = country {
        let zones = zone::zone_count_of_country(country);
        if zones > 1 {
            text.push_str(&format!(" ({country} has {zones} time zones)"));
        }
    }
    text
}

/// Why a phone number is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NumberError {
    #[error("empty")]
    Empty,
    #[error("contains letters (vanity numbers and extensions cannot be dialled)")]
    Letters,
    #[error("has an extension, which cannot be dialled")]
    Extension,
    #[error("not a phone number")]
    NotANumber,
    #[error("unknown country calling code")]
    UnknownCountryCode,
    #[error("too short")]
    TooShort,
    #[error("too long")]
    TooLong,
    #[error("not a valid number{}", .country.as_deref().map(|c| format!(" in {c}")).unwrap_or_default())]
    NotValid { country: Option<String> },
    #[error("not in E.164 form (`+`, country code, number, nothing else)")]
    NotE164,
}

/// A country code that names no country.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not an ISO 3166 country code")]
pub struct UnknownCountry(pub String);

/// A phone number in E.164 and the country it belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Phone {
    /// `+` and digits, e.g. `+8613800138000`.
    pub e164: String,
    /// ISO 3166 alpha-2, e.g. `CN`; `None` for non-geographic numbers.
    pub country: Option<String>,
}

/// Normalises numbers as people write them to E.164, numbers without a
/// country code being taken as numbers of a default country.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PhoneNormalizer {
    country: Id,
    /// The country calling code of `country` (86 for CN).
    code: u16,
}

impl PhoneNormalizer {
    /// `default_country`: ISO 3166 alpha-2 (any case).
    pub fn new(default_country: &str) -> Result<PhoneNormalizer, UnknownCountry> {
        let unknown = || UnknownCountry(default_country.to_owned());
        let country: Id = default_country
            .trim()
            .to_ascii_uppercase()
            .parse()
            .map_err(|_| unknown())?;
        let code = phonenumber::metadata::DATABASE
            .by_id(country.as_ref())
            .ok_or_else(unknown)?
            .country_code();
        Ok(PhoneNormalizer { country, code })
    }

    /// `"138 0013 8000"`, `"+86 138-0013-8000"`, `"008613800138000"` (with
    /// CN) -> `+8613800138000`. Full-width digits and signs, as Chinese input
    /// methods type them, are read as their ASCII forms.
    pub fn normalize(&self, raw: &str) -> Result<Phone, NumberError> {
        let text = ascii_digits(raw.trim());
        if text.is_empty() {
            return Err(NumberError::Empty);
        }
        // libphonenumber reads letters as keypad digits (A = 2): in a
        // contact list a letter is a typo or an extension, not a vanity
        // number.
        if text.chars().any(char::is_alphabetic) {
            return Err(NumberError::Letters);
        }
        let number = self.parse(&text)?;
        if number.extension().is_some() {
            return Err(NumberError::Extension);
        }
        let country = country_of(&number);
        if !phonenumber::is_valid(&number) {
            return Err(NumberError::NotValid { country });
        }
        Ok(Phone {
            e164: e164(&number),
            country,
        })
    }

    /// The number `text` writes, read with the default country.
    ///
    /// phonenumber 0.3.10 applies the *default* country's national-prefix
    /// rules to every number it parses with one, even a number that names
    /// another country: with CN, `+39 06 1234 5678` (Rome) loses the 0 of
    /// its area code, as CN's trunk prefix. A number of another country is
    /// therefore parsed a second time without a default country, from its
    /// `+` form, which the crate gets right.
    fn parse(&self, text: &str) -> Result<phonenumber::PhoneNumber, NumberError> {
        use phonenumber::country::Source;

        let first = phonenumber::parse(Some(self.country), text).map_err(number_error)?;
        let code = first.code().value();
        if code == self.code {
            return Ok(first);
        }
        match first.code().source() {
            Source::Plus => phonenumber::parse(None, text).map_err(number_error),
            // `0039 06...` with CN: the digits after the international
            // prefix, whose length the crate does not say; the first cut
            // that gives a valid number of that country code is the one.
            Source::Idd | Source::Number => {
                let digits: String = text.chars().filter(char::is_ascii_digit).collect();
                let cc = code.to_string();
                let cuts = (0..digits.len().min(6)).filter(|&k| digits[k..].starts_with(&cc));
                for k in cuts {
                    if let Ok(n) = phonenumber::parse(None, format!("+{}", &digits[k..]))
                        && n.code().value() == code
                        && phonenumber::is_valid(&n)
                    {
                        return Ok(n);
                    }
                }
                Ok(first)
            }
            Source::Default => Ok(first),
        }
    }
}

/// The country of a number; for a number the crate cannot place (it fails
/// on Rome's `+39 06...`, whose national number starts with 0), the main
/// country of its calling code.
fn country_of(number: &phonenumber::PhoneNumber) -> Option<String> {
    if let Some(id) = number.country().id() {
        return Some(id.as_ref().to_owned());
    }
    let regions = phonenumber::metadata::DATABASE.by_code(&number.code().value())?;
    regions
        .iter()
        .find(|m| m.is_main_country_for_code())
        .or(regions.first())
        .map(|m| m.id().to_owned())
}

fn number_error(e: phonenumber::ParseError) -> NumberError {
    use phonenumber::ParseError as E;
    match e {
        E::NoNumber | E::MalformedInteger(_) => NumberError::NotANumber,
        E::InvalidCountryCode => NumberError::UnknownCountryCode,
        E::TooShortAfterIdd | E::TooShortNsn => NumberError::TooShort,
        E::TooLong => NumberError::TooLong,
    }
}

/// Checks that `phone` is a valid number already in E.164 form (as stored),
/// e.g. before a dial.
pub fn check_e164(phone: &str) -> Result<(), NumberError> {
    let digits = phone.strip_prefix('+').ok_or(NumberError::NotE164)?;
    if digits.is_empty() || digits.len() > 15 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(NumberError::NotE164);
    }
    // The default country plays no part for a number with `+`.
    let parsed = phonenumber::parse(None, phone).map_err(number_error)?;
    if !phonenumber::is_valid(&parsed) {
        return Err(NumberError::NotValid {
            country: country_of(&parsed),
        });
    }
    let parsed = e164(&parsed);
    if parsed != phone {
        return Err(NumberError::NotE164);
    }
    Ok(())
}

/// E.164 by definition; the crate's formatter gets there too but first
/// builds the national format, a third of the cost of an import.
fn e164(number: &phonenumber::PhoneNumber) -> String {
    format!("+{}{}", number.code().value(), number.national())
}

/// Full-width digits, plus, minus, parentheses and spaces to ASCII.
fn ascii_digits(s: &str) -> std::borrow::Cow<'_, str> {
    if s.is_ascii() {
        return s.into();
    }
    s.chars()
        .map(|c| match c {
            '０'..='９' => char::from(b'0' + (c as u32 - '０' as u32) as u8),
            '＋' => '+',
            '－' | '—' => '-',
            '（' => '(',
            '）' => ')',
            '\u{3000}' => ' ',
            other => other,
        })
        .collect::<String>()
        .into()
}

/// Merges a later row's fields over an earlier row's for the same phone:
/// a non-empty new value replaces the old one, an empty new value never
/// erases an old one (a later file without a column's data keeps what the
/// earlier one said), and a column the old fields lack is added even when
/// empty.
pub fn merge_fields(old: &mut BTreeMap<String, String>, new: BTreeMap<String, String>) {
    for (key, value) in new {
        if !value.is_empty() {
            old.insert(key, value);
        } else {
            old.entry(key).or_default();
        }
    }
}

/// The spec, checked and ready for use on every row.
#[derive(Debug)]
struct Settings {
    normalizer: PhoneNormalizer,
    /// Longest prefix first; zones already in their stored form.
    prefixes: Vec<(String, String)>,
    default_zone: Option<String>,
}

impl Settings {
    fn new(spec: &ImportSpec) -> Result<Settings, ImportError> {
        if spec.phone_column.trim().is_empty() {
            return Err(ImportError::NoPhoneColumn);
        }
        let normalizer = PhoneNormalizer::new(&spec.default_country)
            .map_err(|e| ImportError::UnknownCountry(e.0))?;
        let mut prefixes = Vec::with_capacity(spec.prefix_timezones.len());
        for (prefix, tz) in &spec.prefix_timezones {
            let digits = prefix.trim().trim_start_matches('+');
            if digits.is_empty() || digits.len() > 15 || !digits.bytes().all(|b| b.is_ascii_digit())
            {
                return Err(ImportError::BadPrefix(prefix.clone()));
            }
            let tz = zone::lookup_zone(tz).map_err(|error| ImportError::UnknownTimeZone {
                setting: "prefix_timezones",
                error,
            })?;
            prefixes.push((format!("+{digits}"), zone::zone_name(&tz)));
        }
        prefixes.sort_by_key(|(prefix, _)| std::cmp::Reverse(prefix.len()));
        let default_zone = match &spec.default_timezone {
            Some(name) => Some(zone::zone_name(&zone::lookup_zone(name).map_err(
                |error| ImportError::UnknownTimeZone {
                    setting: "default_timezone",
                    error,
                },
            )?)),
            None => None,
        };
        Ok(Settings {
            normalizer,
            prefixes,
            default_zone,
        })
    }
}

/// Reads the header of a contact file and returns the reader of its rows.
///
/// Fails when the spec is wrong, the file has no header, a header name is
/// empty or given twice, or the phone column is missing (the error lists
/// the columns seen).
pub fn read_contacts<R: Read>(r: R, spec: &ImportSpec) -> Result<ContactReader<R>, ImportError> {
    let settings = Settings::new(spec)?;
    // The header is read as a record of its own so that every line number
    // comes from the same counter and a bad header gets its own error.
    let mut records = Records::new(r);
    match records.next() {
        Ok(Some(_)) => {}
        Ok(None) => return Err(ImportError::Empty),
        Err(e) => return Err(ImportError::Read(e.to_string())),
    }
    let mut columns = Vec::with_capacity(records.record.len());
    for (i, raw) in records.record.iter().enumerate() {
        let name = std::str::from_utf8(raw).map_err(|_| ImportError::HeaderNotUtf8)?;
        // csv strips a byte-order mark before the first header; be sure.
        let name = name.trim_start_matches('\u{feff}').trim();
        if name.is_empty() {
            return Err(ImportError::UnnamedColumn { position: i + 1 });
        }
        if columns
            .iter()
            .any(|c: &String| c.eq_ignore_ascii_case(name))
        {
            return Err(ImportError::DuplicateColumn(name.to_owned()));
        }
        columns.push(name.to_owned());
    }
    let find = |wanted: &str| {
        let wanted = wanted.trim();
        columns.iter().position(|c| c.eq_ignore_ascii_case(wanted))
    };
    let phone_at = find(&spec.phone_column).ok_or_else(|| ImportError::MissingPhoneColumn {
        column: spec.phone_column.clone(),
        seen: columns.clone(),
    })?;
    let timezone_at = spec.timezone_column.as_deref().and_then(find);
    Ok(ContactReader {
        records,
        columns,
        phone_at,
        timezone_at,
        settings,
        zones: HashMap::new(),
        done: false,
    })
}

/// The rows of a contact file, each a [`ContactRow`] or a [`RowError`].
#[derive(Debug)]
pub struct ContactReader<R> {
    records: Records<R>,
    columns: Vec<String>,
    phone_at: usize,
    timezone_at: Option<usize>,
    settings: Settings,
    /// Time-zone cells seen so far -> their stored form (a list repeats a
    /// handful of values a million times).
    zones: HashMap<String, Result<String, UnknownTimeZone>>,
    done: bool,
}

impl<R> ContactReader<R> {
    /// The header's column names, trimmed, in file order.
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// The column read for phone numbers.
    pub fn phone_column(&self) -> &str {
        &self.columns[self.phone_at]
    }

    /// The column read for time zones, if the file has it.
    pub fn timezone_column(&self) -> Option<&str> {
        self.timezone_at.map(|i| self.columns[i].as_str())
    }

    fn row(&mut self, line: u64) -> Result<ContactRow, RowErrorReason> {
        if self.records.record.len() != self.columns.len() {
            return Err(RowErrorReason::FieldCount {
                expected: self.columns.len(),
                found: self.records.record.len(),
            });
        }
        let mut phone_raw = "";
        let mut zone_raw = "";
        let mut fields = BTreeMap::new();
        for (i, raw) in self.records.record.iter().enumerate() {
            let value = std::str::from_utf8(raw)
                .map_err(|_| RowErrorReason::InvalidUtf8 {
                    column: self.columns[i].clone(),
                })?
                .trim();
            if i == self.phone_at {
                phone_raw = value;
            } else if Some(i) == self.timezone_at {
                zone_raw = value;
            } else {
                fields.insert(self.columns[i].clone(), value.to_owned());
            }
        }
        let phone = self
            .settings
            .normalizer
            .normalize(phone_raw)
            .map_err(|error| RowErrorReason::InvalidNumber {
                raw: phone_raw.to_owned(),
                error,
            })?;
        let timezone = time_zone(&mut self.zones, &self.settings, zone_raw, &phone)?;
        Ok(ContactRow {
            line,
            phone: phone.e164,
            timezone,
            fields,
        })
    }
}

/// The stored zone of a row: its cell, a prefix, the default, its country.
fn time_zone(
    zones: &mut HashMap<String, Result<String, UnknownTimeZone>>,
    settings: &Settings,
    cell: &str,
    phone: &Phone,
) -> Result<String, RowErrorReason> {
    if !cell.is_empty() {
        let stored = match zones.get(cell) {
            Some(known) => known.clone(),
            None => {
                let found = zone::lookup_zone(cell).map(|tz| zone::zone_name(&tz));
                zones.insert(cell.to_owned(), found.clone());
                found
            }
        };
        return stored.map_err(RowErrorReason::UnknownTimeZone);
    }
    if let Some((_, tz)) = settings
        .prefixes
        .iter()
        .find(|(prefix, _)| phone.e164.starts_with(prefix.as_str()))
    {
        return Ok(tz.clone());
    }
    if let Some(tz) = &settings.default_zone {
        return Ok(tz.clone());
    }
    if let Some(tz) = phone
        .country
        .as_deref()
        .and_then(zone::single_zone_of_country)
    {
        return Ok(tz.to_owned());
    }
    Err(RowErrorReason::NoTimeZone {
        country: phone.country.clone(),
    })
}

impl<R: Read> Iterator for ContactReader<R> {
    type Item = Result<ContactRow, RowError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.done {
                return None;
            }
            let line = match self.records.next() {
                Ok(Some(line)) => line,
                Ok(None) => {
                    self.done = true;
                    return None;
                }
                Err(e) => {
                    // Reading a byte record with `flexible` set fails only
                    // on IO, after which the stream cannot be trusted.
                    self.done = true;
                    return Some(Err(RowError {
                        line: self.records.lines + 1,
                        reason: RowErrorReason::Read(e.to_string()),
                    }));
                }
            };
            if self
                .records
                .record
                .iter()
                .all(|f| f.trim_ascii().is_empty())
            {
                continue;
            }
            return Some(self.row(line).map_err(|reason| RowError { line, reason }));
        }
    }
}

/// The records of a CSV file and the line each starts on.
///
/// The csv crate's own line numbers are off after blank lines (it gives the
/// line where its scan began, before skipping them) and by one for files
/// with CRLF line ends (the `\n` of a record's terminator is counted only
/// when the next record is read). So the bytes go through [`Kept`] on their
/// way in, and the lines are counted here from the byte offsets csv reports.
#[derive(Debug)]
struct Records<R> {
    csv: csv::Reader<Kept<R>>,
    record: csv::ByteRecord,
    /// Line ends seen before `counted_to`.
    lines: u64,
    /// Byte offset up to which line ends are counted: the end of the last
    /// record read.
    counted_to: u64,
}

impl<R: Read> Records<R> {
    fn new(r: R) -> Records<R> {
        let csv = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(Kept {
                inner: r,
                bytes: Vec::new(),
                first: 0,
            });
        Records {
            csv,
            record: csv::ByteRecord::new(),
            lines: 0,
            counted_to: 0,
        }
    }

    /// Reads the next record into `record`, and says the line it starts on.
    fn next(&mut self) -> Result<Option<u64>, csv::Error> {
        if !self.csv.read_byte_record(&mut self.record)? {
            return Ok(None);
        }
        let end = self.csv.position().byte();
        let kept = self.csv.get_mut();
        let from = usize::try_from(self.counted_to - kept.first).unwrap_or(0);
        let to = usize::try_from(end - kept.first).unwrap_or(0);
        let bytes = kept.bytes.get(from..to).unwrap_or_default();
        // Blank lines and the rest of the last record's line end come
        // first; the record starts at its first other byte.
        let start = bytes
            .iter()
            .position(|b| !matches!(b, b'\r' | b'\n'))
            .unwrap_or(bytes.len());
        let newlines = |b: &[u8]| b.iter().filter(|&&c| c == b'\n').count() as u64;
        self.lines += newlines(&bytes[..start]);
        let line = self.lines + 1;
        self.lines += newlines(&bytes[start..]);
        self.counted_to = end;
        kept.forget_before(end);
        Ok(Some(line))
    }
}

/// A reader that keeps what it has read, until told to forget it.
#[derive(Debug)]
struct Kept<R> {
    inner: R,
    bytes: Vec<u8>,
    /// The file offset of `bytes[0]`.
    first: u64,
}

impl<R> Kept<R> {
    /// Drops the bytes before `offset`, in large steps so that the copy
    /// this costs stays small.
    fn forget_before(&mut self, offset: u64) {
        let n = usize::try_from(offset.saturating_sub(self.first))
            .unwrap_or(usize::MAX)
            .min(self.bytes.len());
        if n >= 1 << 16 {
            self.bytes.drain(..n);
            self.first += n as u64;
        }
    }
}

impl<R: Read> Read for Kept<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bytes.extend_from_slice(&buf[..n]);
        Ok(n)
    }
}

impl fmt::Display for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.e164)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cn() -> PhoneNormalizer {
        PhoneNormalizer::new("CN").unwrap()
    }

    fn spec_with_default_zone() -> ImportSpec {
        ImportSpec {
            default_timezone: Some("Asia/Shanghai".to_owned()),
            ..ImportSpec::default()
        }
    }

    fn rows(csv: &str, spec: &ImportSpec) -> Vec<Result<ContactRow, RowError>> {
        read_contacts(csv.as_bytes(), spec).unwrap().collect()
    }

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn the_written_forms_of_one_mobile_give_one_e164_number() {
        for raw in [
            "138 0013 8000",
            "+86 138-0013-8000",
            "008613800138000",
            "13800138000",
        ] {
            let phone = cn().normalize(raw).unwrap_or_else(|e| panic!("{raw}: {e}"));
            assert_eq!(phone.e164, "+8613800138000", "{raw}");
            assert_eq!(phone.country.as_deref(), Some("CN"));
        }
    }

    #[test]
    fn a_us_number_in_national_form_with_default_us() {
        let us = PhoneNormalizer::new("us").unwrap();
        assert_eq!(us.normalize("(212) 555-0100").unwrap().e164, "+12125550100");
    }

    #[test]
    fn a_landline_with_its_area_code_drops_the_trunk_zero() {
        assert_eq!(
            cn().normalize("0755-88888888").unwrap().e164,
            "+8675588888888"
        );
    }

    #[test]
    fn a_foreign_number_keeps_its_own_trunk_digits() {
        // Rome's numbers start with 0 after +39; CN's trunk prefix is 0
        // too, and must not be stripped from them.
        for raw in ["+39 06 1234 5678", "0039 06 1234 5678", "+390612345678"] {
            let phone = cn().normalize(raw).unwrap_or_else(|e| panic!("{raw}: {e}"));
            assert_eq!(phone.e164, "+390612345678", "{raw}");
            assert_eq!(phone.country.as_deref(), Some("IT"));
        }
        let us = PhoneNormalizer::new("US").unwrap();
        assert_eq!(
            us.normalize("+86 138 0013 8000").unwrap().e164,
            "+8613800138000"
        );
        assert_eq!(
            us.normalize("011 86 138 0013 8000").unwrap().e164,
            "+8613800138000"
        );
        assert_eq!(
            cn().normalize("00 1 212 555 0100").unwrap().e164,
            "+12125550100"
        );
    }

    #[test]
    fn full_width_digits_are_read_as_digits() {
        assert_eq!(
            cn().normalize("１３８　００１３　８０００").unwrap().e164,
            "+8613800138000"
        );
    }

    #[test]
    fn invalid_numbers_say_why() {
        let cases = [
            ("", NumberError::Empty),
            ("   ", NumberError::Empty),
            ("1380013800a", NumberError::Letters),
            ("212 555 0100 ext 12", NumberError::Letters),
            ("12345", NumberError::TooShort),
            ("1", NumberError::NotANumber),
            ("+999 1234567", NumberError::UnknownCountryCode),
            (
                "13800138000000000",
                NumberError::NotValid {
                    country: Some("CN".to_owned()),
                },
            ),
        ];
        for (raw, want) in cases {
            assert_eq!(cn().normalize(raw), Err(want), "{raw:?}");
        }
        assert_eq!(
            NumberError::NotValid {
                country: Some("CN".to_owned())
            }
            .to_string(),
            "not a valid number in CN"
        );
    }

    #[test]
    fn an_unknown_default_country_is_refused() {
        assert_eq!(
            PhoneNormalizer::new("ZZ"),
            Err(UnknownCountry("ZZ".to_owned()))
        );
    }

    #[test]
    fn check_e164_accepts_only_the_stored_form() {
        assert_eq!(check_e164("+8613800138000"), Ok(()));
        assert_eq!(check_e164("+12125550100"), Ok(()));
        assert_eq!(check_e164("13800138000"), Err(NumberError::NotE164));
        assert_eq!(check_e164("+86 138 0013 8000"), Err(NumberError::NotE164));
        assert_eq!(check_e164("+"), Err(NumberError::NotE164));
        assert!(check_e164("+8612345").is_err());
    }

    #[test]
    fn a_missing_phone_column_names_it_and_lists_the_columns_seen() {
        let err = read_contacts(
            "name,mobile\nA,13800138000\n".as_bytes(),
            &ImportSpec::default(),
        )
        .unwrap_err();
        assert_eq!(
            err,
            ImportError::MissingPhoneColumn {
                column: "phone".to_owned(),
                seen: vec!["name".to_owned(), "mobile".to_owned()],
            }
        );
        assert_eq!(
            err.to_string(),
            "no `phone` column in the header (columns: name, mobile)"
        );
    }

    #[test]
    fn duplicate_and_unnamed_header_columns_are_refused() {
        let spec = ImportSpec::default();
        assert_eq!(
            read_contacts("phone,name,Name\n".as_bytes(), &spec).unwrap_err(),
            ImportError::DuplicateColumn("Name".to_owned())
        );
        assert_eq!(
            read_contacts("phone,,name\n".as_bytes(), &spec).unwrap_err(),
            ImportError::UnnamedColumn { position: 2 }
        );
        assert_eq!(
            read_contacts("".as_bytes(), &spec).unwrap_err(),
            ImportError::Empty
        );
        assert_eq!(
            read_contacts(&b"phone,\xd0\xd5\xc3\xfb\n"[..], &spec).unwrap_err(),
            ImportError::HeaderNotUtf8
        );
    }

    #[test]
    fn header_names_match_without_case_and_a_bom_is_ignored() {
        let reader = read_contacts(
            "\u{feff}Phone, TimeZone ,name\n".as_bytes(),
            &ImportSpec::default(),
        )
        .unwrap();
        assert_eq!(reader.phone_column(), "Phone");
        assert_eq!(reader.timezone_column(), Some("TimeZone"));
        assert_eq!(reader.columns(), ["Phone", "TimeZone", "name"]);
    }

    #[test]
    fn rows_carry_e164_zone_and_trimmed_custom_fields() {
        let got = rows(
            "phone,name,segment,timezone\n 138 0013 8000 , 张三 ,vip,Asia/Shanghai\n",
            &ImportSpec::default(),
        );
        assert_eq!(
            got,
            vec![Ok(ContactRow {
                line: 2,
                phone: "+8613800138000".to_owned(),
                timezone: "Asia/Shanghai".to_owned(),
                fields: map(&[("name", "张三"), ("segment", "vip")]),
            })]
        );
    }

    #[test]
    fn line_numbers_count_the_header_and_multi_line_cells() {
        let got = rows(
            "phone,note\n13800138000,\"two\nlines\"\n\n13800138001,x\n",
            &spec_with_default_zone(),
        );
        let lines: Vec<u64> = got.iter().map(|r| r.as_ref().unwrap().line).collect();
        assert_eq!(lines, [2, 5]);
    }

    #[test]
    fn line_numbers_are_right_in_crlf_files_with_blank_lines() {
        let got = rows(
            "phone,note\r\n13800138000,a\r\n\r\n13800138001,\"b\r\nc\"\r\n13800138002,d",
            &spec_with_default_zone(),
        );
        let lines: Vec<u64> = got.iter().map(|r| r.as_ref().unwrap().line).collect();
        assert_eq!(lines, [2, 4, 6]);
    }

    #[test]
    fn line_numbers_stay_right_past_the_bytes_the_reader_forgets() {
        let mut file = String::from("\n\nphone,note\n");
        for i in 0..5000 {
            file.push_str(&format!(
                "1380013{i:04},\"a long enough note\nover two lines\"\n\n"
            ));
        }
        let got = rows(&file, &spec_with_default_zone());
        assert_eq!(got.len(), 5000);
        for (i, row) in got.iter().enumerate() {
            assert_eq!(row.as_ref().unwrap().line, 4 + 3 * i as u64);
        }
    }

    #[test]
    fn a_row_with_the_wrong_number_of_fields_is_a_row_error() {
        let got = rows(
            "phone,name\n13800138000\n13800138001,b,extra\n13800138002,c\n",
            &spec_with_default_zone(),
        );
        assert_eq!(
            got[0],
            Err(RowError {
                line: 2,
                reason: RowErrorReason::FieldCount {
                    expected: 2,
                    found: 1
                }
            })
        );
        assert_eq!(got[1].as_ref().unwrap_err().line, 3);
        assert_eq!(got[2].as_ref().unwrap().phone, "+8613800138002");
    }

    #[test]
    fn a_row_that_is_not_utf8_is_a_row_error_and_the_next_row_is_read() {
        let mut file = b"phone,name\n13800138000,".to_vec();
        file.extend_from_slice(b"\xd5\xc5\xc8\xfd\n13800138001,ok\n");
        let got: Vec<_> = read_contacts(&file[..], &spec_with_default_zone())
            .unwrap()
            .collect();
        assert_eq!(
            got[0],
            Err(RowError {
                line: 2,
                reason: RowErrorReason::InvalidUtf8 {
                    column: "name".to_owned()
                }
            })
        );
        assert!(got[1].is_ok());
    }

    #[test]
    fn blank_rows_are_skipped_and_a_row_without_a_number_is_refused() {
        let got = rows("phone,name\n,,\n , \n,someone\n", &spec_with_default_zone());
        assert_eq!(got.len(), 1);
        let err = got[0].as_ref().unwrap_err();
        assert_eq!(err.line, 4);
        assert_eq!(err.to_string(), "line 4: phone ``: empty");
    }

    #[test]
    fn an_invalid_number_is_reported_with_what_was_written() {
        let got = rows("phone\n12345\n", &spec_with_default_zone());
        assert_eq!(
            got[0].as_ref().unwrap_err().to_string(),
            "line 2: phone `12345`: too short"
        );
    }

    #[test]
    fn the_time_zone_column_wins_over_every_other_rule() {
        let spec = ImportSpec {
            prefix_timezones: vec![("+86".to_owned(), "Asia/Shanghai".to_owned())],
            ..spec_with_default_zone()
        };
        let got = rows(
            "phone,timezone\n13800138000,asia/urumqi\n13800138001,+06:00\n13800138002,\n",
            &spec,
        );
        let zones: Vec<&str> = got
            .iter()
            .map(|r| r.as_ref().unwrap().timezone.as_str())
            .collect();
        assert_eq!(zones, ["Asia/Urumqi", "+06:00", "Asia/Shanghai"]);
    }

    #[test]
    fn a_time_zone_cell_that_names_no_zone_refuses_the_row() {
        let got = rows(
            "phone,timezone\n13800138000,Beijing\n13800138001,Beijing\n",
            &spec_with_default_zone(),
        );
        for r in &got {
            assert_eq!(
                r.as_ref().unwrap_err().reason,
                RowErrorReason::UnknownTimeZone(UnknownTimeZone("Beijing".to_owned()))
            );
        }
    }

    #[test]
    fn the_longest_matching_prefix_places_the_number() {
        let spec = ImportSpec {
            default_country: "US".to_owned(),
            prefix_timezones: vec![
                ("+1".to_owned(), "America/Chicago".to_owned()),
                ("1212".to_owned(), "America/New_York".to_owned()),
            ],
            ..ImportSpec::default()
        };
        let got = rows("phone\n(212) 555-0100\n(312) 555-0100\n", &spec);
        assert_eq!(got[0].as_ref().unwrap().timezone, "America/New_York");
        assert_eq!(got[1].as_ref().unwrap().timezone, "America/Chicago");
    }

    #[test]
    fn a_country_with_a_single_zone_places_its_numbers() {
        let got = rows(
            "phone\n+44 20 7946 0000\n+81 3-1234-5678\n",
            &ImportSpec::default(),
        );
        assert_eq!(got[0].as_ref().unwrap().timezone, "Europe/London");
        assert_eq!(got[1].as_ref().unwrap().timezone, "Asia/Tokyo");
    }

    #[test]
    fn no_rule_placing_the_number_is_no_time_zone() {
        let got = rows("phone\n13800138000\n", &ImportSpec::default());
        let err = got[0].as_ref().unwrap_err();
        assert_eq!(
            err.reason,
            RowErrorReason::NoTimeZone {
                country: Some("CN".to_owned())
            }
        );
        assert!(err.to_string().contains("no time zone"), "{err}");
        assert!(err.to_string().contains("CN has 2 time zones"), "{err}");
    }

    #[test]
    fn the_spec_is_checked_before_the_file_is_read() {
        let bad = |spec: ImportSpec| read_contacts("phone\n".as_bytes(), &spec).unwrap_err();
        assert_eq!(
            bad(ImportSpec {
                default_country: "China".to_owned(),
                ..ImportSpec::default()
            }),
            ImportError::UnknownCountry("China".to_owned())
        );
        assert_eq!(
            bad(ImportSpec {
                prefix_timezones: vec![("+86x".to_owned(), "Asia/Shanghai".to_owned())],
                ..ImportSpec::default()
            }),
            ImportError::BadPrefix("+86x".to_owned())
        );
        let err = bad(ImportSpec {
            default_timezone: Some("Asia/Beijing".to_owned()),
            ..ImportSpec::default()
        });
        assert_eq!(
            err.to_string(),
            "import.default_timezone: unknown time zone `Asia/Beijing`"
        );
        assert!(
            ImportSpec {
                phone_column: " ".to_owned(),
                ..ImportSpec::default()
            }
            .validate()
            .is_err()
        );
    }

    #[test]
    fn the_import_section_reads_from_yaml_with_defaults() {
        let spec: ImportSpec = serde_yaml::from_str("default_country: US\n").unwrap();
        assert_eq!(spec.phone_column, "phone");
        assert_eq!(spec.timezone_column.as_deref(), Some("timezone"));
        assert_eq!(spec.default_country, "US");

        let spec: ImportSpec = serde_yaml::from_str(
            "phone_column: mobile\ntimezone_column: null\n\
             prefix_timezones: { '+1212': America/New_York, '+86': Asia/Shanghai }\n",
        )
        .unwrap();
        assert_eq!(spec.timezone_column, None);
        assert_eq!(spec.prefix_timezones.len(), 2);
        let pairs: ImportSpec =
            serde_yaml::from_str("prefix_timezones: [['+86', Asia/Shanghai]]\n").unwrap();
        assert_eq!(
            pairs.prefix_timezones,
            [("+86".to_owned(), "Asia/Shanghai".to_owned())]
        );
        assert!(serde_yaml::from_str::<ImportSpec>("phone_colum: x\n").is_err());
    }

    #[test]
    fn merging_keeps_old_values_that_the_new_row_leaves_empty() {
        let mut old = map(&[("name", "张三"), ("plan", "A"), ("note", "x")]);
        merge_fields(
            &mut old,
            map(&[
                ("name", ""),
                ("plan", "B"),
                ("segment", ""),
                ("vip", "true"),
            ]),
        );
        assert_eq!(
            old,
            map(&[
                ("name", "张三"),
                ("note", "x"),
                ("plan", "B"),
                ("segment", ""),
                ("vip", "true")
            ])
        );
    }

    /// Fails after handing out its bytes, as a broken upload does.
    struct Breaks(&'static [u8]);

    impl Read for Breaks {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.0.is_empty() {
                return Err(std::io::Error::other("connection reset"));
            }
            let n = buf.len().min(self.0.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[test]
    fn an_io_error_is_reported_once_and_ends_the_rows() {
        let got: Vec<_> = read_contacts(Breaks(b"phone\n13800138000\n"), &spec_with_default_zone())
            .unwrap()
            .collect();
        assert_eq!(got.len(), 2, "{got:?}");
        assert!(got[0].is_ok());
        assert!(matches!(
            got[1].as_ref().unwrap_err().reason,
            RowErrorReason::Read(_)
        ));
    }
}
