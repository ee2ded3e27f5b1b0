//! RTCP (RFC 3550 section 6): reading compound packets in place and
//! writing the reports a PBX leg sends (SR or RR, SDES CNAME, BYE).
//!
//! Reading never allocates: [`packets`] walks a compound packet and hands
//! out views whose lists (report blocks, SDES chunks and items, BYE
//! sources) are themselves iterators over the buffer. Every length is
//! checked against the buffer once, when the packet is reached, so the
//! inner iterators cannot run past it.

use crate::rtp::{ReceiveStats, RtpSender};

/// RTCP packet types (RFC 3550 section 12.1).
pub const SR: u8 = 200;
pub const RR: u8 = 201;
pub const SDES: u8 = 202;
pub const BYE: u8 = 203;
pub const APP: u8 = 204;

/// SDES item type of the canonical name.
pub const SDES_CNAME: u8 = 1;

/// The report count is a 5-bit field.
pub const MAX_REPORT_BLOCKS: usize = 31;

const HEADER_LEN: usize = 4;
const SENDER_INFO_LEN: usize = 20;

/// Why a buffer is not valid RTCP, or a packet could not be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RtcpError {
    #[error("RTCP packet needs {needed} bytes, {available} left in the buffer")]
    Truncated { needed: usize, available: usize },
    #[error("RTCP version {0}, only version 2 is supported")]
    BadVersion(u8),
    #[error("RTCP padding count {padding} does not fit a {len}-byte packet body")]
    BadPadding { padding: u8, len: usize },
    /// The count in the header needs more bytes than the length gives.
    #[error("RTCP packet type {packet_type} with count {count} does not fit its {len}-byte body")]
    CountMismatch {
        packet_type: u8,
        count: u8,
        len: usize,
    },
    #[error("RTCP SDES chunk runs past the end of its packet")]
    BadSdes,
    #[error("RTCP BYE reason runs past the end of its packet")]
    BadByeReason,
    #[error("{0} entries do not fit the 5-bit RTCP count")]
    TooMany(usize),
    #[error("RTCP text of {0} bytes is longer than 255")]
    TextTooLong(usize),
    #[error("output buffer of {available} bytes cannot hold {needed} bytes of RTCP")]
    BufferTooSmall { needed: usize, available: usize },
}

/// One reception report (RFC 3550 section 6.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ReportBlock {
    /// The source this block reports on.
    pub ssrc: u32,
    /// Loss since the previous report, in 1/256ths.
    pub fraction_lost: u8,
    /// Signed 24-bit on the wire; values outside are saturated on write.
    pub cumulative_lost: i32,
    /// Extended highest sequence number received.
    pub highest_seq: u32,
    /// Interarrival jitter in RTP clock units.
    pub jitter: u32,
    /// Middle 32 bits of the NTP timestamp of the last SR received from the
    /// source, 0 if none.
    pub last_sr: u32,
    /// Time since that SR was received, in 1/65536 seconds.
    pub delay_since_last_sr: u32,
}

impl ReportBlock {
    pub const LEN: usize = 24;

    fn read(b: &[u8; Self::LEN]) -> Self {
        // Sign-extend the 24-bit count by placing it in the top of an i32.
        let lost = i32::from_be_bytes([b[5], b[6], b[7], 0]) >> 8;
        Self {
            ssrc: be32(b, 0),
            fraction_lost: b[4],
            cumulative_lost: lost,
            highest_seq: be32(b, 8),
            jitter: be32(b, 12),
            last_sr: be32(b, 16),
            delay_since_last_sr: be32(b, 20),
        }
    }

    fn write(&self, out: &mut [u8; Self::LEN]) {
        let lost = self
            .cumulative_lost
            .clamp(-0x80_0000, 0x7F_FFFF)
            .to_be_bytes();
        out[0..4].copy_from_slice(&self.ssrc.to_be_bytes());
        out[4] = self.fraction_lost;
        out[5..8].copy_from_slice(&lost[1..4]);
        out[8..12].copy_from_slice(&self.highest_seq.to_be_bytes());
        out[12..16].copy_from_slice(&self.jitter.to_be_bytes());
        out[16..20].copy_from_slice(&self.last_sr.to_be_bytes());
        out[20..24].copy_from_slice(&self.delay_since_last_sr.to_be_bytes());
    }
}

/// The sender information of an SR.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SenderInfo {
    /// 32.32 fixed-point seconds since 1900 (NTP format).
    pub ntp_timestamp: u64,
    /// The same instant on the stream's RTP clock.
    pub rtp_timestamp: u32,
    pub packet_count: u32,
    pub octet_count: u32,
}

impl SenderInfo {
    /// Sender information for `sender`; the caller maps its clock reading
    /// to both NTP and RTP time.
    pub fn from_sender(sender: &RtpSender, ntp_timestamp: u64, rtp_timestamp: u32) -> Self {
        Self {
            ntp_timestamp,
            rtp_timestamp,
            packet_count: sender.packets_sent(),
            octet_count: sender.octets_sent(),
        }
    }
}

/// The middle 32 bits of an NTP timestamp, the form LSR, DLSR and
/// round-trip times use (16.16 seconds).
pub fn ntp_middle(ntp: u64) -> u32 {
    // Truncation to the middle bits is the point.
    (ntp >> 16) as u32
}

/// One packet of a compound RTCP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RtcpPacket<'a> {
    SenderReport(SenderReport<'a>),
    ReceiverReport(ReceiverReport<'a>),
    SourceDescription(SourceDescription<'a>),
    Bye(Bye<'a>),
    /// APP and types this module does not read, padding removed.
    Other {
        packet_type: u8,
        count: u8,
        body: &'a [u8],
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SenderReport<'a> {
    pub ssrc: u32,
    pub info: SenderInfo,
    blocks: &'a [u8],
}

impl<'a> SenderReport<'a> {
    pub fn report_blocks(&self) -> ReportBlocks<'a> {
        ReportBlocks { rest: self.blocks }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceiverReport<'a> {
    pub ssrc: u32,
    blocks: &'a [u8],
}

impl<'a> ReceiverReport<'a> {
    pub fn report_blocks(&self) -> ReportBlocks<'a> {
        ReportBlocks { rest: self.blocks }
    }
}

/// The report blocks of an SR or RR.
#[derive(Debug, Clone)]
pub struct ReportBlocks<'a> {
    rest: &'a [u8],
}

impl Iterator for ReportBlocks<'_> {
    type Item = ReportBlock;

    fn next(&mut self) -> Option<ReportBlock> {
        let (block, rest) = self.rest.split_first_chunk::<{ ReportBlock::LEN }>()?;
        self.rest = rest;
        Some(ReportBlock::read(block))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.rest.len() / ReportBlock::LEN;
        (n, Some(n))
    }
}

impl ExactSizeIterator for ReportBlocks<'_> {}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceDescription<'a> {
    count: u8,
    chunks: &'a [u8],
}

impl<'a> SourceDescription<'a> {
    pub fn chunks(&self) -> SdesChunks<'a> {
        SdesChunks {
            left: self.count,
            rest: self.chunks,
        }
    }

    /// The CNAME given for `ssrc`, if any.
    pub fn cname_of(&self, ssrc: u32) -> Option<&'a [u8]> {
        self.chunks()
            .filter(|c| c.ssrc == ssrc)
            .find_map(|c| c.cname())
    }
}

#[derive(Debug, Clone)]
pub struct SdesChunks<'a> {
    left: u8,
    rest: &'a [u8],
}

impl<'a> Iterator for SdesChunks<'a> {
    type Item = SdesChunk<'a>;

    fn next(&mut self) -> Option<SdesChunk<'a>> {
        if self.left == 0 {
            return None;
        }
        // Chunks were validated when the packet was read; a failure here
        // can only end the iteration.
        let (chunk, rest) = split_chunk(self.rest).ok()?;
        self.left -= 1;
        self.rest = rest;
        Some(chunk)
    }
}

/// One SDES chunk: a source and its items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SdesChunk<'a> {
    pub ssrc: u32,
    items: &'a [u8],
}

impl<'a> SdesChunk<'a> {
    pub fn items(&self) -> SdesItems<'a> {
        SdesItems { rest: self.items }
    }

    pub fn cname(&self) -> Option<&'a [u8]> {
        self.items().find(|i| i.kind == SDES_CNAME).map(|i| i.value)
    }
}

#[derive(Debug, Clone)]
pub struct SdesItems<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for SdesItems<'a> {
    type Item = SdesItem<'a>;

    fn next(&mut self) -> Option<SdesItem<'a>> {
        let (&kind, rest) = self.rest.split_first()?;
        let (&len, rest) = rest.split_first()?;
        let value = rest.get(..usize::from(len))?;
        self.rest = rest.get(usize::from(len)..)?;
        Some(SdesItem { kind, value })
    }
}

/// One SDES item; `value` is the raw text (UTF-8 by the RFC, unchecked).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SdesItem<'a> {
    pub kind: u8,
    pub value: &'a [u8],
}

/// Splits the first chunk off `buf`: the SSRC, the items up to the END
/// item, then the null octets up to the next 32-bit boundary.
fn split_chunk(buf: &[u8]) -> Result<(SdesChunk<'_>, &[u8]), RtcpError> {
    let (ssrc, _) = buf.split_first_chunk::<4>().ok_or(RtcpError::BadSdes)?;
    let mut at = 4;
    loop {
        match buf.get(at) {
            None => return Err(RtcpError::BadSdes),
            Some(0) => break,
            Some(_) => {
                let len = buf.get(at + 1).ok_or(RtcpError::BadSdes)?;
                at += 2 + usize::from(*len);
            }
        }
    }
    let end = (at + 1).next_multiple_of(4);
    let (items, rest) = (buf.get(4..at), buf.get(end..));
    match (items, rest) {
        (Some(items), Some(rest)) => Ok((
            SdesChunk {
                ssrc: u32::from_be_bytes(*ssrc),
                items,
            },
            rest,
        )),
        _ => Err(RtcpError::BadSdes),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bye<'a> {
    sources: &'a [u8],
    /// Why the source left, if it said (raw text).
    pub reason: Option<&'a [u8]>,
}

impl<'a> Bye<'a> {
    pub fn sources(&self) -> impl ExactSizeIterator<Item = u32> + 'a {
        self.sources
            .chunks_exact(4)
            .map(|c| c.iter().fold(0u32, |acc, &b| (acc << 8) | u32::from(b)))
    }
}

/// Iterates the packets of a compound RTCP packet. After the first error
/// the iteration ends: a bad length leaves no way to find the next packet.
pub fn packets(buf: &[u8]) -> Packets<'_> {
    Packets { rest: buf }
}

#[derive(Debug, Clone)]
pub struct Packets<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Packets<'a> {
    type Item = Result<RtcpPacket<'a>, RtcpError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let result = self.next_packet();
        if result.is_err() {
            self.rest = &[];
        }
        Some(result)
    }
}

impl<'a> Packets<'a> {
    fn next_packet(&mut self) -> Result<RtcpPacket<'a>, RtcpError> {
        let available = self.rest.len();
        let Some(&[first, packet_type, l0, l1]) = self.rest.first_chunk::<HEADER_LEN>() else {
            return Err(RtcpError::Truncated {
                needed: HEADER_LEN,
                available,
            });
        };
        if first >> 6 != 2 {
            return Err(RtcpError::BadVersion(first >> 6));
        }
        let total = (usize::from(u16::from_be_bytes([l0, l1])) + 1) * 4;
        let (Some(packet), Some(rest)) = (self.rest.get(..total), self.rest.get(total..)) else {
            return Err(RtcpError::Truncated {
                needed: total,
                available,
            });
        };
        self.rest = rest;
        let mut body = packet.get(HEADER_LEN..).unwrap_or_default();
        if first & 0x20 != 0 {
            let padding = body.last().copied().unwrap_or(0);
            let len = body.len();
            body = match len.checked_sub(usize::from(padding)) {
                Some(keep) if padding > 0 => body.get(..keep).unwrap_or_default(),
                _ => return Err(RtcpError::BadPadding { padding, len }),
            };
        }
        let count = first & 0x1F;
        let mismatch = RtcpError::CountMismatch {
            packet_type,
            count,
            len: body.len(),
        };
        let blocks_len = usize::from(count) * ReportBlock::LEN;
        match packet_type {
            SR => {
                let fixed = 4 + SENDER_INFO_LEN;
                let (Some(fixed), Some(blocks)) =
                    (body.get(..fixed), body.get(fixed..fixed + blocks_len))
                else {
                    return Err(mismatch);
                };
                Ok(RtcpPacket::SenderReport(SenderReport {
                    ssrc: be32(fixed, 0),
                    info: SenderInfo {
                        ntp_timestamp: (u64::from(be32(fixed, 4)) << 32)
                            | u64::from(be32(fixed, 8)),
                        rtp_timestamp: be32(fixed, 12),
                        packet_count: be32(fixed, 16),
                        octet_count: be32(fixed, 20),
                    },
                    // Anything after the blocks is a profile extension.
                    blocks,
                }))
            }
            RR => {
                let (Some(fixed), Some(blocks)) = (body.get(..4), body.get(4..4 + blocks_len))
                else {
                    return Err(mismatch);
                };
                Ok(RtcpPacket::ReceiverReport(ReceiverReport {
                    ssrc: be32(fixed, 0),
                    blocks,
                }))
            }
            SDES => {
                let mut rest = body;
                for _ in 0..count {
                    rest = split_chunk(rest)?.1;
                }
                Ok(RtcpPacket::SourceDescription(SourceDescription {
                    count,
                    chunks: body,
                }))
            }
            BYE => {
                let sources_len = usize::from(count) * 4;
                let (Some(sources), Some(after)) =
                    (body.get(..sources_len), body.get(sources_len..))
                else {
                    return Err(mismatch);
                };
                let reason = match after.split_first() {
                    None => None,
                    Some((&len, text)) => Some(
                        text.get(..usize::from(len))
                            .ok_or(RtcpError::BadByeReason)?,
                    ),
                };
                Ok(RtcpPacket::Bye(Bye { sources, reason }))
            }
            _ => Ok(RtcpPacket::Other {
                packet_type,
                count,
                body,
            }),
        }
    }
}

/// Reads a big-endian u32 at `at`; callers have checked the length, and a
/// short slice reads as zero bytes rather than panicking.
fn be32(buf: &[u8], at: usize) -> u32 {
    let mut bytes = [0u8; 4];
    if let Some(src) = buf.get(at..at + 4) {
        bytes.copy_from_slice(src);
    }
    u32::from_be_bytes(bytes)
}

/// Claims `len` bytes at the front of `out` for one packet and writes its
/// common header; returns the packet's bytes.
fn begin(
    out: &mut [u8],
    len: usize,
    count: usize,
    packet_type: u8,
) -> Result<&mut [u8], RtcpError> {
    let count = u8::try_from(count)
        .ok()
        .filter(|&c| usize::from(c) <= MAX_REPORT_BLOCKS)
        .ok_or(RtcpError::TooMany(count))?;
    let available = out.len();
    let packet = out.get_mut(..len).ok_or(RtcpError::BufferTooSmall {
        needed: len,
        available,
    })?;
    // Packet lengths here are bounded by the 255-byte texts and 31 blocks,
    // far below the 16-bit word count.
    let words = u16::try_from(len / 4 - 1).unwrap_or(u16::MAX);
    packet.fill(0);
    packet[0] = 0x80 | count;
    packet[1] = packet_type;
    packet[2..4].copy_from_slice(&words.to_be_bytes());
    Ok(packet)
}

fn put_blocks(out: &mut [u8], blocks: &[ReportBlock]) {
    for (chunk, block) in out.chunks_exact_mut(ReportBlock::LEN).zip(blocks) {
        if let Ok(chunk) = <&mut [u8; ReportBlock::LEN]>::try_from(chunk) {
            block.write(chunk);
        }
    }
}

/// Writes a Receiver Report and returns its length.
pub fn write_receiver_report(
    out: &mut [u8],
    ssrc: u32,
    blocks: &[ReportBlock],
) -> Result<usize, RtcpError> {
    let len = HEADER_LEN + 4 + blocks.len().saturating_mul(ReportBlock::LEN);
    let packet = begin(out, len, blocks.len(), RR)?;
    packet[4..8].copy_from_slice(&ssrc.to_be_bytes());
    put_blocks(&mut packet[8..], blocks);
    Ok(len)
}

/// Writes a Sender Report and returns its length.
pub fn write_sender_report(
    out: &mut [u8],
    ssrc: u32,
    info: &SenderInfo,
    blocks: &[ReportBlock],
) -> Result<usize, RtcpError> {
    let fixed = HEADER_LEN + 4 + SENDER_INFO_LEN;
    let len = fixed + blocks.len().saturating_mul(ReportBlock::LEN);
    let packet = begin(out, len, blocks.len(), SR)?;
    packet[4..8].copy_from_slice(&ssrc.to_be_bytes());
    packet[8..16].copy_from_slice(&info.ntp_timestamp.to_be_bytes());
    packet[16..20].copy_from_slice(&info.rtp_timestamp.to_be_bytes());
    packet[20..24].copy_from_slice(&info.packet_count.to_be_bytes());
    packet[24..28].copy_from_slice(&info.octet_count.to_be_bytes());
    put_blocks(&mut packet[fixed..], blocks);
    Ok(len)
}

/// Writes an SDES packet with one chunk holding only a CNAME.
pub fn write_sdes_cname(out: &mut [u8], ssrc: u32, cname: &[u8]) -> Result<usize, RtcpError> {
    let text_len = u8::try_from(cname.len()).map_err(|_| RtcpError::TextTooLong(cname.len()))?;
    // SSRC, type, length, text, then at least one null octet ending the
    // item list, padded to a 32-bit boundary.
    let len = (HEADER_LEN + 4 + 2 + cname.len() + 1).next_multiple_of(4);
    let packet = begin(out, len, 1, SDES)?;
    packet[4..8].copy_from_slice(&ssrc.to_be_bytes());
    packet[8] = SDES_CNAME;
    packet[9] = text_len;
    packet[10..10 + cname.len()].copy_from_slice(cname);
    Ok(len)
}

/// Writes a BYE for `sources`, with an optional reason.
pub fn write_bye(
    out: &mut [u8],
    sources: &[u32],
    reason: Option<&[u8]>,
) -> Result<usize, RtcpError> {
    let reason_len = match reason {
        Some(text) => {
            let n = u8::try_from(text.len()).map_err(|_| RtcpError::TextTooLong(text.len()))?;
            (1 + usize::from(n)).next_multiple_of(4)
        }
        None => 0,
    };
    let sources_end = HEADER_LEN + sources.len().saturating_mul(4);
    let len = sources_end.saturating_add(reason_len);
    let packet = begin(out, len, sources.len(), BYE)?;
    for (slot, ssrc) in packet[HEADER_LEN..sources_end]
        .chunks_exact_mut(4)
        .zip(sources)
    {
        slot.copy_from_slice(&ssrc.to_be_bytes());
    }
    if let Some(text) = reason {
        // The length was checked above to fit a u8.
        packet[sources_end] = text.len() as u8;
        packet[sources_end + 1..sources_end + 1 + text.len()].copy_from_slice(text);
    }
    Ok(len)
}

/// The compound packet a receive-only leg sends each interval: RR then
/// SDES CNAME, as RFC 3550 section 6.1 requires.
pub fn write_compound_rr(
    out: &mut [u8],
    ssrc: u32,
    blocks: &[ReportBlock],
    cname: &[u8],
) -> Result<usize, RtcpError> {
    let first = write_receiver_report(out, ssrc, blocks)?;
    let second = write_sdes_cname(out.get_mut(first..).unwrap_or_default(), ssrc, cname)
        .map_err(|e| shift_needed(e, first, out.len()))?;
    Ok(first + second)
}

/// The compound packet a sending leg sends each interval: SR then SDES
/// CNAME.
pub fn write_compound_sr(
    out: &mut [u8],
    ssrc: u32,
    info: &SenderInfo,
    blocks: &[ReportBlock],
    cname: &[u8],
) -> Result<usize, RtcpError> {
    let first = write_sender_report(out, ssrc, info, blocks)?;
    let second = write_sdes_cname(out.get_mut(first..).unwrap_or_default(), ssrc, cname)
        .map_err(|e| shift_needed(e, first, out.len()))?;
    Ok(first + second)
}

/// Reports a too-small buffer in terms of the whole compound packet.
fn shift_needed(err: RtcpError, offset: usize, available: usize) -> RtcpError {
    match err {
        RtcpError::BufferTooSmall { needed, .. } => RtcpError::BufferTooSmall {
            needed: needed + offset,
            available,
        },
        other => other,
    }
}

/// What RTCP told us about one leg: the far end's view of our stream (its
/// last report block about us, and the round trip derived from it) and
/// the LSR/DLSR we owe it in our next report.
#[derive(Debug, Clone, Default)]
pub struct RtcpLeg {
    local_ssrc: Option<u32>,
    remote_ssrc: Option<u32>,
    /// Middle bits of the last SR's NTP time, and when it arrived (NTP).
    last_sr: Option<(u32, u64)>,
    remote_sender: Option<SenderInfo>,
    remote_report: Option<ReportBlock>,
    round_trip: Option<u32>,
    reports: u32,
    bye: bool,
}

impl RtcpLeg {
    /// `local_ssrc` is the source the far end reports on. A relayed leg may
    /// not know it (the SSRC is the other leg's); with `None` the first
    /// report block of each report is taken.
    pub fn new(local_ssrc: Option<u32>) -> Self {
        Self {
            local_ssrc,
            ..Self::default()
        }
    }

    pub fn set_local_ssrc(&mut self, ssrc: Option<u32>) {
        self.local_ssrc = ssrc;
    }

    /// Takes in one received compound packet; `arrival_ntp` is our clock at
    /// arrival in NTP format. Packets before a malformed one are still
    /// used; the error is returned for logging.
    pub fn on_rtcp(&mut self, buf: &[u8], arrival_ntp: u64) -> Result<(), RtcpError> {
        for packet in packets(buf) {
            match packet? {
                RtcpPacket::SenderReport(sr) => {
                    self.remote_ssrc = Some(sr.ssrc);
                    self.remote_sender = Some(sr.info);
                    self.last_sr = Some((ntp_middle(sr.info.ntp_timestamp), arrival_ntp));
                    self.take_blocks(sr.report_blocks(), arrival_ntp);
                }
                RtcpPacket::ReceiverReport(rr) => {
                    self.remote_ssrc = Some(rr.ssrc);
                    self.take_blocks(rr.report_blocks(), arrival_ntp);
                }
                RtcpPacket::Bye(bye) => {
                    if self
                        .remote_ssrc
                        .is_none_or(|remote| bye.sources().any(|s| s == remote))
                    {
                        self.bye = true;
                    }
                }
                RtcpPacket::SourceDescription(_) | RtcpPacket::Other { .. } => {}
            }
        }
        Ok(())
    }

    fn take_blocks(&mut self, mut blocks: ReportBlocks<'_>, arrival_ntp: u64) {
        let ours = match self.local_ssrc {
            Some(local) => blocks.find(|b| b.ssrc == local),
            None => blocks.next(),
        };
        let Some(block) = ours else { return };
        self.reports = self.reports.wrapping_add(1);
        self.remote_report = Some(block);
        // RFC 3550 section 6.4.1: round trip = arrival - LSR - DLSR, only
        // meaningful once the far end has seen one of our SRs.
        if block.last_sr != 0 {
            let since_sr = ntp_middle(arrival_ntp).wrapping_sub(block.last_sr);
            if let Some(rtt) = since_sr.checked_sub(block.delay_since_last_sr) {
                // A "round trip" of more than half the 16.16 range is our
                // clock or theirs having jumped.
                if rtt < 1 << 31 {
                    self.round_trip = Some(rtt);
                }
            }
        }
    }

    /// LSR and DLSR for our next report block about the far end, given our
    /// clock now in NTP format; (0, 0) before any SR arrived.
    pub fn lsr_dlsr(&self, now_ntp: u64) -> (u32, u32) {
        match self.last_sr {
            Some((lsr, arrival)) => (lsr, ntp_middle(now_ntp).wrapping_sub(ntp_middle(arrival))),
            None => (0, 0),
        }
    }

    /// The SSRC of the far end's reports.
    pub fn remote_ssrc(&self) -> Option<u32> {
        self.remote_ssrc
    }

    /// The sender information of the far end's last SR.
    pub fn remote_sender(&self) -> Option<SenderInfo> {
        self.remote_sender
    }

    /// The far end's last report block about our stream.
    pub fn remote_report(&self) -> Option<ReportBlock> {
        self.remote_report
    }

    /// How many report blocks about our stream were received.
    pub fn reports_received(&self) -> u32 {
        self.reports
    }

    /// The last round trip time, in 1/65536 seconds.
    pub fn round_trip(&self) -> Option<u32> {
        self.round_trip
    }

    /// Whether the far end sent BYE for its source.
    pub fn bye_received(&self) -> bool {
        self.bye
    }

    /// One snapshot for the CDR and metrics: `measured` is our own
    /// statistics for the stream the far end sends.
    pub fn quality(&self, measured: &ReceiveStats) -> LegQuality {
        LegQuality {
            received: measured.received(),
            expected: measured.expected(),
            lost: measured.lost(),
            jitter: measured.jitter(),
            ssrc_changes: measured.ssrc_changes(),
            remote_fraction_lost: self.remote_report.map(|b| b.fraction_lost),
            remote_cumulative_lost: self.remote_report.map(|b| b.cumulative_lost),
            remote_jitter: self.remote_report.map(|b| b.jitter),
            round_trip: self.round_trip,
        }
    }
}

/// Call quality of one leg in both directions. Jitter is in RTP clock
/// units (divide by the clock rate for seconds); round trip in 1/65536 s.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LegQuality {
    /// Measured by us on the stream we receive.
    pub received: u32,
    pub expected: u32,
    pub lost: i64,
    pub jitter: u32,
    pub ssrc_changes: u32,
    /// Reported by the far end about the stream we send.
    pub remote_fraction_lost: Option<u8>,
    pub remote_cumulative_lost: Option<i32>,
    pub remote_jitter: Option<u32>,
    pub round_trip: Option<u32>,
}

/// The RTCP half of the `rtp_rtcp` fuzz property (see
/// [`crate::rtp::fuzzing`]).
#[doc(hidden)]
pub mod fuzzing {
    use super::*;

    pub fn rtcp(data: &[u8]) {
        let mut leg = RtcpLeg::new(None);
        let _ = leg.on_rtcp(data, 0x0001_0002_0003_0004);
        let _ = leg.lsr_dlsr(u64::MAX);
        let _ = leg.quality(&ReceiveStats::new());
        let mut out = [0u8; 2048];
        let mut blocks = [ReportBlock::default(); MAX_REPORT_BLOCKS];
        for packet in packets(data) {
            let Ok(packet) = packet else { break };
            match packet {
                RtcpPacket::SenderReport(sr) => {
                    let n = copy_blocks(sr.report_blocks(), &mut blocks);
                    let written = write_sender_report(&mut out, sr.ssrc, &sr.info, &blocks[..n]);
                    let again = reparse(&out, written);
                    let Some(Ok(RtcpPacket::SenderReport(again))) = again else {
                        panic!("SR did not round-trip: {again:?}");
                    };
                    assert_eq!((again.ssrc, again.info), (sr.ssrc, sr.info));
                    assert!(again.report_blocks().eq(sr.report_blocks()));
                }
                RtcpPacket::ReceiverReport(rr) => {
                    let n = copy_blocks(rr.report_blocks(), &mut blocks);
                    let written = write_receiver_report(&mut out, rr.ssrc, &blocks[..n]);
                    let again = reparse(&out, written);
                    let Some(Ok(RtcpPacket::ReceiverReport(again))) = again else {
                        panic!("RR did not round-trip: {again:?}");
                    };
                    assert_eq!(again.ssrc, rr.ssrc);
                    assert!(again.report_blocks().eq(rr.report_blocks()));
                }
                RtcpPacket::SourceDescription(sdes) => {
                    for chunk in sdes.chunks() {
                        if let Some(cname) = chunk.cname() {
                            let written = write_sdes_cname(&mut out, chunk.ssrc, cname);
                            let again = reparse(&out, written);
                            let Some(Ok(RtcpPacket::SourceDescription(again))) = again else {
                                panic!("SDES did not round-trip: {again:?}");
                            };
                            assert_eq!(again.cname_of(chunk.ssrc), Some(cname));
                        }
                        for item in chunk.items() {
                            let _ = item;
                        }
                    }
                }
                RtcpPacket::Bye(bye) => {
                    let mut sources = [0u32; MAX_REPORT_BLOCKS];
                    let mut n = 0;
                    for (slot, s) in sources.iter_mut().zip(bye.sources()) {
                        *slot = s;
                        n += 1;
                    }
                    let written = write_bye(&mut out, &sources[..n], bye.reason);
                    let again = reparse(&out, written);
                    let Some(Ok(RtcpPacket::Bye(again))) = again else {
                        panic!("BYE did not round-trip: {again:?}");
                    };
                    assert!(again.sources().eq(bye.sources()));
                    assert_eq!(again.reason, bye.reason);
                }
                RtcpPacket::Other { .. } => {}
            }
        }
    }

    fn copy_blocks(from: ReportBlocks<'_>, to: &mut [ReportBlock; MAX_REPORT_BLOCKS]) -> usize {
        let mut n = 0;
        for (slot, block) in to.iter_mut().zip(from) {
            *slot = block;
            n += 1;
        }
        n
    }

    fn reparse(
        out: &[u8],
        written: Result<usize, RtcpError>,
    ) -> Option<Result<RtcpPacket<'_>, RtcpError>> {
        let n = written.unwrap_or_else(|e| panic!("writing what was read failed: {e}"));
        let mut iter = packets(out.get(..n).unwrap_or_default());
        let first = iter.next();
        assert!(iter.next().is_none(), "one packet written, more read");
        first
    }
}
