//! The rules of the module docs, value by value. Expected results are
//! written as text (一万零一十, "one hundred one"), and the helpers turn
//! prompt names back into that text through their own tables, so a name
//! the code gets wrong shows up as a wrong or unknown word.

use std::collections::BTreeSet;

use super::*;

/// Prompt names to Chinese characters, e.g. "zh/num/1" → "一".
fn zh_text(names: &[String]) -> String {
    names
        .iter()
        .map(|n| {
            let word = n.strip_prefix("zh/num/").unwrap_or("?");
            match word {
                "0" => "零",
                "1" => "一",
                "2" => "二",
                "3" => "三",
                "4" => "四",
                "5" => "五",
                "6" => "六",
                "7" => "七",
                "8" => "八",
                "9" => "九",
                "yao" => "幺",
                "liang" => "两",
                "shi" => "十",
                "bai" => "百",
                "qian" => "千",
                "wan" => "万",
                "yi4" => "亿",
                "fu" => "负",
                "yuan" => "元",
                "jiao" => "角",
                "fen" => "分",
                "meiyuan" => "美元",
                "meifen" => "美分",
                "nian" => "年",
                "yue" => "月",
                "ri" => "日",
                "dian" => "点",
                "lingchen" => "凌晨",
                "shangwu" => "上午",
                "zhongwu" => "中午",
                "xiawu" => "下午",
                "wanshang" => "晚上",
                other => panic!("unknown zh fragment {other:?} in {names:?}"),
            }
        })
        .collect()
}

const EN_SMALL: [&str; 20] = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
];
const EN_TENS: [&str; 10] = [
    "", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
];

/// Prompt names to English words joined by spaces.
fn en_text(names: &[String]) -> String {
    let words: Vec<String> = names
        .iter()
        .map(|n| {
            let word = n.strip_prefix("en/num/").unwrap_or("?");
            if let Some(m) = word.strip_prefix("month/") {
                return format!("month{m}");
            }
            if let Some(d) = word.strip_prefix("ord/") {
                return format!("ord{d}");
            }
            match word.parse::<usize>() {
                Ok(v) if v < 20 => EN_SMALL[v].to_owned(),
                Ok(v) if v % 10 == 0 && v < 100 => EN_TENS[v / 10].to_owned(),
                Ok(_) => panic!("unknown en fragment {word:?} in {names:?}"),
                Err(_) => match word {
                    "am" => "a_m".to_owned(),
                    "pm" => "p_m".to_owned(),
                    "hundred" | "thousand" | "million" | "billion" | "minus" | "oh" | "and"
                    | "yuan" | "fen" | "dollar" | "dollars" | "cent" | "cents" => word.to_owned(),
                    other => panic!("unknown en fragment {other:?} in {names:?}"),
                },
            }
        })
        .collect();
    words.join(" ")
}

fn zh(n: i64) -> String {
    match say_number(Lang::Zh, n) {
        Ok(names) => zh_text(&names),
        Err(e) => panic!("{n}: {e}"),
    }
}

fn en(n: i64) -> String {
    match say_number(Lang::En, n) {
        Ok(names) => en_text(&names),
        Err(e) => panic!("{n}: {e}"),
    }
}

fn zh_amount(v: &str, cur: &str) -> String {
    match say_amount(Lang::Zh, v, cur) {
        Ok(names) => zh_text(&names),
        Err(e) => panic!("{v}: {e}"),
    }
}

fn en_amount(v: &str, cur: &str) -> String {
    match say_amount(Lang::En, v, cur) {
        Ok(names) => en_text(&names),
        Err(e) => panic!("{v}: {e}"),
    }
}

#[test]
fn the_example_of_the_docs() {
    assert_eq!(
        say_number(Lang::Zh, 128),
        Ok(vec![
            "zh/num/1".to_owned(),
            "zh/num/bai".to_owned(),
            "zh/num/2".to_owned(),
            "zh/num/shi".to_owned(),
            "zh/num/8".to_owned(),
        ])
    );
}

#[test]
fn zh_numbers() {
    let table: &[(i64, &str)] = &[
        (0, "零"),
        (1, "一"),
        (2, "二"),
        (10, "十"),
        (11, "十一"),
        (12, "十二"),
        (20, "二十"),
        (22, "二十二"),
        (99, "九十九"),
        (101, "一百零一"),
        (110, "一百一十"),
        (111, "一百一十一"),
        (128, "一百二十八"),
        (200, "两百"),
        (222, "两百二十二"),
        (1001, "一千零一"),
        (1010, "一千零一十"),
        (1100, "一千一百"),
        (1200, "一千二百"),
        (2000, "两千"),
        (2200, "两千二百"),
        (9999, "九千九百九十九"),
        (10000, "一万"),
        (10010, "一万零一十"),
        (10100, "一万零一百"),
        (12000, "一万两千"),
        (20000, "两万"),
        (22000, "两万两千"),
        (100000, "十万"),
        (101000, "十万一千"),
        (110000, "十一万"),
        (120000, "十二万"),
        (200000, "二十万"),
        (1000100, "一百万零一百"),
        (1001000, "一百万一千"),
        (10000000, "一千万"),
        (100000000, "一亿"),
        (100001000, "一亿零一千"),
        (100100000, "一亿零一十万"),
        (110000000, "一亿一千万"),
        (200000000, "两亿"),
        (200020000, "两亿零两万"),
        (1000000000, "十亿"),
        (2000000008, "二十亿零八"),
        (100000000000, "一千亿"),
        (100000000001, "一千亿零一"),
        (MAX_NUMBER, "九千九百九十九亿九千九百九十九万九千九百九十九"),
        (-1, "负一"),
        (-10, "负十"),
        (-2000, "负两千"),
        (
            -MAX_NUMBER,
            "负九千九百九十九亿九千九百九十九万九千九百九十九",
        ),
    ];
    for &(n, want) in table {
        assert_eq!(zh(n), want, "{n}");
    }
}

#[test]
fn en_numbers() {
    let table: &[(i64, &str)] = &[
        (0, "zero"),
        (7, "seven"),
        (10, "ten"),
        (11, "eleven"),
        (12, "twelve"),
        (19, "nineteen"),
        (20, "twenty"),
        (22, "twenty two"),
        (99, "ninety nine"),
        (100, "one hundred"),
        (101, "one hundred one"),
        (110, "one hundred ten"),
        (128, "one hundred twenty eight"),
        (200, "two hundred"),
        (1001, "one thousand one"),
        (2000, "two thousand"),
        (10010, "ten thousand ten"),
        (20000, "twenty thousand"),
        (100000, "one hundred thousand"),
        (1000000, "one million"),
        (1000100, "one million one hundred"),
        (200000000, "two hundred million"),
        (2000000008, "two billion eight"),
        (
            MAX_NUMBER,
            "nine hundred ninety nine billion nine hundred ninety nine million \
             nine hundred ninety nine thousand nine hundred ninety nine",
        ),
        (-1, "minus one"),
        (-101, "minus one hundred one"),
    ];
    for &(n, want) in table {
        assert_eq!(en(n), want, "{n}");
    }
}

#[test]
fn numbers_beyond_the_range_are_refused() {
    for lang in [Lang::Zh, Lang::En] {
        for n in [
            MAX_NUMBER + 1,
            1_000_000_000_000,
            -1_000_000_000_000,
            i64::MAX,
            i64::MIN,
        ] {
            assert_eq!(
                say_number(lang, n),
                Err(SayError::OutOfRange {
                    value: n.to_string()
                }),
                "{lang} {n}"
            );
        }
    }
}

#[test]
fn zh_amounts() {
    let table: &[(&str, &str, &str)] = &[
        ("128.50", "CNY", "一百二十八元五角"),
        ("128.5", "CNY", "一百二十八元五角"),
        ("128.55", "", "一百二十八元五角五分"),
        ("0.05", "CNY", "五分"),
        ("0.50", "CNY", "五角"),
        ("0.55", "CNY", "五角五分"),
        ("0.22", "CNY", "两角两分"),
        ("0", "CNY", "零元"),
        ("0.00", "CNY", "零元"),
        ("-0.00", "CNY", "零元"),
        ("1.5", "CNY", "一元五角"),
        ("2", "CNY", "两元"),
        ("2.00", "CNY", "两元"),
        ("12.00", "CNY", "十二元"),
        ("22.00", "CNY", "二十二元"),
        ("200", "CNY", "两百元"),
        ("10.05", "CNY", "十元零五分"),
        ("100.05", "CNY", "一百元零五分"),
        ("100.50", "CNY", "一百元五角"),
        ("007.10", "cny", "七元一角"),
        ("-12.30", "CNY", "负十二元三角"),
        ("-0.05", "CNY", "负五分"),
        (
            "999999999999.99",
            "CNY",
            "九千九百九十九亿九千九百九十九万九千九百九十九元九角九分",
        ),
        ("3.25", "USD", "三美元二十五美分"),
        ("2.02", "USD", "两美元两美分"),
        ("0.10", "usd", "十美分"),
        ("100.05", "USD", "一百美元五美分"),
        ("0", "USD", "零美元"),
    ];
    for &(v, cur, want) in table {
        assert_eq!(zh_amount(v, cur), want, "{v} {cur}");
    }
}

#[test]
fn en_amounts() {
    let table: &[(&str, &str, &str)] = &[
        (
            "128.50",
            "CNY",
            "one hundred twenty eight yuan and fifty fen",
        ),
        ("128.50", "", "one hundred twenty eight yuan and fifty fen"),
        ("0.05", "CNY", "five fen"),
        ("1", "CNY", "one yuan"),
        ("2.00", "CNY", "two yuan"),
        ("1.5", "CNY", "one yuan and fifty fen"),
        ("0", "CNY", "zero yuan"),
        (
            "128.50",
            "USD",
            "one hundred twenty eight dollars and fifty cents",
        ),
        ("1.01", "USD", "one dollar and one cent"),
        ("1.00", "USD", "one dollar"),
        ("0.01", "USD", "one cent"),
        ("0.99", "USD", "ninety nine cents"),
        ("0", "USD", "zero dollars"),
        ("-3.20", "USD", "minus three dollars and twenty cents"),
        ("2000000008", "USD", "two billion eight dollars"),
    ];
    for &(v, cur, want) in table {
        assert_eq!(en_amount(v, cur), want, "{v} {cur}");
    }
}

#[test]
fn malformed_amounts_are_refused() {
    let not_amount = [
        "abc", "", "-", ".", "1.", ".5", "-.5", "1.2.3", "1,000.00", " 1", "1 ", "+1", "1e3",
        "--1", "1.-5", "١٢", "0x10", "1.5a",
    ];
    for lang in [Lang::Zh, Lang::En] {
        for v in not_amount {
            assert_eq!(
                say_amount(lang, v, "CNY"),
                Err(SayError::NotAnAmount { text: v.to_owned() }),
                "{v:?}"
            );
        }
        for v in ["1.505", "1.500", "0.001"] {
            assert_eq!(
                say_amount(lang, v, "CNY"),
                Err(SayError::TooManyDecimals { text: v.to_owned() }),
                "{v:?}"
            );
        }
        for v in [
            "1000000000000",
            "-1000000000000.00",
            "99999999999999999999999999",
        ] {
            assert_eq!(
                say_amount(lang, v, "CNY"),
                Err(SayError::OutOfRange {
                    value: v.to_owned()
                }),
                "{v:?}"
            );
        }
        for cur in ["EUR", "RMB", "yuan", " CNY"] {
            assert_eq!(
                say_amount(lang, "1", cur),
                Err(SayError::UnknownCurrency {
                    code: cur.to_owned()
                })
            );
        }
    }
}

#[test]
fn digit_strings() {
    let zh = |s| say_digits(Lang::Zh, s).map(|n| zh_text(&n));
    let en = |s| say_digits(Lang::En, s).map(|n| en_text(&n));
    assert_eq!(zh("13800138000"), Ok("幺三八零零幺三八零零零".to_owned()));
    assert_eq!(zh("0123456789"), Ok("零幺二三四五六七八九".to_owned()));
    assert_eq!(
        en("0123456789"),
        Ok("zero one two three four five six seven eight nine".to_owned())
    );
    assert_eq!(zh(""), Err(SayError::NoDigits));
    assert_eq!(
        en("138-0013"),
        Err(SayError::NotADigit {
            text: "138-0013".to_owned(),
            index: 3,
            found: '-'
        })
    );
    assert_eq!(
        zh("12３"),
        Err(SayError::NotADigit {
            text: "12３".to_owned(),
            index: 2,
            found: '３'
        })
    );
}

#[test]
fn dates() {
    let zh = |y, m, d, with| say_date(Lang::Zh, y, m, d, with).map(|n| zh_text(&n));
    let en = |y, m, d, with| say_date(Lang::En, y, m, d, with).map(|n| en_text(&n));
    let ok = |s: &str| Ok(s.to_owned());
    assert_eq!(zh(2026, 11, 15, true), ok("二零二六年十一月十五日"));
    assert_eq!(zh(2026, 11, 15, false), ok("十一月十五日"));
    assert_eq!(zh(2000, 2, 2, true), ok("二零零零年二月二日"));
    assert_eq!(zh(2011, 10, 20, true), ok("二零一一年十月二十日"));
    assert_eq!(zh(2024, 2, 29, false), ok("二月二十九日"));
    assert_eq!(
        en(2026, 11, 15, true),
        ok("month11 ord15 twenty twenty six")
    );
    assert_eq!(en(2026, 11, 15, false), ok("month11 ord15"));
    assert_eq!(
        en(1999, 1, 31, true),
        ok("month1 ord31 nineteen ninety nine")
    );
    assert_eq!(en(1905, 3, 1, true), ok("month3 ord1 nineteen oh five"));
    assert_eq!(en(1900, 3, 1, true), ok("month3 ord1 nineteen hundred"));
    assert_eq!(en(2000, 3, 1, true), ok("month3 ord1 two thousand"));
    assert_eq!(en(2009, 3, 1, true), ok("month3 ord1 two thousand nine"));
    assert_eq!(en(2010, 3, 1, true), ok("month3 ord1 twenty ten"));
    assert_eq!(en(2100, 3, 1, true), ok("month3 ord1 twenty one hundred"));
    assert_eq!(en(1066, 10, 14, true), ok("month10 ord14 ten sixty six"));
    assert_eq!(en(1001, 1, 1, true), ok("month1 ord1 one thousand one"));
    assert_eq!(
        en(476, 9, 4, true),
        ok("month9 ord4 four hundred seventy six")
    );
    assert_eq!(en(7, 9, 4, true), ok("month9 ord4 seven"));
    for (y, m, d) in [
        (2026, 2, 29),
        (1900, 2, 29),
        (2026, 4, 31),
        (2026, 13, 1),
        (2026, 0, 1),
        (2026, 1, 0),
        (2026, 1, 32),
        (0, 1, 1),
        (-5, 1, 1),
        (10000, 1, 1),
    ] {
        for lang in [Lang::Zh, Lang::En] {
            for with_year in [true, false] {
                assert_eq!(
                    say_date(lang, y, m, d, with_year),
                    Err(SayError::BadDate {
                        year: y,
                        month: m,
                        day: d
                    })
                );
            }
        }
    }
    assert!(say_date(Lang::Zh, 2000, 2, 29, true).is_ok());
}

#[test]
fn times() {
    let zh = |h, m| say_time(Lang::Zh, h, m).map(|n| zh_text(&n));
    let en = |h, m| say_time(Lang::En, h, m).map(|n| en_text(&n));
    let ok = |s: &str| Ok(s.to_owned());
    assert_eq!(zh(15, 5), ok("下午三点零五分"));
    assert_eq!(zh(12, 0), ok("中午十二点"));
    assert_eq!(zh(0, 30), ok("凌晨零点三十分"));
    assert_eq!(zh(0, 0), ok("凌晨零点"));
    assert_eq!(zh(2, 2), ok("凌晨两点零二分"));
    assert_eq!(zh(5, 59), ok("凌晨五点五十九分"));
    assert_eq!(zh(6, 10), ok("上午六点十分"));
    assert_eq!(zh(11, 45), ok("上午十一点四十五分"));
    assert_eq!(zh(12, 20), ok("中午十二点二十分"));
    assert_eq!(zh(14, 0), ok("下午两点"));
    assert_eq!(zh(17, 59), ok("下午五点五十九分"));
    assert_eq!(zh(18, 0), ok("晚上六点"));
    assert_eq!(zh(22, 22), ok("晚上十点二十二分"));
    assert_eq!(zh(23, 59), ok("晚上十一点五十九分"));
    assert_eq!(en(15, 5), ok("three oh five p_m"));
    assert_eq!(en(15, 0), ok("three p_m"));
    assert_eq!(en(0, 0), ok("twelve a_m"));
    assert_eq!(en(0, 30), ok("twelve thirty a_m"));
    assert_eq!(en(11, 59), ok("eleven fifty nine a_m"));
    assert_eq!(en(12, 0), ok("twelve p_m"));
    assert_eq!(en(12, 15), ok("twelve fifteen p_m"));
    assert_eq!(en(23, 10), ok("eleven ten p_m"));
    for (h, m) in [(24, 0), (12, 60), (255, 255)] {
        for lang in [Lang::Zh, Lang::En] {
            assert_eq!(
                say_time(lang, h, m),
                Err(SayError::BadTime { hour: h, minute: m })
            );
        }
    }
}

#[test]
fn languages_by_code() {
    assert_eq!("zh".parse(), Ok(Lang::Zh));
    assert_eq!("EN".parse(), Ok(Lang::En));
    assert_eq!(
        "fr".parse::<Lang>(),
        Err(SayError::UnknownLang("fr".to_owned()))
    );
    assert_eq!(
        "zh-CN".parse::<Lang>(),
        Err(SayError::UnknownLang("zh-CN".to_owned()))
    );
    for lang in [Lang::Zh, Lang::En] {
        assert_eq!(lang.code().parse(), Ok(lang));
    }
}

/// Every value of every table above, and a sweep of the space besides.
fn every_output(lang: Lang) -> Vec<Vec<String>> {
    let mut outs = Vec::new();
    let mut numbers: Vec<i64> = (-1000..=21000).collect();
    numbers.extend([
        100000,
        101000,
        1000100,
        1001000,
        100001000,
        200000000,
        2000000008,
        MAX_NUMBER,
        -MAX_NUMBER,
    ]);
    // Every digit in every place, so each unit word is reached.
    let mut p = 1;
    while p <= MAX_NUMBER {
        for d in 1..=9 {
            numbers.push(d * p);
        }
        p *= 10;
    }
    for n in numbers {
        outs.extend(say_number(lang, n));
    }
    for cur in ["CNY", "USD"] {
        for whole in ["0", "1", "2", "10", "128", "-7"] {
            for cents in 0..100 {
                outs.extend(say_amount(lang, &format!("{whole}.{cents:02}"), cur));
            }
        }
    }
    outs.extend(say_digits(lang, "0123456789"));
    for m in 1..=12 {
        for d in 1..=31 {
            outs.extend(say_date(lang, 2024, m, d, true));
        }
    }
    for y in 1..=9999 {
        outs.extend(say_date(lang, y, 1, 1, true));
    }
    for h in 0..24 {
        for m in 0..60 {
            outs.extend(say_time(lang, h, m));
        }
    }
    outs
}

#[test]
fn every_name_said_is_a_listed_fragment_and_every_fragment_is_said() {
    for lang in [Lang::Zh, Lang::En] {
        let listed = fragments(lang);
        let set: BTreeSet<&String> = listed.iter().collect();
        assert_eq!(
            set.len(),
            listed.len(),
            "{lang}: a fragment is listed twice"
        );
        let prefix = format!("{lang}/num/");
        assert!(listed.iter().all(|n| n.starts_with(&prefix)));
        let mut said = BTreeSet::new();
        for out in every_output(lang) {
            assert!(!out.is_empty());
            for name in out {
                assert!(set.contains(&name), "{lang}: {name} is not in fragments()");
                said.insert(name);
            }
        }
        let unsaid: Vec<_> = set.iter().filter(|n| !said.contains(**n)).collect();
        assert!(unsaid.is_empty(), "{lang}: never said: {unsaid:?}");
    }
}
