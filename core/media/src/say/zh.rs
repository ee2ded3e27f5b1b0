//! Mandarin: the rules are in the parent module's docs.

use super::{Amount, Currency};

/// One Mandarin fragment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Word {
    /// 零 to 九.
    Digit(u8),
    /// 幺, 1 in a digit string.
    Yao,
    /// 两, 2 before a unit.
    Liang,
    /// 十.
    Shi,
    /// 百.
    Bai,
    /// 千.
    Qian,
    /// 万.
    Wan,
    /// 亿.
    Yi,
    /// 负, minus.
    Fu,
    /// 元.
    Yuan,
    /// 角.
    Jiao,
    /// 分, of money and of the clock alike.
    Fen,
    /// 美元.
    MeiYuan,
    /// 美分.
    MeiFen,
    /// 年.
    Nian,
    /// 月.
    Yue,
    /// 日.
    Ri,
    /// 点, the hour.
    Dian,
    /// 凌晨, 0-5 h.
    LingChen,
    /// 上午, 6-11 h.
    ShangWu,
    /// 中午, 12 h.
    ZhongWu,
    /// 下午, 13-17 h.
    XiaWu,
    /// 晚上, 18-23 h.
    WanShang,
}

impl Word {
    /// Every fragment, in the order `make.sh` records them.
    pub(super) fn all() -> Vec<Word> {
        use Word::*;
        let mut all: Vec<Word> = (0..=9).map(Digit).collect();
        all.extend([
            Yao, Liang, Shi, Bai, Qian, Wan, Yi, Fu, Yuan, Jiao, Fen, MeiYuan, MeiFen, Nian, Yue,
            Ri, Dian, LingChen, ShangWu, ZhongWu, XiaWu, WanShang,
        ]);
        all
    }

    /// The file name under `zh/num/`: the digit, or the pinyin without
    /// tones, except 亿 ("yi4"), which would otherwise read as 一.
    fn name(self) -> String {
        use Word::*;
        let s = match self {
            Digit(d) => return d.to_string(),
            Yao => "yao",
            Liang => "liang",
            Shi => "shi",
            Bai => "bai",
            Qian => "qian",
            Wan => "wan",
            Yi => "yi4",
            Fu => "fu",
            Yuan => "yuan",
            Jiao => "jiao",
            Fen => "fen",
            MeiYuan => "meiyuan",
            MeiFen => "meifen",
            Nian => "nian",
            Yue => "yue",
            Ri => "ri",
            Dian => "dian",
            LingChen => "lingchen",
            ShangWu => "shangwu",
            ZhongWu => "zhongwu",
            XiaWu => "xiawu",
            WanShang => "wanshang",
        };
        s.to_owned()
    }
}

pub(super) fn names(words: &[Word]) -> Vec<String> {
    words
        .iter()
        .map(|w| format!("zh/num/{}", w.name()))
        .collect()
}

/// `n` is within ±MAX_NUMBER (checked by the caller).
pub(super) fn number(n: i64) -> Vec<Word> {
    let mut out = Vec::new();
    if n < 0 {
        out.push(Word::Fu);
    }
    push_number(n.unsigned_abs(), &mut out);
    out
}

/// A count said before a measure word (元, 角, 点...): 2 is 两 there.
fn count(n: u64, out: &mut Vec<Word>) {
    if n == 2 {
        out.push(Word::Liang);
    } else {
        push_number(n, out);
    }
}

/// Reads `n` < 10^12 in groups of four digits: 亿, 万, and the units.
fn push_number(n: u64, out: &mut Vec<Word>) {
    if n == 0 {
        out.push(Word::Digit(0));
        return;
    }
    let groups = [
        (n / 100_000_000, Some(Word::Yi)),
        (n / 10_000 % 10_000, Some(Word::Wan)),
        (n % 10_000, None),
    ];
    let mut reader = Reader::default();
    for (value, unit) in groups {
        reader.group(value, unit, out);
    }
}

/// The state carried across the groups of one number.
#[derive(Default)]
struct Reader {
    /// A digit has been said.
    started: bool,
    /// Zeros were skipped since the last digit said: a 零 is owed if
    /// another digit follows.
    zeros: bool,
}

impl Reader {
    /// One group of four digits (0-9999) and its unit (亿, 万 or none).
    fn group(&mut self, value: u64, unit: Option<Word>, out: &mut Vec<Word>) {
        if value == 0 {
            // A whole group of zeros: one 零 before whatever follows.
            self.zeros |= self.started;
            return;
        }
        let places = [
            (value / 1000, Some(Word::Qian)),
            (value / 100 % 10, Some(Word::Bai)),
            (value / 10 % 10, Some(Word::Shi)),
            (value % 10, None),
        ];
        let mut head = true;
        for (digit, place) in places {
            // Every value here is one decimal digit.
            let digit = digit as u8;
            if digit == 0 {
                self.zeros |= self.started;
                continue;
            }
            if self.zeros {
                out.push(Word::Digit(0));
                self.zeros = false;
            }
            let unit_follows =
                place.is_some_and(|p| p != Word::Shi) || (place.is_none() && unit.is_some());
            match (digit, place) {
                // 十, 十一, 十万: no 一 before a 十 that opens the number.
                (1, Some(Word::Shi)) if !self.started => {}
                (2, _) if head && unit_follows => out.push(Word::Liang),
                _ => out.push(Word::Digit(digit)),
            }
            out.extend(place);
            head = false;
            self.started = true;
        }
        out.extend(unit);
        // Zeros that end a group are not read (1001000 一百万一千).
        self.zeros = false;
    }
}

pub(super) fn amount(a: Amount, currency: Currency) -> Vec<Word> {
    let mut out = Vec::new();
    if a.negative {
        out.push(Word::Fu);
    }
    let whole = a.whole;
    match currency {
        Currency::Cny => {
            let (jiao, fen) = (u64::from(a.cents / 10), u64::from(a.cents % 10));
            if whole > 0 || a.cents == 0 {
                count(whole, &mut out);
                out.push(Word::Yuan);
            }
            if jiao > 0 {
                count(jiao, &mut out);
                out.push(Word::Jiao);
            }
            if fen > 0 {
                // 十元零五分: the 零 stands for the 角 skipped.
                if jiao == 0 && whole > 0 {
                    out.push(Word::Digit(0));
                }
                count(fen, &mut out);
                out.push(Word::Fen);
            }
        }
        Currency::Usd => {
            if whole > 0 || a.cents == 0 {
                count(whole, &mut out);
                out.push(Word::MeiYuan);
            }
            if a.cents > 0 {
                count(u64::from(a.cents), &mut out);
                out.push(Word::MeiFen);
            }
        }
    }
    out
}

pub(super) fn digits(digits: &[u8]) -> Vec<Word> {
    digits
        .iter()
        .map(|&d| if d == 1 { Word::Yao } else { Word::Digit(d) })
        .collect()
}

pub(super) fn date(year: Option<i32>, month: u8, day: u8) -> Vec<Word> {
    let mut out = Vec::new();
    if let Some(y) = year {
        // 二零二六: digit by digit, 一 (not 幺) and 二 (not 两).
        out.extend(y.to_string().bytes().map(|b| Word::Digit(b - b'0')));
        out.push(Word::Nian);
    }
    push_number(u64::from(month), &mut out);
    out.push(Word::Yue);
    push_number(u64::from(day), &mut out);
    out.push(Word::Ri);
    out
}

pub(super) fn time(hour: u8, minute: u8) -> Vec<Word> {
    let (period, hour12) = match hour {
        0..=5 => (Word::LingChen, hour),
        6..=11 => (Word::ShangWu, hour),
        12 => (Word::ZhongWu, hour),
        13..=17 => (Word::XiaWu, hour - 12),
        _ => (Word::WanShang, hour - 12),
    };
    let mut out = vec![period];
    count(u64::from(hour12), &mut out);
    out.push(Word::Dian);
    if minute > 0 {
        if minute < 10 {
            out.push(Word::Digit(0));
        }
        push_number(u64::from(minute), &mut out);
        out.push(Word::Fen);
    }
    out
}
