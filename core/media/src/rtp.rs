//! RTP (RFC 3550): parsing and building packets, the sender's sequence and
//! timestamp bookkeeping, and the receiver's statistics (sequence
//! validation, loss, interarrival jitter) that feed RTCP reports.
//!
//! Everything here runs once per packet, so nothing allocates: packets are
//! read in place and written into a buffer the caller owns. Byte layout is
//! left to `rtp-rs`; this module adds the checks and the state machines.

use rtp_rs::{RtpPacketBuildError, RtpPacketBuilder, RtpReader, RtpReaderError, Seq};

/// Length of the fixed RTP header (no CSRC, no extension).
pub const HEADER_LEN: usize = 12;

/// The fields of an RTP header waihu acts on. CSRCs and header extensions
/// are skipped on receive and never sent: a PBX leg is one source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct RtpHeader {
    pub payload_type: u8,
    pub marker: bool,
    pub sequence: u16,
    pub timestamp: u32,
    pub ssrc: u32,
}

/// A parsed packet, borrowing its payload from the receive buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpPacket<'a> {
    pub header: RtpHeader,
    /// The payload without header, CSRCs, extension or padding.
    pub payload: &'a [u8],
}

/// Why a buffer is not an RTP packet, or a packet could not be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RtpError {
    #[error("RTP packet too short: {len} bytes, the fixed header needs {HEADER_LEN}")]
    TooShort { len: usize },
    #[error("RTP version {0}, only version 2 is supported")]
    BadVersion(u8),
    #[error("RTP CSRC list needs {needed} bytes, packet has {len}")]
    CsrcTruncated { needed: usize, len: usize },
    #[error("RTP header extension needs {needed} bytes, packet has {len}")]
    ExtensionTruncated { needed: usize, len: usize },
    /// The padding count is zero, missing, or larger than what follows the
    /// headers.
    #[error(
        "RTP padding of {padding} bytes does not fit in the {available} bytes after the headers"
    )]
    BadPadding { padding: u8, available: usize },
    #[error("RTP payload type {0} is outside 0..=127")]
    BadPayloadType(u8),
    #[error("output buffer of {available} bytes cannot hold a {needed}-byte RTP packet")]
    BufferTooSmall { needed: usize, available: usize },
}

/// Parses an RTP packet without copying.
pub fn parse(buf: &[u8]) -> Result<RtpPacket<'_>, RtpError> {
    let reader = RtpReader::new(buf).map_err(|e| classify(buf, e))?;
    Ok(RtpPacket {
        header: RtpHeader {
            payload_type: reader.payload_type(),
            marker: reader.mark(),
            sequence: u16::from(reader.sequence_number()),
            timestamp: reader.timestamp(),
            ssrc: reader.ssrc(),
        },
        payload: reader.payload(),
    })
}

/// rtp-rs reports CSRC, extension and (one case of) padding overruns all as
/// "headers truncated"; the caller's logs are more useful if they say which.
fn classify(buf: &[u8], err: RtpReaderError) -> RtpError {
    let len = buf.len();
    match err {
        RtpReaderError::BufferTooShort(len) => RtpError::TooShort { len },
        RtpReaderError::UnsupportedVersion(v) => RtpError::BadVersion(v),
        RtpReaderError::PaddingLengthInvalid(padding) => RtpError::BadPadding {
            padding,
            available: len.saturating_sub(headers_len(buf)),
        },
        RtpReaderError::HeadersTruncated { header_len, .. } => {
            let first = buf.first().copied().unwrap_or(0);
            let csrc_end = HEADER_LEN + 4 * usize::from(first & 0x0F);
            if csrc_end > len {
                RtpError::CsrcTruncated {
                    needed: csrc_end,
                    len,
                }
            } else if first & 0x10 != 0 && header_len > len {
                RtpError::ExtensionTruncated {
                    needed: header_len,
                    len,
                }
            } else {
                // Padding flag set but not even the count byte follows.
                RtpError::BadPadding {
                    padding: 0,
                    available: 0,
                }
            }
        }
    }
}

/// Length of the fixed header, CSRCs and extension of a packet rtp-rs has
/// already found them to fit in; bytes beyond the buffer read as zero.
fn headers_len(buf: &[u8]) -> usize {
    let first = buf.first().copied().unwrap_or(0);
    let csrc_end = HEADER_LEN + 4 * usize::from(first & 0x0F);
    if first & 0x10 == 0 {
        return csrc_end;
    }
    let words = [csrc_end + 2, csrc_end + 3].map(|i| buf.get(i).copied().unwrap_or(0));
    csrc_end + 4 + 4 * usize::from(u16::from_be_bytes(words))
}

/// Writes a packet (no CSRC, extension or padding) into `out` and returns
/// its length.
pub fn write(out: &mut [u8], header: &RtpHeader, payload: &[u8]) -> Result<usize, RtpError> {
    let builder = RtpPacketBuilder::new()
        .payload_type(header.payload_type)
        .marked(header.marker)
        .sequence(Seq::from(header.sequence))
        .timestamp(header.timestamp)
        .ssrc(header.ssrc)
        .payload(payload);
    builder.build_into(out).map_err(|e| match e {
        RtpPacketBuildError::BufferTooSmall => RtpError::BufferTooSmall {
            needed: builder.target_length(),
            available: out.len(),
        },
        // We set neither extension nor padding, so only the payload type
        // can be at fault.
        _ => RtpError::BadPayloadType(header.payload_type),
    })
}

/// RFC 5761 section 4: on a port carrying both RTP and RTCP, RTCP is told
/// apart by its second octet (the RTCP packet type) being 192..=223. RTP
/// payload types 64..=95 are avoided there precisely so that this works.
pub fn is_rtcp(buf: &[u8]) -> bool {
    matches!(buf.get(1), Some(192..=223))
}

/// Numbers outgoing packets of one source.
///
/// The timestamp moves with the audio clock, not with the packets: frames
/// that are not sent (silence suppression, hold) still advance it through
/// [`RtpSender::skip`], and the first packet after such a gap carries the
/// marker bit so the far end's jitter buffer can resynchronise.
#[derive(Debug, Clone)]
pub struct RtpSender {
    ssrc: u32,
    sequence: u16,
    timestamp: u32,
    marker: bool,
    packets: u32,
    octets: u32,
}

impl RtpSender {
    /// `first_sequence` and `first_timestamp` should be random (RFC 3550
    /// section 5.1); the caller owns the randomness.
    pub fn new(ssrc: u32, first_sequence: u16, first_timestamp: u32) -> Self {
        Self {
            ssrc,
            sequence: first_sequence,
            timestamp: first_timestamp,
            // The first packet of a stream starts a talkspurt.
            marker: true,
            packets: 0,
            octets: 0,
        }
    }

    /// The header for the next frame, which lasts `samples` clock ticks and
    /// carries `payload_len` bytes. Counts the packet for Sender Reports.
    pub fn next_header(&mut self, payload_type: u8, samples: u32, payload_len: usize) -> RtpHeader {
        let header = RtpHeader {
            payload_type,
            marker: self.marker,
            sequence: self.sequence,
            timestamp: self.timestamp,
            ssrc: self.ssrc,
        };
        self.marker = false;
        self.sequence = self.sequence.wrapping_add(1);
        self.timestamp = self.timestamp.wrapping_add(samples);
        // The SR counts are 32-bit and wrap (RFC 3550 section 6.4.1).
        self.packets = self.packets.wrapping_add(1);
        self.octets = self
            .octets
            .wrapping_add(u32::try_from(payload_len).unwrap_or(u32::MAX));
        header
    }

    /// Lets `samples` clock ticks pass without sending anything; the next
    /// packet gets the marker bit. `skip(0)` only requests the marker.
    pub fn skip(&mut self, samples: u32) {
        self.timestamp = self.timestamp.wrapping_add(samples);
        self.marker = true;
    }

    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    /// The sequence number the next packet will carry.
    pub fn next_sequence(&self) -> u16 {
        self.sequence
    }

    /// The timestamp the next packet will carry.
    pub fn next_timestamp(&self) -> u32 {
        self.timestamp
    }

    /// Packets sent so far, modulo 2^32.
    pub fn packets_sent(&self) -> u32 {
        self.packets
    }

    /// Payload octets sent so far, modulo 2^32.
    pub fn octets_sent(&self) -> u32 {
        self.octets
    }
}

/// Packets a new source must send in sequence before it is believed
/// (RFC 3550 Appendix A.1).
pub const MIN_SEQUENTIAL: u32 = 2;
/// The largest forward jump still taken as loss rather than a restart.
pub const MAX_DROPOUT: u16 = 3000;
/// The furthest back a packet may arrive and still be taken as late.
pub const MAX_MISORDER: u16 = 100;

const SEQ_MOD: u32 = 1 << 16;

/// What [`ReceiveStats::on_packet`] made of a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Accept {
    /// Newer than anything seen from this source (possibly after a gap).
    InOrder,
    /// Older than the newest, within [`MAX_MISORDER`], and not seen before.
    Late,
    /// This sequence number was already received: drop it.
    Duplicate,
    /// The source is new (first packets, or a new SSRC) and not yet
    /// validated; the payload is probably fine to use.
    Probation,
    /// So far from the expected sequence that it is either stray or the
    /// sender restarted; if the next packet follows it, the stream is
    /// resynchronised ([`Accept::Restarted`]). Drop it.
    Jump,
    /// The sender's sequence restarted (confirmed by two packets in a row);
    /// statistics start over from this packet.
    Restarted,
}

impl Accept {
    /// Whether the payload should go on to the decoder or relay.
    pub fn is_usable(self) -> bool {
        matches!(
            self,
            Accept::InOrder | Accept::Late | Accept::Probation | Accept::Restarted
        )
    }
}

/// Receiver-side statistics for one incoming stream: RFC 3550 Appendix A.1
/// (sequence validation), A.3 (loss) and A.8 (jitter).
///
/// Deviation from the RFC: duplicates are recognised (for the last 128
/// sequence numbers) and not counted as received, since the caller drops
/// them. `lost` can still go negative, as the RFC allows, when packets
/// older than the first counted one arrive late.
#[derive(Debug, Clone, Default)]
pub struct ReceiveStats {
    source: Option<Source>,
    ssrc_changes: u32,
}

#[derive(Debug, Clone)]
struct Source {
    ssrc: u32,
    max_seq: u16,
    /// Sequence wraps, shifted left 16 bits so it adds onto `max_seq`.
    cycles: u32,
    base_seq: u32,
    bad_seq: Option<u16>,
    probation: u32,
    received: u32,
    expected_prior: u32,
    received_prior: u32,
    /// Bit i set: sequence number `max_seq - i` has been received.
    seen: u128,
    transit: Option<u32>,
    /// Jitter in RTP units times 16, as in the integer form of A.8; 64
    /// bits because transit differences can approach 2^31.
    jitter_q4: u64,
}

impl Source {
    fn new(ssrc: u32, seq: u16) -> Self {
        let mut source = Self {
            ssrc,
            max_seq: seq,
            cycles: 0,
            base_seq: u32::from(seq),
            bad_seq: None,
            // This packet is the first of the MIN_SEQUENTIAL.
            probation: MIN_SEQUENTIAL.saturating_sub(1),
            received: 0,
            expected_prior: 0,
            received_prior: 0,
            seen: 1,
            transit: None,
            jitter_q4: 0,
        };
        if source.probation == 0 {
            source.restart(seq);
        }
        source
    }

    /// A.1 `init_seq`, plus counting the packet that caused it.
    fn restart(&mut self, seq: u16) {
        self.base_seq = u32::from(seq);
        self.max_seq = seq;
        self.bad_seq = None;
        self.cycles = 0;
        self.received = 1;
        self.expected_prior = 0;
        self.received_prior = 0;
        self.seen = 1;
    }

    fn update_seq(&mut self, seq: u16) -> Accept {
        let udelta = seq.wrapping_sub(self.max_seq);
        if self.probation > 0 {
            if udelta == 1 {
                self.probation -= 1;
                self.max_seq = seq;
                if self.probation == 0 {
                    self.restart(seq);
                    return Accept::InOrder;
                }
            } else if udelta == 0 {
                return Accept::Duplicate;
            } else {
                self.probation = MIN_SEQUENTIAL.saturating_sub(1);
                self.max_seq = seq;
            }
            return Accept::Probation;
        }
        let verdict = if udelta < MAX_DROPOUT {
            if udelta == 0 {
                return Accept::Duplicate;
            }
            if seq < self.max_seq {
                self.cycles = self.cycles.wrapping_add(SEQ_MOD);
            }
            self.seen = if udelta >= 128 {
                1
            } else {
                (self.seen << udelta) | 1
            };
            self.max_seq = seq;
            Accept::InOrder
        } else if u32::from(udelta) <= SEQ_MOD - u32::from(MAX_MISORDER) {
            if self.bad_seq == Some(seq) {
                self.restart(seq);
                return Accept::Restarted;
            }
            self.bad_seq = Some(seq.wrapping_add(1));
            return Accept::Jump;
        } else {
            // Within MAX_MISORDER behind the newest, so below 128.
            let back = self.max_seq.wrapping_sub(seq);
            let bit = 1u128.checked_shl(u32::from(back)).unwrap_or(0);
            if self.seen & bit != 0 {
                return Accept::Duplicate;
            }
            self.seen |= bit;
            Accept::Late
        };
        self.received = self.received.wrapping_add(1);
        verdict
    }

    fn update_jitter(&mut self, timestamp: u32, arrival: u32) {
        let transit = arrival.wrapping_sub(timestamp);
        if let Some(last) = self.transit {
            // Transit times wrap with both clocks; their difference is small
            // and signed.
            let d = u64::from((transit.wrapping_sub(last) as i32).unsigned_abs());
            self.jitter_q4 = (self.jitter_q4 + d).saturating_sub((self.jitter_q4 + 8) >> 4);
        }
        self.transit = Some(transit);
    }

    fn validated(&self) -> bool {
        self.probation == 0
    }

    fn extended_max(&self) -> u32 {
        self.cycles.wrapping_add(u32::from(self.max_seq))
    }

    fn expected(&self) -> u32 {
        if !self.validated() {
            return 0;
        }
        self.extended_max()
            .wrapping_sub(self.base_seq)
            .wrapping_add(1)
    }

    fn lost(&self) -> i64 {
        if !self.validated() {
            return 0;
        }
        i64::from(self.expected()) - i64::from(self.received)
    }

    fn fraction_lost(&self) -> u8 {
        let expected_interval = i64::from(self.expected().wrapping_sub(self.expected_prior));
        let received_interval = i64::from(self.received.wrapping_sub(self.received_prior));
        let lost_interval = expected_interval - received_interval;
        if expected_interval == 0 || lost_interval <= 0 {
            0
        } else {
            u8::try_from((lost_interval << 8) / expected_interval).unwrap_or(u8::MAX)
        }
    }
}

impl ReceiveStats {
    pub fn new() -> Self {
        Self::default()
    }

    /// Accounts for one received packet. `arrival_rtp_units` is the arrival
    /// time on the caller's clock converted to the stream's RTP clock rate;
    /// its origin does not matter, only differences are used.
    pub fn on_packet(&mut self, header: &RtpHeader, arrival_rtp_units: u32) -> Accept {
        let source = match &mut self.source {
            Some(source) if source.ssrc == header.ssrc => source,
            other => {
                if other.is_some() {
                    self.ssrc_changes = self.ssrc_changes.wrapping_add(1);
                }
                let source = other.insert(Source::new(header.ssrc, header.sequence));
                source.update_jitter(header.timestamp, arrival_rtp_units);
                return if source.validated() {
                    Accept::InOrder
                } else {
                    Accept::Probation
                };
            }
        };
        let verdict = source.update_seq(header.sequence);
        match verdict {
            Accept::InOrder | Accept::Late | Accept::Probation => {
                source.update_jitter(header.timestamp, arrival_rtp_units);
            }
            Accept::Restarted => {
                // The timestamp most likely jumped with the sequence: start
                // the transit baseline over rather than record one huge
                // difference.
                source.transit = None;
                source.update_jitter(header.timestamp, arrival_rtp_units);
            }
            Accept::Duplicate | Accept::Jump => {}
        }
        verdict
    }

    /// The SSRC of the current source.
    pub fn ssrc(&self) -> Option<u32> {
        self.source.as_ref().map(|s| s.ssrc)
    }

    /// How many times the SSRC changed after the first one.
    pub fn ssrc_changes(&self) -> u32 {
        self.ssrc_changes
    }

    /// Whether the current source has passed probation.
    pub fn is_validated(&self) -> bool {
        self.source.as_ref().is_some_and(Source::validated)
    }

    /// Packets counted from the current source (duplicates excluded).
    pub fn received(&self) -> u32 {
        self.source.as_ref().map_or(0, |s| s.received)
    }

    /// Packets expected from the current source: highest extended sequence
    /// minus the first, plus one.
    pub fn expected(&self) -> u32 {
        self.source.as_ref().map_or(0, Source::expected)
    }

    /// Cumulative loss of the current source (negative when late packets
    /// from before the first one were counted).
    pub fn lost(&self) -> i64 {
        self.source.as_ref().map_or(0, Source::lost)
    }

    /// Loss since the last [`ReceiveStats::report_block`], in 1/256ths, as
    /// the next report would carry it.
    pub fn fraction_lost(&self) -> u8 {
        self.source.as_ref().map_or(0, Source::fraction_lost)
    }

    /// Interarrival jitter in RTP clock units.
    pub fn jitter(&self) -> u32 {
        self.source
            .as_ref()
            .map_or(0, |s| u32::try_from(s.jitter_q4 >> 4).unwrap_or(u32::MAX))
    }

    /// Highest sequence number received, extended with the wrap count in
    /// the high 16 bits.
    pub fn highest_seq(&self) -> u32 {
        self.source.as_ref().map_or(0, Source::extended_max)
    }

    /// The report block describing the current source, closing the
    /// fraction-lost interval (RFC 3550 Appendix A.3). `last_sr` and
    /// `delay_since_last_sr` come from the last Sender Report received from
    /// that source (see [`crate::rtcp::RtcpLeg::lsr_dlsr`]). `None` before
    /// any packet arrived.
    pub fn report_block(
        &mut self,
        last_sr: u32,
        delay_since_last_sr: u32,
    ) -> Option<crate::rtcp::ReportBlock> {
        let source = self.source.as_mut()?;
        let block = crate::rtcp::ReportBlock {
            ssrc: source.ssrc,
            fraction_lost: source.fraction_lost(),
            cumulative_lost: clamp_24(source.lost()),
            highest_seq: source.extended_max(),
            jitter: u32::try_from(source.jitter_q4 >> 4).unwrap_or(u32::MAX),
            last_sr,
            delay_since_last_sr,
        };
        source.expected_prior = source.expected();
        source.received_prior = source.received;
        Some(block)
    }
}

/// The report block's cumulative loss is a signed 24-bit field; RFC 3550
/// section 6.4.1 says to saturate rather than wrap.
fn clamp_24(lost: i64) -> i32 {
    // Both bounds fit in i32, so the cast cannot truncate.
    lost.clamp(-0x80_0000, 0x7F_FFFF) as i32
}

/// The property the `rtp_rtcp` fuzz target checks, public so the fuzz
/// crate and the regression test can both call it: no input makes the RTP
/// or RTCP code panic, and what parses writes back to the same fields.
#[doc(hidden)]
pub mod fuzzing {
    use super::*;

    pub fn rtp_rtcp(data: &[u8]) {
        let _ = is_rtcp(data);
        if let Ok(packet) = parse(data) {
            let mut out = [0u8; 2048];
            if let Ok(n) = write(&mut out, &packet.header, packet.payload) {
                let again = parse(out.get(..n).unwrap_or_default());
                assert_eq!(again.map(|p| p.header), Ok(packet.header));
                assert_eq!(again.map(|p| p.payload), Ok(packet.payload));
            }
        }
        // Headers cut out of the input exercise the statistics.
        let mut stats = ReceiveStats::new();
        for chunk in data.chunks_exact(7) {
            let &[b0, b1, s0, s1, t0, a0, a1] = chunk else {
                continue;
            };
            let header = RtpHeader {
                payload_type: b0 & 0x7F,
                marker: b0 & 0x80 != 0,
                // Few SSRCs, so that changes happen but do not dominate.
                ssrc: u32::from(b1 & 0x03),
                sequence: u16::from_be_bytes([s0, s1]),
                timestamp: u32::from(t0) << 24,
            };
            let before = stats.received();
            let verdict = stats.on_packet(&header, u32::from_be_bytes([a0, a1, 0, 0]));
            if verdict == Accept::Duplicate {
                assert_eq!(stats.received(), before);
            }
            let _ = (stats.lost(), stats.fraction_lost(), stats.jitter());
            if b1 & 0x80 != 0 {
                let _ = stats.report_block(0, 0);
            }
        }
        crate::rtcp::fuzzing::rtcp(data);
    }
}
