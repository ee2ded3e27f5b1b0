//! The rule scripts the repository ships (`<repo>/scripts`), loaded through
//! the host exactly as the switch loads them, and held to the rules of
//! DOMAIN.md: every segment's dial mode, every outcome's retry time, the
//! seven-attempt cap and the rest hours, every retention rule, every
//! blacklist rule (do-not-call list and number normalisation included), and
//! the shape of both agent scripts.
//!
//! Times are fixed instants given in Shanghai time with contacts whose
//! `timezone` is "Asia/Shanghai", which the scripts convert with a fixed
//! offset: the results do not depend on the TZ of the machine running the
//! tests. Where the scripts fall back to the switch's local time (no
//! timezone, manual dials), the tests assert only what holds in any TZ.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use waihu_script::{
    AgentScript, Contact, Customer, DialMode, HostConfig, ModeChoice, Offer, Outcome, ScriptHost,
    Services, Verdict, Version,
};

/// The one number on the test do-not-call list (national form).
const DNC_NUMBER: &str = "13900000000";

struct OneNumberDnc;

impl Services for OneNumberDnc {
    fn dnc_contains(&self, number: &str) -> bool {
        number == DNC_NUMBER
    }
}

fn version() -> Arc<Version> {
    static HOST: OnceLock<ScriptHost> = OnceLock::new();
    HOST.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts");
        let config = HostConfig {
            dir,
            ..HostConfig::default()
        };
        ScriptHost::load(config, Arc::new(OneNumberDnc))
            .unwrap_or_else(|e| panic!("the shipped scripts load: {e}"))
    })
    .current()
}

const SH: &str = "Asia/Shanghai";
const MIN: i64 = 60;
const HOUR: i64 = 3600;
const DAY: i64 = 86_400;
/// 2024-06-12 00:00 Shanghai time (a Wednesday), 2024-06-11 16:00 UTC.
const WED: i64 = 1_718_121_600;

/// Wednesday `h:m` in Shanghai.
fn sh(h: i64, m: i64) -> i64 {
    WED + h * HOUR + m * MIN
}

/// The Shanghai hour of a unix time.
fn sh_hour(t: i64) -> i64 {
    (t + 8 * HOUR).rem_euclid(DAY) / HOUR
}

fn fields(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// A contact in Shanghai with these list columns.
fn contact(pairs: &[(&str, &str)]) -> Contact {
    Contact {
        id: 1,
        phone: "+8613800138000".into(),
        timezone: Some(SH.into()),
        attempts: 0,
        last_agent: None,
        fields: fields(pairs),
    }
}

#[test]
fn loads_every_file_without_warnings() {
    let v = version();
    let info = v.info();
    for file in [
        "agent/haoyun.lua",
        "agent/haoyun_en.lua",
        "blacklist.lua",
        "lib/hours.lua",
        "lib/phone.lua",
        "retention.lua",
        "segments.lua",
    ] {
        assert!(
            info.files.iter().any(|f| f == file),
            "{file} missing from {:?}",
            info.files
        );
    }
    assert_eq!(info.agent_scripts, ["haoyun", "haoyun_en"]);
    // A warning would mean an undefined hook or an unreachable node.
    assert!(info.warnings.is_empty(), "{:?}", info.warnings);
}

// ---- campaign.select_mode -------------------------------------------------

/// List columns, `contact.last_agent`, and the expected mode, priority, agent.
type SegmentRow<'a> = (
    &'a [(&'a str, &'a str)],
    Option<&'a str>,
    DialMode,
    i64,
    Option<String>,
);

#[test]
fn select_mode_follows_the_segments_of_domain_md() {
    use DialMode::*;
    let v = version();
    let some = |a: &str| Some(a.to_owned());
    #[rustfmt::skip]
    let table: &[SegmentRow] = &[
        // prospects: predictive, wide net, lowest priority
        (&[("segment", "prospect")], None, Predictive, 10, None),
        (&[("segment", " Prospect ")], None, Predictive, 10, None),
        (&[("segment", "潜在客户")], None, Predictive, 10, None),
        // new customers inactive about six months: predictive with the pitch
        (&[("segment", "new"), ("inactive_days", "180")], None, Predictive, 40, None),
        (&[("segment", "new"), ("inactive_days", "150")], None, Predictive, 40, None),
        (&[("segment", "新客户"), ("inactive_days", "400")], Some("1001"), Predictive, 40, None),
        // recently inactive: preview, routed to the last agent when known
        (&[("segment", "new"), ("inactive_days", "149"), ("last_agent", "1002")], None, Preview, 60, some("1002")),
        (&[("segment", "new"), ("inactive_days", "30"), ("last_agent", "1002")], Some("1001"), Preview, 60, some("1001")),
        (&[("segment", "new"), ("inactive_days", "30")], None, Preview, 60, None),
        (&[("segment", "new"), ("inactive_days", "20")], Some("1001"), Preview, 60, some("1001")),
        // still active, or activity unknown: the safe default
        (&[("segment", "new"), ("inactive_days", "5")], Some("1001"), Progressive, 20, None),
        (&[("segment", "new")], None, Progressive, 20, None),
        (&[("segment", "new"), ("inactive_days", "soon")], None, Progressive, 20, None),
        // loyal and VIP: one by one, after studying the record
        (&[("segment", "loyal")], Some("1001"), Preview, 80, some("1001")),
        (&[("segment", "忠诚客户"), ("vip", "false")], None, Preview, 80, None),
        (&[("segment", "vip")], Some("1003"), Preview, 100, some("1003")),
        (&[("segment", "prospect"), ("vip", "true")], None, Preview, 100, None),
        (&[("segment", "vip"), ("vip_manual", "true")], Some("1003"), Manual, 100, some("1003")),
        // unknown segment
        (&[], None, Progressive, 20, None),
        (&[("segment", "student")], None, Progressive, 20, None),
    ];
    let mut top = i64::MIN;
    for (pairs, last_agent, mode, priority, agent) in table {
        let mut c = contact(pairs);
        c.last_agent = last_agent.map(str::to_owned);
        let got = v
            .select_mode(&c)
            .unwrap_or_else(|e| panic!("{pairs:?}: {e}"));
        assert_eq!(
            got,
            ModeChoice {
                mode: *mode,
                priority: *priority,
                agent: agent.clone()
            },
            "{pairs:?}"
        );
        top = top.max(got.priority);
    }
    let vip = v.select_mode(&contact(&[("segment", "vip")])).expect("vip");
    assert_eq!(vip.priority, top, "a VIP has the highest priority");
}

// ---- campaign.next_attempt ------------------------------------------------

/// Every outcome that is retried.
const RETRIED: [Outcome; 8] = [
    Outcome::Busy,
    Outcome::NoAnswer,
    Outcome::Machine,
    Outcome::Abandoned,
    Outcome::Failed,
    Outcome::Unreachable,
    Outcome::Likely,
    Outcome::Interested,
];

#[test]
fn next_attempt_spacing_per_outcome() {
    use Outcome::*;
    let v = version();
    let c = contact(&[]);
    let tomorrow = |h, m| sh(h, m) + DAY;
    #[rustfmt::skip]
    let table: &[(Outcome, i64, Option<i64>)] = &[
        (Busy, sh(10, 0), Some(sh(10, 10))),
        (NoAnswer, sh(10, 0), Some(sh(12, 0))),
        (Machine, sh(10, 0), Some(sh(14, 0))),
        (Abandoned, sh(10, 0), Some(sh(10, 30))),
        (Failed, sh(10, 0), Some(sh(10, 15))),
        (Unreachable, sh(10, 0), Some(tomorrow(10, 0))),
        (Unreachable, sh(15, 30), Some(tomorrow(15, 30))),
        // the hopeful ones: the next day at 10:00, whatever the hour now
        (Likely, sh(10, 0), Some(tomorrow(10, 0))),
        (Likely, sh(20, 30), Some(tomorrow(10, 0))),
        (Interested, sh(9, 5), Some(tomorrow(10, 0))),
        // never again
        (Success, sh(10, 0), None),
        (Declined, sh(10, 0), None),
        (InvalidNumber, sh(10, 0), None),
        (Blacklisted, sh(10, 0), None),
    ];
    for &(outcome, now, want) in table {
        let got = v
            .next_attempt(&c, outcome, 1, now)
            .unwrap_or_else(|e| panic!("{outcome}: {e}"));
        assert_eq!(got, want, "{outcome} at {}h", sh_hour(now));
    }
}

#[test]
fn next_attempt_skips_rest_hours() {
    use Outcome::*;
    let v = version();
    let c = contact(&[]);
    let tomorrow = |h, m| sh(h, m) + DAY;
    #[rustfmt::skip]
    let table: &[(Outcome, i64, i64)] = &[
        (Busy, sh(20, 49), sh(20, 59)),          // still before 21:00
        (Busy, sh(20, 55), tomorrow(9, 0)),      // 21:05 is rest
        (Machine, sh(17, 0), tomorrow(9, 0)),    // exactly 21:00 is rest
        (NoAnswer, sh(19, 30), tomorrow(9, 0)),
        (Failed, sh(8, 50), sh(9, 5)),           // 09:05 is open
        (Busy, sh(2, 0), sh(9, 0)),              // after midnight: the same morning
        (Unreachable, sh(22, 0), tomorrow(9, 0) + DAY),
    ];
    for &(outcome, now, want) in table {
        assert_eq!(
            v.next_attempt(&c, outcome, 1, now).expect("call"),
            Some(want),
            "{outcome}"
        );
    }
    // Every hour and half hour of the day, every retried outcome: the time
    // is later than now and inside 09:00-21:00 Shanghai time.
    for step in 0..48 {
        let now = WED + step * 30 * MIN;
        for outcome in RETRIED {
            let at = v
                .next_attempt(&c, outcome, 1, now)
                .expect("call")
                .expect("a retry");
            assert!(at > now, "{outcome} at {step}");
            assert!(
                (9..21).contains(&sh_hour(at)),
                "{outcome} from {now} lands at {}h",
                sh_hour(at)
            );
        }
    }
    // Another fixed-offset zone: 20:55 in Tokyo waits for 09:00 Tokyo time.
    let mut tokyo = contact(&[]);
    tokyo.timezone = Some("Asia/Tokyo".into());
    let tokyo_2055 = sh(19, 55);
    assert_eq!(
        v.next_attempt(&tokyo, Busy, 1, tokyo_2055).expect("call"),
        Some(tomorrow(8, 0))
    );
}

#[test]
fn next_attempt_without_timezone_uses_the_switch_clock_consistently() {
    // Without a timezone next_attempt uses the switch's local time,
    // whatever it is: a retry time is always one the blacklist accepts.
    let v = version();
    let mut c = contact(&[]);
    c.timezone = None;
    for step in 0..48 {
        let now = WED + step * 30 * MIN;
        for outcome in RETRIED {
            let at = v
                .next_attempt(&c, outcome, 1, now)
                .expect("call")
                .expect("a retry");
            assert!(at > now);
            assert_eq!(
                v.blacklist_check("13800138000", None, at).expect("call"),
                Verdict::Allow,
                "{outcome} {at}"
            );
        }
    }
}

#[test]
fn seven_times_rule_caps_attempts() {
    let v = version();
    let c = contact(&[]);
    let now = sh(10, 0);
    for outcome in RETRIED {
        assert!(
            v.next_attempt(&c, outcome, 6, now).expect("call").is_some(),
            "{outcome}: a 7th attempt"
        );
        assert_eq!(
            v.next_attempt(&c, outcome, 7, now).expect("call"),
            None,
            "{outcome}: no 8th attempt"
        );
        assert_eq!(
            v.next_attempt(&c, outcome, 8, now).expect("call"),
            None,
            "{outcome}"
        );
    }
    // A contact list may set its own cap.
    let three = contact(&[("max_attempts", "3")]);
    assert!(
        v.next_attempt(&three, Outcome::Busy, 2, now)
            .expect("call")
            .is_some()
    );
    assert_eq!(
        v.next_attempt(&three, Outcome::Busy, 3, now).expect("call"),
        None
    );
    let ten = contact(&[("max_attempts", "10")]);
    assert!(
        v.next_attempt(&ten, Outcome::Busy, 9, now)
            .expect("call")
            .is_some()
    );
    assert_eq!(
        v.next_attempt(&ten, Outcome::Busy, 10, now).expect("call"),
        None
    );
}

// ---- retention.offers -----------------------------------------------------

/// `(year, month, day)` of a day count since 1970-01-01 (proleptic
/// Gregorian), for expiry dates relative to today.
fn civil(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// The date `offset` days from today, `YYYY-MM-DD`. The script counts from
/// the switch's local date, so the tests keep a margin of several days from
/// every threshold.
fn date_in(offset: i64) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs();
    let today = i64::try_from(now).expect("seconds fit") / DAY;
    let (y, m, d) = civil(today + offset);
    format!("{y:04}-{m:02}-{d:02}")
}

fn customer(
    tenure_months: u32,
    monthly_spend: f64,
    churn_score: f64,
    broadband_expiry: Option<String>,
) -> Customer {
    Customer {
        id: 7,
        phone: "+8613800138000".into(),
        name: Some("王先生".into()),
        plan: None,
        tenure_months,
        monthly_spend,
        churn_score,
        broadband_expiry,
        fields: BTreeMap::new(),
    }
}

fn codes(offers: &[Offer]) -> Vec<&str> {
    offers.iter().map(|o| o.code.as_str()).collect()
}

#[test]
fn retention_offers_by_tenure_spend_churn_and_expiry() {
    let v = version();
    let soon = Some(date_in(30));
    #[rustfmt::skip]
    let table: &[(Customer, &[&str])] = &[
        // nothing fits: an average customer
        (customer(12, 80.0, 0.1, None), &[]),
        // broadband expiring within 60 days, or lapsed within 30 (seed 001)
        (customer(12, 80.0, 0.1, soon.clone()), &["BB_RENEW_12", "BB_RENEW_24"]),
        (customer(12, 80.0, 0.1, Some(date_in(55))), &["BB_RENEW_12", "BB_RENEW_24"]),
        (customer(12, 80.0, 0.1, Some(date_in(-10))), &["BB_RENEW_12", "BB_RENEW_24"]),
        (customer(12, 80.0, 0.8, soon.clone()), &["BB_RENEW_24", "BB_RENEW_12"]),
        (customer(12, 80.0, 0.1, Some(date_in(90))), &[]),
        (customer(12, 80.0, 0.1, Some(date_in(-45))), &[]),
        (customer(12, 80.0, 0.1, Some("2024-13-45".into())), &[]),
        (customer(12, 80.0, 0.1, Some("next spring".into())), &[]),
        // long tenure and high churn score: loyalty discount
        (customer(60, 100.0, 0.8, None), &["LOYALTY_15OFF"]),
        (customer(36, 100.0, 0.6, None), &["LOYALTY_15OFF"]),
        (customer(35, 100.0, 0.9, None), &[]),
        (customer(60, 100.0, 0.5, None), &[]),
        // high churn, low spend: bill credit (seed 002)
        (customer(12, 30.0, 0.7, None), &["BILL_CREDIT_30"]),
        (customer(12, 30.0, 0.5, None), &[]),
        (customer(12, 50.0, 0.9, None), &[]),
        // high spend: data upgrade
        (customer(12, 200.0, 0.1, None), &["DATA_20G"]),
        (customer(12, 149.0, 0.1, None), &[]),
        // several at once: renewal, then the churn offers, then the upsell
        (customer(48, 40.0, 0.9, Some(date_in(5))), &["BB_RENEW_24", "BB_RENEW_12", "LOYALTY_15OFF", "BILL_CREDIT_30"]),
        (customer(48, 200.0, 0.9, None), &["LOYALTY_15OFF", "DATA_20G"]),
    ];
    for (c, want) in table {
        let offers = v.offers(c).unwrap_or_else(|e| panic!("{c:?}: {e}"));
        assert_eq!(codes(&offers), *want, "{c:?}");
        for o in &offers {
            assert!(
                o.text
                    .chars()
                    .any(|ch| ('\u{4e00}'..='\u{9fff}').contains(&ch)),
                "Chinese text: {o:?}"
            );
            assert!(o.price >= 0.0, "{o:?}");
        }
    }
}

#[test]
fn retention_offer_terms() {
    let v = version();
    let expiry = date_in(20);
    let renew = v
        .offers(&customer(12, 80.0, 0.1, Some(expiry.clone())))
        .expect("offers");
    assert_eq!((renew[0].price, renew[1].price), (100.0, 90.0));
    assert!(
        renew[0].text.contains(&expiry) && renew[0].text.contains("将于"),
        "{}",
        renew[0].text
    );
    assert!(renew[0].text.contains("12个月") && renew[1].text.contains("24个月"));
    let lapsed = v
        .offers(&customer(12, 80.0, 0.1, Some(date_in(-5))))
        .expect("offers");
    assert!(lapsed[0].text.contains("已于"), "{}", lapsed[0].text);

    let loyal = v.offers(&customer(60, 100.0, 0.8, None)).expect("offers");
    assert_eq!(loyal[0].price, 85.0, "15% off the monthly spend");
    assert!(
        loyal[0].text.contains("在网5年") && loyal[0].text.contains("85元"),
        "{}",
        loyal[0].text
    );
    let credit = v.offers(&customer(12, 30.0, 0.7, None)).expect("offers");
    assert_eq!(credit[0].price, 0.0, "a credit costs the customer nothing");
    assert!(credit[0].text.contains("30元"), "{}", credit[0].text);
    let data = v.offers(&customer(12, 200.0, 0.1, None)).expect("offers");
    assert_eq!(data[0].price, 20.0);
}

// ---- blacklist.check ------------------------------------------------------

fn deny_reason(v: &Version, number: &str, contact: Option<&Contact>, now: i64) -> Option<String> {
    match v
        .blacklist_check(number, contact, now)
        .unwrap_or_else(|e| panic!("{number}: {e}"))
    {
        Verdict::Allow => None,
        Verdict::Deny(reason) => Some(reason),
    }
}

#[test]
fn blacklist_denies_by_rule() {
    let v = version();
    let c = contact(&[]);
    let noon = sh(12, 0);
    #[rustfmt::skip]
    let table: &[(&str, Option<&str>)] = &[
        // ordinary numbers, in any writing
        ("13800138000", None),
        ("+86 138-0013-8000", None),
        ("sip:13800138000@pbx.example", None),
        ("16612345678", None),               // a 16x mobile is not premium-rate
        ("0755-1234 5678", None),
        ("+86 755 1234 5678", None),
        ("62345678", None),                  // a local landline number
        // the do-not-call list, whatever the writing
        ("13900000000", Some("dnc")),
        ("+8613900000000", Some("dnc")),
        ("+86 139 0000 0000", Some("dnc")),
        ("0086-139-0000-0000", Some("dnc")),
        ("8613900000000", Some("dnc")),
        ("139-0000-0000", Some("dnc")),
        ("tel:+8613900000000", Some("dnc")),
        // marked malicious in the script
        ("17099990001", Some("malicious")),
        ("+86 170 9999 0001", Some("malicious")),
        // emergency, public, operator, value-added and premium-rate numbers
        ("110", Some("special number")),
        ("119", Some("special number")),
        ("120", Some("special number")),
        ("122", Some("special number")),
        ("112", Some("special number")),
        ("999", Some("special number")),
        ("12345", Some("special number")),
        ("12315", Some("special number")),
        ("12321", Some("special number")),
        ("10000", Some("special number")),
        ("10086", Some("special number")),
        ("10010", Some("special number")),
        ("1069012345678", Some("special number")),
        ("12580", Some("special number")),
        ("16812345", Some("special number")),
        ("95588", Some("special number")),
        ("96166", Some("special number")),
        ("123", Some("short code")),
        ("+44 20 7946 0000", Some("international number")),
        // not numbers
        ("", Some("malformed number")),
        ("+86", Some("malformed number")),
        ("1380013800x", Some("malformed number")),
    ];
    for &(number, want) in table {
        let got = deny_reason(&v, number, Some(&c), noon);
        match want {
            None => assert_eq!(got, None, "{number:?}"),
            Some(prefix) => assert!(
                got.as_deref().is_some_and(|r| r.starts_with(prefix)),
                "{number:?}: {got:?}"
            ),
        }
    }
    // The contact's own flag.
    let flagged = contact(&[("malicious", "true")]);
    assert_eq!(
        deny_reason(&v, "13800138000", Some(&flagged), noon).as_deref(),
        Some("malicious: flagged on the contact")
    );
    let cleared = contact(&[("malicious", "false")]);
    assert_eq!(deny_reason(&v, "13800138000", Some(&cleared), noon), None);
    // Manual dials (no contact) go through the same list.
    assert_eq!(
        deny_reason(&v, "+86 139 0000 0000", None, noon).as_deref(),
        Some("dnc")
    );
    assert!(deny_reason(&v, "110", None, noon).is_some_and(|r| r.starts_with("special number")));
}

#[test]
fn blacklist_leaves_rest_hours_to_the_calling_window() {
    // A blacklist denial is for good; rest hours only postpone a dial, so
    // they are the dial point's calling window's business, not this hook's.
    let v = version();
    let c = contact(&[]);
    for h in 0..24 {
        assert_eq!(
            deny_reason(&v, "13800138000", Some(&c), sh(h, 30)),
            None,
            "at {h}:30"
        );
        assert_eq!(
            deny_reason(&v, "13800138000", None, WED + h * HOUR + 30 * MIN),
            None
        );
    }
}

// ---- agent scripts ----------------------------------------------------------

/// The branches of haoyun (and, node for node, haoyun_en).
#[rustfmt::skip]
const BRANCHES: &[(&str, &[&str])] = &[
    ("greet", &["offer", "can_decide", "close_minor", "close_later"]),
    ("can_decide", &["offer", "close_not_holder"]),
    ("offer", &["confirm", "retain", "think_offer"]),
    ("retain", &["confirm", "close_declined", "think_offer"]),
    ("confirm", &["done", "reconfirm", "close_declined", "think_confirm"]),
    ("reconfirm", &["done", "close_unconfirmed", "close_declined"]),
];

#[rustfmt::skip]
const TERMINALS: &[(&str, Outcome)] = &[
    ("done", Outcome::Success),
    ("think_offer", Outcome::Interested),
    ("think_confirm", Outcome::Likely),
    ("close_unconfirmed", Outcome::Likely),
    ("close_declined", Outcome::Declined),
    ("close_not_holder", Outcome::Unreachable),
    ("close_minor", Outcome::Unreachable),
    ("close_later", Outcome::Unreachable),
];

/// Nodes reachable from `start` without passing through `avoid`.
fn reachable<'a>(s: &'a AgentScript, avoid: &str) -> BTreeSet<&'a str> {
    let mut seen = BTreeSet::from([s.start.as_str()]);
    let mut todo = vec![s.start.as_str()];
    while let Some(id) = todo.pop() {
        for choice in &s.nodes[id].options {
            if choice.next != avoid && seen.insert(choice.next.as_str()) {
                todo.push(choice.next.as_str());
            }
        }
    }
    seen
}

fn check_structure(s: &AgentScript, language: &str) {
    assert_eq!(s.language, language, "{}", s.name);
    assert_eq!(s.start, "greet");
    assert!(!s.title.is_empty());
    let want: BTreeSet<&str> = BRANCHES
        .iter()
        .map(|b| b.0)
        .chain(TERMINALS.iter().map(|t| t.0))
        .collect();
    let got: BTreeSet<&str> = s.nodes.keys().map(String::as_str).collect();
    assert_eq!(got, want, "{}: nodes", s.name);
    for (id, next) in BRANCHES {
        let node = &s.nodes[*id];
        let targets: Vec<&str> = node.options.iter().map(|c| c.next.as_str()).collect();
        assert_eq!(targets, *next, "{}: branches of {id}", s.name);
        assert_eq!(node.outcome, None);
        assert!(node.options.iter().all(|c| !c.label.is_empty()));
    }
    for (id, outcome) in TERMINALS {
        let node = &s.nodes[*id];
        assert!(node.is_terminal(), "{}: {id} ends the call", s.name);
        assert_eq!(node.outcome, Some(*outcome), "{}: outcome of {id}", s.name);
    }
    let outcomes: BTreeSet<Outcome> = s.nodes.values().filter_map(|n| n.outcome).collect();
    assert_eq!(outcomes.len(), 5, "{}: all five agent categories", s.name);
    // QA: success only through the confirmation that restates the terms.
    assert!(reachable(s, "").contains("done"));
    assert!(
        !reachable(s, "confirm").contains("done"),
        "{}: done without confirm",
        s.name
    );
    // The retention line is tried once: nothing leads back to it or to the offer.
    for (id, node) in &s.nodes {
        for c in &node.options {
            if c.next == "offer" {
                assert!(
                    id == "greet" || id == "can_decide",
                    "{}: {id} leads back to the offer",
                    s.name
                );
            }
            if c.next == "retain" {
                assert_eq!(
                    id, "offer",
                    "{}: the retention line comes once, after the offer",
                    s.name
                );
            }
        }
    }
}

#[test]
fn haoyun_follows_the_call_script_of_seed_002() {
    let v = version();
    let s = v.agent_script("haoyun").expect("haoyun is defined");
    check_structure(s, "zh");
    assert!(
        s.defined_at.starts_with("scripts/agent/haoyun.lua:"),
        "{}",
        s.defined_at
    );
    let f = fields(&[("name", "王先生"), ("phone", "13800138000")]);
    let greet = s.nodes["greet"].render_say(&f);
    assert!(
        greet.contains("王先生") && greet.contains("13800138000"),
        "{greet}"
    );
    let confirm = s.nodes["confirm"].render_say(&f);
    for part in ["13800138000", "好运年年", "4元", "三天", "10000"] {
        assert!(
            confirm.contains(part),
            "the confirmation restates {part}: {confirm}"
        );
    }
    let consent = &s.nodes["confirm"].options[0].label;
    for word in ["好", "行", "可以", "开通"] {
        assert!(consent.contains(word), "explicit consent words: {consent}");
    }
    let vague = &s.nodes["confirm"].options[1].label;
    assert!(vague.contains('嗯') && vague.contains('哦'), "{vague}");
}

#[test]
fn haoyun_en_mirrors_haoyun() {
    let v = version();
    let s = v.agent_script("haoyun_en").expect("haoyun_en is defined");
    check_structure(s, "en");
    let f = fields(&[("name", "Mr Wang"), ("phone", "13800138000")]);
    let greet = s.nodes["greet"].render_say(&f);
    assert!(
        greet.contains("Mr Wang") && greet.contains("13800138000"),
        "{greet}"
    );
    let confirm = s.nodes["confirm"].render_say(&f);
    for part in [
        "13800138000",
        "Good Fortune",
        "4 yuan a month",
        "three days",
        "10000",
    ] {
        assert!(
            confirm.contains(part),
            "the confirmation restates {part}: {confirm}"
        );
    }
    // No Chinese left in the English script.
    for (id, node) in &s.nodes {
        let texts = std::iter::once(&node.say).chain(node.options.iter().map(|c| &c.label));
        for text in texts {
            assert!(
                !text
                    .chars()
                    .any(|ch| ('\u{4e00}'..='\u{9fff}').contains(&ch)),
                "{id}: {text}"
            );
        }
    }
}
