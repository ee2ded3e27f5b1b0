//! Audio checks for call tests: what a softphone recorded (a WAV file)
//! compared with what was played to it, and the RTP that came back to a
//! sipp caller.
//!
//! - [`read_wav_8k`]: a WAV file as mono samples at 8 kHz;
//! - [`best_correlation`]: where a reference signal appears in a
//!   recording, and how alike the two are there;
//! - [`pcap_rtp`] and [`decode_g711`]: the RTP packets of a pcap file (the
//!   audio sipp's `play_pcap_audio` sends) and their samples;
//! - [`RtpTap`]: a UDP socket collecting RTP, for the echo test: sipp
//!   3.6.1 cannot check what comes back (see `tests/sipp/call_echo.xml`).
//!
//! Needs the `hound` crate (a dev-dependency of core/pbx).

use std::net::UdpSocket;
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

/// The sample rate every signal of this module is at.
pub const RATE: u32 = 8000;

/// sip-tester's 7 s of G.711 A-law (payload type 8, 30 ms packets), which
/// the sipp scenarios play.
pub const G711A_PCAP: &str = "/usr/share/sip-tester/g711a.pcap";

/// A WAV file as mono samples in [-1, 1] at 8 kHz: channels are averaged;
/// a rate that is a multiple of 8 kHz (16, 48 kHz...) is brought down by
/// averaging each block of samples (a crude low-pass, enough for
/// correlation); any other rate is an error.
pub fn read_wav_8k(path: &Path) -> Result<Vec<f32>, String> {
    let mut reader =
        hound::WavReader::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let spec = reader.spec();
    let interleaved: Vec<f32> = match spec.sample_format {
        hound::SampleFormat::Float => reader
            .samples::<f32>()
            .collect::<Result<_, _>>()
            .map_err(|e| format!("{}: {e}", path.display()))?,
        hound::SampleFormat::Int => {
            let scale = (1i64 << (spec.bits_per_sample - 1)) as f32;
            reader
                .samples::<i32>()
                .map(|s| s.map(|v| v as f32 / scale))
                .collect::<Result<_, _>>()
                .map_err(|e| format!("{}: {e}", path.display()))?
        }
    };
    let channels = usize::from(spec.channels.max(1));
    let mono: Vec<f32> = interleaved
        .chunks(channels)
        .map(|frame| frame.iter().sum::<f32>() / frame.len() as f32)
        .collect();
    if spec.sample_rate == RATE {
        return Ok(mono);
    }
    if spec.sample_rate % RATE != 0 {
        return Err(format!(
            "{}: {} Hz is not a multiple of {RATE} Hz",
            path.display(),
            spec.sample_rate
        ));
    }
    let factor = (spec.sample_rate / RATE) as usize;
    Ok(mono
        .chunks(factor)
        .map(|block| block.iter().sum::<f32>() / block.len() as f32)
        .collect())
}

/// Writes mono 16-bit samples (in [-1, 1]) at 8 kHz: the input baresip's
/// `aufile` source wants (S16LE, the configured rate, one channel).
pub fn write_wav_8k(path: &Path, samples: &[f32]) -> Result<(), String> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: RATE,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut writer =
        hound::WavWriter::create(path, spec).map_err(|e| format!("{}: {e}", path.display()))?;
    for s in samples {
        let v = (s.clamp(-1.0, 1.0) * 32767.0).round() as i16;
        writer
            .write_sample(v)
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    writer
        .finalize()
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// A test signal nobody would mistake for silence or for another: a tone
/// gliding between 300 and 1100 Hz, `secs` seconds at 8 kHz, amplitude 0.25.
pub fn glide(secs: f32) -> Vec<f32> {
    let n = (secs * RATE as f32) as usize;
    let mut phase = 0.0f32;
    (0..n)
        .map(|i| {
            let t = i as f32 / RATE as f32;
            let f = 700.0 + 400.0 * (2.0 * std::f32::consts::PI * 0.7 * t).sin();
            phase += 2.0 * std::f32::consts::PI * f / RATE as f32;
            0.25 * phase.sin()
        })
        .collect()
}

/// The best normalised cross-correlation of `reference` with `recording`
/// over `lags`, and the lag it is at: at lag `k`, `reference[i]` is
/// compared with `recording[k + i]` over their overlap (the reference is
/// cut where the recording ends; overlaps shorter than half the reference,
/// or than 20 ms, are not considered). 1.0 means the same waveform (at any
/// gain), 0 unrelated; an inverted copy is -1 and does not count.
/// Returns (0.0, lags.start) when no lag qualifies.
///
/// Cost: reference length x number of lags multiply-adds; keep the
/// reference to a second or two (an excerpt) and the lags to the range
/// the audio can be at.
pub fn best_correlation(reference: &[f32], recording: &[f32], lags: Range<usize>) -> (f64, usize) {
    let min_overlap = (reference.len() / 2).max(160);
    let mut best = (0.0f64, lags.start);
    // Running energy of the recording's window would save little here:
    // windows change length at the end. Plain sums keep it obvious.
    for lag in lags {
        if lag >= recording.len() {
            break;
        }
        let n = reference.len().min(recording.len() - lag);
        if n < min_overlap {
            break;
        }
        let (r, x) = (&reference[..n], &recording[lag..lag + n]);
        let (mut rx, mut rr, mut xx) = (0.0f64, 0.0f64, 0.0f64);
        for (a, b) in r.iter().zip(x) {
            let (a, b) = (f64::from(*a), f64::from(*b));
            rx += a * b;
            rr += a * a;
            xx += b * b;
        }
        if rr <= f64::EPSILON || xx <= f64::EPSILON {
            continue;
        }
        let c = rx / (rr * xx).sqrt();
        if c > best.0 {
            best = (c, lag);
        }
    }
    best
}

/// The root mean square of a signal (0 for silence, about 0.18 for
/// [`glide`]).
pub fn rms(signal: &[f32]) -> f32 {
    if signal.is_empty() {
        return 0.0;
    }
    (signal.iter().map(|s| s * s).sum::<f32>() / signal.len() as f32).sqrt()
}

/// One RTP packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rtp {
    pub payload_type: u8,
    pub marker: bool,
    pub seq: u16,
    pub timestamp: u32,
    pub ssrc: u32,
    pub payload: Vec<u8>,
}

impl Rtp {
    /// Parses an RTP datagram (version 2; CSRCs, extension and padding skipped).
    pub fn parse(d: &[u8]) -> Option<Rtp> {
        if d.len() < 12 || d[0] >> 6 != 2 {
            return None;
        }
        let mut start = 12 + 4 * usize::from(d[0] & 0x0f);
        if d[0] & 0x10 != 0 {
            let words = usize::from(u16::from_be_bytes([*d.get(start + 2)?, *d.get(start + 3)?]));
            start += 4 + 4 * words;
        }
        let mut end = d.len();
        if d[0] & 0x20 != 0 {
            end = end.checked_sub(usize::from(*d.last()?))?;
        }
        Some(Rtp {
            payload_type: d[1] & 0x7f,
            marker: d[1] & 0x80 != 0,
            seq: u16::from_be_bytes([d[2], d[3]]),
            timestamp: u32::from_be_bytes([d[4], d[5], d[6], d[7]]),
            ssrc: u32::from_be_bytes([d[8], d[9], d[10], d[11]]),
            payload: d.get(start..end)?.to_vec(),
        })
    }
}

/// The RTP packets (UDP over IPv4) of a classic pcap file (either byte
/// order; Ethernet, Linux cooked or raw IP frames), in file order.
pub fn pcap_rtp(path: &Path) -> Result<Vec<Rtp>, String> {
    let d = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if d.len() < 24 {
        return Err(format!("{}: too short for a pcap", path.display()));
    }
    let le = match &d[..4] {
        [0xd4, 0xc3, 0xb2, 0xa1] | [0x4d, 0x3c, 0xb2, 0xa1] => true,
        [0xa1, 0xb2, 0xc3, 0xd4] | [0xa1, 0xb2, 0x3c, 0x4d] => false,
        _ => return Err(format!("{}: not a classic pcap file", path.display())),
    };
    let u32_at = |o: usize| -> u32 {
        let b = [d[o], d[o + 1], d[o + 2], d[o + 3]];
        if le {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        }
    };
    let link = u32_at(20);
    let mut packets = Vec::new();
    let mut off = 24;
    while off + 16 <= d.len() {
        let incl = u32_at(off + 8) as usize;
        off += 16;
        let Some(frame) = d.get(off..off + incl) else {
            break;
        };
        off += incl;
        let ip = match link {
            1 => {
                // Ethernet, with at most one 802.1Q tag.
                if frame.len() < 14 {
                    continue;
                }
                let (ethertype, at) = match u16::from_be_bytes([frame[12], frame[13]]) {
                    0x8100 if frame.len() >= 18 => (u16::from_be_bytes([frame[16], frame[17]]), 18),
                    t => (t, 14),
                };
                if ethertype != 0x0800 {
                    continue;
                }
                &frame[at..]
            }
            113 => frame.get(16..).unwrap_or_default(),
            101 | 228 => frame,
            other => return Err(format!("{}: link type {other} not handled", path.display())),
        };
        if ip.len() < 20 || ip[0] >> 4 != 4 || ip[9] != 17 {
            continue;
        }
        let udp = &ip[usize::from(ip[0] & 0x0f) * 4..];
        if let Some(rtp) = udp.get(8..).and_then(Rtp::parse) {
            packets.push(rtp);
        }
    }
    Ok(packets)
}

/// G.711 A-law (payload type 8) or µ-law (0) bytes as samples in [-1, 1].
pub fn decode_g711(payload_type: u8, bytes: &[u8]) -> Vec<f32> {
    bytes
        .iter()
        .map(|&b| {
            let v = if payload_type == 8 { alaw(b) } else { ulaw(b) };
            f32::from(v) / 32768.0
        })
        .collect()
}

/// One sample in [-1, 1] as G.711 A-law (the textbook segment search).
pub fn encode_alaw(sample: f32) -> u8 {
    let pcm = (sample.clamp(-1.0, 1.0) * 32767.0) as i32 >> 3;
    let (sign, magnitude) = if pcm >= 0 {
        (0x80u8, pcm)
    } else {
        (0u8, -pcm - 1)
    };
    let code = if magnitude < 32 {
        (magnitude >> 1) as u8
    } else {
        let mut segment = 1u8;
        while segment < 7 && magnitude >= (32 << segment) {
            segment += 1;
        }
        let mantissa = ((magnitude >> segment) & 0x0f) as u8;
        (segment << 4) | mantissa
    };
    (sign | code) ^ 0x55
}

fn alaw(b: u8) -> i16 {
    let a = b ^ 0x55;
    let exponent = (a >> 4) & 0x07;
    let mantissa = i16::from(a & 0x0f);
    let magnitude = if exponent == 0 {
        (mantissa << 4) + 8
    } else {
        ((mantissa << 4) + 0x108) << (exponent - 1)
    };
    if a & 0x80 != 0 { magnitude } else { -magnitude }
}

fn ulaw(b: u8) -> i16 {
    let u = !b;
    let exponent = (u >> 4) & 0x07;
    let mantissa = i16::from(u & 0x0f);
    let magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84;
    if u & 0x80 != 0 { -magnitude } else { magnitude }
}

/// The audio of [`G711A_PCAP`] as 8 kHz samples (packets in file order,
/// no gap filling: the file has none).
pub fn g711a_reference() -> Vec<f32> {
    let packets =
        pcap_rtp(Path::new(G711A_PCAP)).unwrap_or_else(|e| panic!("{e} (install sip-tester)"));
    packets
        .iter()
        .flat_map(|p| decode_g711(p.payload_type, &p.payload))
        .collect()
}

/// A UDP socket collecting every RTP packet sent to it, on a thread, until
/// [`RtpTap::finish`].
#[derive(Debug)]
pub struct RtpTap {
    pub port: u16,
    /// The tap's own socket, to send from the caller's media address.
    sender: UdpSocket,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Vec<Rtp>>>,
}

impl RtpTap {
    /// Listens on 127.0.0.1:`port` (0: any free port).
    pub fn bind(port: u16) -> std::io::Result<RtpTap> {
        let socket = UdpSocket::bind(("127.0.0.1", port))?;
        let port = socket.local_addr()?.port();
        socket.set_read_timeout(Some(Duration::from_millis(50)))?;
        let sender = socket.try_clone()?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let mut got = Vec::new();
            let mut buf = [0u8; 2048];
            while !flag.load(Ordering::Relaxed) {
                if let Ok((n, _)) = socket.recv_from(&mut buf) {
                    got.extend(Rtp::parse(&buf[..n]));
                }
            }
            got
        });
        Ok(RtpTap {
            port,
            sender,
            stop,
            thread: Some(thread),
        })
    }

    /// A tap on port P+4 and the P to give sipp as `-mp` for
    /// `call_echo.xml` (sipp binds P and P+2 itself and sends the audio
    /// from the port its SDP announces, `[media_port+4]`). P and P+2 were
    /// free a moment ago; sipp exits 254 ("Unable to bind audio RTP
    /// socket") in the rare case one was taken since: retry then.
    pub fn bind_for_sipp_echo() -> (RtpTap, u16) {
        for _ in 0..50 {
            let Ok(tap) = RtpTap::bind(0) else { continue };
            let Some(mp) = tap.port.checked_sub(4).filter(|p| *p >= 1024) else {
                continue;
            };
            let free = |p: u16| UdpSocket::bind(("127.0.0.1", p)).is_ok();
            if free(mp) && free(mp + 2) && super::promise(&[mp, mp + 1, mp + 2, mp + 3, tap.port]) {
                return (tap, mp);
            }
        }
        panic!("no RTP ports P, P+2, P+4 free on 127.0.0.1");
    }

    /// Sends `bytes` to `to` from the tap's port (the caller's media
    /// address, as far as the switch knows).
    pub fn send_to(&self, bytes: &[u8], to: std::net::SocketAddr) {
        let _ = self.sender.send_to(bytes, to);
    }

    /// Stops listening and returns what came.
    pub fn finish(mut self) -> Vec<Rtp> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread
            .take()
            .map(|t| t.join().expect("RTP tap thread"))
            .unwrap_or_default()
    }
}

impl Drop for RtpTap {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// How many of `received` carry the payload of one of `sent` (same
/// payload type and bytes): an echo returns the caller's own packets,
/// whatever RTP header the echoing side gives them.
pub fn echoed(sent: &[Rtp], received: &[Rtp]) -> usize {
    let known: std::collections::HashSet<(u8, &[u8])> = sent
        .iter()
        .map(|p| (p.payload_type, p.payload.as_slice()))
        .collect();
    received
        .iter()
        .filter(|p| known.contains(&(p.payload_type, p.payload.as_slice())))
        .count()
}

/// Writes `samples` (8 kHz) as a pcap of RTP packets (PCMA, 20 ms each)
/// that sipp's `play_pcap_audio` can send: Ethernet, IPv4 and UDP headers
/// around each RTP packet (sipp rewrites the addresses; checksums zero).
pub fn write_rtp_pcap(path: &Path, samples: &[f32]) -> Result<(), String> {
    let mut out = Vec::new();
    // Global header: magic, v2.4, zone 0, sigfigs 0, snaplen, Ethernet.
    out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&0i32.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&65_535u32.to_le_bytes());
    out.extend_from_slice(&1u32.to_le_bytes());
    for (i, chunk) in samples.chunks(160).enumerate() {
        let mut rtp = vec![0x80u8, 8];
        rtp.extend_from_slice(&(i as u16).to_be_bytes());
        rtp.extend_from_slice(&((i as u32) * 160).to_be_bytes());
        rtp.extend_from_slice(&0x5eed_0001u32.to_be_bytes());
        rtp.extend(chunk.iter().map(|&s| encode_alaw(s)));
        let udp_len = 8 + rtp.len();
        let ip_len = 20 + udp_len;
        let mut frame = vec![0u8; 12];
        frame.extend_from_slice(&[0x08, 0x00]);
        frame.extend_from_slice(&[0x45, 0x00]);
        frame.extend_from_slice(&(ip_len as u16).to_be_bytes());
        frame.extend_from_slice(&[0, 0, 0x40, 0, 64, 17, 0, 0]);
        frame.extend_from_slice(&[127, 0, 0, 1, 127, 0, 0, 1]);
        frame.extend_from_slice(&6000u16.to_be_bytes());
        frame.extend_from_slice(&6002u16.to_be_bytes());
        frame.extend_from_slice(&(udp_len as u16).to_be_bytes());
        frame.extend_from_slice(&[0, 0]);
        frame.extend_from_slice(&rtp);
        let t_us = (i as u64) * 20_000;
        out.extend_from_slice(&((t_us / 1_000_000) as u32).to_le_bytes());
        out.extend_from_slice(&((t_us % 1_000_000) as u32).to_le_bytes());
        out.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        out.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        out.extend_from_slice(&frame);
    }
    std::fs::write(path, out).map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic white noise in [-0.5, 0.5] (xorshift).
    fn noise(n: usize, seed: u64) -> Vec<f32> {
        let mut s = seed | 1;
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                (s >> 40) as f32 / (1u64 << 24) as f32 - 0.5
            })
            .collect()
    }

    #[test]
    fn a_shifted_copy_correlates_at_its_lag() {
        let reference = noise(4000, 7);
        let mut recording = noise(123, 99).iter().map(|s| s * 0.01).collect::<Vec<_>>();
        recording.extend(reference.iter().map(|s| s * 0.3));
        recording.extend(vec![0.0; 500]);
        let (c, lag) = best_correlation(&reference, &recording, 0..1000);
        assert!(c > 0.99, "correlation {c}");
        assert_eq!(lag, 123);
    }

    #[test]
    fn unrelated_noise_does_not_correlate() {
        let reference = noise(4000, 7);
        let recording = noise(6000, 12345);
        let (c, _) = best_correlation(&reference, &recording, 0..2000);
        assert!(c < 0.3, "correlation {c}");
    }

    #[test]
    fn silence_does_not_correlate() {
        let (c, _) = best_correlation(&noise(1000, 3), &[0.0; 3000], 0..2000);
        assert_eq!(c, 0.0);
    }

    #[test]
    fn alaw_encoding_round_trips_within_a_step() {
        for i in -100..=100 {
            let x = i as f32 / 100.0;
            let back = f32::from(alaw(encode_alaw(x))) / 32768.0;
            assert!((back - x).abs() < 0.04, "{x} -> {back}");
        }
    }

    #[test]
    fn g711_decodes_known_values() {
        // A-law 0xd5 and µ-law 0xff are the smallest positive/zero codes.
        assert_eq!(alaw(0xd5), 8);
        assert_eq!(alaw(0x55), -8);
        assert_eq!(ulaw(0xff), 0);
        assert_eq!(ulaw(0x80), 32124);
        assert_eq!(alaw(0xaa), 32256);
    }

    #[test]
    fn rtp_parses_a_header() {
        let mut d = vec![0x80, 0x88, 0, 7, 0, 0, 1, 0, 1, 2, 3, 4];
        d.extend([0xd5; 160]);
        let p = Rtp::parse(&d).expect("RTP");
        assert_eq!(
            (p.payload_type, p.marker, p.seq, p.timestamp),
            (8, true, 7, 256)
        );
        assert_eq!(p.payload.len(), 160);
    }
}
