//! Helpers shared by the behaviour tests: scratch script directories,
//! fixtures, sample contacts, a do-not-call list.
#![allow(clippy::unwrap_used)] // helpers too: a panic is the failure report
#![allow(dead_code)]

use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use waihu_script::{Contact, Customer, HostConfig, Services};

/// 2023-11-15 12:00 in Shanghai (04:00 UTC): inside calling hours.
pub const NOON: i64 = 1_700_020_800;

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// A `scripts` directory of its own for one test, removed when dropped.
pub struct ScriptDir {
    base: PathBuf,
    pub root: PathBuf,
}

impl ScriptDir {
    pub fn new(test: &str) -> ScriptDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let base = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join("waihu-script")
            .join(format!("{test}-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&base);
        let root = base.join("scripts");
        fs::create_dir_all(&root).unwrap();
        ScriptDir { base, root }
    }

    /// A scratch copy of a fixture directory.
    pub fn from_fixture(test: &str, name: &str) -> ScriptDir {
        let dir = ScriptDir::new(test);
        copy_tree(&fixture(name), &dir.root);
        dir
    }

    pub fn write(&self, rel: &str, text: &str) {
        let path = self.root.join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }

    /// Copies `tests/fixtures/<from>` to `<rel>` in this directory.
    pub fn put_fixture(&self, from: &str, rel: &str) {
        self.write(rel, &fs::read_to_string(fixture(from)).unwrap());
    }

    pub fn remove(&self, rel: &str) {
        fs::remove_file(self.root.join(rel)).unwrap();
    }

    pub fn config(&self) -> HostConfig {
        HostConfig {
            dir: self.root.clone(),
            ..HostConfig::default()
        }
    }
}

impl Drop for ScriptDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.base);
    }
}

fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), target).unwrap();
        }
    }
}

pub fn contact(fields: &[(&str, &str)]) -> Contact {
    Contact {
        id: 7,
        phone: "+8613800138000".into(),
        timezone: Some("Asia/Shanghai".into()),
        attempts: 1,
        last_agent: Some("1001".into()),
        fields: fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    }
}

pub fn customer(churn: f64, spend: f64, tenure: u32, expiry: Option<&str>) -> Customer {
    Customer {
        id: 9,
        phone: "+8613800138000".into(),
        name: Some("王先生".into()),
        plan: Some("天翼 99".into()),
        tenure_months: tenure,
        monthly_spend: spend,
        churn_score: churn,
        broadband_expiry: expiry.map(str::to_owned),
        fields: BTreeMap::new(),
    }
}

/// A stored do-not-call list.
pub struct Dnc(pub HashSet<String>);

impl Dnc {
    pub fn of(numbers: &[&str]) -> Dnc {
        Dnc(numbers.iter().map(|n| n.to_string()).collect())
    }
}

impl Services for Dnc {
    fn dnc_contains(&self, number: &str) -> bool {
        self.0.contains(number)
    }
}

/// Runs `f` on its own thread and fails the test if it takes longer than
/// `secs`: a script escaping its budget must fail the test, not hang it.
pub fn within<T: Send + 'static>(secs: u64, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(std::time::Duration::from_secs(secs))
        .expect("did not finish in time (or panicked): a script ran past its budget?")
}

/// A fake coordinator for routes: answers each command with the reply a
/// switch would give, taking digits and dial outcomes from queues.
pub mod coordinator {
    use std::collections::VecDeque;

    use waihu_call::{Command, DialOutcome, DigitsEnd, Event, Party, QueueOutcome};
    use waihu_script::{HookError, Route, Step};

    #[derive(Default)]
    pub struct Fake {
        /// Replies to `read_digits`, in order (default: timeout, nothing).
        pub digits: VecDeque<(String, DigitsEnd)>,
        /// Barge-in digits for `play` with barge_in, in order.
        pub barge: VecDeque<char>,
        pub dial: Option<DialOutcome>,
        /// The reply to `queue` (default: answered by agent 1001).
        pub queue: Option<Event>,
    }

    impl Fake {
        pub fn digits(mut self, d: &str, ended: DigitsEnd) -> Fake {
            self.digits.push_back((d.to_owned(), ended));
            self
        }

        pub fn reply(&mut self, cmd: &Command) -> Event {
            match cmd {
                Command::Ring => Event::Ringing,
                Command::Answer => Event::Answered,
                Command::Play { barge_in, .. } => Event::PlaybackDone {
                    interrupted_by: if *barge_in {
                        self.barge.pop_front()
                    } else {
                        None
                    },
                },
                Command::ReadDigits { .. } => {
                    let (digits, ended) = self
                        .digits
                        .pop_front()
                        .unwrap_or((String::new(), DigitsEnd::Timeout));
                    Event::Digits { digits, ended }
                }
                Command::SendDtmf { .. } => Event::DtmfSent,
                Command::Record { file, .. } => Event::RecordingStarted {
                    path: format!("/var/rec/{file}"),
                },
                Command::StopRecord => Event::RecordingStopped {
                    path: Some("/var/rec/x.wav".into()),
                },
                Command::Echo => Event::EchoDone,
                Command::Dial { .. } => Event::DialDone {
                    outcome: self.dial.unwrap_or(DialOutcome::Completed),
                },
                Command::SetVar { .. } => Event::VarSet,
                Command::Queue { .. } => self.queue.clone().unwrap_or(Event::QueueDone {
                    outcome: QueueOutcome::Answered,
                    detail: Some("1001".into()),
                }),
                Command::Transfer { .. } => Event::Transferred,
                Command::Hangup { cause } => Event::HungUp {
                    by: Party::Switch,
                    cause: *cause,
                },
                other => panic!("unknown command {other:?}"),
            }
        }

        /// Runs `route` to its end; the commands it gave, or its error.
        pub fn drive(&mut self, route: &mut Route) -> Result<Vec<Command>, HookError> {
            self.drive_from(route, None)
        }

        /// Goes on with a route already started: `pending` is the command
        /// its last resume gave.
        pub fn finish(
            &mut self,
            route: &mut Route,
            pending: &Command,
        ) -> Result<Vec<Command>, HookError> {
            let reply = self.reply(pending);
            self.drive_from(route, Some(reply))
        }

        fn drive_from(
            &mut self,
            route: &mut Route,
            first: Option<Event>,
        ) -> Result<Vec<Command>, HookError> {
            let mut seen = Vec::new();
            let mut reply = first;
            for _ in 0..1000 {
                match route.resume(reply.take())? {
                    Step::Done => return Ok(seen),
                    Step::Command(cmd) => {
                        reply = Some(self.reply(&cmd));
                        seen.push(cmd);
                    }
                }
            }
            panic!("the route did not end in 1000 steps: {seen:?}");
        }
    }
}
