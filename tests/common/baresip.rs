//! Runs baresip (the Debian package `baresip`, 1.0.0 in bookworm) as a
//! headless softphone: its microphone is a WAV file, what it hears is
//! written to a WAV file, it dials on start and quits after a while.
//!
//! baresip 1.0.0 has no file *player*: `aufile` is a source only. What
//! the far end sent is recorded by the `sndfile` audio filter instead,
//! which writes `dump-<time>-dec.wav` (what was received, decoded) and
//! `dump-<time>-enc.wav` (what was sent) in `snd_path`, 16-bit mono at the
//! `auplay_srate`/`ausrc_srate` set here: 8 kHz. The player is an
//! `aubridge` device nothing reads (no sound card needed).
//!
//! baresip quits only by `-t SECS` (or a `/quit` command): it does not
//! stop when the call ends. The run waits for that, and kills it
//! `grace` seconds later if it is still there.

use std::fmt::Write as _;
use std::fs::File;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::{free_port, unique};

/// A baresip run to make.
#[derive(Debug, Clone)]
pub struct Baresip {
    user: String,
    password: String,
    domain: String,
    proxy: SocketAddr,
    register: bool,
    input: Option<PathBuf>,
    commands: Vec<String>,
    quit_after_secs: u32,
    grace: Duration,
    codecs: Option<String>,
    listen: Option<u16>,
    auto_answer: bool,
}

/// How it went.
#[derive(Debug)]
pub struct BaresipOutcome {
    /// None when it had to be killed.
    pub status: Option<ExitStatus>,
    /// Its configuration directory (config, accounts, the input WAV,
    /// `baresip.log`, `rec/`).
    pub dir: PathBuf,
    /// What baresip received in the (last) call, decoded: 8 kHz mono
    /// 16-bit. None if no call got media.
    pub received_wav: Option<PathBuf>,
    /// What it sent in that call.
    pub sent_wav: Option<PathBuf>,
    /// Its stdout and stderr together.
    pub log: String,
}

impl BaresipOutcome {
    /// The received recording, or a panic showing baresip's log.
    pub fn received(&self) -> &Path {
        self.received_wav.as_deref().unwrap_or_else(|| {
            panic!(
                "baresip recorded no call ({:?}) in {}\n--- baresip ---\n{}",
                self.status,
                self.dir.display(),
                self.log
            )
        })
    }

    /// Whether baresip's log says the call was answered.
    pub fn established(&self) -> bool {
        self.log.contains("Call established")
    }
}

impl Baresip {
    /// Agent `user`@`domain` with `password`, every request sent to
    /// `proxy` (baresip's `outbound`); no REGISTER unless [`Self::register`].
    pub fn new(user: &str, password: &str, domain: &str, proxy: SocketAddr) -> Baresip {
        Baresip {
            user: user.to_owned(),
            password: password.to_owned(),
            domain: domain.to_owned(),
            proxy,
            register: false,
            input: None,
            commands: Vec::new(),
            quit_after_secs: 10,
            grace: Duration::from_secs(10),
            codecs: None,
            listen: None,
            auto_answer: false,
        }
    }

    /// REGISTER first (every 600 s), rather than only calling.
    pub fn register(mut self) -> Baresip {
        self.register = true;
        self
    }

    /// The microphone: a WAV file, 16-bit mono 8 kHz (`aufile` refuses
    /// anything else; see [`super::audio::write_wav_8k`]). It is played
    /// once, then silence. Without one, 10 s of silence.
    pub fn input(mut self, wav: &Path) -> Baresip {
        self.input = Some(wav.to_owned());
        self
    }

    /// Dials `target` on start: a user part (`601`, then
    /// `sip:601@DOMAIN` goes to the proxy) or a whole SIP URI.
    pub fn dial(self, target: &str) -> Baresip {
        self.command(&format!("/dial {target}"))
    }

    /// Any command of baresip's `menu` module, run on start in order
    /// (`-e`), e.g. `/hangup`; they all run at once, not when the call is up.
    pub fn command(mut self, command: &str) -> Baresip {
        self.commands.push(command.to_owned());
        self
    }

    /// `-t`: baresip quits (hanging up) that many seconds after starting.
    pub fn quit_after_secs(mut self, secs: u32) -> Baresip {
        self.quit_after_secs = secs;
        self
    }

    /// The account's `audio_codecs`, most preferred first, e.g.
    /// `PCMA/8000/1,PCMU/8000/1` (baresip offers PCMU first by default).
    pub fn codecs(mut self, codecs: &str) -> Baresip {
        self.codecs = Some(codecs.to_owned());
        self
    }

    /// Listens for SIP on this loopback UDP port (a free one otherwise):
    /// where a trunk sends the calls for a baresip callee.
    pub fn listen(mut self, port: u16) -> Baresip {
        self.listen = Some(port);
        self
    }

    /// Answers every incoming call at once (`answermode=auto`), as a
    /// customer who picks up and listens.
    pub fn auto_answer(mut self) -> Baresip {
        self.auto_answer = true;
        self
    }

    /// Writes the configuration under `parent` (a new directory) and runs
    /// baresip to its end.
    pub fn run(&self, parent: &Path) -> BaresipOutcome {
        let dir = parent.join(unique("baresip"));
        let rec = dir.join("rec");
        std::fs::create_dir_all(&rec).unwrap_or_else(|e| panic!("creating {}: {e}", rec.display()));
        let input = match &self.input {
            Some(p) => p.clone(),
            None => {
                let p = dir.join("silence.wav");
                super::audio::write_wav_8k(&p, &vec![0.0; 10 * super::audio::RATE as usize])
                    .unwrap_or_else(|e| panic!("{e}"));
                p
            }
        };
        std::fs::write(dir.join("config"), self.config(&input, &rec))
            .unwrap_or_else(|e| panic!("writing the baresip config: {e}"));
        std::fs::write(dir.join("accounts"), self.account())
            .unwrap_or_else(|e| panic!("writing the baresip accounts: {e}"));
        // Empty contacts: otherwise baresip writes an example one.
        std::fs::write(dir.join("contacts"), "")
            .unwrap_or_else(|e| panic!("writing the baresip contacts: {e}"));

        let log_path = dir.join("baresip.log");
        let log = File::create(&log_path)
            .unwrap_or_else(|e| panic!("creating {}: {e}", log_path.display()));
        let mut cmd = Command::new("baresip");
        cmd.arg("-f")
            .arg(&dir)
            .args(["-t", &self.quit_after_secs.to_string()])
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file handle"))
            .stderr(log);
        for c in &self.commands {
            cmd.args(["-e", c]);
        }
        let mut child = cmd.spawn().unwrap_or_else(|e| {
            panic!("cannot run baresip ({e}): install it with `apt-get install -y baresip`")
        });
        let deadline =
            Instant::now() + Duration::from_secs(u64::from(self.quit_after_secs)) + self.grace;
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break Some(status),
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50))
                }
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    break None;
                }
            }
        };
        let newest = |suffix: &str| -> Option<PathBuf> {
            let mut found: Vec<PathBuf> = std::fs::read_dir(&rec)
                .ok()?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.to_string_lossy().ends_with(suffix))
                .collect();
            // dump-YYYY-MM-DD-HH-MM-SS-...: names sort by time.
            found.sort();
            found.pop()
        };
        BaresipOutcome {
            status,
            received_wav: newest("-dec.wav"),
            sent_wav: newest("-enc.wav"),
            log: std::fs::read_to_string(&log_path).unwrap_or_default(),
            dir,
        }
    }

    fn config(&self, input: &Path, rec: &Path) -> String {
        let mut c = String::new();
        let mut line = |k: &str, v: &str| {
            let _ = writeln!(c, "{k}\t{v}");
        };
        line("poll_method", "epoll");
        let port = self.listen.unwrap_or_else(free_port);
        line("sip_listen", &format!("127.0.0.1:{port}"));
        line("sip_trans_def", "udp");
        line("audio_source", &format!("aufile,{}", input.display()));
        // Nothing reads this device: a sink with no sound card.
        line("audio_player", "aubridge,waihu-null");
        line("audio_alert", "aubridge,waihu-null");
        line("ausrc_srate", "8000");
        line("auplay_srate", "8000");
        line("ausrc_channels", "1");
        line("auplay_channels", "1");
        line("audio_level", "no");
        line("rtp_ports", "20000-29999");
        line("snd_path", &rec.display().to_string());
        line("module_path", "/usr/lib/baresip/modules");
        for m in ["g711.so", "aufile.so", "aubridge.so", "sndfile.so"] {
            line("module", m);
        }
        // menu: the /dial, /hangup, /quit commands of -e. No stdio: its
        // stdin is /dev/null, which epoll refuses.
        line("module_app", "account.so");
        line("module_app", "menu.so");
        c
    }

    fn account(&self) -> String {
        let mut a = format!(
            "<sip:{}@{}>;auth_pass={};outbound=\"sip:{};transport=udp\"",
            self.user, self.domain, self.password, self.proxy
        );
        a.push_str(if self.register {
            ";regint=600"
        } else {
            ";regint=0"
        });
        if self.auto_answer {
            a.push_str(";answermode=auto");
        }
        if let Some(codecs) = &self.codecs {
            let _ = write!(a, ";audio_codecs={codecs}");
        }
        a.push('\n');
        a
    }
}
