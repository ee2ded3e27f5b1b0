//! The SIP runtime over real loopback sockets: the driver, UDP, TCP framing
//! and shutdown together, with the real endpoint. (The endpoint's own
//! behaviour is tested in waihu-sip; this checks the plumbing.)

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::time::timeout;

use super::*;
use crate::config;

const WAIT: Duration = Duration::from_secs(5);

struct Harness {
    coordinator: Coordinator,
    snapshots: watch::Receiver<Snapshot>,
    udp: SocketAddr,
    tcp: SocketAddr,
}

fn settings(listen: &[&str]) -> Settings {
    settings_with(listen, "")
}

/// `limits` goes under `sip.limits` (flow-style, `{...}` contents).
fn settings_with(listen: &[&str], limits: &str) -> Settings {
    // Quoted: brackets inside a YAML flow list would end it.
    let listen: Vec<String> = listen.iter().map(|l| format!("\"{l}\"")).collect();
    let listen = listen.join(", ");
    let yaml = format!(
        "sip:\n  listen: [{listen}]\n  domain: waihu.test\n  realm: waihu.test\n\
         \x20 limits: {{{limits}}}\n\
         agents:\n  - id: \"1001\"\n    password: a-long-password\n"
    );
    config::from_str("test.yaml", &yaml).expect("test config is valid")
}

fn start_on(listen: &[&str]) -> Harness {
    start_with(settings(listen))
}

fn start_with(settings: Settings) -> Harness {
    let now = tokio::time::Instant::now().into_std();
    let endpoint = Endpoint::new(settings.endpoint_config(), now, [7; 32]);
    let coordinator = Coordinator::new();
    let (tx, snapshots) = watch::channel(Snapshot::default());
    let running = start(
        &settings,
        endpoint,
        &coordinator,
        tx,
        None,
        overload::Load::new(settings.overload_delay),
    )
    .expect("binds");
    let find = |t| {
        running
            .bound
            .iter()
            .find(|l| l.transport == t)
            .map(|l| l.addr)
    };
    Harness {
        udp: find(Transport::Udp).expect("a udp listener"),
        tcp: find(Transport::Tcp).expect("a tcp listener"),
        coordinator,
        snapshots,
    }
}

fn options(transport: &str, from: SocketAddr, branch: &str) -> String {
    format!(
        "OPTIONS sip:1001@waihu.test SIP/2.0\r\n\
         Via: SIP/2.0/{transport} {from};branch=z9hG4bK{branch}\r\n\
         From: <sip:probe@waihu.test>;tag=p1\r\n\
         To: <sip:1001@waihu.test>\r\n\
         Call-ID: {branch}@test\r\n\
         CSeq: 1 OPTIONS\r\n\
         Max-Forwards: 70\r\n\
         Content-Length: 0\r\n\r\n"
    )
}

/// Waits until the driver publishes a snapshot that passes `check`.
async fn until(snapshots: &mut watch::Receiver<Snapshot>, check: impl FnMut(&Snapshot) -> bool) {
    timeout(WAIT, snapshots.wait_for(check))
        .await
        .expect("a snapshot like this in time")
        .expect("the driver is running");
}

async fn read_response(stream: &mut TcpStream) -> String {
    let mut buf = Vec::new();
    loop {
        let text = String::from_utf8_lossy(&buf);
        if text.contains("\r\n\r\n") && text.contains("Content-Length: 0") {
            return text.into_owned();
        }
        let mut chunk = [0u8; 4096];
        let n = timeout(WAIT, stream.read(&mut chunk))
            .await
            .expect("answer in time")
            .unwrap();
        assert!(n > 0, "connection closed before a response: {text}");
        buf.extend_from_slice(&chunk[..n]);
    }
}

#[tokio::test]
async fn options_over_udp_is_challenged() {
    let h = start_on(&["udp:127.0.0.1:0", "tcp:127.0.0.1:0"]);
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let me = client.local_addr().unwrap();
    client
        .send_to(options("UDP", me, "u1").as_bytes(), h.udp)
        .await
        .unwrap();
    let mut buf = vec![0u8; 65536];
    let (n, from) = timeout(WAIT, client.recv_from(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let text = String::from_utf8_lossy(&buf[..n]);
    assert_eq!(from, h.udp);
    assert!(text.starts_with("SIP/2.0 401 "), "{text}");
    assert!(
        text.contains("WWW-Authenticate: Digest realm=\"waihu.test\""),
        "{text}"
    );
    let mut snapshots = h.snapshots.clone();
    until(&mut snapshots, |s| {
        s.sip.messages_in >= 1 && s.sip.messages_out >= 1
    })
    .await;
    timeout(WAIT, h.coordinator.shutdown())
        .await
        .expect("shutdown completes");
}

#[tokio::test]
async fn tcp_frames_keepalives_and_framing_errors() {
    let h = start_on(&["udp:127.0.0.1:0", "tcp:127.0.0.1:0"]);
    let mut stream = TcpStream::connect(h.tcp).await.unwrap();
    let me = stream.local_addr().unwrap();
    // A ping gets a pong; two messages in one write are both answered, in order.
    stream.write_all(b"\r\n\r\n").await.unwrap();
    let mut pong = [0u8; 2];
    timeout(WAIT, stream.read_exact(&mut pong))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&pong, b"\r\n");
    let two = options("TCP", me, "t1") + &options("TCP", me, "t2");
    stream.write_all(two.as_bytes()).await.unwrap();
    let first = read_response(&mut stream).await;
    assert!(first.starts_with("SIP/2.0 401 "), "{first}");
    assert!(first.contains("Call-ID: t1@test"), "{first}");
    let mut snapshots = h.snapshots.clone();
    timeout(
        WAIT,
        snapshots.wait_for(|s| s.tcp_connections == 1 && s.sip.messages_in == 2),
    )
    .await
    .unwrap()
    .unwrap();

    // A message without Content-Length closes the connection.
    let mut bad = TcpStream::connect(h.tcp).await.unwrap();
    bad.write_all(
        b"OPTIONS sip:x@waihu.test SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bKb\r\n\r\n",
    )
    .await
    .unwrap();
    let mut rest = Vec::new();
    // Ends (FIN or RST) rather than hanging.
    let _ = timeout(WAIT, bad.read_to_end(&mut rest))
        .await
        .expect("closed after a framing error");

    // Shutdown closes the good connection too, and every task confirms.
    timeout(WAIT, h.coordinator.shutdown())
        .await
        .expect("shutdown completes");
    let mut rest = Vec::new();
    let _ = timeout(WAIT, stream.read_to_end(&mut rest))
        .await
        .expect("closed at shutdown");
}

#[tokio::test]
async fn ipv6_listeners_answer() {
    if std::net::UdpSocket::bind("[::1]:0").is_err() {
        return; // no IPv6 on this host
    }
    let h = start_on(&["udp:[::1]:0", "tcp:[::1]:0"]);
    let client = UdpSocket::bind("[::1]:0").await.unwrap();
    let me = client.local_addr().unwrap();
    client
        .send_to(options("UDP", me, "v6").as_bytes(), h.udp)
        .await
        .unwrap();
    let mut buf = vec![0u8; 65536];
    let (n, _) = timeout(WAIT, client.recv_from(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert!(buf[..n].starts_with(b"SIP/2.0 401 "));
    let mut stream = TcpStream::connect(h.tcp).await.unwrap();
    let me = stream.local_addr().unwrap();
    stream
        .write_all(options("TCP", me, "v6t").as_bytes())
        .await
        .unwrap();
    assert!(read_response(&mut stream).await.starts_with("SIP/2.0 401 "));
    timeout(WAIT, h.coordinator.shutdown())
        .await
        .expect("shutdown completes");
}

#[tokio::test]
async fn ipv4_and_ipv6_wildcards_can_share_a_port() {
    let v4 = bind_udp("0.0.0.0:0".parse().unwrap()).unwrap();
    let port = v4.local_addr().unwrap().port();
    let t4 = bind_tcp(format!("0.0.0.0:{port}").parse().unwrap()).unwrap();
    // Only where the host has IPv6 at all.
    if std::net::UdpSocket::bind("[::1]:0").is_ok() {
        let v6 = bind_udp(format!("[::]:{port}").parse().unwrap()).unwrap();
        assert_eq!(v6.local_addr().unwrap().port(), port);
        let t6 = bind_tcp(format!("[::]:{port}").parse().unwrap()).unwrap();
        assert_eq!(t6.local_addr().unwrap().port(), port);
    }
    drop(t4);
}

fn invite(from: SocketAddr, branch: &str) -> String {
    format!(
        "INVITE sip:555@waihu.test SIP/2.0\r\n\
         Via: SIP/2.0/UDP {from};branch=z9hG4bK{branch}\r\n\
         From: <sip:1001@waihu.test>;tag=c1\r\n\
         To: <sip:555@waihu.test>\r\n\
         Call-ID: {branch}@test\r\n\
         CSeq: 1 INVITE\r\n\
         Contact: <sip:1001@{from}>\r\n\
         Max-Forwards: 70\r\n\
         Content-Length: 0\r\n\r\n"
    )
}

/// Sends an INVITE and returns the response to it (the endpoint's
/// retransmissions of earlier, unacknowledged answers are skipped).
async fn answer_to_invite(client: &UdpSocket, branch: &str, to: SocketAddr) -> String {
    let me = client.local_addr().unwrap();
    client
        .send_to(invite(me, branch).as_bytes(), to)
        .await
        .unwrap();
    let mut buf = vec![0u8; 65536];
    loop {
        let (n, _) = timeout(WAIT, client.recv_from(&mut buf))
            .await
            .expect("an answer in time")
            .unwrap();
        let text = String::from_utf8_lossy(&buf[..n]).into_owned();
        if text.contains(&format!(";branch=z9hG4bK{branch}\r\n")) {
            return text;
        }
    }
}

#[tokio::test]
async fn a_runtime_that_falls_behind_refuses_new_calls_until_it_catches_up() {
    let h = start_with(settings_with(
        &["udp:127.0.0.1:0", "tcp:127.0.0.1:0"],
        "overload_delay_ms: 50",
    ));
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let text = answer_to_invite(&client, "before", h.udp).await;
    assert!(text.starts_with("SIP/2.0 401 "), "{text}");

    // Hold the runtime's only thread, as a CPU that cannot keep up would.
    std::thread::sleep(Duration::from_millis(1500));
    tokio::time::sleep(Duration::from_millis(30)).await;
    let text = answer_to_invite(&client, "during", h.udp).await;
    assert!(text.starts_with("SIP/2.0 503 "), "{text}");
    assert!(text.contains("\r\nRetry-After: 2\r\n"), "{text}");
    let mut snapshots = h.snapshots.clone();
    until(&mut snapshots, |s| s.sip.refused_calls == 1).await;
    assert!(snapshots.borrow().load.delay() >= Duration::from_millis(50));

    // The delay falls once turns come on time again (one late tick of
    // 1.5 s moved the average to about 190 ms; ticks on time bring it
    // under 50 ms in ten more).
    let mut refused = 1;
    for n in 0.. {
        assert!(n < 50, "still refusing after {n} tries");
        tokio::time::sleep(Duration::from_millis(100)).await;
        let text = answer_to_invite(&client, &format!("after{n}"), h.udp).await;
        if text.starts_with("SIP/2.0 401 ") {
            break;
        }
        assert!(text.starts_with("SIP/2.0 503 "), "{text}");
        refused += 1;
    }
    assert!(snapshots.borrow().load.delay() < Duration::from_millis(50));
    until(&mut snapshots, |s| s.sip.refused_calls == refused).await;
    timeout(WAIT, h.coordinator.shutdown())
        .await
        .expect("shutdown completes");
}
