use super::*;

const HOUR: Ms = 3_600_000;
/// A start far from 0, as unix time is.
const T0: Ms = 1_000 * DAY_MS;

fn snap(ready: u32, on_call: &[Ms], wrap: &[Ms], lines: &[Ms], waiting: u32) -> Snapshot {
    Snapshot {
        agents_ready: ready,
        agents_on_call: on_call.to_vec(),
        agents_wrap_up: wrap.to_vec(),
        lines_in_progress: lines.to_vec(),
        answered_waiting: waiting,
    }
}

/// Feeds `calls` connected calls at `at`: each after 10 dials, 3 of them
/// live after 8 s and 7 other results after 20 s; talk 100 s, wrap-up 2 s,
/// no abandon.
fn feed(p: &mut Pacer, calls: u32, at: Ms) {
    for _ in 0..calls {
        for i in 0..10 {
            p.dial_started(at);
            if i < 3 {
                p.dial_result(at, DialOutcome::Live, 8000);
                p.connected(at, 0);
                p.call_finished(at, 100_000);
                p.wrap_up_finished(at, 2000);
            } else {
                p.dial_result(at, DialOutcome::NoAnswer, 20_000);
            }
        }
    }
}

fn trained(mode: PaceMode) -> Pacer {
    let mut p = Pacer::new(PacingConfig::new(mode));
    feed(&mut p, 400, T0);
    p
}

#[test]
fn progressive_never_dials_more_lines_than_ready_agents() {
    let mut p = Pacer::new(PacingConfig::new(PaceMode::Progressive));
    for ready in 0..8 {
        for lines in 0..10u32 {
            for waiting in 0..3 {
                let s = snap(
                    ready,
                    &[90_000; 4],
                    &[],
                    &vec![3000; lines as usize],
                    waiting,
                );
                let n = p.lines_to_dial(T0, &s);
                assert_eq!(
                    n,
                    ready.saturating_sub(lines + waiting),
                    "{ready} {lines} {waiting}"
                );
            }
        }
    }
}

#[test]
fn progressive_dials_more_than_one_line_per_agent_only_when_configured() {
    let config = PacingConfig {
        ratio: 2.0,
        ..PacingConfig::new(PaceMode::Progressive)
    };
    let mut p = Pacer::new(config.clone());
    assert_eq!(p.lines_to_dial(T0, &snap(3, &[], &[], &[1000], 0)), 5);
    // The safety cap holds whatever the ratio.
    p.set_config(PacingConfig {
        ratio: 5.0,
        ..config
    });
    assert_eq!(p.lines_to_dial(T0, &snap(3, &[], &[], &[], 0)), 9);
}

#[test]
fn preview_dials_nothing_itself_and_hands_one_record_per_ready_agent() {
    let mut p = trained(PaceMode::Preview);
    let s = snap(4, &[97_000; 6], &[], &[], 0);
    assert_eq!(p.lines_to_dial(T0, &s), 0);
    assert_eq!(p.preview_slots(&s), 4);
    // Other modes hand out no records.
    assert_eq!(trained(PaceMode::Predictive).preview_slots(&s), 0);
}

#[test]
fn broadcast_keeps_up_to_max_lines_busy() {
    let mut p = Pacer::new(PacingConfig::new(PaceMode::Broadcast { max_lines: 20 }));
    // No agents at all; 12 lines ringing and 3 playing the message.
    assert_eq!(p.lines_to_dial(T0, &snap(0, &[], &[], &[1000; 12], 3)), 5);
    assert_eq!(p.lines_to_dial(T0, &snap(0, &[], &[], &[1000; 25], 0)), 0);
    assert_eq!(p.lines_to_dial(T0, &snap(0, &[], &[], &[], 0)), 20);
}

#[test]
fn fresh_predictive_campaign_dials_like_progressive() {
    let mut p = Pacer::new(PacingConfig::default());
    let s = snap(5, &[90_000; 10], &[5000; 2], &[2000], 0);
    assert_eq!(p.lines_to_dial(T0, &s), 4);
}

#[test]
fn predictive_dials_ahead_for_agents_about_to_finish() {
    let mut p = trained(PaceMode::Predictive);
    // Ten agents 95 s into calls that last 100 s: free within seconds.
    let ahead = p.lines_to_dial(T0, &snap(0, &[97_000; 10], &[], &[], 0));
    // Ten agents 5 s into their calls: none free for a minute and a half.
    let started = p.lines_to_dial(T0, &snap(0, &[5000; 10], &[], &[], 0));
    assert!(ahead >= 10, "{ahead}");
    assert_eq!(started, 0);
    // Agents in the last seconds of wrap-up count too.
    let wrapping = p.lines_to_dial(T0, &snap(0, &[], &[1000; 10], &[], 0));
    assert!(wrapping >= 10, "{wrapping}");
}

#[test]
fn lines_ringing_long_without_answer_count_for_less() {
    let mut p = trained(PaceMode::Predictive);
    let on_call = [97_000; 6];
    // Live answers came after 8 s: a line ringing for 12 s will not be one.
    let fresh = p.lines_to_dial(T0, &snap(2, &on_call, &[], &[1000; 8], 0));
    let stale = p.lines_to_dial(T0, &snap(2, &on_call, &[], &[12_000; 8], 0));
    assert!(stale > fresh, "stale {stale} fresh {fresh}");
}

#[test]
fn abandon_budget_spent_slows_dialling() {
    let mut within = trained(PaceMode::Predictive);
    let mut over = trained(PaceMode::Predictive);
    // 1200 live answers: 36 abandons allowed; 40 made.
    for _ in 0..40 {
        over.abandoned(T0, 2000);
    }
    let s = snap(0, &[97_000; 10], &[], &[], 0);
    assert!(within.lines_to_dial(T0, &s) > 0);
    assert_eq!(over.lines_to_dial(T0, &s), 0);
    assert!(over.abandon_rate(T0) > 0.03);
    assert_eq!(over.stats().line_risk, 0.0);
    // Even over budget it dials for the agents who are ready.
    assert_eq!(
        over.lines_to_dial(T0, &snap(3, &[97_000; 10], &[], &[], 0)),
        3
    );
}

#[test]
fn live_answers_earn_the_budget_back() {
    let mut p = trained(PaceMode::Predictive);
    for _ in 0..40 {
        p.abandoned(T0, 2000);
    }
    let s = snap(0, &[97_000; 10], &[], &[], 0);
    assert_eq!(p.lines_to_dial(T0, &s), 0);
    // 300 more connected calls (900 live answers) without an abandon.
    feed(&mut p, 300, T0 + HOUR);
    assert!(p.lines_to_dial(T0 + HOUR, &s) > 0);
    assert!(p.abandon_rate(T0 + HOUR) < 0.03);
}

#[test]
fn more_budget_left_means_more_lines() {
    let mut rich = trained(PaceMode::Predictive);
    let mut poor = trained(PaceMode::Predictive);
    for _ in 0..30 {
        poor.abandoned(T0, 2000);
    }
    let s = snap(0, &[96_000; 20], &[], &[4000; 3], 0);
    let (r, q) = (rich.lines_to_dial(T0, &s), poor.lines_to_dial(T0, &s));
    assert!(r > q, "rich {r} poor {q}");
    assert!(rich.stats().line_risk > poor.stats().line_risk);
}

#[test]
fn predictive_never_exceeds_max_lines_per_agent() {
    let mut p = trained(PaceMode::Predictive);
    let n = p.lines_to_dial(T0, &snap(10, &[], &[], &[], 0));
    assert!(n > 10 && n <= 30, "{n}");
    assert_eq!(p.lines_to_dial(T0, &snap(10, &[], &[], &[100; 30], 0)), 0);
}

#[test]
fn window_forgets_abandons_older_than_30_days() {
    let mut p = Pacer::new(PacingConfig::default());
    for _ in 0..100 {
        p.dial_result(T0, DialOutcome::Live, 8000);
    }
    for _ in 0..10 {
        p.abandoned(T0, 2000);
    }
    assert!((p.abandon_rate(T0) - 0.1).abs() < 1e-12);
    assert!((p.abandon_rate(T0 + 29 * DAY_MS) - 0.1).abs() < 1e-12);
    // Forgotten by 30 days and one bucket (an hour) later, never before.
    assert!((p.abandon_rate(T0 + 30 * DAY_MS - 1) - 0.1).abs() < 1e-12);
    assert_eq!(p.abandon_rate(T0 + 30 * DAY_MS + HOUR + 1), 0.0);
    // Later events start a fresh count.
    let later = T0 + 31 * DAY_MS;
    p.dial_result(later, DialOutcome::Live, 8000);
    p.dial_result(later, DialOutcome::Live, 8000);
    p.abandoned(later, 2000);
    assert!((p.abandon_rate(later) - 0.5).abs() < 1e-12);
    assert_eq!(p.stats().window_live, 2);
}

#[test]
fn window_of_24_hours_forgets_after_a_day() {
    let mut p = Pacer::new(PacingConfig {
        abandon_window_ms: DAY_MS,
        ..PacingConfig::default()
    });
    p.dial_result(T0, DialOutcome::Live, 8000);
    p.abandoned(T0, 2000);
    assert_eq!(p.abandon_rate(T0 + 23 * HOUR), 1.0);
    // Buckets of 2 minutes.
    assert_eq!(p.abandon_rate(T0 + DAY_MS + 2 * 60_000 + 1), 0.0);
}

#[test]
fn window_state_stays_small_over_months() {
    let mut p = Pacer::new(PacingConfig::default());
    for minute in 0..(60 * 24 * 60) {
        let now = T0 + minute * 60_000;
        p.dial_result(now, DialOutcome::Live, 8000);
        if minute % 50 == 0 {
            p.abandoned(now, 2000);
        }
    }
    assert!(p.window.len() <= 721, "{}", p.window.len());
    let end = T0 + 60 * DAY_MS;
    let (lives, abandons) = p.window.counts(end);
    // About 30 days of one live answer a minute, one abandon in 50.
    assert!((43_000..=43_300).contains(&lives), "{lives}");
    assert!((p.abandon_rate(end) - 0.02).abs() < 0.001);
    assert!(abandons > 0);
}

#[test]
fn saved_pacer_restores_its_window_and_what_it_learned() {
    let mut p = trained(PaceMode::Predictive);
    for _ in 0..20 {
        p.abandoned(T0, 2000);
    }
    let json = serde_json::to_string(&p.save()).unwrap();
    let saved: PacerSaved = serde_json::from_str(&json).unwrap();
    let mut back = Pacer::restore(PacingConfig::default(), &saved);
    let later = T0 + HOUR;
    assert_eq!(back.abandon_rate(later), p.abandon_rate(later));
    assert!((back.stats().answer_rate - p.stats().answer_rate).abs() < 1e-9);
    for s in [
        snap(0, &[97_000; 10], &[], &[], 0),
        snap(2, &[60_000; 20], &[5000; 3], &[3000; 4], 1),
    ] {
        assert_eq!(back.lines_to_dial(later, &s), p.lines_to_dial(later, &s));
    }
}

#[test]
fn restore_into_a_shorter_window_rebuckets_the_counts() {
    let mut p = Pacer::new(PacingConfig::default());
    p.dial_result(T0, DialOutcome::Live, 8000);
    p.abandoned(T0, 2000);
    p.dial_result(T0 + 2 * DAY_MS, DialOutcome::Live, 8000);
    let day = PacingConfig {
        abandon_window_ms: DAY_MS,
        ..PacingConfig::default()
    };
    let back = Pacer::restore(day, &p.save());
    let now = T0 + 2 * DAY_MS + HOUR;
    assert_eq!(back.abandon_rate(now), 0.0);
    assert_eq!(p.abandon_rate(now), 0.5);
}

#[test]
fn answer_rate_starts_at_its_prior_and_follows_the_results() {
    let mut p = Pacer::new(PacingConfig::default());
    assert!((p.stats().answer_rate - 0.3).abs() < 1e-9);
    for i in 0..3000 {
        let outcome = if i % 5 == 0 {
            DialOutcome::Live
        } else {
            DialOutcome::Busy
        };
        p.dial_result(T0, outcome, 4000);
    }
    assert!((p.stats().answer_rate - 0.2).abs() < 0.01);
}

#[test]
fn stats_report_what_was_learned_and_counted() {
    let mut p = trained(PaceMode::Predictive);
    p.abandoned(T0, 2000);
    p.lines_to_dial(T0, &snap(0, &[97_000; 10], &[], &[], 0));
    let s = p.stats();
    assert_eq!(s.dials, 4000);
    assert_eq!(s.live, 1200);
    assert_eq!(s.connected, 1200);
    assert_eq!(s.abandoned, 1);
    assert_eq!(s.mean_connect_wait_ms, 0.0);
    assert_eq!(s.mean_abandon_wait_ms, 2000.0);
    assert!((s.answer_rate - 0.3).abs() < 0.01);
    assert!((s.live_ring_median_ms - 8000.0).abs() < 300.0);
    assert!((s.talk_mean_ms - 100_000.0).abs() < 3000.0);
    assert!((s.wrap_up_mean_ms - 2000.0).abs() < 100.0);
    assert!((s.abandons_left - 35.0).abs() < 1e-9);
    assert!(s.line_risk > 0.0 && s.line_risk <= 0.06);
    assert!(s.expected_free > 5.0);
    assert_eq!(s.last_lines, p.stats().last_lines);
}

#[test]
fn config_reads_from_yaml_with_defaults() {
    let c: PacingConfig = serde_yaml::from_str("mode: progressive\nratio: 1.5\n").unwrap();
    assert_eq!(c.mode, PaceMode::Progressive);
    assert_eq!(c.ratio, 1.5);
    assert_eq!(c.abandon_target, 0.03);
    assert_eq!(c.abandon_window_ms, 30 * DAY_MS);
    let b: PacingConfig = serde_yaml::from_str("mode: !broadcast { max_lines: 30 }").unwrap();
    assert_eq!(b.mode, PaceMode::Broadcast { max_lines: 30 });
    let text = serde_yaml::to_string(&b).unwrap();
    assert_eq!(serde_yaml::from_str::<PacingConfig>(&text).unwrap(), b);
}
