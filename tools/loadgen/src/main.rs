//! waihu-loadgen: a benchmark client for a running waihu.
//!
//! `relay`: registers the callee agent on its own UDP socket, answers the
//! INVITEs waihu sends it, places N calls as the caller agent to the callee,
//! streams 20 ms PCMA both ways through waihu's relay, and prints waihu's
//! CPU over a steady window, calls per core, per-direction loss and one-way
//! latency.
//!
//! `playback`: keeps N calls to a prompt extension (601) in flight,
//! re-calling as waihu hangs up, and prints waihu's CPU, playback calls per
//! core, and the pacing of the received audio.

mod media;
mod sip;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, watch};

use media::{CALLEE_SSRC, CALLER_SSRC, LegStats, Pacer, Tx, quantile, spawn_receiver};
use sip::{Endpoint, Msg, Outcome, Req};

#[derive(Parser, Debug, Clone)]
#[command(about = "Benchmark client for waihu: relayed calls and prompt playback")]
struct Cli {
    /// waihu's SIP address (UDP).
    #[arg(long, default_value = "127.0.0.1:5070")]
    server: SocketAddr,
    /// The SIP domain (request URIs, To/From).
    #[arg(long, default_value = "bench.waihu.test")]
    domain: String,
    /// waihu's process id, for its CPU time (/proc/PID/stat).
    #[arg(long)]
    pid: u32,
    #[arg(long, default_value = "1001")]
    caller: String,
    #[arg(long)]
    caller_pw: String,
    #[arg(long, default_value = "1002")]
    callee: String,
    #[arg(long, default_value = "")]
    callee_pw: String,
    /// Call attempts per second while ramping up.
    #[arg(long, default_value_t = 50)]
    rate: u32,
    #[command(subcommand)]
    mode: Mode,
}

#[derive(Subcommand, Debug, Clone)]
enum Mode {
    /// N concurrent bridged calls caller -> waihu -> callee, RTP both ways.
    Relay {
        /// Concurrent calls; a comma list runs each in turn ("100,200,400").
        #[arg(long, value_delimiter = ',', default_value = "100")]
        calls: Vec<usize>,
        /// Length of the steady measuring window, seconds.
        #[arg(long, default_value_t = 20)]
        secs: u64,
        /// After the list, keep adding `step` calls until a step loses packets.
        #[arg(long)]
        search: bool,
        #[arg(long, default_value_t = 100)]
        step: usize,
        #[arg(long, default_value_t = 3000)]
        max: usize,
    },
    /// N concurrent calls to a prompt extension, re-called as they end.
    Playback {
        #[arg(long, value_delimiter = ',', default_value = "100")]
        calls: Vec<usize>,
        #[arg(long, default_value_t = 20)]
        secs: u64,
        /// The extension that answers, plays and hangs up.
        #[arg(long, default_value = "601")]
        to: String,
    },
}

/// Failure reasons and their counts.
#[derive(Debug, Default)]
struct Failures(Mutex<BTreeMap<String, u64>>);

impl Failures {
    fn add(&self, why: impl Into<String>) {
        if let Ok(mut m) = self.0.lock() {
            *m.entry(why.into()).or_default() += 1;
        }
    }
    fn total(&self) -> u64 {
        self.0.lock().map(|m| m.values().sum()).unwrap_or(0)
    }
    fn take(&self) -> String {
        let Ok(mut m) = self.0.lock() else {
            return String::new();
        };
        let s = m
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" ");
        m.clear();
        s
    }
}

/// CPU seconds of a process (utime + stime), from /proc/PID/stat.
fn cpu_secs(pid: &str, hz: f64) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("reading /proc/{pid}/stat"))?;
    // Fields after the ")" that closes the command name: state is field 3.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11).and_then(|u| u.parse().ok()).unwrap_or(0.0)
        + f.get(12).and_then(|s| s.parse().ok()).unwrap_or(0.0);
    Ok(ticks / hz)
}

fn clock_ticks() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

/// CPU % of waihu and of this process over a window.
#[derive(Debug)]
struct Window {
    pid: String,
    hz: f64,
    start: Instant,
    waihu0: f64,
    me0: f64,
}

impl Window {
    fn open(pid: u32, hz: f64) -> anyhow::Result<Window> {
        let pid = pid.to_string();
        Ok(Window {
            waihu0: cpu_secs(&pid, hz)?,
            me0: cpu_secs("self", hz)?,
            pid,
            hz,
            start: Instant::now(),
        })
    }
    /// (waihu CPU %, loadgen CPU %, waihu CPU seconds, wall seconds)
    fn close(&self) -> anyhow::Result<(f64, f64, f64, f64)> {
        let wall = self.start.elapsed().as_secs_f64();
        let w = cpu_secs(&self.pid, self.hz)? - self.waihu0;
        let m = cpu_secs("self", self.hz)? - self.me0;
        Ok((100.0 * w / wall, 100.0 * m / wall, w, wall))
    }
}

/// Settings shared by every call.
#[derive(Debug)]
struct Ctx {
    cli: Cli,
    caller_ep: Arc<Endpoint>,
    pacer: Arc<Pacer>,
    failures: Failures,
}

/// An established call from the caller's side.
#[derive(Debug)]
struct Dialog {
    call_id: String,
    from_tag: String,
    to_tag: String,
    remote_uri: String,
    remote_media: Option<SocketAddr>,
    rx: mpsc::UnboundedReceiver<Msg>,
}

/// INVITE (with the digest round) and ACK; the dialog on 200.
async fn place_call(
    ctx: &Ctx,
    to_user: &str,
    rtp_port: u16,
    session: u64,
) -> Result<Dialog, String> {
    let cli = &ctx.cli;
    let ep = &ctx.caller_ep;
    let call_id = format!("{}@loadgen", sip::token());
    let mut rx = ep.route(&call_id);
    let from_tag = sip::token();
    let uri = format!("sip:{to_user}@{}", cli.domain);
    let from = format!("sip:{}@{}", cli.caller, cli.domain);
    let contact = format!("sip:{}@{}", cli.caller, ep.local);
    let body = sip::sdp(session, rtp_port);
    let result = async {
        let mut cseq = 1;
        let mut auth = String::new();
        loop {
            let branch = sip::branch();
            let invite = Req {
                method: "INVITE",
                uri: &uri,
                local: ep.local,
                branch: &branch,
                from: &from,
                from_tag: &from_tag,
                to: &uri,
                to_tag: None,
                call_id: &call_id,
                cseq,
                contact: Some(&contact),
                extra: &auth,
                body: &body,
            }
            .render();
            let resp = match sip::transact(ep, &mut rx, &invite, "INVITE", |_| {}).await {
                Outcome::Final(r) => r,
                Outcome::Timeout => return Err("invite-timeout".to_owned()),
            };
            let status = resp.status().unwrap_or(0);
            let to_tag = resp.to_tag().unwrap_or("").to_owned();
            if status >= 300 {
                // ACK of a non-2xx: same branch and CSeq number.
                let ack = Req {
                    method: "ACK",
                    uri: &uri,
                    local: ep.local,
                    branch: &branch,
                    from: &from,
                    from_tag: &from_tag,
                    to: &uri,
                    to_tag: Some(&to_tag),
                    call_id: &call_id,
                    cseq,
                    contact: None,
                    extra: "",
                    body: "",
                }
                .render();
                ep.send(&ack).await;
                if (status == 401 || status == 407) && cseq == 1 {
                    auth = sip::authorization(&resp, "INVITE", &uri, &cli.caller, &cli.caller_pw)
                        .ok_or("no-md5-challenge")?;
                    cseq += 1;
                    continue;
                }
                return Err(format!("invite-{status}"));
            }
            let remote_uri = resp.contact_uri().unwrap_or(&uri).to_owned();
            let ack = Req {
                method: "ACK",
                uri: &remote_uri,
                local: ep.local,
                branch: &sip::branch(),
                from: &from,
                from_tag: &from_tag,
                to: &uri,
                to_tag: Some(&to_tag),
                call_id: &call_id,
                cseq,
                contact: None,
                extra: "",
                body: "",
            }
            .render();
            ep.send(&ack).await;
            return Ok((to_tag, remote_uri, sip::sdp_media(resp.body())));
        }
    }
    .await;
    match result {
        Ok((to_tag, remote_uri, remote_media)) => Ok(Dialog {
            call_id,
            from_tag,
            to_tag,
            remote_uri,
            remote_media,
            rx,
        }),
        Err(e) => {
            ep.unroute(&call_id);
            Err(e)
        }
    }
}

/// BYE from the caller; true on 200.
async fn hang_up(ctx: &Ctx, d: &mut Dialog, to_user: &str) -> bool {
    let cli = &ctx.cli;
    let ep = &ctx.caller_ep;
    let to = format!("sip:{to_user}@{}", cli.domain);
    let from = format!("sip:{}@{}", cli.caller, cli.domain);
    let bye = Req {
        method: "BYE",
        uri: &d.remote_uri,
        local: ep.local,
        branch: &sip::branch(),
        from: &from,
        from_tag: &d.from_tag,
        to: &to,
        to_tag: Some(&d.to_tag),
        call_id: &d.call_id,
        cseq: 3,
        contact: None,
        extra: "",
        body: "",
    }
    .render();
    let ok = matches!(
        sip::transact(ep, &mut d.rx, &bye, "BYE", |_| {}).await,
        Outcome::Final(r) if r.status() == Some(200)
    );
    ep.unroute(&d.call_id);
    ok
}

/// Answers an in-dialog request from waihu (BYE and the like) with 200.
async fn answer_request(ep: &Endpoint, msg: &Msg) {
    if msg.method() == Some("ACK") {
        return;
    }
    let r = sip::response(msg, 200, "OK", "lg", "", "");
    ep.send(&r).await;
}

/// REGISTER `user` with a Contact on `ep`'s own socket.
async fn register(ep: &Arc<Endpoint>, domain: &str, user: &str, pw: &str) -> anyhow::Result<()> {
    let call_id = format!("{}@loadgen-reg", sip::token());
    let mut rx = ep.route(&call_id);
    let uri = format!("sip:{domain}");
    let aor = format!("sip:{user}@{domain}");
    let contact = format!("sip:{user}@{}", ep.local);
    let tag = sip::token();
    let mut auth = String::new();
    for cseq in 1..=2 {
        let extra = format!("{auth}Expires: 3600\r\n");
        let req = Req {
            method: "REGISTER",
            uri: &uri,
            local: ep.local,
            branch: &sip::branch(),
            from: &aor,
            from_tag: &tag,
            to: &aor,
            to_tag: None,
            call_id: &call_id,
            cseq,
            contact: Some(&contact),
            extra: &extra,
            body: "",
        }
        .render();
        let Outcome::Final(resp) = sip::transact(ep, &mut rx, &req, "REGISTER", |_| {}).await
        else {
            bail!("REGISTER timed out");
        };
        match resp.status() {
            Some(200) => {
                ep.unroute(&call_id);
                return Ok(());
            }
            Some(401 | 407) if cseq == 1 => {
                auth = sip::authorization(&resp, "REGISTER", &uri, user, pw)
                    .context("no MD5 challenge")?;
            }
            s => bail!("REGISTER answered {s:?}: {}", resp.first_line()),
        }
    }
    bail!("REGISTER not accepted")
}

/// The callee: answers every INVITE waihu sends with 200 + SDP and streams
/// RTP until BYE.
#[derive(Debug)]
struct Callee {
    ep: Arc<Endpoint>,
    pacer: Arc<Pacer>,
    legs: Mutex<Vec<(Arc<LegStats>, Arc<Tx>)>>,
    stop: Mutex<watch::Receiver<bool>>,
    serial: AtomicU64,
    failures: Failures,
}

impl Callee {
    fn start(
        ep: Arc<Endpoint>,
        mut unmatched: mpsc::UnboundedReceiver<Msg>,
        pacer: Arc<Pacer>,
    ) -> Arc<Callee> {
        let (_tx, rx) = watch::channel(false);
        let callee = Arc::new(Callee {
            ep,
            pacer,
            legs: Mutex::new(Vec::new()),
            stop: Mutex::new(rx),
            serial: AtomicU64::new(0),
            failures: Failures::default(),
        });
        let c = callee.clone();
        tokio::spawn(async move {
            while let Some(msg) = unmatched.recv().await {
                match msg.method() {
                    Some("INVITE") => {
                        let Some(call_id) = msg.call_id().map(str::to_owned) else {
                            continue;
                        };
                        let (tx, rx) = mpsc::unbounded_channel();
                        c.ep.route_to(&call_id, tx);
                        let c2 = c.clone();
                        tokio::spawn(async move { c2.call(msg, rx, call_id).await });
                    }
                    Some("ACK") | None => {}
                    // A BYE or CANCEL for a call already gone.
                    Some(_) => answer_request(&c.ep, &msg).await,
                }
            }
        });
        callee
    }

    async fn call(
        self: Arc<Self>,
        invite: Msg,
        mut rx: mpsc::UnboundedReceiver<Msg>,
        call_id: String,
    ) {
        let serial = self.serial.fetch_add(1, Ordering::Relaxed);
        let Some(dest) = sip::sdp_media(invite.body()) else {
            let r = sip::response(&invite, 488, "Not Acceptable Here", "lgb", "", "");
            self.ep.send(&r).await;
            self.failures.add("callee-no-sdp");
            self.ep.unroute(&call_id);
            return;
        };
        let Ok(sock) = UdpSocket::bind("127.0.0.1:0").await else {
            self.failures.add("callee-bind");
            return;
        };
        let sock = Arc::new(sock);
        let port = sock.local_addr().map(|a| a.port()).unwrap_or(0);
        let tag = sip::token();
        let contact = format!("Contact: <sip:callee@{}>\r\n", self.ep.local);
        let ok = sip::response(&invite, 200, "OK", &tag, &contact, &sip::sdp(serial, port));
        self.ep.send(&ok).await;
        // Retransmit the 200 until the ACK (RFC 3261 13.3.1.4).
        let mut wait = Duration::from_millis(500);
        let mut total = Duration::ZERO;
        let mut bye = None;
        loop {
            match tokio::time::timeout(wait, rx.recv()).await {
                Ok(Some(m)) => match m.method() {
                    Some("ACK") => break,
                    Some("INVITE") => self.ep.send(&ok).await,
                    Some("BYE" | "CANCEL") => {
                        bye = Some(m);
                        break;
                    }
                    _ => {}
                },
                Ok(None) => return,
                Err(_) => {
                    total += wait;
                    if total > Duration::from_secs(32) {
                        self.failures.add("callee-no-ack");
                        self.ep.unroute(&call_id);
                        return;
                    }
                    self.ep.send(&ok).await;
                    wait = (wait * 2).min(Duration::from_secs(4));
                }
            }
        }
        let stats = Arc::new(LegStats::default());
        let stop = self.stop.lock().map(|s| s.clone()).ok();
        let (my_stop_tx, my_stop) = watch::channel(false);
        let tx = self.pacer.add(
            sock.clone(),
            dest,
            CALLEE_SSRC | (serial as u32 & 0x0fff_ffff),
            stats.clone(),
        );
        if let Ok(mut l) = self.legs.lock() {
            l.push((stats.clone(), tx.clone()));
        }
        spawn_receiver(sock, CALLER_SSRC, stats, my_stop, false);
        if let Some(mut stop) = stop {
            tokio::spawn(async move {
                let _ = stop.wait_for(|s| *s).await;
                let _ = my_stop_tx.send(true);
            });
        }
        let bye = match bye {
            Some(b) => b,
            None => loop {
                match rx.recv().await {
                    Some(m) if m.method() == Some("BYE") => break m,
                    Some(m) if m.method().is_some() => answer_request(&self.ep, &m).await,
                    Some(_) => {}
                    None => return,
                }
            },
        };
        tx.active.store(false, Ordering::Relaxed);
        answer_request(&self.ep, &bye).await;
        // Keep the route a little for BYE retransmissions.
        tokio::time::sleep(Duration::from_secs(2)).await;
        self.ep.unroute(&call_id);
    }
}

/// The result of one caller leg of a relay step.
#[derive(Debug, Default)]
struct CallerLeg {
    stats: Arc<LegStats>,
    tx: Option<Arc<Tx>>,
}

async fn relay_step(
    ctx: &Arc<Ctx>,
    callee: &Arc<Callee>,
    n: usize,
    secs: u64,
    hz: f64,
) -> anyhow::Result<(String, bool)> {
    let (stop_tx, stop_rx) = watch::channel(false);
    let (hang_tx, hang_rx) = watch::channel(false);
    if let Ok(mut s) = callee.stop.lock() {
        *s = stop_rx.clone();
    }
    if let Ok(mut l) = callee.legs.lock() {
        l.clear();
    }
    let legs: Arc<Mutex<Vec<CallerLeg>>> =
        Arc::new(Mutex::new((0..n).map(|_| CallerLeg::default()).collect()));
    let (up_tx, mut up_rx) = mpsc::unbounded_channel::<bool>();
    let ramp = Instant::now();
    let mut tasks = Vec::new();
    let gap = Duration::from_secs_f64(1.0 / f64::from(ctx.cli.rate.max(1)));
    for idx in 0..n {
        let ctx = ctx.clone();
        let legs = legs.clone();
        let up = up_tx.clone();
        let stop = stop_rx.clone();
        let mut hang = hang_rx.clone();
        tasks.push(tokio::spawn(async move {
            let Ok(sock) = UdpSocket::bind("127.0.0.1:0").await else {
                ctx.failures.add("bind");
                let _ = up.send(false);
                return;
            };
            let sock = Arc::new(sock);
            let port = sock.local_addr().map(|a| a.port()).unwrap_or(0);
            let callee_user = ctx.cli.callee.clone();
            let mut d = match place_call(&ctx, &callee_user, port, idx as u64).await {
                Ok(d) => d,
                Err(e) => {
                    ctx.failures.add(e);
                    let _ = up.send(false);
                    return;
                }
            };
            let Some(dest) = d.remote_media else {
                ctx.failures.add("no-sdp-in-200");
                let _ = up.send(false);
                hang_up(&ctx, &mut d, &callee_user).await;
                return;
            };
            let stats = Arc::new(LegStats::default());
            let tx = ctx
                .pacer
                .add(sock.clone(), dest, CALLER_SSRC | idx as u32, stats.clone());
            spawn_receiver(sock, CALLEE_SSRC, stats.clone(), stop, false);
            if let Ok(mut l) = legs.lock() {
                l[idx] = CallerLeg {
                    stats,
                    tx: Some(tx),
                };
            }
            let _ = up.send(true);
            loop {
                tokio::select! {
                    _ = async { let _ = hang.wait_for(|h| *h).await; } => break,
                    m = d.rx.recv() => match m {
                        Some(m) if m.method() == Some("BYE") => {
                            answer_request(&ctx.caller_ep, &m).await;
                            ctx.failures.add("bye-from-waihu");
                            ctx.caller_ep.unroute(&d.call_id);
                            return;
                        }
                        Some(m) if m.method().is_some() => answer_request(&ctx.caller_ep, &m).await,
                        Some(_) => {}
                        None => return,
                    }
                }
            }
            if !hang_up(&ctx, &mut d, &callee_user).await {
                ctx.failures.add("bye-not-200");
            }
        }));
        tokio::time::sleep_until((ramp + gap * (idx as u32 + 1)).into()).await;
    }
    drop(up_tx);
    let mut up = 0;
    let mut down = 0;
    while let Some(ok) = up_rx.recv().await {
        if ok {
            up += 1
        } else {
            down += 1
        }
        if up + down == n {
            break;
        }
    }
    let ramp_s = ramp.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let sent_now = || {
        let a: u64 = legs
            .lock()
            .map(|l| l.iter().map(|c| c.stats.sent.load(Ordering::Relaxed)).sum())
            .unwrap_or(0);
        let b: u64 = callee
            .legs
            .lock()
            .map(|l| l.iter().map(|(s, _)| s.sent.load(Ordering::Relaxed)).sum())
            .unwrap_or(0);
        a + b
    };
    let sent0 = sent_now();
    let window = Window::open(ctx.cli.pid, hz)?;
    tokio::time::sleep(Duration::from_secs(secs)).await;
    let (cpu, my_cpu, _, wall) = window.close()?;
    // Packets per second per leg actually sent: below 50 the loadgen is short of CPU.
    let pps = (sent_now() - sent0) as f64 / wall / (2 * up).max(1) as f64;
    // Stop sending everywhere, let the last packets through, stop counting.
    let caller_legs = std::mem::take(&mut *legs.lock().map_err(|_| anyhow::anyhow!("poisoned"))?);
    for l in &caller_legs {
        if let Some(t) = &l.tx {
            t.active.store(false, Ordering::Relaxed);
        }
    }
    let callee_legs = callee
        .legs
        .lock()
        .map(|mut l| std::mem::take(&mut *l))
        .unwrap_or_default();
    for (_, t) in &callee_legs {
        t.active.store(false, Ordering::Relaxed);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let _ = stop_tx.send(true);
    tokio::time::sleep(Duration::from_millis(200)).await;

    // Per call: caller sent -> callee received, callee sent -> caller received.
    let mut b_of: BTreeMap<usize, (u64, u64)> = BTreeMap::new();
    let mut unpaired = 0;
    for (s, _) in &callee_legs {
        match s.peer.load(Ordering::Relaxed) {
            0 => unpaired += 1,
            p => {
                let e = b_of.entry(p as usize - 1).or_default();
                e.0 += s.sent.load(Ordering::Relaxed);
                e.1 += s.received.load(Ordering::Relaxed);
            }
        }
    }
    let (mut a_sent, mut a_recv, mut b_sent, mut b_recv, mut lossy) = (0u64, 0u64, 0u64, 0u64, 0);
    let mut lat = Vec::new();
    for (idx, l) in caller_legs.iter().enumerate() {
        if l.tx.is_none() {
            continue;
        }
        let s = &l.stats;
        let (bs, br) = b_of.get(&idx).copied().unwrap_or((0, 0));
        let (as_, ar) = (
            s.sent.load(Ordering::Relaxed),
            s.received.load(Ordering::Relaxed),
        );
        a_sent += as_;
        a_recv += ar;
        b_sent += bs;
        b_recv += br;
        if br < as_ || ar < bs {
            lossy += 1;
        }
        if let Ok(v) = s.latency_us.lock() {
            lat.extend_from_slice(&v);
        }
    }
    for (s, _) in &callee_legs {
        if let Ok(v) = s.latency_us.lock() {
            lat.extend_from_slice(&v);
        }
    }
    lat.sort_unstable();
    let _ = hang_tx.send(true);
    for t in tasks {
        let _ = t.await;
    }
    // Let waihu finish the B legs before the next step.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let loss = |sent: u64, got: u64| {
        if sent == 0 {
            100.0
        } else {
            100.0 * sent.saturating_sub(got) as f64 / sent as f64
        }
    };
    let fails = ctx.failures.total() + callee.failures.total() + unpaired;
    let clean = lossy == 0 && fails == 0 && up == n && pps >= 49.5;
    let row = format!(
        "{n:>6} {up:>6} {ramp_s:>6.1} {pps:>7.1} {cpu:>8.1} {cpc:>10.0} {my_cpu:>8.1} {lab:>9.4} {lba:>9.4} {lossy:>6} {p50:>8.2} {p99:>8.2} {fails:>5}  {why}",
        cpc = n as f64 / (cpu / 100.0).max(0.001),
        lab = loss(a_sent, b_recv),
        lba = loss(b_sent, a_recv),
        p50 = quantile(&lat, 0.5) as f64 / 1000.0,
        p99 = quantile(&lat, 0.99) as f64 / 1000.0,
        why = {
            let mut w = ctx.failures.take();
            let c = callee.failures.take();
            if !c.is_empty() {
                w.push(' ');
                w.push_str(&c);
            }
            if unpaired > 0 {
                w.push_str(&format!(" callee-legs-without-caller-audio={unpaired}"));
            }
            w
        },
    );
    Ok((row, clean))
}

async fn relay(
    ctx: Arc<Ctx>,
    calls: Vec<usize>,
    secs: u64,
    search: bool,
    step: usize,
    max: usize,
    hz: f64,
) -> anyhow::Result<()> {
    let (uas_ep, unmatched) = Endpoint::bind(ctx.cli.server).await?;
    let callee = Callee::start(uas_ep.clone(), unmatched, ctx.pacer.clone());
    register(
        &uas_ep,
        &ctx.cli.domain,
        &ctx.cli.callee,
        &ctx.cli.callee_pw,
    )
    .await?;
    println!(
        "callee {} registered with contact {}",
        ctx.cli.callee, uas_ep.local
    );
    println!(
        "{:>6} {:>6} {:>6} {:>7} {:>8} {:>10} {:>8} {:>9} {:>9} {:>6} {:>8} {:>8} {:>5}  failures",
        "calls",
        "up",
        "ramp_s",
        "pps/leg",
        "waihu%",
        "calls/core",
        "loadgen%",
        "lossA>B%",
        "lossB>A%",
        "lossy",
        "p50_ms",
        "p99_ms",
        "fail"
    );
    let mut best = None;
    let mut list = calls.clone();
    let mut i = 0;
    while i < list.len() {
        let n = list[i];
        let (row, clean) = relay_step(&ctx, &callee, n, secs, hz).await?;
        println!("{row}");
        if clean {
            best = Some(best.map_or(n, |b: usize| b.max(n)));
        }
        if search && i + 1 == list.len() && clean && n + step <= max {
            list.push(n + step);
        }
        i += 1;
    }
    match best {
        Some(b) => println!("largest N with 0% loss, no failures and full 50 pps per leg: {b}"),
        None => println!("no step ran without loss or failures"),
    }
    Ok(())
}

async fn playback(
    ctx: Arc<Ctx>,
    calls: Vec<usize>,
    secs: u64,
    to: String,
    hz: f64,
) -> anyhow::Result<()> {
    println!(
        "{:>6} {:>8} {:>10} {:>8} {:>8} {:>12} {:>8} {:>9} {:>9} {:>5}  failures",
        "calls",
        "waihu%",
        "calls/core",
        "loadgen%",
        "done",
        "setups/core-s",
        "pkts/call",
        "pace_mean",
        "pace_p99",
        "fail"
    );
    for n in calls {
        let (stop_tx, stop_rx) = watch::channel(false);
        let done = Arc::new(AtomicU64::new(0));
        let pkts = Arc::new(AtomicU64::new(0));
        let pacing: Arc<Mutex<Vec<u32>>> = Arc::default();
        let gap = Duration::from_secs_f64(1.0 / f64::from(ctx.cli.rate.max(1)));
        let mut tasks = Vec::new();
        for w in 0..n {
            let ctx = ctx.clone();
            let stop = stop_rx.clone();
            let (done, pkts, pacing, to) = (done.clone(), pkts.clone(), pacing.clone(), to.clone());
            tasks.push(tokio::spawn(async move {
                tokio::time::sleep(gap * w as u32).await;
                let Ok(sock) = UdpSocket::bind("127.0.0.1:0").await else {
                    ctx.failures.add("bind");
                    return;
                };
                let sock = Arc::new(sock);
                let port = sock.local_addr().map(|a| a.port()).unwrap_or(0);
                let mut k = 0u64;
                while !*stop.borrow() {
                    k += 1;
                    let stats = Arc::new(LegStats::default());
                    let (rstop_tx, rstop) = watch::channel(false);
                    spawn_receiver(sock.clone(), 0, stats.clone(), rstop, true);
                    let mut d = match place_call(&ctx, &to, port, (w as u64) << 20 | k).await {
                        Ok(d) => d,
                        Err(e) => {
                            ctx.failures.add(e);
                            let _ = rstop_tx.send(true);
                            tokio::time::sleep(Duration::from_millis(200)).await;
                            continue;
                        }
                    };
                    // waihu plays the prompt and hangs up.
                    let ended = tokio::time::timeout(Duration::from_secs(15), async {
                        loop {
                            match d.rx.recv().await {
                                Some(m) if m.method() == Some("BYE") => {
                                    answer_request(&ctx.caller_ep, &m).await;
                                    return true;
                                }
                                Some(m) if m.method().is_some() => {
                                    answer_request(&ctx.caller_ep, &m).await
                                }
                                Some(_) => {}
                                None => return false,
                            }
                        }
                    })
                    .await;
                    let _ = rstop_tx.send(true);
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    if matches!(ended, Ok(true)) {
                        ctx.caller_ep.unroute(&d.call_id);
                        done.fetch_add(1, Ordering::Relaxed);
                        pkts.fetch_add(
                            stats.other.load(Ordering::Relaxed)
                                + stats.received.load(Ordering::Relaxed),
                            Ordering::Relaxed,
                        );
                        if let (Ok(mut all), Ok(mine)) = (pacing.lock(), stats.pacing_us.lock()) {
                            all.extend_from_slice(&mine);
                        }
                    } else {
                        ctx.failures.add("no-bye-from-waihu");
                        hang_up(&ctx, &mut d, &to).await;
                    }
                }
            }));
        }
        // Ramp, then warm up, then the window.
        tokio::time::sleep(gap * n as u32 + Duration::from_secs(3)).await;
        let done0 = done.load(Ordering::Relaxed);
        let pkts0 = pkts.load(Ordering::Relaxed);
        if let Ok(mut p) = pacing.lock() {
            p.clear();
        }
        let window = Window::open(ctx.cli.pid, hz)?;
        tokio::time::sleep(Duration::from_secs(secs)).await;
        let (cpu, my_cpu, cpu_s, _) = window.close()?;
        let calls_done = done.load(Ordering::Relaxed) - done0;
        let pkts_done = pkts.load(Ordering::Relaxed) - pkts0;
        let mut pace = pacing.lock().map(|p| p.clone()).unwrap_or_default();
        let _ = stop_tx.send(true);
        for t in tasks {
            let _ = t.await;
        }
        pace.sort_unstable();
        let mean = if pace.is_empty() {
            0.0
        } else {
            pace.iter().map(|&v| f64::from(v)).sum::<f64>() / pace.len() as f64
        };
        println!(
            "{n:>6} {cpu:>8.1} {cpc:>10.0} {my_cpu:>8.1} {calls_done:>8} {spc:>12.0} {ppc:>8.1} {pm:>9.3} {p99:>9.3} {f:>5}  {why}",
            cpc = n as f64 / (cpu / 100.0).max(0.001),
            spc = calls_done as f64 / cpu_s.max(0.001),
            ppc = pkts_done as f64 / calls_done.max(1) as f64,
            pm = mean / 1000.0,
            p99 = quantile(&pace, 0.99) as f64 / 1000.0,
            f = ctx.failures.total(),
            why = ctx.failures.take(),
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    println!(
        "(pace_*: |inter-arrival - 20 ms| of prompt packets, ms; setups/core-s: calls completed per waihu CPU-second)"
    );
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let hz = clock_ticks();
    cpu_secs(&cli.pid.to_string(), hz).context("is --pid waihu's process id?")?;
    let (caller_ep, mut unmatched) = Endpoint::bind(cli.server).await?;
    // Requests for finished calls (retransmitted BYEs): answer them.
    let ep = caller_ep.clone();
    tokio::spawn(async move {
        while let Some(m) = unmatched.recv().await {
            if m.method().is_some() {
                answer_request(&ep, &m).await;
            }
        }
    });
    let ctx = Arc::new(Ctx {
        cli: cli.clone(),
        caller_ep,
        pacer: Pacer::start(),
        failures: Failures::default(),
    });
    match cli.mode {
        Mode::Relay {
            calls,
            secs,
            search,
            step,
            max,
        } => relay(ctx, calls, secs, search, step, max, hz).await,
        Mode::Playback { calls, secs, to } => playback(ctx, calls, secs, to, hz).await,
    }
}
