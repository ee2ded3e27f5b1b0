//! A call's media leg: its RTP/RTCP sockets and the media-core pieces that
//! turn packets into audio and digits and back.
//!
//! Everything per packet here reuses the leg's buffers: receiving, echoing
//! and sending a prompt frame allocate nothing.

use std::collections::VecDeque;
use std::fs::File;
use std::io::BufWriter;
use std::net::{SocketAddr, UdpSocket as StdUdpSocket};
use std::path::Path;
use std::sync::Arc;

use tokio::time::Instant;
use tracing::{debug, info};
use waihu_call::{PlayItem, RecordMode, Tone, ToneRegion};
use waihu_media::dtmf::{DtmfReceiver, DtmfSender, DtmfSenderConfig, TelephoneEvent};
use waihu_media::g711::Law;
use waihu_media::inband::InbandDetector;
use waihu_media::player::{Frame, Item, Player};
use waihu_media::prompt::Prompt;
use waihu_media::record::{RecordError, Recorder};
use waihu_media::relay::{MediaTimeout, SourceFilter, SourceMode, Verdict};
use waihu_media::rtcp::RtcpLeg;
use waihu_media::rtp::{self, ReceiveStats, RtpSender};
use waihu_media::tone::ToneKind;
use waihu_sip::sdp::{self, Codec, Direction, LocalMedia, Negotiated, Sdp};

use super::CallContext;
use crate::rtp_ports::PortPair;

/// Samples per 20 ms frame at 8 kHz.
pub const FRAME_SAMPLES: usize = 160;
/// Caller audio waiting to be recorded: half a second at most.
const HEARD_LIMIT: usize = 4000;
/// Largest datagram we read; anything longer is not G.711 RTP.
const MAX_DATAGRAM: usize = 2048;

/// A recorder writing to a file.
pub type FileRecorder = Recorder<BufWriter<File>>;

/// What a datagram brought.
#[derive(Debug)]
pub enum Heard {
    /// Caller audio (decoded into the leg's recording buffer).
    Audio,
    /// A key press (RFC 4733 or in-band), reported once.
    Digit(char),
    /// Nothing the call acts on (RTCP, a dropped or bad packet).
    Nothing,
}

#[derive(Debug)]
pub struct Leg {
    /// The RTP and RTCP sockets (back to the pool when the leg ends).
    pair: PortPair,
    port: u16,
    local: LocalMedia,
    local_sdp: String,
    law: Law,
    payload_type: u8,
    event_type: Option<u8>,
    direction: Direction,
    filter: SourceFilter,
    timeout: Option<MediaTimeout>,
    sender: RtpSender,
    stats: ReceiveStats,
    rtcp_state: RtcpLeg,
    dtmf_in: DtmfReceiver,
    dtmf_out: DtmfSender,
    inband: Option<InbandDetector>,
    digits: VecDeque<char>,
    heard: VecDeque<i16>,
    /// The last audio payload received, for echo.
    last: Vec<u8>,
    recv_buf: Vec<u8>,
    send_buf: Vec<u8>,
    /// The start of the leg, for RTP arrival times.
    base: Instant,
    bad_packets: u64,
    wrong_type: u64,
    /// Length of the last accepted RTP packet in `recv_buf`, until taken
    /// for relaying.
    relayable: Option<usize>,
    relayed: u64,
    bad_rtcp: u64,
    /// Keep decoded audio for the recording.
    listening: bool,
    /// When the last frame of our own went out.
    last_frame_at: Option<Instant>,
}

impl Leg {
    pub fn new(
        pair: PortPair,
        negotiated: &Negotiated,
        local_sdp: String,
        ctx: &CallContext,
        now: Instant,
    ) -> Leg {
        let mode = if ctx.strict_source {
            SourceMode::Strict
        } else {
            SourceMode::Learn
        };
        let filter = SourceFilter::new(negotiated.remote, mode, now.into_std())
            .with_probation(ctx.probation);
        // SSRC, first sequence number and timestamp (RFC 3550 5.1): one
        // system call for the three.
        let mut seed = [0u8; 10];
        if getrandom::fill(&mut seed).is_err() {
            seed = [0x57, 0x41, 0x49, 0x48, 0, 0, 0, 0, 0, 0];
        }
        let ssrc = u32::from_be_bytes([seed[0], seed[1], seed[2], seed[3]]);
        let seq = u16::from_be_bytes([seed[4], seed[5]]);
        let ts = u32::from_be_bytes([seed[6], seed[7], seed[8], seed[9]]);
        let local = LocalMedia {
            addr: ctx.advertise,
            port: pair.port,
            codecs: vec![Codec::Pcma, Codec::Pcmu],
            telephone_event_pt: Some(101),
            ptime_ms: 20,
            session_id: u64::from(ssrc),
            session_version: 1,
            direction: Direction::SendRecv,
        };
        Leg {
            port: pair.port,
            pair,
            local,
            local_sdp,
            law: law_of(negotiated.codec),
            payload_type: negotiated.payload_type,
            event_type: negotiated.telephone_event_pt,
            direction: negotiated.direction,
            filter,
            timeout: ctx
                .rtp_timeout
                .map(|t| MediaTimeout::new(t, now.into_std())),
            sender: RtpSender::new(ssrc, seq, ts),
            stats: ReceiveStats::new(),
            rtcp_state: RtcpLeg::new(Some(ssrc)),
            dtmf_in: DtmfReceiver::default(),
            dtmf_out: DtmfSender::new(DtmfSenderConfig::default()),
            // Without telephone-event the digits can only be in the audio.
            inband: negotiated
                .telephone_event_pt
                .is_none()
                .then(InbandDetector::new),
            digits: VecDeque::new(),
            heard: VecDeque::with_capacity(HEARD_LIMIT),
            last: Vec::with_capacity(512),
            recv_buf: vec![0; MAX_DATAGRAM],
            send_buf: vec![0; MAX_DATAGRAM],
            base: now,
            bad_packets: 0,
            wrong_type: 0,
            relayable: None,
            relayed: 0,
            bad_rtcp: 0,
            listening: false,
            last_frame_at: None,
        }
    }

    /// The codec negotiated on this leg.
    pub fn codec(&self) -> Codec {
        match self.law {
            Law::Ulaw => Codec::Pcmu,
            Law::Alaw => Codec::Pcma,
        }
    }

    pub fn local_sdp(&self) -> &str {
        &self.local_sdp
    }

    /// The next thing heard: a queued digit first, else the next datagram.
    pub async fn recv(&mut self, now: fn() -> Instant) -> Option<Heard> {
        if let Some(digit) = self.digits.pop_front() {
            return Some(Heard::Digit(digit));
        }
        let Some(socket) = self.pair.rtp() else {
            // The socket could not be handed back from the relay engine:
            // a mute leg (its media timeout ends the call).
            return std::future::pending().await;
        };
        let (len, src) = socket.recv_from(&mut self.recv_buf).await.ok()?;
        Some(self.on_rtp(len, src, now(), true))
    }

    /// Hands the RTP socket to the relay engine (see `call::relay`).
    pub fn take_socket(&mut self) -> std::io::Result<StdUdpSocket> {
        self.pair.take_rtp()
    }

    /// Takes back the socket [`Leg::take_socket`] gave away.
    pub fn restore_socket(&mut self, socket: StdUdpSocket) -> std::io::Result<()> {
        self.pair.restore_rtp(socket)
    }

    /// Whether the relay engine can carry this leg's packets: nothing
    /// needs its audio decoded (a recording, AMD, in-band digits of the
    /// caller) and no RFC 4733 digits are going out of it.
    pub fn relays_plainly(&self, digits_matter: bool) -> bool {
        let inband = digits_matter && self.inband.is_some();
        !self.listening && !inband && !self.dtmf_busy() && self.digits.is_empty()
    }

    /// The relay engine's read: one datagram from `socket` (the one taken
    /// by [`Leg::take_socket`]), checked and counted as [`Leg::recv`]
    /// does. Audio is not decoded: a leg is only handed over when nothing
    /// needs it, and the dialled leg's in-band digits are not acted on.
    pub fn read_from(&mut self, socket: &StdUdpSocket, now: Instant) -> std::io::Result<Heard> {
        let (len, src) = socket.recv_from(&mut self.recv_buf)?;
        Ok(self.on_rtp(len, src, now, false))
    }

    /// The io_uring engine's read: a datagram it received on this leg's
    /// socket into its own buffer, from `src`, checked and counted as
    /// [`Leg::read_from`] does.
    pub fn take_datagram(&mut self, data: &[u8], src: SocketAddr, now: Instant) -> Heard {
        let len = data.len().min(self.recv_buf.len());
        self.recv_buf[..len].copy_from_slice(&data[..len]);
        self.on_rtp(len, src, now, false)
    }

    /// A digit [`Leg::read_from`] queued behind the one it returned.
    pub fn pop_digit(&mut self) -> Option<char> {
        self.digits.pop_front()
    }

    /// Whether the media timeout is due, without firing it: the call task
    /// fires it once it has the leg back.
    pub fn timeout_due(&self, now: Instant) -> bool {
        self.timeout
            .as_ref()
            .and_then(MediaTimeout::poll_timeout)
            .is_some_and(|deadline| now.into_std() >= deadline)
    }

    /// Drops what queued on the socket before the leg was ready (media
    /// sent before the answer, when no early media was agreed): relaying
    /// it now would play seconds of stale audio in a burst.
    pub fn discard_queued(&mut self) -> usize {
        let mut dropped = 0;
        // Bounded: the kernel buffer holds a few hundred packets at most.
        let Some(socket) = self.pair.rtp() else {
            return 0;
        };
        while dropped < 4096 && socket.try_recv_from(&mut self.recv_buf).is_ok() {
            dropped += 1;
        }
        dropped
    }

    /// Reads the RTCP that came since the last call. RTCP arrives every few
    /// seconds, so the call's timers poll for it rather than every packet
    /// wait watching a second socket.
    pub fn drain_rtcp(&mut self, now: Instant) {
        let mut buf = [0u8; 1500];
        // A bounded number per call: a flood must not hold the task.
        for _ in 0..16 {
            match self.pair.rtcp().try_recv_from(&mut buf) {
                Ok((len, src)) => self.on_rtcp(&buf[..len], src, now),
                Err(_) => return,
            }
        }
    }

    fn on_rtp(&mut self, len: usize, src: SocketAddr, now: Instant, decode: bool) -> Heard {
        if !matches!(self.filter.check(src, now.into_std()), Verdict::Accept) {
            return Heard::Nothing;
        }
        let Ok(packet) = rtp::parse(&self.recv_buf[..len]) else {
            self.bad_packets += 1;
            return Heard::Nothing;
        };
        let header = packet.header;
        let arrival = (now.duration_since(self.base).as_micros() / 125) as u32;
        if !self.stats.on_packet(&header, arrival).is_usable() {
            return Heard::Nothing;
        }
        if let Some(timeout) = self.timeout.as_mut() {
            timeout.on_packet(now.into_std());
        }
        self.relayable = Some(len);
        if Some(header.payload_type) == self.event_type {
            if let Ok(event) = TelephoneEvent::parse(packet.payload) {
                for d in self.dtmf_in.push(header.marker, header.timestamp, &event) {
                    self.digits.push_back(d.digit);
                }
            }
            return self.digits.pop_front().map_or(Heard::Nothing, Heard::Digit);
        }
        if header.payload_type != self.payload_type {
            self.wrong_type += 1;
            return Heard::Nothing;
        }
        self.last.clear();
        self.last.extend_from_slice(packet.payload);
        // Decoding costs; a relayed or echoed packet needs none unless the
        // call is recorded or digits can only be heard in the audio.
        if decode && (self.listening || self.inband.is_some()) {
            let law = self.law;
            let mut pcm = [0i16; 320];
            for chunk in packet.payload.chunks(pcm.len()) {
                let pcm = &mut pcm[..chunk.len()];
                for (out, &code) in pcm.iter_mut().zip(chunk) {
                    *out = law.decode_sample(code);
                }
                if self.listening {
                    let room = HEARD_LIMIT.saturating_sub(self.heard.len());
                    self.heard.extend(pcm.iter().take(room));
                }
                if let Some(inband) = self.inband.as_mut() {
                    let digits = &mut self.digits;
                    inband.push(pcm, &mut |d| digits.push_back(d));
                }
            }
            if let Some(d) = self.digits.pop_front() {
                return Heard::Digit(d);
            }
        }
        // An end packet lost for good is reported once it is stale.
        if let Some(d) = self.dtmf_in.flush(header.timestamp) {
            return Heard::Digit(d.digit);
        }
        Heard::Audio
    }

    fn on_rtcp(&mut self, buf: &[u8], src: SocketAddr, now: Instant) {
        let expected = self
            .filter
            .send_to()
            .map(|a| SocketAddr::new(a.ip(), a.port() + 1));
        if expected.is_some_and(|e| e.ip() != src.ip()) {
            self.bad_rtcp += 1;
            return;
        }
        if self.rtcp_state.on_rtcp(buf, ntp(now)).is_err() {
            self.bad_rtcp += 1;
        }
    }

    /// The last accepted RTP packet, once, for the other leg of a bridge.
    pub fn take_relayable(&mut self) -> Option<&[u8]> {
        let len = self.relayable.take()?;
        Some(&self.recv_buf[..len])
    }

    /// The payload type telephone-events use on this leg.
    pub fn event_type(&self) -> Option<u8> {
        self.event_type
    }

    /// Sends a packet the other leg received to this leg's peer, as it
    /// came (the two legs negotiated the same codec); only the
    /// telephone-event payload type is mapped. No copy when nothing changes.
    pub fn relay(&mut self, packet: &[u8], their_event_type: Option<u8>) {
        let Some((to, rewritten)) = self.outgoing(packet, their_event_type) else {
            return;
        };
        let out = if rewritten {
            &self.send_buf[..packet.len()]
        } else {
            packet
        };
        let sent = self
            .pair
            .rtp()
            .is_some_and(|s| s.try_send_to(out, to).is_ok());
        self.relayed += u64::from(sent);
    }

    /// [`Leg::relay`] for the relay engine, through the socket it holds;
    /// `connected` is the peer that socket is connected to, if any (a
    /// connected send skips the kernel's route lookup).
    pub fn forward(
        &mut self,
        socket: &StdUdpSocket,
        connected: Option<SocketAddr>,
        packet: &[u8],
        their_event_type: Option<u8>,
    ) {
        let Some((to, rewritten)) = self.outgoing(packet, their_event_type) else {
            return;
        };
        let out = if rewritten {
            &self.send_buf[..packet.len()]
        } else {
            packet
        };
        // A full socket buffer drops the packet, as the network would.
        let sent = if connected == Some(to) {
            socket.send(out).is_ok()
        } else {
            socket.send_to(out, to).is_ok()
        };
        self.relayed += u64::from(sent);
    }

    /// [`Leg::forward`] for the io_uring engine, which sends from the
    /// buffer the packet arrived in: where it goes, with the
    /// telephone-event payload type mapped in place. The engine sends it
    /// and calls [`Leg::count_relayed`] once the kernel took it.
    pub fn route_in_place(
        &mut self,
        packet: &mut [u8],
        their_event_type: Option<u8>,
    ) -> Option<SocketAddr> {
        let (to, mapped) = self.route(packet, their_event_type)?;
        if let Some(pt) = mapped {
            packet[1] = pt;
        }
        Some(to)
    }

    /// A packet the engine relayed to this leg's peer.
    pub fn count_relayed(&mut self) {
        self.relayed += 1;
    }

    /// The address media both comes from and goes to, once the source is
    /// locked (symmetric RTP): the relay engine may connect the socket to it.
    pub fn symmetric_peer(&self) -> Option<SocketAddr> {
        self.filter
            .locked()
            .filter(|&locked| self.filter.send_to() == Some(locked))
    }

    /// Where a relayed packet goes, and whether it was copied into
    /// `send_buf` to map the telephone-event payload type between the legs.
    fn outgoing(
        &mut self,
        packet: &[u8],
        their_event_type: Option<u8>,
    ) -> Option<(SocketAddr, bool)> {
        let (to, mapped) = self.route(packet, their_event_type)?;
        let Some(pt) = mapped else {
            return Some((to, false));
        };
        self.send_buf[..packet.len()].copy_from_slice(packet);
        self.send_buf[1] = pt;
        Some((to, true))
    }

    /// Where a relayed packet goes, and its second header byte (marker
    /// and payload type) if the telephone-event payload type must be
    /// mapped between the legs.
    fn route(
        &self,
        packet: &[u8],
        their_event_type: Option<u8>,
    ) -> Option<(SocketAddr, Option<u8>)> {
        let to = self.filter.send_to()?;
        if !self.direction.sends() || packet.len() < rtp::HEADER_LEN {
            return None;
        }
        let pt = packet[1] & 0x7f;
        match (their_event_type, self.event_type) {
            (Some(theirs), Some(ours)) if pt == theirs && theirs != ours => {
                Some((to, Some((packet[1] & 0x80) | ours)))
            }
            _ => Some((to, None)),
        }
    }

    /// An RTCP report to the peer (RFC 3550 6.4): SR while we send media,
    /// RR otherwise, with a report block on what we received.
    pub fn send_rtcp(&mut self, now: Instant) {
        let Some(to) = self
            .filter
            .send_to()
            .and_then(waihu_media::relay::default_rtcp_addr)
        else {
            return;
        };
        let wall = ntp(now);
        let (lsr, dlsr) = self.rtcp_state.lsr_dlsr(wall);
        let blocks: Vec<_> = self.stats.report_block(lsr, dlsr).into_iter().collect();
        let ssrc = self.sender.ssrc();
        let mut out = [0u8; 256];
        let written = if self.sender.packets_sent() > 0 {
            let info = waihu_media::rtcp::SenderInfo::from_sender(
                &self.sender,
                wall,
                self.sender.next_timestamp(),
            );
            waihu_media::rtcp::write_compound_sr(&mut out, ssrc, &info, &blocks, b"waihu")
        } else {
            waihu_media::rtcp::write_compound_rr(&mut out, ssrc, &blocks, b"waihu")
        };
        if let Ok(len) = written {
            let _ = self.pair.rtcp().try_send_to(&out[..len], to);
        }
    }

    /// Sends the last audio packet received back to its sender.
    pub fn echo_last(&mut self) {
        if self.last.is_empty() {
            return;
        }
        let payload = std::mem::take(&mut self.last);
        self.send_payload(&payload);
        self.last = payload;
    }

    /// Sends one 20 ms frame of the player; returns what was sent (for the
    /// recording) and whether the playlist is done.
    pub fn play_frame(&mut self, player: &mut Player) -> (Option<[i16; FRAME_SAMPLES]>, bool) {
        if !self.listening {
            // Not recorded: the prompt's G.711 bytes, encoded once at load.
            let mut payload = [0u8; FRAME_SAMPLES];
            if matches!(player.next_encoded(self.law, &mut payload), Frame::Done) {
                return (None, true);
            }
            self.send_payload(&payload);
            return (None, player.is_done());
        }
        let mut frame = [0i16; FRAME_SAMPLES];
        if matches!(player.next_frame(&mut frame), Frame::Done) {
            return (None, true);
        }
        let mut payload = [0u8; FRAME_SAMPLES];
        for (p, &s) in payload.iter_mut().zip(frame.iter()) {
            *p = self.law.encode_sample(s);
        }
        self.send_payload(&payload);
        (Some(frame), player.is_done())
    }

    /// Before frames start again after a stretch of relaying or echoing:
    /// moves the RTP clock on by the time that passed, so the far end's
    /// jitter buffer sees the gap (and a marker) instead of a time warp.
    pub fn catch_up(&mut self, now: Instant) {
        if let Some(last) = self.last_frame_at {
            let gap = now.saturating_duration_since(last).as_micros() / 125;
            self.sender.skip(u32::try_from(gap).unwrap_or(u32::MAX));
        }
    }

    /// Keeps the stream going while nothing plays (NAT bindings, the far
    /// end's jitter buffer).
    pub fn silence_frame(&mut self) {
        let payload = [self.law.encode_sample(0); FRAME_SAMPLES];
        self.send_payload(&payload);
    }

    /// Queues digits for RFC 4733; false if the far end did not offer it.
    pub fn send_dtmf(&mut self, digits: &str) -> bool {
        self.event_type.is_some() && self.dtmf_out.queue(digits).is_ok()
    }

    /// Whether RFC 4733 packets are queued or going out.
    pub fn dtmf_busy(&self) -> bool {
        self.event_type.is_some() && !self.dtmf_out.is_idle()
    }

    /// One tick of DTMF sending; true once every digit has gone.
    pub fn dtmf_frame(&mut self) -> bool {
        let Some(pt) = self.event_type else {
            return true;
        };
        match self.dtmf_out.tick(self.sender.next_timestamp()) {
            Some(packet) => {
                let mut header =
                    self.sender
                        .next_header(pt, FRAME_SAMPLES as u32, packet.payload.len());
                header.timestamp = packet.rtp_timestamp;
                header.marker = packet.marker;
                self.send_with(header, &packet.payload);
                false
            }
            None => {
                if self.dtmf_out.is_idle() {
                    true
                } else {
                    self.sender.skip(FRAME_SAMPLES as u32);
                    false
                }
            }
        }
    }

    fn send_payload(&mut self, payload: &[u8]) {
        self.last_frame_at = Some(Instant::now());
        if !self.direction.sends() {
            self.sender.skip(payload.len() as u32);
            return;
        }
        let header =
            self.sender
                .next_header(self.payload_type, payload.len() as u32, payload.len());
        self.send_with(header, payload);
    }

    fn send_with(&mut self, header: rtp::RtpHeader, payload: &[u8]) {
        let Some(to) = self.filter.send_to() else {
            return;
        };
        match rtp::write(&mut self.send_buf, &header, payload) {
            Ok(len) => {
                // A full socket buffer drops the packet, as the network would.
                if let Some(socket) = self.pair.rtp() {
                    let _ = socket.try_send_to(&self.send_buf[..len], to);
                }
            }
            Err(e) => debug!(error = %e, "rtp not built"),
        }
    }

    /// Whether to keep decoded audio for [`Leg::take_heard_frame`].
    pub fn set_listening(&mut self, on: bool) {
        self.listening = on;
        if !on {
            self.heard.clear();
        }
    }

    /// The caller audio of one frame, for the recording.
    /// Only whole frames: packets of 30 ms (or late ones) leave part of a
    /// frame waiting for the next packet, rather than a gap of zeros in
    /// the middle of the caller's words.
    pub fn take_heard_frame(&mut self) -> Option<[i16; FRAME_SAMPLES]> {
        if self.heard.len() < FRAME_SAMPLES {
            return None;
        }
        let mut frame = [0i16; FRAME_SAMPLES];
        for (slot, s) in frame.iter_mut().zip(self.heard.drain(..FRAME_SAMPLES)) {
            *slot = s;
        }
        Some(frame)
    }

    pub fn timed_out(&mut self, now: Instant) -> bool {
        self.timeout
            .as_mut()
            .is_some_and(|t| t.check(now.into_std()))
    }

    /// Whether the far end holds us (our direction recvonly or inactive):
    /// nothing is to be sent to it until it resumes.
    pub fn holds_us(&self) -> bool {
        matches!(self.direction, Direction::RecvOnly | Direction::Inactive)
    }

    /// Keeps the SDP origin (session id and version) of the offer or
    /// answer this leg started with, so that later ones only bump the
    /// version (RFC 3264 section 8).
    pub fn set_origin(&mut self, session_id: u64, session_version: u64) {
        self.local.session_id = session_id;
        self.local.session_version = session_version;
    }

    /// Limits what a re-INVITE answer may pick to `codec` (a bridged leg
    /// relays packets as they are, so its codec must not change).
    pub fn pin_codec(&mut self, codec: Codec) {
        self.local.codecs = vec![codec];
    }

    /// A re-INVITE's offer: the answer to send, or the status refusing it.
    pub fn renegotiate(&mut self, offer: &Sdp, now: Instant) -> Result<String, u16> {
        self.local.session_version += 1;
        let (answer, negotiated) = sdp::answer(offer, &self.local).map_err(|e| e.sip_status())?;
        self.law = law_of(negotiated.codec);
        self.payload_type = negotiated.payload_type;
        self.event_type = negotiated.telephone_event_pt;
        self.direction = negotiated.direction;
        self.filter.renegotiate(negotiated.remote, now.into_std());
        if let Some(t) = self.timeout.as_mut() {
            if negotiated.direction == Direction::SendRecv {
                t.resume(now.into_std());
            } else {
                // On hold (either way) the far end may send nothing at all,
                // or only now and then.
                t.suspend();
            }
        }
        self.local_sdp = answer.to_string();
        Ok(self.local_sdp.clone())
    }

    /// The leg's media figures for the CDR, keyed `{side}.{figure}`.
    pub fn quality(&self, side: &str, out: &mut std::collections::BTreeMap<String, i64>) {
        let jitter_ms = i64::from(self.stats.jitter()) / 8;
        for (name, value) in [
            ("received", i64::from(self.stats.received())),
            ("lost", self.stats.lost()),
            ("jitter_ms", jitter_ms),
            ("strangers", self.filter.dropped() as i64),
            ("sent", i64::from(self.sender.packets_sent())),
        ] {
            out.insert(format!("{side}.{name}"), value);
        }
    }

    pub fn log_stats(&self, call_id: &str) {
        info!(
            %call_id,
            port = self.port,
            received = self.stats.received(),
            lost = self.stats.lost(),
            jitter = self.stats.jitter(),
            strangers = self.filter.dropped(),
            bad = self.bad_packets,
            wrong_type = self.wrong_type,
            dtmf_storm_dropped = self.dtmf_in.dropped_storm(),
            relayed = self.relayed,
            bad_rtcp = self.bad_rtcp,
            "media leg closed"
        );
    }
}

fn law_of(codec: Codec) -> Law {
    match codec {
        Codec::Pcmu => Law::Ulaw,
        // The only other codec negotiation can pick.
        _ => Law::Alaw,
    }
}

/// Seconds from the NTP epoch (1900) to the Unix one (1970).
const NTP_UNIX_OFFSET: u64 = 2_208_988_800;

/// Wall-clock time as a 64-bit NTP timestamp (32.32 fixed point), for
/// RTCP. `now` is the monotonic instant of the same moment, kept in the
/// signature so callers name the moment they mean.
fn ntp(now: Instant) -> u64 {
    let _ = now;
    let unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = unix.as_secs() + NTP_UNIX_OFFSET;
    let frac = (u64::from(unix.subsec_nanos()) << 32) / 1_000_000_000;
    (secs << 32) | frac
}

/// A playlist from the call vocabulary.
pub fn player(ctx: &CallContext, items: &[PlayItem]) -> Result<Player, String> {
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        out.push(match item {
            PlayItem::Prompt { name } => {
                let prompt: Arc<Prompt> = ctx
                    .prompts
                    .get(name)
                    .ok_or_else(|| format!("no prompt named {name:?}"))?;
                Item::Prompt(prompt)
            }
            PlayItem::Silence { ms } => Item::Silence { ms: *ms },
            PlayItem::Tone { tone, ms } => Item::Tone {
                kind: tone_kind(*tone, ctx.north_american_tones),
                ms: *ms,
            },
        });
    }
    Ok(Player::new(out))
}

fn tone_kind(tone: Tone, north_american_default: bool) -> ToneKind {
    use waihu_media::tone::ToneRegion as Plan;
    let plan = |region: ToneRegion| match region {
        ToneRegion::China => Plan::China,
        ToneRegion::NorthAmerica => Plan::NorthAmerica,
        ToneRegion::Configured if north_american_default => Plan::NorthAmerica,
        ToneRegion::Configured => Plan::China,
    };
    match tone {
        Tone::Ringback(region) => ToneKind::Ringback(plan(region)),
        Tone::Busy(region) => ToneKind::Busy(plan(region)),
    }
}

pub fn recorder(path: &Path, mode: RecordMode) -> Result<FileRecorder, RecordError> {
    let mode = match mode {
        RecordMode::Stereo => waihu_media::record::RecordMode::Stereo,
        RecordMode::Mono => waihu_media::record::RecordMode::Mono,
    };
    Recorder::create(path, mode)
}

#[cfg(test)]
mod tests {
    use super::*;
    use waihu_media::tone::ToneRegion as Plan;

    #[test]
    fn a_tone_without_a_region_follows_the_configured_plan() {
        let ringback = Tone::Ringback(ToneRegion::Configured);
        assert_eq!(
            tone_kind(ringback, true),
            ToneKind::Ringback(Plan::NorthAmerica)
        );
        assert_eq!(tone_kind(ringback, false), ToneKind::Ringback(Plan::China));
        // An explicit region wins over the configuration.
        let busy = Tone::Busy(ToneRegion::China);
        assert_eq!(tone_kind(busy, true), ToneKind::Busy(Plan::China));
    }
}
