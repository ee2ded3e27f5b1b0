//! ITU-T G.711: 16-bit linear PCM to and from 8-bit mu-law (North America,
//! Japan) and A-law (China, Europe, most carriers waihu meets).
//!
//! Both laws are piecewise-linear approximations of a logarithm: eight
//! segments whose step doubles from one to the next, a sign bit, and a
//! 4-bit position in the segment. Encoding is a handful of integer
//! operations; decoding uses a 256-entry table built at compile time.
//!
//! The 16-bit scaling is the usual one: mu-law decodes to +-32124 at most,
//! A-law to +-32256. `tests/g711_reference.rs` checks every code and every
//! 16-bit input against an independent implementation of the standard.

/// Added to the magnitude before the mu-law segment search (33 << 2 on
/// the 16-bit scale).
const ULAW_BIAS: i32 = 0x84;
/// The largest 14-bit magnitude mu-law represents.
const ULAW_CLIP: i32 = 8_159;

/// Encodes one sample to mu-law.
pub fn encode_ulaw(sample: i16) -> u8 {
    // mu-law is defined on 14 bits: drop the two low bits first (rounding
    // towards minus infinity, as the standard's reference does).
    let value = i32::from(sample) >> 2;
    let (sign, magnitude) = if value < 0 {
        (0x80, -value)
    } else {
        (0x00, value)
    };
    let biased = magnitude.min(ULAW_CLIP) + (ULAW_BIAS >> 2);
    // The segment is the position of the highest set bit above bit 5.
    let segment = (32 - (biased >> 6).leading_zeros()) as i32;
    let code = if segment > 7 {
        0x7F // the clip limit plus the bias tips into a ninth segment: the largest code
    } else {
        (segment << 4) | ((biased >> (segment + 1)) & 0x0F)
    };
    // Codes are sent inverted (mu-law's "all ones means silence").
    !((sign | code) as u8)
}

/// Decodes one mu-law code.
pub fn decode_ulaw(code: u8) -> i16 {
    ULAW_TABLE[usize::from(code)]
}

const fn ulaw_to_linear(code: u8) -> i16 {
    let u = !code;
    let segment = ((u >> 4) & 0x07) as i32;
    let step = (u & 0x0F) as i32;
    let magnitude = (((step << 3) + ULAW_BIAS) << segment) - ULAW_BIAS;
    (if u & 0x80 != 0 { -magnitude } else { magnitude }) as i16
}

/// Encodes one sample to A-law.
pub fn encode_alaw(sample: i16) -> u8 {
    // A-law works on 13 bits; even bits are inverted on the line (0x55).
    let value = i32::from(sample) >> 3;
    let (mask, magnitude) = if value >= 0 {
        (0xD5, value)
    } else {
        (0x55, -value - 1)
    };
    let code = if magnitude >= 0x1000 {
        0x7F // beyond the last segment: clip
    } else {
        // Segment 0 and 1 share the finest step; above, the step doubles.
        let segment = (32 - (magnitude >> 5).leading_zeros()) as i32;
        let shift = if segment < 2 { 1 } else { segment };
        (segment << 4) | ((magnitude >> shift) & 0x0F)
    };
    (code as u8) ^ mask
}

/// Decodes one A-law code.
pub fn decode_alaw(code: u8) -> i16 {
    ALAW_TABLE[usize::from(code)]
}

const fn alaw_to_linear(code: u8) -> i16 {
    let a = code ^ 0x55;
    let step = ((a & 0x0F) as i32) << 4;
    let segment = ((a & 0x70) >> 4) as i32;
    let magnitude = match segment {
        0 => step + 8,
        1 => step + 0x108,
        _ => (step + 0x108) << (segment - 1),
    };
    (if a & 0x80 != 0 { magnitude } else { -magnitude }) as i16
}

static ULAW_TABLE: [i16; 256] = {
    let mut t = [0i16; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = ulaw_to_linear(i as u8);
        i += 1;
    }
    t
};

static ALAW_TABLE: [i16; 256] = {
    let mut t = [0i16; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = alaw_to_linear(i as u8);
        i += 1;
    }
    t
};

/// The two laws, for code that picks one per call (the SDP payload type:
/// 0 is PCMU, 8 is PCMA).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Law {
    Ulaw,
    Alaw,
}

impl Law {
    /// The static RTP payload type (RFC 3551).
    pub fn payload_type(self) -> u8 {
        match self {
            Law::Ulaw => 0,
            Law::Alaw => 8,
        }
    }

    /// Appends the encoding of `samples` to `out`.
    pub fn encode_sample(self, sample: i16) -> u8 {
        match self {
            Law::Ulaw => encode_ulaw(sample),
            Law::Alaw => encode_alaw(sample),
        }
    }

    pub fn decode_sample(self, code: u8) -> i16 {
        match self {
            Law::Ulaw => decode_ulaw(code),
            Law::Alaw => decode_alaw(code),
        }
    }

    pub fn encode(self, samples: &[i16], out: &mut Vec<u8>) {
        let f = match self {
            Law::Ulaw => encode_ulaw,
            Law::Alaw => encode_alaw,
        };
        out.extend(samples.iter().map(|&s| f(s)));
    }

    /// Appends the decoding of `codes` to `out`.
    pub fn decode(self, codes: &[u8], out: &mut Vec<i16>) {
        let table = match self {
            Law::Ulaw => &ULAW_TABLE,
            Law::Alaw => &ALAW_TABLE,
        };
        out.extend(codes.iter().map(|&c| table[usize::from(c)]));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn silence_and_extremes() {
        assert_eq!(encode_ulaw(0), 0xFF);
        assert_eq!(decode_ulaw(0xFF), 0);
        assert_eq!(decode_ulaw(0x80), 32_124);
        assert_eq!(decode_ulaw(0x00), -32_124);
        assert_eq!(encode_ulaw(i16::MAX), 0x80);
        assert_eq!(encode_ulaw(i16::MIN), 0x00);
        assert_eq!(encode_alaw(0), 0xD5);
        assert_eq!(decode_alaw(0xD5), 8);
        assert_eq!(decode_alaw(0xAA), 32_256);
        assert_eq!(decode_alaw(0x2A), -32_256);
        assert_eq!(encode_alaw(i16::MIN), 0x2A);
    }

    #[test]
    fn every_code_survives_decode_then_encode() {
        for code in 0..=255u8 {
            assert_eq!(encode_alaw(decode_alaw(code)), code, "A-law {code:#04x}");
            // mu-law has two zeros (0x7F and 0xFF): both decode to 0, which encodes to 0xFF.
            let back = encode_ulaw(decode_ulaw(code));
            assert!(
                back == code || (code == 0x7F && back == 0xFF),
                "mu-law {code:#04x} -> {back:#04x}"
            );
        }
    }

    #[test]
    fn the_law_picks_payload_type_and_codec() {
        let samples = [0, 1000, -1000, i16::MAX];
        for law in [Law::Ulaw, Law::Alaw] {
            let mut codes = Vec::new();
            law.encode(&samples, &mut codes);
            let mut back = Vec::new();
            law.decode(&codes, &mut back);
            for (s, b) in samples.iter().zip(&back) {
                // The quantisation error grows with the segment: at most 1/32 of the value, plus the smallest step.
                let err = (i32::from(*s) - i32::from(*b)).abs();
                assert!(
                    err <= i32::from(*s).abs() / 32 + 16 || *s == i16::MAX,
                    "{law:?}: {s} -> {b}"
                );
            }
        }
        assert_eq!(Law::Ulaw.payload_type(), 0);
        assert_eq!(Law::Alaw.payload_type(), 8);
    }
}
