//! TelephoneEvent: the 4-byte RFC 4733 block.

use waihu_media::dtmf::{DtmfError, TelephoneEvent};

#[test]
fn parse_reads_fields_and_ignores_r_bit() {
    let e = TelephoneEvent::parse(&[11, 0x80 | 0x40 | 7, 0x03, 0x20]);
    assert_eq!(
        e,
        Ok(TelephoneEvent {
            event: 11,
            end: true,
            volume: 7,
            duration: 800
        })
    );
    let e = TelephoneEvent::parse(&[1, 0x3F, 0, 0]);
    assert_eq!(e.map(|e| (e.end, e.volume)), Ok((false, 63)));
}

#[test]
fn write_then_parse_round_trips() {
    for event in [0u8, 9, 15, 16, 255] {
        for end in [false, true] {
            for volume in [0u8, 10, 63] {
                for duration in [0u16, 160, 0xFFFF] {
                    let e = TelephoneEvent {
                        event,
                        end,
                        volume,
                        duration,
                    };
                    let mut b = [0; 4];
                    e.write(&mut b);
                    assert_eq!(TelephoneEvent::parse(&b), Ok(e));
                }
            }
        }
    }
}

#[test]
fn write_clamps_volume_out_of_range() {
    let mut b = [0; 4];
    TelephoneEvent {
        event: 1,
        end: false,
        volume: 200,
        duration: 1,
    }
    .write(&mut b);
    assert_eq!(b[1], 63);
}

#[test]
fn wrong_lengths_are_errors() {
    for len in [0usize, 1, 3, 5, 7, 9] {
        let v = vec![0u8; len];
        assert_eq!(TelephoneEvent::parse(&v), Err(DtmfError::BadLength(len)));
    }
}

#[test]
fn multiple_blocks_parse_to_the_last_and_all() {
    let p = [1, 0x8A, 0x03, 0x20, 2, 0x0A, 0x00, 0xA0];
    assert_eq!(TelephoneEvent::parse(&p).map(|e| e.event), Ok(2));
    let all: Vec<u8> = TelephoneEvent::parse_all(&p)
        .map(|i| i.map(|e| e.event).collect())
        .unwrap_or_default();
    assert_eq!(all, vec![1, 2]);
}

#[test]
fn parse_never_panics_on_any_short_input() {
    let mut x: u32 = 0x1234_5678;
    for len in 0..64 {
        let v: Vec<u8> = (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect();
        let r = TelephoneEvent::parse(&v);
        assert_eq!(r.is_ok(), len > 0 && len % 4 == 0);
    }
}
