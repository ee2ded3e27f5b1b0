//! American English: the rules are in the parent module's docs.

use super::{Amount, Currency};

/// One English fragment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Word {
    /// "zero" to "nineteen".
    Small(u8),
    /// "twenty" to "ninety", by the tens digit 2-9.
    Tens(u8),
    /// "hundred".
    Hundred,
    /// "thousand".
    Thousand,
    /// "million".
    Million,
    /// "billion".
    Billion,
    /// "minus".
    Minus,
    /// "oh", before minutes under ten and in years like 1905.
    Oh,
    /// "a m".
    Am,
    /// "p m".
    Pm,
    /// "and", between the whole and the fractional part of an amount.
    And,
    /// "yuan", singular and plural.
    Yuan,
    /// "fen", singular and plural.
    Fen,
    /// "dollar".
    Dollar,
    /// "dollars".
    Dollars,
    /// "cent".
    Cent,
    /// "cents".
    Cents,
    /// "January" to "December", by number 1-12.
    Month(u8),
    /// "first" to "thirty-first", by number 1-31.
    Ordinal(u8),
}

impl Word {
    /// Every fragment, in the order `make.sh` records them.
    pub(super) fn all() -> Vec<Word> {
        use Word::*;
        let mut all: Vec<Word> = (0..=19).map(Small).collect();
        all.extend((2..=9).map(Tens));
        all.extend([
            Hundred, Thousand, Million, Billion, Minus, Oh, Am, Pm, And, Yuan, Fen, Dollar,
            Dollars, Cent, Cents,
        ]);
        all.extend((1..=12).map(Month));
        all.extend((1..=31).map(Ordinal));
        all
    }

    /// The file name under `en/num/`: numbers by value ("7", "40"),
    /// months as `month/1`..`month/12`, ordinals as `ord/1`..`ord/31`.
    fn name(self) -> String {
        use Word::*;
        let s = match self {
            Small(n) => return n.to_string(),
            Tens(t) => return (u16::from(t) * 10).to_string(),
            Month(m) => return format!("month/{m}"),
            Ordinal(d) => return format!("ord/{d}"),
            Hundred => "hundred",
            Thousand => "thousand",
            Million => "million",
            Billion => "billion",
            Minus => "minus",
            Oh => "oh",
            Am => "am",
            Pm => "pm",
            And => "and",
            Yuan => "yuan",
            Fen => "fen",
            Dollar => "dollar",
            Dollars => "dollars",
            Cent => "cent",
            Cents => "cents",
        };
        s.to_owned()
    }
}

pub(super) fn names(words: &[Word]) -> Vec<String> {
    words
        .iter()
        .map(|w| format!("en/num/{}", w.name()))
        .collect()
}

/// `n` is within ±MAX_NUMBER (checked by the caller).
pub(super) fn number(n: i64) -> Vec<Word> {
    let mut out = Vec::new();
    if n < 0 {
        out.push(Word::Minus);
    }
    push_number(n.unsigned_abs(), &mut out);
    out
}

/// Reads `n` < 10^12 in groups of three digits.
fn push_number(n: u64, out: &mut Vec<Word>) {
    if n == 0 {
        out.push(Word::Small(0));
        return;
    }
    let groups = [
        (n / 1_000_000_000, Some(Word::Billion)),
        (n / 1_000_000 % 1000, Some(Word::Million)),
        (n / 1000 % 1000, Some(Word::Thousand)),
        (n % 1000, None),
    ];
    for (value, unit) in groups {
        if value > 0 {
            // Every group is below 1000, so the casts are exact.
            push_below_thousand(value as u16, out);
            out.extend(unit);
        }
    }
}

/// 1-999: "one hundred twenty eight", no "and".
fn push_below_thousand(n: u16, out: &mut Vec<Word>) {
    let (hundreds, rest) = (n / 100, n % 100);
    if hundreds > 0 {
        out.push(Word::Small(hundreds as u8));
        out.push(Word::Hundred);
    }
    if rest > 0 {
        push_below_hundred(rest as u8, out);
    }
}

/// 1-99: one fragment below twenty, else the tens and then the units.
fn push_below_hundred(n: u8, out: &mut Vec<Word>) {
    if n < 20 {
        out.push(Word::Small(n));
    } else {
        let (tens, units) = (n / 10, n % 10);
        out.push(Word::Tens(tens));
        if units > 0 {
            out.push(Word::Small(units));
        }
    }
}

pub(super) fn amount(a: Amount, currency: Currency) -> Vec<Word> {
    let (one_whole, many_whole, one_cent, many_cents) = match currency {
        Currency::Cny => (Word::Yuan, Word::Yuan, Word::Fen, Word::Fen),
        Currency::Usd => (Word::Dollar, Word::Dollars, Word::Cent, Word::Cents),
    };
    let mut out = Vec::new();
    if a.negative {
        out.push(Word::Minus);
    }
    let says_whole = a.whole > 0 || a.cents == 0;
    if says_whole {
        push_number(a.whole, &mut out);
        out.push(if a.whole == 1 { one_whole } else { many_whole });
    }
    if a.cents > 0 {
        if says_whole {
            out.push(Word::And);
        }
        push_below_hundred(a.cents, &mut out);
        out.push(if a.cents == 1 { one_cent } else { many_cents });
    }
    out
}

pub(super) fn digits(digits: &[u8]) -> Vec<Word> {
    digits.iter().map(|&d| Word::Small(d)).collect()
}

pub(super) fn date(year: Option<i32>, month: u8, day: u8) -> Vec<Word> {
    let mut out = vec![Word::Month(month), Word::Ordinal(day)];
    if let Some(y) = year {
        // 1..=9999, checked by the caller.
        push_year(y.unsigned_abs(), &mut out);
    }
    out
}

/// Years from 1000 in pairs of digits, the way Americans say them.
fn push_year(y: u32, out: &mut Vec<Word>) {
    // Both halves are below 100, so the casts are exact.
    let (century, rest) = ((y / 100) as u8, (y % 100) as u8);
    match (century, rest) {
        // Before 1000 there are no pairs to make: "four hundred
        // seventy-six". 2000-2009 (and 1000-1009...) are also plain
        // numbers, "two thousand nine", the usual American reading.
        _ if y < 1000 => push_number(u64::from(y), out),
        (c, r) if c % 10 == 0 && r < 10 => push_number(u64::from(y), out),
        // 1900: "nineteen hundred".
        (c, 0) => {
            push_below_hundred(c, out);
            out.push(Word::Hundred);
        }
        // 1905: "nineteen oh five".
        (c, r) if r < 10 => {
            push_below_hundred(c, out);
            out.push(Word::Oh);
            out.push(Word::Small(r));
        }
        // 2026: "twenty twenty-six".
        (c, r) => {
            push_below_hundred(c, out);
            push_below_hundred(r, out);
        }
    }
}

pub(super) fn time(hour: u8, minute: u8) -> Vec<Word> {
    let hour12 = match hour % 12 {
        0 => 12,
        h => h,
    };
    let mut out = vec![Word::Small(hour12)];
    match minute {
        0 => {}
        1..=9 => {
            out.push(Word::Oh);
            out.push(Word::Small(minute));
        }
        _ => push_below_hundred(minute, &mut out),
    }
    out.push(if hour < 12 { Word::Am } else { Word::Pm });
    out
}
