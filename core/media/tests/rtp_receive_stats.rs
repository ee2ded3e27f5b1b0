//! Receiver statistics (RFC 3550 Appendix A.1, A.3, A.8): what counts as
//! loss, what is a duplicate, and how jitter moves.

use waihu_media::rtp::{Accept, ReceiveStats, RtpHeader};

const FRAME: u32 = 160;

fn header(ssrc: u32, sequence: u16, timestamp: u32) -> RtpHeader {
    RtpHeader {
        payload_type: 0,
        marker: false,
        sequence,
        timestamp,
        ssrc,
    }
}

/// Feeds packets of one source arriving exactly on time.
fn feed(
    stats: &mut ReceiveStats,
    ssrc: u32,
    sequences: impl IntoIterator<Item = u16>,
) -> Vec<Accept> {
    sequences
        .into_iter()
        .map(|seq| {
            let ts = u32::from(seq).wrapping_mul(FRAME);
            stats.on_packet(&header(ssrc, seq, ts), ts)
        })
        .collect()
}

#[test]
fn new_source_is_on_probation_until_two_packets_in_sequence() {
    let mut stats = ReceiveStats::new();
    assert_eq!(feed(&mut stats, 1, [10]), [Accept::Probation]);
    assert!(!stats.is_validated());
    // Out of sequence: probation starts over from this packet.
    assert_eq!(feed(&mut stats, 1, [20]), [Accept::Probation]);
    assert_eq!(feed(&mut stats, 1, [21]), [Accept::InOrder]);
    assert!(stats.is_validated());
    assert_eq!(stats.received(), 1);
    assert_eq!(stats.lost(), 0);
}

#[test]
fn sequence_wraps_without_counting_loss() {
    let mut stats = ReceiveStats::new();
    let seqs = (65500u16..=65535).chain(0..=40);
    let verdicts = feed(&mut stats, 1, seqs);
    assert!(verdicts[1..].iter().all(|v| *v == Accept::InOrder));
    assert_eq!(stats.lost(), 0);
    assert_eq!(stats.fraction_lost(), 0);
    assert_eq!(stats.highest_seq(), 65536 + 40);
    // The first packet was the probation one.
    assert_eq!(stats.received(), 36 + 41 - 1);
    assert_eq!(stats.expected(), stats.received());
}

#[test]
fn timestamp_wraps_without_jitter_or_loss() {
    let mut stats = ReceiveStats::new();
    let start = u32::MAX - 5 * FRAME + 1;
    // Arrival clock offset from the sender's, wrapping at another point.
    let offset = 0x8000_0123u32;
    for i in 0..10u16 {
        let ts = start.wrapping_add(u32::from(i) * FRAME);
        let verdict = stats.on_packet(&header(1, 100 + i, ts), ts.wrapping_add(offset));
        assert!(verdict.is_usable());
    }
    assert_eq!(stats.jitter(), 0);
    assert_eq!(stats.lost(), 0);
}

#[test]
fn gaps_are_counted_as_loss() {
    let mut stats = ReceiveStats::new();
    // 1..=20 expected after probation (packet 0); 5 missing.
    feed(&mut stats, 1, (0..=5).chain(11..=20));
    assert_eq!(stats.expected(), 20);
    assert_eq!(stats.received(), 15);
    assert_eq!(stats.lost(), 5);
    // 5 of 20 is 64/256.
    assert_eq!(stats.fraction_lost(), 64);
}

#[test]
fn gap_just_under_max_dropout_is_loss_not_a_restart() {
    let mut stats = ReceiveStats::new();
    feed(&mut stats, 1, [0, 1]);
    assert_eq!(feed(&mut stats, 1, [1 + 2999]), [Accept::InOrder]);
    assert_eq!(stats.lost(), 2998);
}

#[test]
fn reordering_within_max_misorder_is_not_loss() {
    let mut stats = ReceiveStats::new();
    let verdicts = feed(&mut stats, 1, [0, 1, 3, 2, 5, 4, 6, 60, 7]);
    assert_eq!(verdicts[3], Accept::Late);
    assert_eq!(verdicts[5], Accept::Late);
    assert_eq!(verdicts[8], Accept::Late);
    // 1..=60 expected, 8..=59 except 60 never came: 52 lost.
    assert_eq!(stats.lost(), 52);
    feed(&mut stats, 1, 8..60);
    assert_eq!(stats.lost(), 0);
    assert_eq!(stats.highest_seq(), 60);
}

#[test]
fn reordering_across_the_wrap_is_not_loss() {
    let mut stats = ReceiveStats::new();
    let verdicts = feed(&mut stats, 1, [65533, 65534, 0, 65535, 1]);
    assert_eq!(verdicts[3], Accept::Late);
    assert_eq!(stats.lost(), 0);
    assert_eq!(stats.highest_seq(), 65536 + 1);
}

#[test]
fn duplicates_are_flagged_and_not_counted() {
    let mut stats = ReceiveStats::new();
    feed(&mut stats, 1, 0..=10);
    let received = stats.received();
    assert_eq!(feed(&mut stats, 1, [10]), [Accept::Duplicate]);
    assert_eq!(feed(&mut stats, 1, [7]), [Accept::Duplicate]);
    assert_eq!(stats.received(), received);
    assert_eq!(stats.lost(), 0);
    // A late packet is new once, then a duplicate.
    feed(&mut stats, 1, [12]);
    assert_eq!(feed(&mut stats, 1, [11]), [Accept::Late]);
    assert_eq!(feed(&mut stats, 1, [11]), [Accept::Duplicate]);
    assert!(!Accept::Duplicate.is_usable());
}

#[test]
fn ssrc_change_restarts_the_statistics_and_is_counted() {
    let mut stats = ReceiveStats::new();
    feed(&mut stats, 1, (0..=10).chain(15..=20));
    assert_eq!(stats.lost(), 4);
    assert_eq!(stats.ssrc_changes(), 0);
    assert_eq!(feed(&mut stats, 2, [5000]), [Accept::Probation]);
    assert_eq!(stats.ssrc(), Some(2));
    assert_eq!(stats.ssrc_changes(), 1);
    assert_eq!(stats.received(), 0);
    assert_eq!(stats.lost(), 0);
    assert_eq!(feed(&mut stats, 2, [5001, 5002]), [Accept::InOrder; 2]);
    assert_eq!(stats.received(), 2);
    assert_eq!(stats.highest_seq(), 5002);
    feed(&mut stats, 1, [21]);
    assert_eq!(stats.ssrc_changes(), 2);
}

#[test]
fn large_jump_is_dropped_until_the_next_packet_confirms_a_restart() {
    let mut stats = ReceiveStats::new();
    feed(&mut stats, 1, 0..=10);
    assert_eq!(feed(&mut stats, 1, [40000]), [Accept::Jump]);
    // A stray packet followed by the old stream changes nothing.
    assert_eq!(feed(&mut stats, 1, [11]), [Accept::InOrder]);
    assert_eq!(stats.lost(), 0);
    assert_eq!(
        feed(&mut stats, 1, [50000, 50001]),
        [Accept::Jump, Accept::Restarted]
    );
    assert_eq!(stats.received(), 1);
    assert_eq!(stats.highest_seq(), 50001);
    assert_eq!(stats.lost(), 0);
}

#[test]
fn jitter_matches_hand_computed_value() {
    let mut stats = ReceiveStats::new();
    // Transit alternates 0, 32, 0, 32, 0 RTP units, so |D| is 32 for each
    // of the four differences. J += (|D| - J) / 16 in the RFC's integer
    // form, which keeps 16 * J:
    //   0 + 32 - (0 + 8) / 16    = 32
    //  32 + 32 - (32 + 8) / 16   = 62
    //  62 + 32 - (62 + 8) / 16   = 90
    //  90 + 32 - (90 + 8) / 16   = 116,  116 / 16 = 7
    // (In real numbers: 2, 3.875, 5.63, 7.28.)
    let delays = [0u32, 32, 0, 32, 0];
    let expect = [0, 2, 3, 5, 7];
    for (i, (delay, jitter)) in delays.iter().zip(expect).enumerate() {
        let ts = 1000 + i as u32 * FRAME;
        stats.on_packet(&header(1, i as u16, ts), 50_000 + ts + delay);
        assert_eq!(stats.jitter(), jitter, "after packet {i}");
    }
}

#[test]
fn report_block_closes_the_fraction_lost_interval() {
    let mut stats = ReceiveStats::new();
    assert!(stats.report_block(0, 0).is_none());
    feed(&mut stats, 9, (0..=10).chain(13..=20));
    let first = stats.report_block(0x1111_2222, 0x0001_8000).expect("block");
    assert_eq!(first.ssrc, 9);
    assert_eq!(first.cumulative_lost, 2);
    // 2 of 20, in 256ths.
    assert_eq!(first.fraction_lost, 25);
    assert_eq!(first.highest_seq, 20);
    assert_eq!(
        (first.last_sr, first.delay_since_last_sr),
        (0x1111_2222, 0x0001_8000)
    );
    feed(&mut stats, 9, 21..=30);
    let second = stats.report_block(0, 0).expect("block");
    assert_eq!(second.fraction_lost, 0);
    assert_eq!(second.cumulative_lost, 2);
    feed(&mut stats, 9, [32, 33, 34, 35]);
    // 1 of 5 (31 to 35).
    assert_eq!(stats.fraction_lost(), 51);
}

#[test]
fn late_packets_from_before_the_first_make_loss_negative() {
    let mut stats = ReceiveStats::new();
    feed(&mut stats, 1, [10, 11, 12]);
    assert_eq!(feed(&mut stats, 1, [9, 8]), [Accept::Late; 2]);
    assert_eq!(stats.lost(), -2);
    let block = stats.report_block(0, 0).expect("block");
    assert_eq!(block.cumulative_lost, -2);
    assert_eq!(block.fraction_lost, 0);
}
