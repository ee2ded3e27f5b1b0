use super::*;

const HOURS: f64 = 8.0;

fn scenario(text: &str) -> Scenario {
    Scenario::from_yaml(text).unwrap()
}

fn reference() -> Scenario {
    scenario(include_str!("../../scenarios/reference.yaml"))
}

/// The harder scenarios shipped beside the reference.
fn harder() -> Vec<Scenario> {
    vec![
        scenario(include_str!("../../scenarios/low-answer-long-talk.yaml")),
        scenario(include_str!("../../scenarios/short-talk-high-answer.yaml")),
        scenario(include_str!("../../scenarios/slow-ring.yaml")),
    ]
}

/// Mean talk minutes per agent-hour and the worst abandon rate over seeds.
fn over_seeds(sc: &Scenario, mode: PaceMode, agents: u32, seeds: &[u64]) -> (f64, f64) {
    let runs: Vec<SimReport> = seeds
        .iter()
        .map(|&seed| run(sc, mode, agents, HOURS, seed))
        .collect();
    let talk = runs.iter().map(|r| r.talk_min_per_agent_hour).sum::<f64>() / runs.len() as f64;
    let worst = runs.iter().map(|r| r.abandon_rate).fold(0.0, f64::max);
    (talk, worst)
}

#[test]
fn reference_scenario_reads_as_specified() {
    let sc = reference();
    assert_eq!(sc.outcomes.live, 0.35);
    assert_eq!(sc.no_answer_timeout_ms, 25_000);
    assert!((sc.talk.mean_ms() - 150_000.0).abs() < 1e-6);
    assert!((sc.talk_ceiling_min_per_hour() - 56.25).abs() < 1e-9);
    assert_eq!(sc.connect_limit_ms, 2000);
}

#[test]
fn reference_predictive_30_agents_meets_goal() {
    let (talk, abandon) = over_seeds(&reference(), PaceMode::Predictive, 30, &[1, 2]);
    assert!(talk >= 50.0, "talk {talk:.2} min/agent-hour");
    assert!(abandon <= 0.03, "abandon {abandon:.4}");
}

#[test]
fn reference_predictive_10_agents_meets_goal() {
    let (talk, abandon) = over_seeds(&reference(), PaceMode::Predictive, 10, &[1, 2]);
    assert!(talk >= 45.0, "talk {talk:.2} min/agent-hour");
    assert!(abandon <= 0.03, "abandon {abandon:.4}");
}

#[test]
fn progressive_abandons_nothing_and_predictive_talks_more() {
    let sc = reference();
    let progressive = run(&sc, PaceMode::Progressive, 10, HOURS, 3);
    let predictive = run(&sc, PaceMode::Predictive, 10, HOURS, 3);
    assert_eq!(progressive.abandoned, 0);
    assert!(progressive.live > 1000);
    assert!(progressive.talk_min_per_agent_hour > 40.0);
    assert!(predictive.talk_min_per_agent_hour > progressive.talk_min_per_agent_hour + 3.0);
}

#[test]
fn preview_agents_hear_their_own_calls_and_nothing_is_abandoned() {
    let r = run(&reference(), PaceMode::Preview, 5, HOURS, 4);
    assert_eq!(r.abandoned, 0);
    assert_eq!(r.live, r.connected);
    assert_eq!(r.mean_wait_ms, 0.0);
    // Studying records and listening to rings take a large share of the
    // day; agents are never idle with nothing.
    assert!(r.preview_fraction > 0.2, "{}", r.preview_fraction);
    assert!(r.idle_fraction < 0.01, "{}", r.idle_fraction);
    // At most one line per agent at any time.
    assert!(r.lines_per_agent <= 1.0);
}

#[test]
fn predictive_stays_within_the_abandon_target_on_harder_scenarios() {
    for sc in harder() {
        for agents in [10, 30] {
            let r = run(&sc, PaceMode::Predictive, agents, HOURS, 5);
            assert!(r.abandon_rate <= 0.03, "{}: {r}", sc.name);
            let p = run(&sc, PaceMode::Progressive, agents, HOURS, 5);
            assert!(
                r.talk_min_per_agent_hour > p.talk_min_per_agent_hour,
                "{}: {r}",
                sc.name
            );
        }
    }
}

#[test]
fn same_seed_same_report() {
    let sc = reference();
    for mode in [
        PaceMode::Predictive,
        PaceMode::Progressive,
        PaceMode::Preview,
    ] {
        let a = run(&sc, mode, 7, 1.0, 42);
        let b = run(&sc, mode, 7, 1.0, 42);
        assert_eq!(a, b);
        assert_eq!(a.to_string(), b.to_string());
    }
    let c = run(&sc, PaceMode::Predictive, 7, 1.0, 43);
    assert_ne!(run(&sc, PaceMode::Predictive, 7, 1.0, 42).dials, c.dials);
}

#[test]
fn contact_cap_stops_the_dialling() {
    let mut sc = reference();
    sc.contacts = Some(150);
    let r = run(&sc, PaceMode::Predictive, 10, 2.0, 6);
    assert_eq!(r.dials, 150);
    let p = run(&sc, PaceMode::Preview, 10, 2.0, 6);
    assert_eq!(p.dials, 150);
}

#[test]
fn broadcast_needs_no_agents_and_keeps_to_its_lines() {
    let sc = reference();
    let config = PacingConfig::new(PaceMode::Broadcast { max_lines: 20 });
    let r = run_with(&sc, config, 10, 1.0, 7);
    assert_eq!(r.agents, 0);
    assert_eq!(r.abandoned, 0);
    assert!(r.live > 0 && r.connected == 0);
    // Lines ringing plus answered calls playing stay at or under 20: over
    // an hour that bounds the dials by the lines' turnover.
    assert!(r.dials_per_hour > 1000.0 && r.dials_per_hour < 20.0 * 3600.0 / 2.0);
}

#[test]
fn report_prints_one_row_per_run_under_the_header() {
    let sc = reference();
    let runs = [
        run(&sc, PaceMode::Predictive, 3, 0.5, 1),
        run(&sc, PaceMode::Progressive, 3, 0.5, 1),
    ];
    let t = table(&runs);
    let lines: Vec<&str> = t.lines().collect();
    assert_eq!(lines.len(), 3);
    assert!(lines[0].starts_with("scenario"));
    assert!(lines[1].contains("predictive") && lines[2].contains("progressive"));
}

#[test]
fn scenario_errors_name_the_field() {
    let bad_sigma = include_str!("../../scenarios/reference.yaml")
        .replace("mean_ms: 150000, sigma: 0.8", "mean_ms: 150000, sigma: -1");
    let err = Scenario::from_yaml(&bad_sigma).unwrap_err().to_string();
    assert!(err.contains("talk"), "{err}");
    let both = include_str!("../../scenarios/reference.yaml").replace(
        "median_ms: 8000, sigma",
        "median_ms: 8000, mean_ms: 9000, sigma",
    );
    let err = Scenario::from_yaml(&both).unwrap_err().to_string();
    assert!(err.contains("ring"), "{err}");
    let unknown = format!(
        "{}\nagnets: 3\n",
        include_str!("../../scenarios/reference.yaml")
    );
    assert!(matches!(
        Scenario::from_yaml(&unknown),
        Err(ScenarioError::Yaml(_))
    ));
}

#[test]
fn sampled_durations_follow_their_spread() {
    let mut rng = Pcg64Mcg::seed_from_u64(9);
    let talk = reference().talk;
    let n = 20_000;
    let mean = (0..n).map(|_| talk.sample(&mut rng) as f64).sum::<f64>() / f64::from(n);
    assert!((mean - 150_000.0).abs() < 4_000.0, "{mean}");
    let u = Spread::Uniform {
        min_ms: 1000.0,
        max_ms: 3000.0,
    };
    assert!((0..1000).all(|_| (1000..=3000).contains(&u.sample(&mut rng))));
}
