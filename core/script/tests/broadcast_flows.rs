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
