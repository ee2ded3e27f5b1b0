//! G.711 against an independent implementation of the standard: the tables
//! in `tests/data/` were produced by CPython's `audioop` (lin2ulaw,
//! lin2alaw, ulaw2lin, alaw2lin), which follows the CCITT G.711 algorithm.
//! Every 16-bit input is encoded and every code decoded, for both laws.

use std::path::Path;

use waihu_media::g711::{decode_alaw, decode_ulaw, encode_alaw, encode_ulaw};

fn data(name: &str) -> Vec<u8> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn check_encoder(name: &str, encode: fn(i16) -> u8) {
    let reference = data(name);
    assert_eq!(reference.len(), 65_536);
    let wrong: Vec<String> = (i16::MIN..=i16::MAX)
        .zip(&reference)
        .filter(|(s, r)| encode(*s) != **r)
        .take(10)
        .map(|(s, r)| format!("{s}: got {:#04x}, want {r:#04x}", encode(s)))
        .collect();
    assert!(wrong.is_empty(), "{name}: {}", wrong.join("; "));
}

#[test]
fn mu_law_encoder_matches_for_every_sample() {
    check_encoder("ulaw_encode.bin", encode_ulaw);
}

#[test]
fn a_law_encoder_matches_for_every_sample() {
    check_encoder("alaw_encode.bin", encode_alaw);
}

#[test]
fn decoders_match_for_every_code() {
    let text = String::from_utf8(data("decode.txt")).expect("text");
    let mut rows = 0;
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let v: Vec<i32> = line
            .split(' ')
            .map(|x| x.parse().expect("number"))
            .collect();
        let code = u8::try_from(v[0]).expect("code");
        assert_eq!(i32::from(decode_ulaw(code)), v[1], "mu-law {code:#04x}");
        assert_eq!(i32::from(decode_alaw(code)), v[2], "A-law {code:#04x}");
        rows += 1;
    }
    assert_eq!(rows, 256);
}
