use super::*;

fn queue(name: &str, strategy: Strategy, members: &[&str]) -> QueueConfig {
    QueueConfig {
        name: name.into(),
        strategy,
        members: members.iter().map(|m| (*m).to_owned()).collect(),
        ring_timeout_ms: 15_000,
        wrapup_ms: 0,
        max_wait_ms: None,
        max_no_answer: 3,
    }
}

fn agent(name: &str) -> AgentConfig {
    AgentConfig {
        name: name.into(),
        ..AgentConfig::default()
    }
}

fn acd(strategy: Strategy, names: &[&str]) -> Acd {
    Acd::new(
        names.iter().map(|n| agent(n)).collect(),
        vec![queue("q", strategy, names)],
    )
}

/// The agents offered by the tick's single Offer.
fn offered(actions: &[Action]) -> Vec<String> {
    match actions {
        [Action::Offer { agents, .. }] => agents.clone(),
        other => panic!("expected one offer, got {other:?}"),
    }
}

fn none() -> BTreeMap<String, u8> {
    BTreeMap::new()
}

#[test]
fn longest_idle_goes_to_the_agent_free_longest() {
    let mut acd = acd(Strategy::LongestIdle, &["a", "b", "c"]);
    acd.login("b", 1_000).unwrap();
    acd.login("a", 2_000).unwrap();
    acd.login("c", 3_000).unwrap();
    let mut order = Vec::new();
    let mut now = 10_000;
    // Twenty calls, each taken and ended before the next: the agents
    // rotate by idle time, starting with the first to log in.
    for n in 0..20 {
        let call = format!("call-{n}");
        acd.enqueue(&call, "q", 0, none(), now).unwrap();
        let agents = offered(&acd.tick(now));
        assert_eq!(agents.len(), 1);
        acd.answered(&call, &agents[0], now + 100).unwrap();
        acd.hung_up(&agents[0], now + 1_000);
        order.push(agents[0].clone());
        now += 2_000;
    }
    let expected: Vec<String> = ["b", "a", "c"]
        .iter()
        .cycle()
        .take(20)
        .map(|s| (*s).to_owned())
        .collect();
    assert_eq!(order, expected);
    assert!(acd.agents().all(|a| a.calls >= 6));
}

#[test]
fn round_robin_follows_the_member_order() {
    let mut acd = acd(Strategy::RoundRobin, &["a", "b", "c"]);
    for a in ["c", "b", "a"] {
        acd.login(a, 0).unwrap();
    }
    let mut order = Vec::new();
    for n in 0..6 {
        let call = format!("c{n}");
        acd.enqueue(&call, "q", 0, none(), 10).unwrap();
        let agents = offered(&acd.tick(10));
        acd.answered(&call, &agents[0], 20).unwrap();
        acd.hung_up(&agents[0], 30);
        order.push(agents[0].clone());
    }
    assert_eq!(order, ["a", "b", "c", "a", "b", "c"]);
}

#[test]
fn fewest_calls_balances_the_load() {
    let mut acd = acd(Strategy::FewestCalls, &["a", "b"]);
    acd.restore(
        [Saved {
            agent: "a".into(),
            state: AgentState::Ready,
            reason: None,
            since_ms: 0,
            idle_since_ms: Some(0),
            calls: 5,
            missed: 0,
        }],
        0,
    );
    acd.login("b", 100).unwrap();
    acd.enqueue("x", "q", 0, none(), 200).unwrap();
    // a has been idle longer but has taken five calls.
    assert_eq!(offered(&acd.tick(200)), ["b"]);
}

#[test]
fn ring_all_rings_everyone_and_the_first_answer_frees_the_rest() {
    let mut acd = acd(Strategy::RingAll, &["a", "b", "c"]);
    for a in ["a", "b", "c"] {
        acd.login(a, 0).unwrap();
    }
    acd.pause("c", "lunch", 1).unwrap();
    acd.enqueue("x", "q", 0, none(), 10).unwrap();
    assert_eq!(offered(&acd.tick(10)), ["a", "b"]);
    assert_eq!(acd.agent("b").unwrap().state, AgentState::Reserved);
    acd.missed("x", "a", 12);
    acd.answered("x", "b", 15).unwrap();
    assert_eq!(acd.agent("a").unwrap().state, AgentState::Ready);
    assert_eq!(acd.agent("a").unwrap().missed, 1);
    assert_eq!(acd.agent("b").unwrap().state, AgentState::OnCall);
    assert_eq!(acd.agent("c").unwrap().state, AgentState::Paused);
}

#[test]
fn skills_filter_and_rank_agents() {
    let mut agents = vec![agent("a"), agent("b"), agent("c")];
    agents[0].skills.insert("zh".into(), 30);
    agents[1].skills.insert("zh".into(), 90);
    agents[2].skills.insert("en".into(), 100);
    let mut acd = Acd::new(agents, vec![queue("q", Strategy::Skills, &["a", "b", "c"])]);
    for a in ["a", "b", "c"] {
        acd.login(a, 0).unwrap();
    }
    let needs: BTreeMap<String, u8> = [("zh".to_owned(), 20)].into();
    acd.enqueue("x", "q", 0, needs.clone(), 10).unwrap();
    assert_eq!(offered(&acd.tick(10)), ["b"]);
    // With b busy, a (30 >= 20) still qualifies; c lacks zh entirely.
    acd.enqueue("y", "q", 0, needs, 11).unwrap();
    assert_eq!(offered(&acd.tick(11)), ["a"]);
    let high: BTreeMap<String, u8> = [("zh".to_owned(), 50)].into();
    acd.enqueue("z", "q", 0, high, 12).unwrap();
    assert!(acd.tick(12).is_empty(), "no Ready agent has zh >= 50");
}

#[test]
fn skill_needs_apply_to_every_strategy() {
    let mut agents = vec![agent("a"), agent("b")];
    agents[1].skills.insert("vip".into(), 1);
    let mut acd = Acd::new(agents, vec![queue("q", Strategy::LongestIdle, &["a", "b"])]);
    acd.login("a", 0).unwrap();
    acd.login("b", 5).unwrap();
    acd.enqueue("x", "q", 0, [("vip".to_owned(), 1)].into(), 10)
        .unwrap();
    assert_eq!(offered(&acd.tick(10)), ["b"]);
}

#[test]
fn higher_priority_is_served_first_then_the_longest_waiting() {
    let mut acd = acd(Strategy::LongestIdle, &["a"]);
    acd.enqueue("old", "q", 0, none(), 0).unwrap();
    acd.enqueue("vip", "q", 5, none(), 50).unwrap();
    acd.enqueue("new", "q", 0, none(), 60).unwrap();
    assert_eq!(acd.position("vip"), Some(1));
    assert_eq!(acd.position("old"), Some(2));
    assert_eq!(acd.position("new"), Some(3));
    acd.login("a", 100).unwrap();
    let actions = acd.tick(100);
    assert!(
        matches!(&actions[..], [Action::Offer { call, .. }] if call == "vip"),
        "{actions:?}"
    );
    acd.answered("vip", "a", 110).unwrap();
    acd.hung_up("a", 200);
    assert!(matches!(&acd.tick(200)[..], [Action::Offer { call, .. }] if call == "old"));
}

#[test]
fn an_agent_who_never_answers_is_skipped_then_paused() {
    let mut acd = acd(Strategy::LongestIdle, &["a", "b"]);
    acd.login("a", 0).unwrap();
    acd.login("b", 10).unwrap();
    let mut now = 1_000;
    for n in 0..3 {
        let call = format!("c{n}");
        acd.enqueue(&call, "q", 0, none(), now).unwrap();
        // a is idle longest, so gets each call first and misses it...
        assert_eq!(offered(&acd.tick(now)), ["a"]);
        acd.missed(&call, "a", now + 15_000);
        // ...and the call goes to b, not back to a.
        assert_eq!(offered(&acd.tick(now + 15_000)), ["b"]);
        acd.answered(&call, "b", now + 16_000).unwrap();
        acd.hung_up("b", now + 20_000);
        now += 30_000;
    }
    let a = acd.agent("a").unwrap();
    assert_eq!(a.state, AgentState::Paused);
    assert_eq!(a.reason.as_deref(), Some("no-answer"));
    assert_eq!(a.missed, 3);
    // Ready again by hand clears the count.
    acd.ready("a", now).unwrap();
    assert_eq!(acd.agent("a").unwrap().missed, 0);
}

#[test]
fn a_lone_agent_who_missed_gets_the_call_again() {
    let mut acd = acd(Strategy::LongestIdle, &["a"]);
    acd.login("a", 0).unwrap();
    acd.enqueue("x", "q", 0, none(), 10).unwrap();
    assert_eq!(offered(&acd.tick(10)), ["a"]);
    acd.missed("x", "a", 20);
    assert_eq!(offered(&acd.tick(30)), ["a"]);
}

#[test]
fn pause_and_logout_during_a_call_wait_for_its_end() {
    let mut acd = acd(Strategy::LongestIdle, &["a", "b"]);
    acd.login("a", 0).unwrap();
    acd.login("b", 5).unwrap();
    acd.enqueue("x", "q", 0, none(), 10).unwrap();
    acd.enqueue("y", "q", 0, none(), 11).unwrap();
    acd.tick(12);
    acd.answered("x", "a", 20).unwrap();
    acd.pause("a", "break", 30).unwrap();
    assert_eq!(acd.agent("a").unwrap().state, AgentState::OnCall);
    acd.hung_up("a", 40);
    let a = acd.agent("a").unwrap();
    assert_eq!(
        (a.state, a.reason.as_deref()),
        (AgentState::Paused, Some("break"))
    );
    // b is ringing for y; logout waits for the offer to end.
    acd.logout("b", "api", 50).unwrap();
    assert_eq!(acd.agent("b").unwrap().state, AgentState::Reserved);
    acd.missed("y", "b", 60);
    assert_eq!(acd.agent("b").unwrap().state, AgentState::LoggedOut);
}

#[test]
fn wrap_up_ends_on_the_tick() {
    let mut q = queue("q", Strategy::LongestIdle, &["a"]);
    q.wrapup_ms = 5_000;
    let mut acd = Acd::new(vec![agent("a")], vec![q]);
    acd.login("a", 0).unwrap();
    acd.enqueue("x", "q", 0, none(), 0).unwrap();
    acd.tick(0);
    acd.answered("x", "a", 10).unwrap();
    acd.hung_up("a", 1_000);
    assert_eq!(acd.agent("a").unwrap().state, AgentState::WrapUp);
    acd.enqueue("y", "q", 0, none(), 2_000).unwrap();
    assert!(acd.tick(5_999).is_empty());
    assert_eq!(offered(&acd.tick(6_000)), ["a"]);
}

/// A campaign's call in a queue with 5 s of wrap-up, taken by "a" at 10
/// and hung up at 1,000 awaiting its disposition.
fn held_wrap_up() -> Acd {
    let mut q = queue("q", Strategy::LongestIdle, &["a"]);
    q.wrapup_ms = 5_000;
    let mut acd = Acd::new(vec![agent("a")], vec![q]);
    acd.login("a", 0).unwrap();
    acd.enqueue("x", "q", 9, none(), 0).unwrap();
    acd.tick(0);
    acd.answered("x", "a", 10).unwrap();
    acd.hung_up_awaiting_disposition("a", None, 1_000);
    acd
}

#[test]
fn a_campaign_call_holds_the_wrap_up_until_its_disposition() {
    let mut acd = held_wrap_up();
    let a = acd.agent("a").unwrap();
    assert_eq!(a.state, AgentState::WrapUp);
    assert!(a.needs_disposition);
    assert_eq!(a.wrap_call.as_deref(), Some("x"));
    assert_eq!(a.wrap_up_until(), None);
    // Long past the queue's wrap-up time, still waiting.
    acd.enqueue("y", "q", 0, none(), 2_000).unwrap();
    assert!(acd.tick(60_000).is_empty());
    assert!(matches!(
        acd.ready("a", 60_000),
        Err(AcdError::NeedsDisposition { .. })
    ));
    assert_eq!(acd.agent("a").unwrap().state, AgentState::WrapUp);
    // The wrap-up time has passed: Ready at once, and offered the call.
    assert_eq!(acd.disposed("x", 61_000), ["a"]);
    assert_eq!(acd.agent("a").unwrap().state, AgentState::Ready);
    assert!(acd.agent("a").unwrap().wrap_call.is_none());
    assert_eq!(offered(&acd.tick(61_000)), ["a"]);
}

#[test]
fn a_quick_disposition_leaves_the_rest_of_the_wrap_up_time() {
    let mut acd = held_wrap_up();
    assert_eq!(acd.disposed("x", 3_000), ["a"]);
    let a = acd.agent("a").unwrap();
    assert_eq!(a.state, AgentState::WrapUp);
    assert!(!a.needs_disposition);
    // Counted from the hang-up at 1,000.
    assert_eq!(a.wrap_up_until(), Some(6_000));
    acd.tick(5_999);
    assert_eq!(acd.agent("a").unwrap().state, AgentState::WrapUp);
    acd.tick(6_000);
    assert_eq!(acd.agent("a").unwrap().state, AgentState::Ready);
    // Nobody is wrapping up that call any more.
    assert!(acd.disposed("x", 7_000).is_empty());
}

#[test]
fn a_pause_during_a_held_wrap_up_waits_for_the_disposition() {
    let mut acd = held_wrap_up();
    acd.pause("a", "lunch", 2_000).unwrap();
    assert_eq!(acd.agent("a").unwrap().state, AgentState::WrapUp);
    acd.disposed("x", 2_500);
    let a = acd.agent("a").unwrap();
    assert_eq!(a.state, AgentState::Paused);
    assert_eq!(a.reason.as_deref(), Some("lunch"));
}

#[test]
fn a_disposition_during_the_call_holds_nothing_and_restart_frees_a_hold() {
    let mut q = queue("q", Strategy::LongestIdle, &["a"]);
    q.wrapup_ms = 0;
    let mut acd = Acd::new(vec![agent("a")], vec![q]);
    acd.login("a", 0).unwrap();
    acd.enqueue("x", "q", 9, none(), 0).unwrap();
    acd.tick(0);
    acd.answered("x", "a", 10).unwrap();
    assert_eq!(acd.disposed("x", 500), ["a"]);
    acd.hung_up_awaiting_disposition("a", None, 1_000);
    assert_eq!(acd.agent("a").unwrap().state, AgentState::Ready);
    // Held, then the process restarts: the agent comes back Ready.
    let mut held = held_wrap_up();
    let saved: Vec<Saved> = held.agents().map(Agent::saved).collect();
    held.drain_changes();
    let mut again = Acd::new(
        vec![agent("a")],
        vec![queue("q", Strategy::LongestIdle, &["a"])],
    );
    again.restore(saved, 90_000);
    let a = again.agent("a").unwrap();
    assert_eq!(a.state, AgentState::Ready);
    assert!(!a.needs_disposition);
}

#[test]
fn an_inbound_call_wraps_up_for_the_queue_time_alone() {
    let mut q = queue("q", Strategy::LongestIdle, &["a"]);
    q.wrapup_ms = 5_000;
    let mut acd = Acd::new(vec![agent("a")], vec![q]);
    acd.login("a", 0).unwrap();
    acd.enqueue("x", "q", 0, none(), 0).unwrap();
    acd.tick(0);
    acd.answered("x", "a", 10).unwrap();
    acd.hung_up("a", 1_000);
    let a = acd.agent("a").unwrap();
    assert!(!a.needs_disposition);
    assert_eq!(a.wrap_call.as_deref(), Some("x"));
    assert_eq!(a.wrap_up_until(), Some(6_000));
    acd.ready("a", 2_000).unwrap();
    assert_eq!(acd.agent("a").unwrap().state, AgentState::Ready);
}

#[test]
fn calls_overflow_after_the_maximum_wait_or_with_nobody_logged_in() {
    let mut q = queue("q", Strategy::LongestIdle, &["a"]);
    q.max_wait_ms = Some(60_000);
    let mut acd = Acd::new(vec![agent("a")], vec![q]);
    acd.enqueue("empty", "q", 3, none(), 0).unwrap();
    let actions = acd.tick(0);
    assert_eq!(
        actions,
        [Action::Overflow {
            call: "empty".into(),
            queue: "q".into(),
            reason: OverflowReason::NoAgents,
            waited_ms: 0,
            position: 1,
            priority: 3,
        }]
    );
    // Reported once, not on every tick.
    assert!(acd.tick(1).is_empty());
    acd.leave("empty", false, 2);

    acd.login("a", 10).unwrap();
    acd.pause("a", "meeting", 10).unwrap();
    acd.enqueue("long", "q", 0, none(), 100).unwrap();
    assert!(acd.tick(60_099).is_empty());
    assert!(matches!(
        &acd.tick(60_100)[..],
        [Action::Overflow {
            reason: OverflowReason::MaxWait,
            waited_ms: 60_000,
            ..
        }]
    ));
}

#[test]
fn a_caller_who_hangs_up_while_an_agent_rings_frees_the_agent() {
    let mut acd = acd(Strategy::LongestIdle, &["a"]);
    acd.login("a", 0).unwrap();
    acd.enqueue("x", "q", 0, none(), 10).unwrap();
    acd.tick(10);
    acd.drain_changes();
    acd.leave("x", true, 500);
    let a = acd.agent("a").unwrap();
    assert_eq!((a.state, a.missed), (AgentState::Ready, 0));
    // A late report from the phone changes nothing.
    acd.missed("x", "a", 600);
    assert_eq!(acd.agent("a").unwrap().missed, 0);
    let changes = acd.drain_changes();
    assert!(changes.iter().any(|c| matches!(
        c,
        Change::Queue {
            event: QueueEvent::Abandon,
            waited_ms: Some(490),
            ..
        }
    )));
}

#[test]
fn restart_brings_agents_back_without_stuck_states() {
    let mut acd = acd(Strategy::LongestIdle, &["a", "b", "c", "d"]);
    let saved = |agent: &str, state, reason: Option<&str>| Saved {
        agent: agent.into(),
        state,
        reason: reason.map(str::to_owned),
        since_ms: 100,
        idle_since_ms: Some(50),
        calls: 7,
        missed: 1,
    };
    acd.restore(
        [
            saved("a", AgentState::OnCall, None),
            saved("b", AgentState::Reserved, None),
            saved("c", AgentState::Paused, Some("lunch")),
            saved("d", AgentState::LoggedOut, Some("api")),
            saved("ghost", AgentState::Ready, None),
        ],
        1_000,
    );
    let state = |n: &str| {
        let a = acd.agent(n).unwrap();
        (a.state, a.reason.clone(), a.calls, a.call.clone())
    };
    assert_eq!(
        state("a"),
        (AgentState::Ready, Some("restart".into()), 7, None)
    );
    assert_eq!(
        state("b"),
        (AgentState::Ready, Some("restart".into()), 7, None)
    );
    assert_eq!(
        state("c"),
        (AgentState::Paused, Some("lunch".into()), 7, None)
    );
    assert_eq!(
        state("d"),
        (AgentState::LoggedOut, Some("api".into()), 7, None)
    );
    assert!(acd.agent("ghost").is_none());
}

#[test]
fn blended_agents_go_to_outbound_only_when_no_inbound_call_needs_them() {
    let mut agents = vec![agent("a"), agent("b")];
    agents[0].outbound = true;
    agents[1].outbound = true;
    let mut acd = Acd::new(
        agents,
        vec![
            queue("sales", Strategy::LongestIdle, &["a"]),
            queue("care", Strategy::LongestIdle, &["a", "b"]),
        ],
    );
    acd.login("a", 0).unwrap();
    acd.login("b", 0).unwrap();
    assert_eq!(acd.outbound_ready(), ["a", "b"]);
    acd.pause("b", "x", 1).unwrap();
    acd.enqueue("in", "sales", 0, none(), 5).unwrap();
    // a could take the waiting inbound call: not offered to outbound.
    assert!(acd.outbound_ready().is_empty());
    acd.ready("b", 6).unwrap();
    assert_eq!(acd.outbound_ready(), ["b"]);
    acd.reserve_outbound("b", "out-1", 7).unwrap();
    assert_eq!(acd.agent("b").unwrap().state, AgentState::Reserved);
    acd.answered("out-1", "b", 8).unwrap();
    acd.hung_up("b", 9);
    assert_eq!(acd.agent("b").unwrap().state, AgentState::Ready);
    assert!(acd.reserve_outbound("a", "out-2", 10).is_ok());
    assert!(acd.reserve_outbound("a", "out-3", 10).is_err());
}

#[test]
fn every_state_change_is_recorded() {
    let mut acd = acd(Strategy::LongestIdle, &["a"]);
    acd.login("a", 0).unwrap();
    acd.enqueue("x", "q", 0, none(), 10).unwrap();
    acd.tick(10);
    acd.answered("x", "a", 30).unwrap();
    acd.hung_up("a", 90);
    let agent: Vec<(AgentState, AgentState)> = acd
        .drain_changes()
        .into_iter()
        .filter_map(|c| match c {
            Change::Agent { from, to, .. } => Some((from, to)),
            Change::Queue { .. } => None,
        })
        .collect();
    use AgentState::*;
    assert_eq!(
        agent,
        [
            (LoggedOut, Ready),
            (Ready, Reserved),
            (Reserved, OnCall),
            (OnCall, Ready)
        ]
    );
    assert!(acd.drain_changes().is_empty());
}

#[test]
fn unknown_names_and_double_queueing_are_errors() {
    let mut acd = acd(Strategy::LongestIdle, &["a"]);
    assert_eq!(acd.login("zz", 0), Err(AcdError::UnknownAgent("zz".into())));
    assert_eq!(
        acd.enqueue("x", "nope", 0, none(), 0),
        Err(AcdError::UnknownQueue("nope".into()))
    );
    assert!(acd.pause("a", "r", 0).is_err(), "not logged in");
    acd.enqueue("x", "q", 0, none(), 0).unwrap();
    assert_eq!(
        acd.enqueue("x", "q", 0, none(), 0),
        Err(AcdError::AlreadyQueued("x".into()))
    );
}

#[test]
fn a_declined_offer_frees_the_agent_without_a_miss() {
    let mut acd = acd(Strategy::LongestIdle, &["a"]);
    acd.login("a", 0).unwrap();
    acd.enqueue("x", "q", 0, none(), 10).unwrap();
    assert_eq!(offered(&acd.tick(10)), ["a"]);
    acd.declined("x", "a", 20);
    let a = acd.agent("a").unwrap();
    assert_eq!((a.state, a.missed), (AgentState::Ready, 0));
    // The call is offered again.
    assert_eq!(offered(&acd.tick(30)), ["a"]);
}
