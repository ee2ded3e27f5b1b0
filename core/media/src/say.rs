//! Spoken figures: a number, an amount of money, a string of digits, a
//! date or a time turned into the list of short prompts that say it.
//!
//! A campaign that tells each customer their own bill ("your bill this
//! month is 128.50 yuan, due on November 15th") cannot record a sentence
//! per customer. It records a few dozen fragments once ("one", "hundred",
//! "yuan", "November", ...) and plays, for each call, the sequence that
//! says that customer's figures. This module computes the sequence; the
//! [`player`](crate::player) plays it. Like the rest of the crate it does
//! no IO and reads no clock: a value in, prompt names out.
//!
//! Names are prompt names as [`PromptCache`](crate::prompt::PromptCache)
//! knows them, all under `zh/num/` or `en/num/`, for example
//! `["zh/num/1", "zh/num/bai", "zh/num/2", "zh/num/shi", "zh/num/8"]`
//! for 128. [`fragments`] lists every name a language can produce, so a
//! deployment can check its prompt directory before the first call
//! instead of finding a gap during one.
//!
//! Every function checks its input and refuses, with a [`SayError`],
//! anything it would have to guess at: a customer told a wrong figure is
//! worse than a broadcast that fails and is logged.
//!
//! # Mandarin
//! Numbers follow the school rules for reading numerals.
//! - Groups of four digits, named by 万 and 亿: 12,0000 is 十二万,
//!   20,0000,0008 is 二十亿零八 (written with Chinese grouping).
//! - One 零 for each run of zeros that has a digit after it, whether the
//!   run is inside a group or spans groups (1001 一千零一, 10010
//!   一万零一十, 2000000008 二十亿零八); none for zeros at the end of a
//!   group (100000 十万, 1001000 一百万一千).
//! - 一 is dropped before 十 only when it opens the number (10 十, 11 十一,
//!   100000 十万, but 110 一百一十, 10010 一万零一十).
//! - 两 replaces 二 when a 2 opens a group and a unit of 百, 千, 万 or 亿
//!   follows it (200 两百, 2000 两千, 20000 两万, 200000000 两亿, 2200
//!   两千二百, 12000 一万两千); everywhere else it is 二 (2, 12, 20, 22,
//!   1200 一千二百).
//!   Outside the digit rules 两 is also said where a count stands alone
//!   before its word: 两元, 两角, 两分, 两美元 and 两点 (two o'clock), but
//!   二月 and 二日, which are names of a month and a day, not counts.
//! - Fragment recordings say 一 in its first tone; the tone changes
//!   that a speaker would make (yì bǎi, yí wàn) are lost, as in every
//!   fragment-based IVR.
//!
//! Money in yuan uses the formal units 元, 角, 分, as bills and bank
//! notices do (the colloquial 块/毛 would need a second set of
//! recordings): 128.50 一百二十八元五角, 0.05 五分, 10.05 十元零五分
//! (a 零 stands for the missing 角), 2.00 两元 (not 二元, which no one
//! says aloud), 0 零元. A whole amount has no 整: that belongs to
//! written cheques. US dollars are 美元 and 美分 with the cents as one
//! number: 3.25 三美元二十五美分.
//!
//! Digit strings (phone and account numbers) read 1 as 幺, as operators
//! and phone users do so that 一 and 七 are not confused; 0 is 零, 2 is 二.
//!
//! Dates are 二零二六年十一月十五日: the year digit by digit, the month
//! and day as numbers, and the formal 日 rather than the spoken 号.
//!
//! Times use a 12-hour clock with a part of the day before it: 凌晨 for
//! 0-5 h, 上午 for 6-11 h, 中午 for 12 h, 下午 for 13-17 h and 晚上 for
//! 18-23 h. Midnight is 凌晨零点 (not 十二点, which would be heard as
//! noon). Minutes under ten take a 零 (下午三点零五分); on the hour
//! nothing follows 点 (中午十二点), and half past is 三十分, not 半,
//! so that every minute is read the same way.
//!
//! # English
//! American English, as a US IVR would say it.
//! - No "and" inside numbers: 101 is "one hundred one", the usual US
//!   form; 2,000,000,008 is "two billion eight". Zero is "zero".
//! - 21 to 99 are two fragments, "twenty" then "one", as telephone
//!   fragment sets have always done: ten recordings instead of eighty.
//! - Yuan are "yuan" and "fen" (hundredths; English has no everyday word
//!   for the jiao): 128.50 is "one hundred twenty-eight yuan and fifty
//!   fen", 0.05 "five fen". Both words are the same in the plural.
//!   Dollars are "one dollar", "two dollars and one cent" and so on.
//! - Digit strings are "zero" to "nine", never "oh", which is ambiguous
//!   on a bad line.
//! - Dates are "November fifteenth, twenty twenty-six": ordinal days, and
//!   years from 1000 in pairs of digits (1999 "nineteen ninety-nine",
//!   1905 "nineteen oh five", 1900 "nineteen hundred"), except the years
//!   2000 to 2009, which Americans read "two thousand" to "two thousand
//!   nine". Earlier years are plain numbers.
//! - Times are "three oh five p m": 12-hour clock, "oh" before minutes
//!   under ten, nothing on the hour ("three p m"); midnight is "twelve
//!   a m" and noon "twelve p m".
//!
//! # Limits
//! Numbers and the whole part of amounts go up to [`MAX_NUMBER`]
//! (10^12 - 1), in both languages, so every value either language takes
//! the other takes too. Amounts are decimal text read exactly, never a
//! float, with at most two decimals: "1.5" is 1.50, "1.505" is an error
//! (not rounded, since rounding money is the biller's decision), and so
//! is "1.500". Years run from 1 to 9999.

mod en;
mod zh;

#[cfg(test)]
mod tests;

use std::fmt;
use std::str::FromStr;

use thiserror::Error;

/// The largest magnitude [`say_number`] and [`say_amount`] read:
/// 999,999,999,999 (一万亿 minus one; "nine hundred ninety-nine billion
/// ...").
pub const MAX_NUMBER: i64 = 999_999_999_999;

/// The language of the fragments.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Lang {
    /// Mandarin, prompts under `zh/num/`.
    Zh,
    /// American English, prompts under `en/num/`.
    En,
}

impl Lang {
    /// The language code, which is also the prompt directory: "zh", "en".
    pub fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh",
            Lang::En => "en",
        }
    }
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Lang {
    type Err = SayError;

    /// "zh" or "en", in any case.
    fn from_str(s: &str) -> Result<Lang, SayError> {
        if s.eq_ignore_ascii_case("zh") {
            Ok(Lang::Zh)
        } else if s.eq_ignore_ascii_case("en") {
            Ok(Lang::En)
        } else {
            Err(SayError::UnknownLang(s.to_owned()))
        }
    }
}

/// Why a value cannot be said.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum SayError {
    /// A language code other than "zh" or "en".
    #[error("unknown language {0:?}: expected \"zh\" or \"en\"")]
    UnknownLang(String),
    /// The number (or the whole part of an amount) is larger in magnitude
    /// than [`MAX_NUMBER`].
    #[error("{value} is out of range: figures are read up to {MAX_NUMBER} either way")]
    OutOfRange {
        /// The value, as given.
        value: String,
    },
    /// The text is not a plain decimal number like "128.50" or "-3".
    #[error(
        "{text:?} is not an amount: expected digits, optionally a '-' before them and a '.' with one or two digits after"
    )]
    NotAnAmount {
        /// The text given.
        text: String,
    },
    /// An amount with more than two decimals. It is not rounded: how to
    /// round money is for whoever computed it.
    #[error("{text:?} has more than two decimals")]
    TooManyDecimals {
        /// The text given.
        text: String,
    },
    /// A currency the fragments cannot name.
    #[error("unknown currency {code:?}: expected \"CNY\" or \"USD\"")]
    UnknownCurrency {
        /// The code given.
        code: String,
    },
    /// A digit string with something other than 0-9 in it.
    #[error("{found:?} at byte {index} of {text:?} is not a digit 0-9")]
    NotADigit {
        /// The text given.
        text: String,
        /// Byte offset of the offending character.
        index: usize,
        /// The offending character.
        found: char,
    },
    /// An empty digit string: nothing to say is almost certainly a bug
    /// upstream (a missing account number), not something to play.
    #[error("no digits to say")]
    NoDigits,
    /// Not a date of the Gregorian calendar in years 1 to 9999.
    #[error("{year:04}-{month:02}-{day:02} is not a date")]
    BadDate {
        /// The year given.
        year: i32,
        /// The month given.
        month: u8,
        /// The day given.
        day: u8,
    },
    /// Not a time of day (hours 0-23, minutes 0-59).
    #[error("{hour:02}:{minute:02} is not a time of day")]
    BadTime {
        /// The hour given.
        hour: u8,
        /// The minute given.
        minute: u8,
    },
}

/// An integer, e.g. 128 → `zh/num/1 zh/num/bai zh/num/2 zh/num/shi
/// zh/num/8`, or `en/num/1 en/num/hundred en/num/20 en/num/8`.
pub fn say_number(lang: Lang, n: i64) -> Result<Vec<String>, SayError> {
    if !(-MAX_NUMBER..=MAX_NUMBER).contains(&n) {
        return Err(SayError::OutOfRange {
            value: n.to_string(),
        });
    }
    Ok(match lang {
        Lang::Zh => zh::names(&zh::number(n)),
        Lang::En => en::names(&en::number(n)),
    })
}

/// An amount of money given as exact decimal text ("128.50", "0.05",
/// "-3", "1.5"), in `currency`: "CNY" (also when empty) or "USD", in
/// any case.
pub fn say_amount(lang: Lang, value: &str, currency: &str) -> Result<Vec<String>, SayError> {
    let currency = Currency::parse(currency)?;
    let amount = Amount::parse(value)?;
    Ok(match lang {
        Lang::Zh => zh::names(&zh::amount(amount, currency)),
        Lang::En => en::names(&en::amount(amount, currency)),
    })
}

/// A string of digits read one by one, as for a phone or account number.
/// Anything but ASCII 0-9 is an error, spaces and dashes included: the
/// caller strips its own formatting.
pub fn say_digits(lang: Lang, s: &str) -> Result<Vec<String>, SayError> {
    if s.is_empty() {
        return Err(SayError::NoDigits);
    }
    let mut digits = Vec::with_capacity(s.len());
    for (index, found) in s.char_indices() {
        match found.to_digit(10) {
            // to_digit(10) accepts only ASCII 0-9, so the cast is exact.
            Some(d) => digits.push(d as u8),
            None => {
                return Err(SayError::NotADigit {
                    text: s.to_owned(),
                    index,
                    found,
                });
            }
        }
    }
    Ok(match lang {
        Lang::Zh => zh::names(&zh::digits(&digits)),
        Lang::En => en::names(&en::digits(&digits)),
    })
}

/// A calendar date; `with_year` false says only the month and day. The
/// date is checked, year included, either way (February 29th needs a leap
/// year).
pub fn say_date(
    lang: Lang,
    y: i32,
    m: u8,
    d: u8,
    with_year: bool,
) -> Result<Vec<String>, SayError> {
    let bad = SayError::BadDate {
        year: y,
        month: m,
        day: d,
    };
    if !(1..=9999).contains(&y) || !(1..=12).contains(&m) || d < 1 || d > days_in_month(y, m) {
        return Err(bad);
    }
    let year = with_year.then_some(y);
    Ok(match lang {
        Lang::Zh => zh::names(&zh::date(year, m, d)),
        Lang::En => en::names(&en::date(year, m, d)),
    })
}

/// A time of day on the 24-hour clock (`h` 0-23, `min` 0-59).
pub fn say_time(lang: Lang, h: u8, min: u8) -> Result<Vec<String>, SayError> {
    if h > 23 || min > 59 {
        return Err(SayError::BadTime {
            hour: h,
            minute: min,
        });
    }
    Ok(match lang {
        Lang::Zh => zh::names(&zh::time(h, min)),
        Lang::En => en::names(&en::time(h, min)),
    })
}

/// Every prompt name the `say_*` functions can return for `lang`, each
/// once: the recordings a prompt directory must hold for them.
pub fn fragments(lang: Lang) -> Vec<String> {
    match lang {
        Lang::Zh => zh::names(&zh::Word::all()),
        Lang::En => en::names(&en::Word::all()),
    }
}

fn days_in_month(y: i32, m: u8) -> u8 {
    match m {
        4 | 6 | 9 | 11 => 30,
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        _ => 31,
    }
}

/// A currency the fragments can name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Currency {
    /// Renminbi: yuan of 10 jiao of 10 fen.
    Cny,
    /// US dollars of 100 cents.
    Usd,
}

impl Currency {
    fn parse(code: &str) -> Result<Currency, SayError> {
        if code.is_empty() || code.eq_ignore_ascii_case("CNY") {
            Ok(Currency::Cny)
        } else if code.eq_ignore_ascii_case("USD") {
            Ok(Currency::Usd)
        } else {
            Err(SayError::UnknownCurrency {
                code: code.to_owned(),
            })
        }
    }
}

/// An amount read exactly from its decimal text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Amount {
    /// A '-' was given and the amount is not zero.
    negative: bool,
    /// The whole part, at most [`MAX_NUMBER`].
    whole: u64,
    /// Hundredths, 0-99.
    cents: u8,
}

impl Amount {
    fn parse(text: &str) -> Result<Amount, SayError> {
        let not_amount = || SayError::NotAnAmount {
            text: text.to_owned(),
        };
        let (negative, unsigned) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let (whole_text, frac_text) = match unsigned.split_once('.') {
            Some((w, f)) => (w, Some(f)),
            None => (unsigned, None),
        };
        let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !all_digits(whole_text) || frac_text.is_some_and(|f| !all_digits(f)) {
            return Err(not_amount());
        }
        let mut whole: u64 = 0;
        for b in whole_text.bytes() {
            whole = whole * 10 + u64::from(b - b'0');
            if whole > MAX_NUMBER.unsigned_abs() {
                return Err(SayError::OutOfRange {
                    value: text.to_owned(),
                });
            }
        }
        let cents = match frac_text.map(str::as_bytes) {
            None => 0,
            Some([t]) => (t - b'0') * 10,
            Some([t, h]) => (t - b'0') * 10 + (h - b'0'),
            Some(_) => {
                return Err(SayError::TooManyDecimals {
                    text: text.to_owned(),
                });
            }
        };
        Ok(Amount {
            negative: negative && (whole != 0 || cents != 0),
            whole,
            cents,
        })
    }
}
