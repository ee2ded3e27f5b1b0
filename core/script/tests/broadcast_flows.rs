//! Broadcast flows: `broadcast.NAME(call, contact)` runs an answered
//! campaign call like a route, with the contact as its second argument.
#![allow(clippy::unwrap_used)] // helpers too: a panic is the failure report

mod common;

use std::sync::Arc;

use common::coordinator::Fake;
use common::{ScriptDir, contact};
use waihu_call::{Command, PlayItem};
use waihu_script::{CallInfo, HookErrorKind, NoServices, ScriptHost};

const FLOWS: &str = r#"
function broadcast.reminder(call, contact)
  call:play({ "zh/bill_intro", "bill/" .. (contact.fields.amount:gsub("%.", "_")) })
  call:hangup()
end

function broadcast.other(call, contact)
  call:play({ "en/welcome" })
end

broadcast.not_a_flow = 5
"#;

fn host() -> (ScriptDir, ScriptHost) {
    let dir = ScriptDir::new("broadcast");
    dir.write("flows.lua", FLOWS);
    let host = ScriptHost::load(dir.config(), Arc::new(NoServices)).unwrap();
    (dir, host)
}

#[test]
fn the_flows_are_listed_by_name_and_other_fields_are_not_flows() {
    let (_dir, host) = host();
    assert_eq!(host.current().broadcasts(), ["other", "reminder"]);
}

#[test]
fn a_flow_sees_the_call_and_the_contact() {
    let (_dir, host) = host();
    let info = CallInfo {
        id: 9,
        from: "+862150001234".into(),
        to: "+8613800138000".into(),
        ..CallInfo::default()
    };
    let mut route = host
        .current()
        .start_broadcast("reminder", info, contact(&[("amount", "128.50")]))
        .unwrap();
    let commands = Fake::default().drive(&mut route).unwrap();
    let Command::Play { items, .. } = &commands[0] else {
        panic!("{commands:?}");
    };
    assert!(
        items.contains(&PlayItem::Prompt {
            name: "bill/128_50".into()
        }),
        "{items:?}"
    );
    assert!(
        matches!(commands.last(), Some(Command::Hangup { .. })),
        "{commands:?}"
    );
}

#[test]
fn an_unknown_flow_is_missing() {
    let (_dir, host) = host();
    let err = host
        .current()
        .start_broadcast("nosuch", CallInfo::default(), contact(&[]))
        .unwrap_err();
    assert_eq!(err.kind, HookErrorKind::Missing);
    assert_eq!(err.function, "broadcast");
}

const SAYS: &str = r#"
function broadcast.bill(call, contact)
  call:say_amount(contact.fields.amount)
  call:say_number(101, { lang = "en" })
  call:say_date(contact.fields.due, { year = false, barge_in = true })
  call:say_digits("10086")
  call:say_time("15:05", { lang = "zh" })
end

function broadcast.bad(call, contact)
  call:say_number(1, { lang = "fr" })
end
"#;

fn prompts(cmd: &Command) -> Vec<String> {
    match cmd {
        Command::Play { items, .. } => items
            .iter()
            .map(|i| match i {
                PlayItem::Prompt { name } => name.clone(),
                other => panic!("{other:?}"),
            })
            .collect(),
        other => panic!("{other:?}"),
    }
}

#[test]
fn say_methods_speak_a_contacts_figures_from_fragments() {
    let dir = ScriptDir::new("say");
    dir.write("flows.lua", SAYS);
    let host = ScriptHost::load(dir.config(), Arc::new(NoServices)).unwrap();
    let mut route = host
        .current()
        .start_broadcast(
            "bill",
            CallInfo::default(),
            contact(&[("amount", "128.50"), ("due", "2026-12-15")]),
        )
        .unwrap();
    let commands = Fake::default().drive(&mut route).unwrap();
    let amount = prompts(&commands[0]);
    assert_eq!(
        amount.first().map(String::as_str),
        Some("zh/num/1"),
        "{amount:?}"
    );
    assert!(
        amount.contains(&"zh/num/yuan".to_owned()) && amount.contains(&"zh/num/jiao".to_owned()),
        "{amount:?}"
    );
    assert!(
        prompts(&commands[1])
            .iter()
            .all(|p| p.starts_with("en/num/")),
        "English on request"
    );
    let date = prompts(&commands[2]);
    assert!(
        !date.contains(&"zh/num/nian".to_owned()),
        "no year: {date:?}"
    );
    assert!(matches!(commands[2], Command::Play { barge_in: true, .. }));
    assert_eq!(
        prompts(&commands[3])[0],
        "zh/num/yao",
        "1 in a digit string is 幺"
    );
    assert!(prompts(&commands[4]).contains(&"zh/num/xiawu".to_owned()));

    let mut bad = host
        .current()
        .start_broadcast("bad", CallInfo::default(), contact(&[]))
        .unwrap();
    let err = Fake::default().drive(&mut bad).unwrap_err();
    assert!(err.to_string().contains("lang"), "{err}");
}
