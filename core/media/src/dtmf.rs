//! RFC 4733 telephone-events: the DTMF digits most carriers and desk
//! phones send beside the audio instead of in it.
//!
//! - [`TelephoneEvent`]: the 4-byte event block, parsed and written.
//! - [`DtmfReceiver`]: turns the stream of event packets (start,
//!   continuations, three end packets, losses, retransmissions, reordering)
//!   into exactly one [`DtmfDigit`] per key press.
//! - [`DtmfSender`]: the packet sequence for a string of digits, one
//!   packet (or none) per 20 ms media tick.
//!
//! Time is RTP time: the receiver works from the packets' timestamps and
//! from the `now` the caller hands to [`DtmfReceiver::flush`]; the sender
//! takes the media timestamp of each tick from the caller.

use std::collections::VecDeque;

/// Errors from parsing event payloads and queueing digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DtmfError {
    /// A telephone-event payload is one or more 4-byte blocks.
    #[error("telephone-event payload of {0} bytes is not a non-empty multiple of 4")]
    BadLength(usize),
    /// The character has no DTMF event code.
    #[error("{0:?} is not a DTMF digit (0-9, *, #, A-D)")]
    NotADigit(char),
    /// The sender's queue holds at most [`DtmfSender::MAX_QUEUED`] digits.
    #[error("DTMF send queue is full")]
    QueueFull,
}

/// Event code to digit for the 16 DTMF events of RFC 4733 section 3.2.
const DIGITS: [char; 16] = [
    '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '*', '#', 'A', 'B', 'C', 'D',
];

/// The digit of a DTMF event code; `None` for the other events (flash,
/// fax and modem tones, ...), which waihu does not act on.
pub fn event_to_digit(event: u8) -> Option<char> {
    DIGITS.get(usize::from(event)).copied()
}

/// The event code of a digit; lower-case `a`-`d` are accepted because
/// dial strings typed by people contain them.
pub fn digit_to_event(digit: char) -> Option<u8> {
    let upper = digit.to_ascii_uppercase();
    DIGITS
        .iter()
        .position(|&d| d == upper)
        .and_then(|i| u8::try_from(i).ok())
}

/// One telephone-event block (RFC 4733 section 2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TelephoneEvent {
    /// Event code: 0-15 are the DTMF digits.
    pub event: u8,
    /// The E bit: this report ends the event.
    pub end: bool,
    /// Power level in -dBm0, 0..=63 (larger is quieter).
    pub volume: u8,
    /// Length of the event so far, in RTP timestamp units.
    pub duration: u16,
}

const END_BIT: u8 = 0x80;
const VOLUME_MASK: u8 = 0x3F;

impl TelephoneEvent {
    /// Parses a telephone-event payload.
    ///
    /// A payload may hold several blocks (RFC 4733 section 2.5.1.5 packs
    /// short events together; redundant senders repeat earlier reports in
    /// front of the newest). The blocks are in time order, so the last one
    /// is the current state of the newest event, and that is what is
    /// returned; [`TelephoneEvent::parse_all`] gives every block. The R bit
    /// is reserved and ignored.
    pub fn parse(payload: &[u8]) -> Result<TelephoneEvent, DtmfError> {
        Self::parse_all(payload)?
            .next_back()
            .ok_or(DtmfError::BadLength(payload.len()))
    }

    /// Every block of a payload, oldest first.
    pub fn parse_all(
        payload: &[u8],
    ) -> Result<impl DoubleEndedIterator<Item = TelephoneEvent> + '_, DtmfError> {
        if payload.is_empty() || !payload.len().is_multiple_of(4) {
            return Err(DtmfError::BadLength(payload.len()));
        }
        Ok(payload.chunks_exact(4).map(|b| TelephoneEvent {
            event: b[0],
            end: b[1] & END_BIT != 0,
            volume: b[1] & VOLUME_MASK,
            duration: u16::from_be_bytes([b[2], b[3]]),
        }))
    }

    /// Writes the block; a volume above 63 is clamped to 63 (the quietest)
    /// rather than spilling into the E and R bits.
    pub fn write(&self, out: &mut [u8; 4]) {
        let end = if self.end { END_BIT } else { 0 };
        let [hi, lo] = self.duration.to_be_bytes();
        *out = [self.event, end | self.volume.min(VOLUME_MASK), hi, lo];
    }
}

/// One key press, reported once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DtmfDigit {
    /// '0'-'9', '*', '#', 'A'-'D'.
    pub digit: char,
    /// How long the key was held, in RTP timestamp units, as far as the
    /// packets that arrived tell (saturates at `u16::MAX`).
    pub duration: u16,
    /// Power level in -dBm0 from the newest packet of the event.
    pub volume: u8,
}

/// Settings for [`DtmfReceiver`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DtmfReceiverConfig {
    /// RTP clock rate of the telephone-event payload type (8000 for
    /// `telephone-event/8000`).
    pub clock_rate: u32,
    /// An event whose end packets were all lost is reported by
    /// [`DtmfReceiver::flush`] once its tone has been silent for longer
    /// than this. 200 ms is far longer than the 50 ms a sender may wait
    /// between updates, and short enough for an IVR not to feel slow.
    pub end_timeout_ms: u32,
    /// At most this many digits are reported in any second of RTP time;
    /// the rest are dropped and counted. Nobody dials faster than about
    /// 10 digits a second; a flood of events is a broken or hostile peer.
    pub max_digits_per_second: u32,
}

impl Default for DtmfReceiverConfig {
    fn default() -> Self {
        DtmfReceiverConfig {
            clock_rate: 8000,
            end_timeout_ms: 200,
            max_digits_per_second: 20,
        }
    }
}

/// The digits a single packet completed: none, one, or two (the previous
/// event whose end was lost, and a new event that begins and ends in this
/// very packet).
#[derive(Debug, Clone, Default)]
pub struct Digits {
    items: [Option<DtmfDigit>; 2],
    next: usize,
}

impl Digits {
    fn push(&mut self, digit: DtmfDigit) {
        if let Some(slot) = self.items.iter_mut().find(|s| s.is_none()) {
            *slot = Some(digit);
        }
    }
}

impl Iterator for Digits {
    type Item = DtmfDigit;

    fn next(&mut self) -> Option<DtmfDigit> {
        while let Some(slot) = self.items.get_mut(self.next) {
            self.next += 1;
            if let Some(d) = slot.take() {
                return Some(d);
            }
        }
        None
    }
}

/// The event the receiver is following: the newest timestamp seen.
#[derive(Debug, Clone, Copy)]
struct Current {
    timestamp: u32,
    event: u8,
    volume: u8,
    duration: u16,
    /// Duration of earlier segments of the same press (RFC 4733 section
    /// 2.5.1.3: events longer than 0xFFFF units continue under a new
    /// timestamp).
    carried: u32,
    /// Reported, dropped or counted: nothing more is done for this press.
    done: bool,
}

/// Reports each RFC 4733 key press exactly once.
///
/// An event is identified by its RTP timestamp. It is reported:
/// - at its first end packet (the usual three end packets, and any
///   retransmitted or reordered packet of it, are then ignored);
/// - if every end packet was lost, when a packet with a newer timestamp
///   arrives, or when [`DtmfReceiver::flush`] finds that nothing has
///   extended it for more than `end_timeout_ms` of RTP time.
///
/// Packets with a timestamp older than the event being followed belong to
/// presses already reported (or superseded) and are ignored. Timestamps
/// compare modulo 2^32, so wrap-around is handled; a timestamp more than
/// a minute of RTP time in the past is taken as a new stream (a sender
/// that restarted its clock), not as a stale packet. Call
/// [`DtmfReceiver::reset`] when the SSRC changes.
///
/// Nothing here allocates after [`DtmfReceiver::new`].
#[derive(Debug, Clone)]
pub struct DtmfReceiver {
    config: DtmfReceiverConfig,
    current: Option<Current>,
    /// Start timestamps of the most recent reported digits, oldest first,
    /// at most `max_digits_per_second` of them.
    recent: VecDeque<u32>,
    dropped_storm: u64,
    unknown_events: u64,
}

impl DtmfReceiver {
    /// Highest accepted `max_digits_per_second`; larger settings are
    /// lowered to it (the window holds one timestamp per allowed digit).
    pub const MAX_RATE: u32 = 1000;

    /// A receiver with the given settings. A clock rate of 0 is taken as
    /// 8000.
    pub fn new(config: DtmfReceiverConfig) -> DtmfReceiver {
        let config = DtmfReceiverConfig {
            clock_rate: if config.clock_rate == 0 {
                8000
            } else {
                config.clock_rate
            },
            ..config
        };
        let config = DtmfReceiverConfig {
            max_digits_per_second: config.max_digits_per_second.min(Self::MAX_RATE),
            ..config
        };
        let cap = usize::try_from(config.max_digits_per_second).unwrap_or(0);
        DtmfReceiver {
            config,
            current: None,
            // Reserved in full so the window never grows on the packet path.
            recent: VecDeque::with_capacity(cap),
            dropped_storm: 0,
            unknown_events: 0,
        }
    }

    /// Digits dropped because the peer sent more than
    /// `max_digits_per_second`.
    pub fn dropped_storm(&self) -> u64 {
        self.dropped_storm
    }

    /// Events with a code that is not a DTMF digit (flash, fax tones,
    /// ...), each counted once.
    pub fn unknown_events(&self) -> u64 {
        self.unknown_events
    }

    /// Forgets the event being followed without reporting it: for a new
    /// SSRC, whose timestamps have nothing to do with the old ones.
    pub fn reset(&mut self) {
        self.current = None;
    }

    /// Feeds one telephone-event packet: its RTP marker bit, RTP timestamp
    /// and (last) event block. Returns the digits this packet completed.
    pub fn push(&mut self, marker: bool, timestamp: u32, event: &TelephoneEvent) -> Digits {
        let mut out = Digits::default();
        let Some(mut cur) = self.current else {
            self.start(timestamp, event, 0, &mut out);
            return out;
        };
        let age = timestamp.wrapping_sub(cur.timestamp) as i32;
        if age == 0 {
            if !cur.done {
                // A reordered packet carries a shorter duration than one
                // already seen; the press is as long as the longest report.
                cur.duration = cur.duration.max(event.duration);
                cur.volume = event.volume;
                self.current = Some(cur);
                if event.end {
                    self.finish(&mut out);
                }
            }
            return out;
        }
        if age < 0 && age > -self.restart_window() {
            return out;
        }
        let mut carried = 0;
        if !cur.done && !marker && event.event == cur.event && self.continues(&cur, timestamp) {
            carried = cur.carried.saturating_add(u32::from(cur.duration));
            // The earlier segment is part of this press: not a digit.
            cur.done = true;
            self.current = Some(cur);
        } else if !cur.done {
            self.finish(&mut out);
        }
        self.start(timestamp, event, carried, &mut out);
        out
    }

    /// Reports the event being followed if its end packets were lost:
    /// when no packet has extended it for more than `end_timeout_ms`.
    ///
    /// `now` is the current position on the telephone-event RTP clock,
    /// e.g. the timestamp of the newest audio packet of the same stream,
    /// or that extrapolated with the wall clock when no audio flows. The
    /// event counts as last heard of at its start timestamp plus its
    /// reported duration.
    pub fn flush(&mut self, now: u32) -> Option<DtmfDigit> {
        let cur = self.current?;
        if cur.done {
            return None;
        }
        let heard = cur.timestamp.wrapping_add(u32::from(cur.duration));
        let silent = now.wrapping_sub(heard) as i32;
        if i64::from(silent) > self.timeout_units() {
            let mut out = Digits::default();
            self.finish(&mut out);
            return out.next();
        }
        None
    }

    fn timeout_units(&self) -> i64 {
        i64::from(self.config.end_timeout_ms) * i64::from(self.config.clock_rate) / 1000
    }

    /// Timestamps further in the past than this are a restarted sender.
    fn restart_window(&self) -> i32 {
        i32::try_from(u64::from(self.config.clock_rate) * 60).unwrap_or(i32::MAX)
    }

    /// Whether a new timestamp is the next segment of a long press: the
    /// sender starts it where the previous segment's maximal duration
    /// ends. The previous segment's last reports may have been lost, so
    /// allow a few packets' worth of slack.
    fn continues(&self, cur: &Current, timestamp: u32) -> bool {
        let slack = self.config.clock_rate / 10;
        let long = u32::from(cur.duration) + slack >= u32::from(u16::MAX);
        let gap = timestamp.wrapping_sub(cur.timestamp);
        long && gap >= u32::from(cur.duration) && gap <= u32::from(u16::MAX) + slack
    }

    fn start(&mut self, timestamp: u32, event: &TelephoneEvent, carried: u32, out: &mut Digits) {
        let known = event_to_digit(event.event).is_some();
        if !known {
            self.unknown_events += 1;
        }
        self.current = Some(Current {
            timestamp,
            event: event.event,
            volume: event.volume,
            duration: event.duration,
            carried,
            done: !known,
        });
        if known && event.end {
            self.finish(out);
        }
    }

    /// Reports the current event (once), unless the storm limit says no.
    fn finish(&mut self, out: &mut Digits) {
        let Some(cur) = self.current.as_mut() else {
            return;
        };
        if cur.done {
            return;
        }
        cur.done = true;
        let cur = *cur;
        let Some(digit) = event_to_digit(cur.event) else {
            return;
        };
        if !self.admit(cur.timestamp) {
            self.dropped_storm += 1;
            return;
        }
        let total = cur.carried.saturating_add(u32::from(cur.duration));
        out.push(DtmfDigit {
            digit,
            duration: u16::try_from(total).unwrap_or(u16::MAX),
            volume: cur.volume,
        });
    }

    /// Sliding one-second window over the start timestamps of reported
    /// digits; a token bucket would let twice the limit through in a
    /// second that starts with a full bucket.
    fn admit(&mut self, timestamp: u32) -> bool {
        let limit = usize::try_from(self.config.max_digits_per_second).unwrap_or(usize::MAX);
        if limit == 0 {
            return false;
        }
        let second = self.config.clock_rate;
        while let Some(&oldest) = self.recent.front() {
            // Older than a second, or "in the future" after a restart:
            // no longer in the window either way.
            if timestamp.wrapping_sub(oldest) >= second {
                self.recent.pop_front();
            } else {
                break;
            }
        }
        if self.recent.len() >= limit {
            return false;
        }
        self.recent.push_back(timestamp);
        true
    }
}

impl Default for DtmfReceiver {
    fn default() -> Self {
        DtmfReceiver::new(DtmfReceiverConfig::default())
    }
}

/// Settings for [`DtmfSender`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DtmfSenderConfig {
    /// RTP clock rate of the telephone-event payload type.
    pub clock_rate: u32,
    /// Media packet interval; the caller ticks the sender once per packet.
    pub ptime_ms: u32,
    /// Tone length of each digit. 100 ms is comfortably above the 40 ms
    /// that ITU-T Q.24 receivers must accept, and what most phones send.
    pub tone_ms: u32,
    /// Silence between the end of one tone and the start of the next.
    pub pause_ms: u32,
    /// Volume field, -dBm0.
    pub volume: u8,
}

impl Default for DtmfSenderConfig {
    fn default() -> Self {
        DtmfSenderConfig {
            clock_rate: 8000,
            ptime_ms: 20,
            tone_ms: 100,
            pause_ms: 60,
            volume: 10,
        }
    }
}

/// One telephone-event packet to send: payload, RTP marker bit, RTP
/// timestamp. Sequence number, SSRC and payload type are the caller's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DtmfPacket {
    /// The 4-byte event block.
    pub payload: [u8; 4],
    /// Set on the first packet of each event.
    pub marker: bool,
    /// The event's start timestamp, shared by all its packets.
    pub rtp_timestamp: u32,
}

#[derive(Debug, Clone, Copy)]
enum SendState {
    Idle,
    Tone {
        event: u8,
        start: u32,
        sent: u32,
    },
    Ending {
        event: u8,
        start: u32,
        duration: u16,
        left: u8,
    },
    Pause {
        until: u32,
    },
}

/// The RFC 4733 packet sequence for a string of digits.
///
/// Call [`DtmfSender::tick`] once per media packet interval with the
/// timestamp the audio packet of that interval would carry; when it
/// returns a packet, send it instead of the audio. Each digit is: a first
/// packet with the marker bit, packets whose duration grows by one packet
/// interval, then the end packet three times with the final duration (end
/// packets are the ones a lost packet hurts, RFC 4733 section 2.5.1.4),
/// then `pause_ms` of silence (no packets) measured from the end of the
/// tone.
#[derive(Debug, Clone)]
pub struct DtmfSender {
    config: DtmfSenderConfig,
    queue: VecDeque<u8>,
    state: SendState,
}

impl DtmfSender {
    /// Longest digit string queued at once; a dial string longer than
    /// this is a mistake or an attack.
    pub const MAX_QUEUED: usize = 256;
    const END_REPEATS: u8 = 3;

    /// A sender with the given settings.
    pub fn new(config: DtmfSenderConfig) -> DtmfSender {
        DtmfSender {
            config,
            queue: VecDeque::new(),
            state: SendState::Idle,
        }
    }

    /// Queues digits to send after those already queued. Either all of
    /// them are queued or, on an invalid character or a full queue, none.
    pub fn queue(&mut self, digits: &str) -> Result<(), DtmfError> {
        let mut count = 0;
        for c in digits.chars() {
            digit_to_event(c).ok_or(DtmfError::NotADigit(c))?;
            count += 1;
        }
        if self.queue.len() + count > Self::MAX_QUEUED {
            return Err(DtmfError::QueueFull);
        }
        self.queue.extend(digits.chars().filter_map(digit_to_event));
        Ok(())
    }

    /// Nothing queued, nothing being sent, no pause running.
    pub fn is_idle(&self) -> bool {
        matches!(self.state, SendState::Idle) && self.queue.is_empty()
    }

    /// Drops queued digits; a digit being sent is still ended properly so
    /// the far end does not hear a stuck key.
    pub fn cancel(&mut self) {
        self.queue.clear();
    }

    fn units(&self, ms: u32) -> u32 {
        (u64::from(self.config.clock_rate) * u64::from(ms) / 1000)
            .try_into()
            .unwrap_or(u32::MAX)
    }

    fn packet(&self, event: u8, end: bool, duration: u16, marker: bool, start: u32) -> DtmfPacket {
        let mut payload = [0; 4];
        TelephoneEvent {
            event,
            end,
            volume: self.config.volume,
            duration,
        }
        .write(&mut payload);
        DtmfPacket {
            payload,
            marker,
            rtp_timestamp: start,
        }
    }

    /// The packet for the media interval starting at `now` (RTP time), if
    /// any.
    pub fn tick(&mut self, now: u32) -> Option<DtmfPacket> {
        // The 16-bit duration field bounds a single packet sequence.
        let tone = self
            .units(self.config.tone_ms)
            .clamp(1, u32::from(u16::MAX));
        let ptime = self.units(self.config.ptime_ms).max(1);
        loop {
            match self.state {
                SendState::Idle => {
                    let event = self.queue.pop_front()?;
                    self.state = SendState::Tone {
                        event,
                        start: now,
                        sent: 0,
                    };
                }
                SendState::Tone { event, start, sent } => {
                    // A late tick still reports the true elapsed time; a
                    // clock that went backwards counts as no time.
                    let elapsed = now.wrapping_sub(start);
                    let elapsed = if (elapsed as i32) < 0 { 0 } else { elapsed };
                    let duration = elapsed.saturating_add(ptime).max(sent + 1).min(tone);
                    let d16 = u16::try_from(duration).unwrap_or(u16::MAX);
                    let first = sent == 0;
                    if duration >= tone {
                        self.state = SendState::Ending {
                            event,
                            start,
                            duration: d16,
                            left: Self::END_REPEATS - 1,
                        };
                        return Some(self.packet(event, true, d16, first, start));
                    }
                    self.state = SendState::Tone {
                        event,
                        start,
                        sent: duration,
                    };
                    return Some(self.packet(event, false, d16, first, start));
                }
                SendState::Ending {
                    event,
                    start,
                    duration,
                    left,
                } => {
                    self.state = if left > 1 {
                        SendState::Ending {
                            event,
                            start,
                            duration,
                            left: left - 1,
                        }
                    } else {
                        let until = start
                            .wrapping_add(u32::from(duration))
                            .wrapping_add(self.units(self.config.pause_ms));
                        SendState::Pause { until }
                    };
                    return Some(self.packet(event, true, duration, false, start));
                }
                SendState::Pause { until } => {
                    if (now.wrapping_sub(until) as i32) < 0 {
                        return None;
                    }
                    self.state = SendState::Idle;
                }
            }
        }
    }
}

impl Default for DtmfSender {
    fn default() -> Self {
        DtmfSender::new(DtmfSenderConfig::default())
    }
}
